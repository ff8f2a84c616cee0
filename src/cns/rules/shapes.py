"""SHACL compiler front end: a shapes graph (Turtle file or rdflib Graph) -> :class:`~cns.rules.ir.ShapesIR`.

Checks the shapes graph is well-formed for the SHACL Core profile (the W3C ``sht:Failure`` cases: a literal
where a list is required, a non-integer count, a non-IRI ``sh:datatype``, ...) and refuses SPARQL-based
constraints and SHACL-AF features with :class:`~cns.rules.errors.UnsupportedComponent`. Every error names the
file, the shape and the parameter (``shapes.ttl: at ex:PersonShape / sh:property[2] / sh:minCount: ...``).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable

from rdflib import OWL, RDF, RDFS, XSD, BNode, Graph, Literal, URIRef
from rdflib.namespace import SH
from rdflib.term import Node

from cns.rules import ir, limits
from cns.rules.errors import ShapeCompileError, UnsupportedComponent
from cns.rules.rdfio import read_rdf
from cns.rules.structure import check_structure
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
_PROPERTY_ONLY = (
    SH.minCount,
    SH.maxCount,
    SH.uniqueLang,
    SH.lessThan,
    SH.lessThanOrEquals,
    SH.qualifiedValueShape,
)
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

    ``source`` is a local RDF file path (read by :func:`cns.rules.rdfio.read_rdf`: no fetches, no DTDs) or an
    rdflib ``Graph``. Raises :class:`DataError` if the file cannot be read or parsed (:class:`UnsafeInput` if
    it is refused), :class:`ShapeCompileError` if the shapes graph is ill-formed, and
    :class:`UnsupportedComponent` for features outside SHACL Core.
    """
    if isinstance(source, Graph):
        return parse_graph(source, name or "<graph>")
    return parse_graph(read_turtle(source), name or str(source))


def read_turtle(path: str | os.PathLike[str]) -> Graph:
    """Read a local RDF file (format from the extension, Turtle by default): :func:`cns.rules.rdfio.read_rdf`.

    Never fetches (URLs, remote JSON-LD contexts) and refuses DTDs/entities in RDF/XML; raises
    :class:`DataError` (or its subclass :class:`~cns.rules.errors.UnsafeInput`) naming the file.
    """
    return read_rdf(path)


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
    """Compile a SHACL property path node to IR.

    Refuses (:class:`ShapeCompileError`, naming ``where``): a path that contains itself (a cycle through blank
    nodes), nesting deeper than :data:`cns.rules.limits.MAX_PATH_DEPTH`, and a path that expands to more than
    :data:`~cns.rules.limits.MAX_PATH_SIZE` nodes when shared blank nodes are counted per use. Shared sub-paths
    are parsed once (memoised), so the cost is linear in the shapes graph.
    """
    return _PathParser(g, where).parse(node, where, 1)[0]


class _PathParser:
    """One ``sh:path`` value: memo ``node -> (path, size, height)`` and the blank nodes being parsed."""

    def __init__(self, g: Graph, root: str) -> None:
        self.g = g
        self.root = root
        self.memo: dict[Node, tuple[ir.Path, int, int]] = {}
        self.open: set[Node] = set()

    def parse(self, node: Node, where: str, depth: int) -> tuple[ir.Path, int, int]:
        if isinstance(node, URIRef):
            return ir.PredicatePath(node), 1, 0
        if isinstance(node, Literal):
            raise ShapeCompileError(f"{where}: a path must be an IRI or a blank node, got {node.n3()}")
        if node in self.open:
            raise ShapeCompileError(
                f"{self.root}: cyclic property path (a blank node of the path contains "
                f"itself at {where.removeprefix(self.root).lstrip(' /') or 'the root'})"
            )
        hit = self.memo.get(node)
        if depth > limits.MAX_PATH_DEPTH or (hit is not None and depth + hit[2] - 1 > limits.MAX_PATH_DEPTH):
            raise ShapeCompileError(
                f"{self.root}: property path nested deeper than MAX_PATH_DEPTH "
                f"({limits.MAX_PATH_DEPTH}, cns.rules.limits)"
            )
        if hit is not None:
            return hit
        self.open.add(node)
        try:
            path, parts = self._parse_node(node, where, depth)
        finally:
            self.open.discard(node)
        size = 1 + sum(p[1] for p in parts)
        if size > limits.MAX_PATH_SIZE:
            raise ShapeCompileError(
                f"{self.root}: property path expands to more than MAX_PATH_SIZE "
                f"({limits.MAX_PATH_SIZE}, cns.rules.limits) nodes"
            )
        out = (path, size, 1 + max(p[2] for p in parts))
        self.memo[node] = out
        return out

    def _parse_node(
        self, node: Node, where: str, depth: int
    ) -> tuple[ir.Path, list[tuple[ir.Path, int, int]]]:
        g = self.g
        if (node, RDF.first, None) in g:
            members = read_list(g, node, where)
            if len(members) < 2:
                raise ShapeCompileError(f"{where}: a sequence path needs at least two members")
            parts = [self.parse(m, f"{where}[{i + 1}]", depth + 1) for i, m in enumerate(members)]
            return ir.SequencePath(tuple(p[0] for p in parts)), parts
        kinds = [(p, o) for p, o in g.predicate_objects(node) if p in _PATH_KINDS]
        if len(kinds) != 1:
            raise ShapeCompileError(
                f"{where}: a blank-node path needs exactly one of sh:inversePath, "
                f"sh:alternativePath, sh:zeroOrMorePath, sh:oneOrMorePath, sh:zeroOrOnePath"
            )
        pred, inner = kinds[0]
        sub = f"{where} / {_short(g, pred)}"
        if pred == SH.alternativePath:
            members = read_list(g, inner, sub)
            if len(members) < 2:
                raise ShapeCompileError(f"{sub}: an alternative path needs at least two members")
            parts = [self.parse(m, f"{sub}[{i + 1}]", depth + 1) for i, m in enumerate(members)]
            return ir.AlternativePath(tuple(p[0] for p in parts)), parts
        part = self.parse(inner, sub, depth + 1)
        return _PATH_KINDS[pred](part[0]), [part]


