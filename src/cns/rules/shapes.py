"""SHACL compiler front end: a shapes graph (Turtle file or rdflib Graph) -> :class:`~cns.rules.ir.ShapesIR`.

Checks the shapes graph is well-formed for the SHACL Core profile (the W3C ``sht:Failure`` cases: a literal
where a list is required, a non-integer count, a non-IRI ``sh:datatype``, ...) and refuses SPARQL-based
constraints and SHACL-AF features with :class:`~cns.rules.errors.UnsupportedComponent`. Every error names the
file, the shape and the parameter (``shapes.ttl: at ex:PersonShape / sh:property[2] / sh:minCount: ...``).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable
from pathlib import Path as FsPath

import rdflib
from rdflib import RDF, RDFS, XSD, BNode, Graph, Literal, URIRef
from rdflib.namespace import SH
from rdflib.term import Node

from cns.rules import ir
from cns.rules.errors import DataError, ShapeCompileError, UnsupportedComponent
from cns.rules.xsd import compile_pattern

__all__ = ["load_shapes", "parse_graph", "parse_path", "read_list"]

_SHAPE_TYPES = (SH.NodeShape, SH.PropertyShape)
_TARGET_PREDS = {
    SH.targetClass: ir.TARGET_CLASS,
    SH.targetNode: ir.TARGET_NODE,
    SH.targetSubjectsOf: ir.TARGET_SUBJECTS_OF,
    SH.targetObjectsOf: ir.TARGET_OBJECTS_OF,
}
# Predicates / types outside SHACL Core that we refuse rather than silently ignore.
_UNSUPPORTED_PREDS = {
    SH.sparql: "SPARQL-based constraint (sh:sparql)",
    SH.target: "SHACL-AF custom target (sh:target)",
    SH.rule: "SHACL-AF rule (sh:rule)",
    SH.js: "SHACL-JS constraint (sh:js)",
}
_UNSUPPORTED_TYPES = {
    SH.SPARQLConstraint: "SPARQL-based constraint (sh:SPARQLConstraint)",
    SH.SPARQLTarget: "SPARQL-based target (sh:SPARQLTarget)",
    SH.SPARQLTargetType: "SPARQL-based target type (sh:SPARQLTargetType)",
    SH.ConstraintComponent: "custom constraint component (sh:ConstraintComponent)",
    SH.SPARQLRule: "SHACL-AF rule (sh:SPARQLRule)",
    SH.JSConstraint: "SHACL-JS constraint (sh:JSConstraint)",
}
_SHAPE_VALUED = (SH.node, SH.property, SH["not"], SH.qualifiedValueShape)
_SHAPE_LISTS = (SH["and"], SH["or"], SH.xone)
# Parameters a node shape must not have (shsh:NodeShapeShape).
_PROPERTY_ONLY = (SH.minCount, SH.maxCount, SH.uniqueLang, SH.lessThan, SH.lessThanOrEquals, SH.qualifiedValueShape)
_RANGE = (
    (SH.minExclusive, ir.MinExclusiveConstraint),
    (SH.minInclusive, ir.MinInclusiveConstraint),
    (SH.maxExclusive, ir.MaxExclusiveConstraint),
    (SH.maxInclusive, ir.MaxInclusiveConstraint),
)
_PAIRWISE = (
    (SH.equals, ir.EqualsConstraint),
    (SH.disjoint, ir.DisjointConstraint),
    (SH.lessThan, ir.LessThanConstraint),
    (SH.lessThanOrEquals, ir.LessThanOrEqualsConstraint),
)


def load_shapes(source: str | os.PathLike[str] | Graph, *, name: str | None = None) -> ir.ShapesIR:
    """Parse a shapes graph and compile it to IR.

    ``source`` is a Turtle file path or an rdflib ``Graph``. Raises :class:`DataError` if the file cannot be
    read or parsed, :class:`ShapeCompileError` if the shapes graph is ill-formed, and
    :class:`UnsupportedComponent` for features outside SHACL Core.
    """
    if isinstance(source, Graph):
        return parse_graph(source, name or "<graph>")
    return parse_graph(read_turtle(source), name or str(source))


def read_turtle(path: str | os.PathLike[str]) -> Graph:
    """Read an RDF file (format from the extension, Turtle by default) into a Graph; DataError on failure."""
    p = FsPath(path)
    fmt = {".nt": "nt", ".n3": "n3", ".rdf": "xml", ".xml": "xml", ".jsonld": "json-ld", ".trig": "trig"}.get(
        p.suffix.lower(), "turtle"
    )
    g = Graph()
    term_log = logging.getLogger("rdflib.term")  # rdflib logs a traceback per ill-typed literal; those are data
    old_level, old_norm = term_log.level, rdflib.NORMALIZE_LITERALS
    term_log.setLevel(logging.CRITICAL)
    # keep lexical forms as written: "none"^^xsd:boolean must stay ill-formed, not become "false"
    rdflib.NORMALIZE_LITERALS = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            g.parse(p.as_posix(), format=fmt, publicID=p.resolve().as_uri())
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from e
    except Exception as e:  # rdflib raises several unrelated exception types for syntax errors
        raise DataError(f"{path}: cannot parse as {fmt}: {e}") from e
    finally:
        term_log.setLevel(old_level)
        rdflib.NORMALIZE_LITERALS = old_norm
    return g


def read_list(g: Graph, head: Node, where: str) -> tuple[Node, ...]:
    """The members of the well-formed RDF list starting at ``head``; ShapeCompileError otherwise."""
    out: list[Node] = []
    seen: set[Node] = set()
    node = head
    while node != RDF.nil:
        if isinstance(node, Literal):
            raise ShapeCompileError(f"{where}: expected an RDF list, got the literal {node.n3()}")
        if node in seen:
            raise ShapeCompileError(f"{where}: the RDF list is cyclic")
        seen.add(node)
        firsts = list(g.objects(node, RDF.first))
        rests = list(g.objects(node, RDF.rest))
        if len(firsts) != 1 or len(rests) != 1:
            raise ShapeCompileError(f"{where}: expected an RDF list, {node.n3()} is not a list node")
        out.append(firsts[0])
        node = rests[0]
    return tuple(out)


def parse_path(g: Graph, node: Node, where: str) -> ir.Path:
    """Compile a SHACL property path node to IR."""
    if isinstance(node, URIRef):
        return ir.PredicatePath(node)
    if isinstance(node, Literal):
        raise ShapeCompileError(f"{where}: a path must be an IRI or a blank node, got {node.n3()}")
    if (node, RDF.first, None) in g:
        members = read_list(g, node, where)
        if len(members) < 2:
            raise ShapeCompileError(f"{where}: a sequence path needs at least two members")
        return ir.SequencePath(tuple(parse_path(g, m, f"{where}[{i + 1}]") for i, m in enumerate(members)))
    kinds = [(p, o) for p, o in g.predicate_objects(node) if p in _PATH_KINDS]
    if len(kinds) != 1:
        raise ShapeCompileError(f"{where}: a blank-node path needs exactly one of sh:inversePath, "
                                f"sh:alternativePath, sh:zeroOrMorePath, sh:oneOrMorePath, sh:zeroOrOnePath")
    pred, inner = kinds[0]
    sub = f"{where} / {_short(g, pred)}"
    if pred == SH.alternativePath:
        members = read_list(g, inner, sub)
        if len(members) < 2:
            raise ShapeCompileError(f"{sub}: an alternative path needs at least two members")
        return ir.AlternativePath(tuple(parse_path(g, m, f"{sub}[{i + 1}]") for i, m in enumerate(members)))
    return _PATH_KINDS[pred](parse_path(g, inner, sub))


_PATH_KINDS = {
    SH.inversePath: ir.InversePath,
    SH.alternativePath: ir.AlternativePath,
    SH.zeroOrMorePath: ir.ZeroOrMorePath,
    SH.oneOrMorePath: ir.OneOrMorePath,
    SH.zeroOrOnePath: ir.ZeroOrOnePath,
}


def parse_graph(g: Graph, source: str = "<graph>") -> ir.ShapesIR:
    """Compile every shape of the shapes graph ``g`` to IR (see :func:`load_shapes`)."""
    _refuse_unsupported(g, source)
    try:
        wheres = _locate_shapes(g)
    except ShapeCompileError as e:
        raise ShapeCompileError(f"{source}: {e}") from e
    shapes: dict[ir.ShapeRef, ir.Shape] = {}
    for node in sorted(wheres, key=lambda n: n.n3()):
        where = f"{source}: at {wheres[node]}"
        shapes[node] = _parse_shape(g, node, where)
    prefixes = {p: str(ns) for p, ns in g.namespaces()}
    return ir.ShapesIR(shapes=shapes, source=source, prefixes=prefixes)


# ---- internals ----------------------------------------------------------------------------------------------
def _short(g: Graph, node: Node) -> str:
    if isinstance(node, URIRef):
        try:
            return g.namespace_manager.normalizeUri(node)
        except Exception:
            return node.n3()
    return node.n3() if isinstance(node, Literal) else "[]"


def _refuse_unsupported(g: Graph, source: str) -> None:
    for pred, what in _UNSUPPORTED_PREDS.items():
        for s in g.subjects(pred, None):
            raise UnsupportedComponent(f"{source}: at {_short(g, s)}: {what} is not supported (SHACL Core only)")
    for typ, what in _UNSUPPORTED_TYPES.items():
        for s in g.subjects(RDF.type, typ):
            raise UnsupportedComponent(f"{source}: at {_short(g, s)}: {what} is not supported (SHACL Core only)")


def _locate_shapes(g: Graph) -> dict[Node, str]:
    """Every shape node -> its location path (``ex:S / sh:property[2]``), found from the roots outward."""
    roots: set[Node] = set()
    for t in _SHAPE_TYPES:
        roots.update(g.subjects(RDF.type, t))
    for p in _TARGET_PREDS:
        roots.update(g.subjects(p, None))
    roots.update(s for s in g.subjects(SH.path, None))
    wheres: dict[Node, str] = {}
    ordered = sorted(roots, key=lambda n: (isinstance(n, BNode), n.n3()))
    for root in ordered:  # IRIs first, so anonymous shapes are named after the shape that holds them
        if root in wheres:
            continue
        queue: list[tuple[Node, str]] = [(root, _short(g, root))]
        while queue:
            node, where = queue.pop(0)
            if isinstance(node, Literal):
                raise ShapeCompileError(f"at {where}: a shape must be an IRI or a blank node, got {node.n3()}")
            if node in wheres:
                continue
            wheres[node] = where
            children: list[tuple[Node, str]] = []
            for pred in _SHAPE_VALUED:
                for i, o in enumerate(_sorted(g.objects(node, pred))):
                    children.append((o, f"{where} / {_short(g, pred)}[{i + 1}]"))
            for pred in _SHAPE_LISTS:
                for head in _sorted(g.objects(node, pred)):
                    lw = f"{where} / {_short(g, pred)}"
                    children.extend((o, f"{lw}[{i + 1}]") for i, o in enumerate(read_list(g, head, lw)))
            for o, name in children:
                if o not in wheres:
                    queue.append((o, _short(g, o) if isinstance(o, URIRef) else name))
    return wheres


def _one(g: Graph, node: Node, pred: URIRef, where: str) -> Node | None:
    vals = list(g.objects(node, pred))
    if len(vals) > 1:
        raise ShapeCompileError(f"{where} / {_short(g, pred)}: at most one value allowed, found {len(vals)}")
    return vals[0] if vals else None


def _int(g: Graph, node: Node, pred: URIRef, where: str) -> int | None:
    v = _one(g, node, pred, where)
    if v is None:
        return None
    if not (isinstance(v, Literal) and v.datatype == XSD.integer and not v.ill_typed and int(v) >= 0):
        raise ShapeCompileError(f"{where} / {_short(g, pred)}: expected a non-negative xsd:integer, got {v.n3()}")
    return int(v)


def _bool(g: Graph, node: Node, pred: URIRef, where: str) -> bool | None:
    v = _one(g, node, pred, where)
    if v is None:
        return None
    if not (isinstance(v, Literal) and v.datatype == XSD.boolean and not v.ill_typed):
        raise ShapeCompileError(f"{where} / {_short(g, pred)}: expected an xsd:boolean, got {v.n3()}")
    return str(v) == "true"  # the spec only says "true"; "1"^^xsd:boolean does not switch a component on


def _iri(g: Graph, v: Node, pred: URIRef, where: str) -> URIRef:
    if not isinstance(v, URIRef):
        raise ShapeCompileError(f"{where} / {_short(g, pred)}: expected an IRI, got {v.n3()}")
    return v


def _shape_ref(g: Graph, v: Node, pred: URIRef, where: str) -> ir.ShapeRef:
    if isinstance(v, Literal):
        raise ShapeCompileError(f"{where} / {_short(g, pred)}: expected a shape (IRI or blank node), got {v.n3()}")
    return v  # type: ignore[return-value]


def _string(g: Graph, v: Node, pred: URIRef, where: str) -> str:
    if not (isinstance(v, Literal) and v.language is None and v.datatype in (None, XSD.string)):
        raise ShapeCompileError(f"{where} / {_short(g, pred)}: expected an xsd:string literal, got {v.n3()}")
    return str(v)


def _targets(g: Graph, node: Node, where: str) -> list[ir.Target]:
    out: list[ir.Target] = []
    for pred, kind in _TARGET_PREDS.items():
        for o in sorted(g.objects(node, pred), key=lambda n: n.n3()):
            if kind == ir.TARGET_NODE:
                out.append(ir.Target(kind, o))
            elif kind == ir.TARGET_CLASS:
                if isinstance(o, Literal):
                    raise ShapeCompileError(f"{where} / sh:targetClass: expected a class, got {o.n3()}")
                out.append(ir.Target(kind, o))
            else:
                out.append(ir.Target(kind, _iri(g, o, pred, where)))
    if isinstance(node, URIRef) and (node, RDF.type, RDFS.Class) in g:
        out.append(ir.Target(ir.TARGET_CLASS, node, implicit=True))
    return out


def _parse_shape(g: Graph, node: Node, where: str) -> ir.Shape:
    path_node = _one(g, node, SH.path, where)
    path = parse_path(g, path_node, f"{where} / sh:path") if path_node is not None else None
    if path is None:
        for pred in _PROPERTY_ONLY:
            if (node, pred, None) in g:
                raise ShapeCompileError(f"{where} / {_short(g, pred)}: not allowed on a node shape (no sh:path)")
    severity = _one(g, node, SH.severity, where)
    if severity is not None:
        severity = _iri(g, severity, SH.severity, where)
    messages = tuple(sorted((m for m in g.objects(node, SH.message) if isinstance(m, Literal)), key=str))
    if any(not isinstance(m, Literal) for m in g.objects(node, SH.message)):
        raise ShapeCompileError(f"{where} / sh:message: expected literals")
    deactivated = bool(_bool(g, node, SH.deactivated, where))
    return ir.Shape(
        id=node,  # type: ignore[arg-type]
        targets=tuple(_targets(g, node, where)),
        path=path,
        constraints=tuple(_constraints(g, node, where)),
        severity=severity if severity is not None else SH.Violation,  # type: ignore[arg-type]
        messages=messages,
        deactivated=deactivated,
        where=where.split(": at ", 1)[-1],
    )


def _sorted(values: Iterable[Node]) -> list[Node]:
    return sorted(values, key=lambda n: n.n3())


def _constraints(g: Graph, node: Node, where: str) -> list[ir.Constraint]:  # noqa: C901 - one arm per component
    out: list[ir.Constraint] = []
    w = lambda p: f"{where} / {_short(g, p)}"  # noqa: E731
    for v in _sorted(g.objects(node, SH["class"])):
        if isinstance(v, Literal):
            raise ShapeCompileError(f"{w(SH['class'])}: expected a class IRI, got {v.n3()}")
        out.append(ir.ClassConstraint(v))  # type: ignore[arg-type]
    if (v := _one(g, node, SH.datatype, where)) is not None:
        out.append(ir.DatatypeConstraint(_iri(g, v, SH.datatype, where)))
    if (v := _one(g, node, SH.nodeKind, where)) is not None:
        if v not in ir.NODE_KIND_MASKS:
            raise ShapeCompileError(f"{w(SH.nodeKind)}: expected one of sh:IRI, sh:BlankNode, sh:Literal, "
                                    f"sh:BlankNodeOrIRI, sh:BlankNodeOrLiteral, sh:IRIOrLiteral, got {v.n3()}")
        out.append(ir.NodeKindConstraint(v, ir.NODE_KIND_MASKS[v]))  # type: ignore[arg-type]
    if (n := _int(g, node, SH.minCount, where)) is not None:
        out.append(ir.MinCountConstraint(n))
    if (n := _int(g, node, SH.maxCount, where)) is not None:
        out.append(ir.MaxCountConstraint(n))
    for pred, cls in _RANGE:
        if (v := _one(g, node, pred, where)) is not None:
            if not isinstance(v, Literal):
                raise ShapeCompileError(f"{w(pred)}: expected a literal, got {v.n3()}")
            out.append(cls(v))
    if (n := _int(g, node, SH.minLength, where)) is not None:
        out.append(ir.MinLengthConstraint(n))
    if (n := _int(g, node, SH.maxLength, where)) is not None:
        out.append(ir.MaxLengthConstraint(n))
    flags_node = _one(g, node, SH.flags, where)
    flags = _string(g, flags_node, SH.flags, where) if flags_node is not None else ""
    for v in _sorted(g.objects(node, SH.pattern)):
        pattern = _string(g, v, SH.pattern, where)
        try:
            compile_pattern(pattern, flags)
        except ValueError as e:
            raise ShapeCompileError(f"{w(SH.pattern)}: {e}") from e
        out.append(ir.PatternConstraint(pattern, flags))
    if (v := _one(g, node, SH.languageIn, where)) is not None:
        langs = read_list(g, v, w(SH.languageIn))
        out.append(ir.LanguageInConstraint(tuple(_string(g, x, SH.languageIn, where) for x in langs)))
    if _bool(g, node, SH.uniqueLang, where):
        out.append(ir.UniqueLangConstraint(True))
    for pred, cls in _PAIRWISE:
        for v in _sorted(g.objects(node, pred)):
            out.append(cls(_iri(g, v, pred, where)))
    for v in _sorted(g.objects(node, SH["not"])):
        out.append(ir.NotConstraint(_shape_ref(g, v, SH["not"], where)))
    for pred, cls in ((SH["and"], ir.AndConstraint), (SH["or"], ir.OrConstraint), (SH.xone, ir.XoneConstraint)):
        for head in _sorted(g.objects(node, pred)):
            members = read_list(g, head, w(pred))
            out.append(cls(tuple(_shape_ref(g, m, pred, where) for m in members)))
    for v in _sorted(g.objects(node, SH.node)):
        out.append(ir.NodeConstraint(_shape_ref(g, v, SH.node, where)))
    for v in _sorted(g.objects(node, SH.property)):
        ref = _shape_ref(g, v, SH.property, where)
        if (ref, SH.path, None) not in g:
            raise ShapeCompileError(f"{w(SH.property)}: {_short(g, ref)} is not a property shape (no sh:path)")
        out.append(ir.PropertyConstraint(ref))
    qvs = _sorted(g.objects(node, SH.qualifiedValueShape))
    qmin = _int(g, node, SH.qualifiedMinCount, where)
    qmax = _int(g, node, SH.qualifiedMaxCount, where)
    qdis = bool(_bool(g, node, SH.qualifiedValueShapesDisjoint, where))
    for v in qvs:
        ref = _shape_ref(g, v, SH.qualifiedValueShape, where)
        if qmin is None and qmax is None:
            continue  # the component needs a count; a lone qualifiedValueShape constrains nothing
        siblings: tuple[ir.ShapeRef, ...] = ()
        if qdis:
            sib: set[Node] = set()
            for parent in g.subjects(SH.property, node):
                for ps in g.objects(parent, SH.property):
                    sib.update(g.objects(ps, SH.qualifiedValueShape))
            sib.discard(v)
            siblings = tuple(_sorted(sib))  # type: ignore[arg-type]
        out.append(ir.QualifiedValueShapeConstraint(ref, qmin, qmax, qdis, siblings))
    if _bool(g, node, SH.closed, where):
        ignored_node = _one(g, node, SH.ignoredProperties, where)
        ignored = read_list(g, ignored_node, w(SH.ignoredProperties)) if ignored_node is not None else ()
        allowed = sorted({p for ps in g.objects(node, SH.property) for p in g.objects(ps, SH.path)
                          if isinstance(p, URIRef)})
        out.append(ir.ClosedConstraint(tuple(_iri(g, x, SH.ignoredProperties, where) for x in ignored),
                                       tuple(allowed)))
    for v in _sorted(g.objects(node, SH.hasValue)):
        out.append(ir.HasValueConstraint(v))  # type: ignore[arg-type]
    if (v := _one(g, node, SH["in"], where)) is not None:
        out.append(ir.InConstraint(read_list(g, v, w(SH["in"]))))  # type: ignore[arg-type]
    return out