_PATH_KINDS = {
    SH.inversePath: ir.InversePath,
    SH.alternativePath: ir.AlternativePath,
    SH.zeroOrMorePath: ir.ZeroOrMorePath,
    SH.oneOrMorePath: ir.OneOrMorePath,
    SH.zeroOrOnePath: ir.ZeroOrOnePath,
}


def parse_graph(g: Graph, source: str = "<graph>") -> ir.ShapesIR:
    """Compile every shape of the shapes graph ``g`` to IR (see :func:`load_shapes`).

    Besides the well-formedness checks, refuses with :class:`ShapeCompileError` naming the shape: recursive
    shapes, reference chains deeper than :data:`cns.rules.limits.MAX_SHAPE_DEPTH` and property-shape DAGs
    that unfold past :data:`~cns.rules.limits.MAX_SHAPE_UNFOLD` (:func:`cns.rules.structure.check_structure`),
    paths refused by :func:`parse_path`, and ``owl:imports`` (never followed).
    """
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
    out = ir.ShapesIR(shapes=shapes, source=source, prefixes=prefixes)
    check_structure(out)
    return out


# ---- internals ----------------------------------------------------------------------------------------------
def _short(g: Graph, node: Node) -> str:
    if isinstance(node, URIRef):
        try:
            return g.namespace_manager.normalizeUri(node)
        except Exception:
            return node.n3()
    return node.n3() if isinstance(node, Literal) else "[]"


def _refuse_unsupported(g: Graph, source: str) -> None:
    for s, o in g.subject_objects(OWL.imports):
        raise UnsupportedComponent(
            f"{source}: at {_short(g, s)}: owl:imports {o.n3()} is not followed (CNS never fetches); "
            "merge the imported shapes into this file"
        )
    for pred, what in _UNSUPPORTED_PREDS.items():
        for s in g.subjects(pred, None):
            raise UnsupportedComponent(
                f"{source}: at {_short(g, s)}: {what} is not supported (SHACL Core only)"
            )
    for typ, what in _UNSUPPORTED_TYPES.items():
        for s in g.subjects(RDF.type, typ):
            raise UnsupportedComponent(
                f"{source}: at {_short(g, s)}: {what} is not supported (SHACL Core only)"
            )


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
        queue: deque[tuple[Node, str, int]] = deque([(root, _short(g, root), 1)])
        while queue:
            node, where, depth = queue.popleft()
            if isinstance(node, Literal):
                raise ShapeCompileError(
                    f"at {where}: a shape must be an IRI or a blank node, got {node.n3()}"
                )
            if node in wheres:
                continue
            if depth > limits.MAX_SHAPE_DEPTH:  # before the location strings grow with every level
                raise ShapeCompileError(
                    f"at {_short(g, root)}: shapes nested deeper than MAX_SHAPE_DEPTH "
                    f"({limits.MAX_SHAPE_DEPTH}, cns.rules.limits)"
                )
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
                    queue.append((o, _short(g, o) if isinstance(o, URIRef) else name, depth + 1))
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
        raise ShapeCompileError(
            f"{where} / {_short(g, pred)}: expected a non-negative xsd:integer, got {v.n3()}"
        )
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
        raise ShapeCompileError(
            f"{where} / {_short(g, pred)}: expected a shape (IRI or blank node), got {v.n3()}"
        )
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
                raise ShapeCompileError(
                    f"{where} / {_short(g, pred)}: not allowed on a node shape (no sh:path)"
                )
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
            raise ShapeCompileError(
                f"{w(SH.nodeKind)}: expected one of sh:IRI, sh:BlankNode, sh:Literal, "
                f"sh:BlankNodeOrIRI, sh:BlankNodeOrLiteral, sh:IRIOrLiteral, got {v.n3()}"
            )
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
    for pred, cls in (
        (SH["and"], ir.AndConstraint),
        (SH["or"], ir.OrConstraint),
        (SH.xone, ir.XoneConstraint),
    ):
        for head in _sorted(g.objects(node, pred)):
            members = read_list(g, head, w(pred))
            out.append(cls(tuple(_shape_ref(g, m, pred, where) for m in members)))
    for v in _sorted(g.objects(node, SH.node)):
        out.append(ir.NodeConstraint(_shape_ref(g, v, SH.node, where)))
    for v in _sorted(g.objects(node, SH.property)):
        ref = _shape_ref(g, v, SH.property, where)
        if (ref, SH.path, None) not in g:
            raise ShapeCompileError(
                f"{w(SH.property)}: {_short(g, ref)} is not a property shape (no sh:path)"
            )
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
        allowed = sorted(
            {
                p
                for ps in g.objects(node, SH.property)
                for p in g.objects(ps, SH.path)
                if isinstance(p, URIRef)
            }
        )
        out.append(
            ir.ClosedConstraint(
                tuple(_iri(g, x, SH.ignoredProperties, where) for x in ignored), tuple(allowed)
            )
        )
    for v in _sorted(g.objects(node, SH.hasValue)):
        out.append(ir.HasValueConstraint(v))  # type: ignore[arg-type]
    if (v := _one(g, node, SH["in"], where)) is not None:
        out.append(ir.InConstraint(read_list(g, v, w(SH["in"]))))  # type: ignore[arg-type]
    return out
