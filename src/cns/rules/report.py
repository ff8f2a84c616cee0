"""The standard ``sh:ValidationReport``: Python dataclasses and their Turtle form.

``conforms`` is true iff there are no results (of any severity), as in SHACL §3.6. One
:class:`ValidationResult` per violation; ``value``/``path`` are None when the component reports none (e.g.
``sh:minCount``). :func:`path_to_rdf` writes a path back in SHACL syntax (blank nodes for complex paths).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rdflib import RDF, XSD, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH
from rdflib.term import Node

from cns.rules import ir

__all__ = ["ValidationResult", "ValidationReport", "path_to_rdf"]


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """One ``sh:ValidationResult``."""

    focus_node: Node
    result_path: ir.Path | None
    value: Node | None
    severity: URIRef
    component: URIRef
    source_shape: ir.ShapeRef
    messages: tuple[Literal, ...] = ()


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """A whole report: ``conforms`` and the results in a deterministic order."""

    conforms: bool
    results: tuple[ValidationResult, ...]

    def to_graph(self, prefixes: Mapping[str, str] | None = None) -> Graph:
        """The report as a SHACL ``sh:ValidationReport`` rdflib graph; ``prefixes`` (prefix -> namespace)
        are bound besides ``sh`` (empty or ``sh`` prefixes skipped, existing bindings kept).
        """
        g = Graph()
        g.bind("sh", SH)
        for p, ns in (prefixes or {}).items():
            if p and p != "sh":
                g.bind(p, ns, override=False)
        report = BNode()
        g.add((report, RDF.type, SH.ValidationReport))
        g.add((report, SH.conforms, Literal(self.conforms, datatype=XSD.boolean)))
        for r in self.results:
            node = BNode()
            g.add((report, SH.result, node))
            g.add((node, RDF.type, SH.ValidationResult))
            g.add((node, SH.focusNode, r.focus_node))
            if r.result_path is not None:
                g.add((node, SH.resultPath, path_to_rdf(g, r.result_path)))
            if r.value is not None:
                g.add((node, SH.value, r.value))
            g.add((node, SH.resultSeverity, r.severity))
            g.add((node, SH.sourceConstraintComponent, r.component))
            g.add((node, SH.sourceShape, r.source_shape))
            for m in r.messages:
                g.add((node, SH.resultMessage, m))
        return g

    def to_turtle(self, prefixes: Mapping[str, str] | None = None) -> str:
        """The report as Turtle text.

        Written directly rather than with rdflib's serializer, which prints an ill-typed boolean such as
        ``"none"^^xsd:boolean`` as the bare token ``none`` (not Turtle)."""
        nm = Graph(bind_namespaces="none").namespace_manager
        nm.bind("sh", SH, override=True)
        nm.bind("xsd", XSD, override=True)
        for p, ns in (prefixes or {}).items():
            if p and p not in ("sh", "xsd"):
                nm.bind(p, ns, override=False)
        t = lambda n: n.n3(nm)  # noqa: E731
        lines = ["[] a sh:ValidationReport ;", f"    sh:conforms {'true' if self.conforms else 'false'}"]
        for r in self.results:
            body = [f"sh:focusNode {t(r.focus_node)}"]
            if r.result_path is not None:
                body.append(f"sh:resultPath {_path_turtle(r.result_path, t)}")
            if r.value is not None:
                body.append(f"sh:value {_term_turtle(r.value, t)}")
            body += [
                f"sh:resultSeverity {t(r.severity)}",
                f"sh:sourceConstraintComponent {t(r.component)}",
                f"sh:sourceShape {t(r.source_shape)}",
            ]
            body += [f"sh:resultMessage {t(m)}" for m in r.messages]
            lines[-1] += " ;"
            lines.append(
                "    sh:result [ a sh:ValidationResult ;\n        " + " ;\n        ".join(body) + " ]"
            )
        lines[-1] += " ."
        body_text = "\n".join(lines)
        used = [f"@prefix {p}: <{ns}> ." for p, ns in sorted(nm.namespaces()) if p and f"{p}:" in body_text]
        return "\n".join(used) + "\n\n" + body_text + "\n"


def _term_turtle(n: Node, t) -> str:  # type: ignore[no-untyped-def]
    if isinstance(n, BNode):
        return n.n3()  # the data graph's label; blank nodes compare structurally, not by label
    return t(n)


def _path_turtle(path: ir.Path, t) -> str:  # type: ignore[no-untyped-def]
    if isinstance(path, ir.PredicatePath):
        return t(path.predicate)
    if isinstance(path, ir.SequencePath):
        return "( " + " ".join(_path_turtle(p, t) for p in path.paths) + " )"
    if isinstance(path, ir.AlternativePath):
        return "[ sh:alternativePath ( " + " ".join(_path_turtle(p, t) for p in path.paths) + " ) ]"
    name = {
        ir.InversePath: "inversePath",
        ir.ZeroOrMorePath: "zeroOrMorePath",
        ir.OneOrMorePath: "oneOrMorePath",
        ir.ZeroOrOnePath: "zeroOrOnePath",
    }[type(path)]
    return f"[ sh:{name} {_path_turtle(path.path, t)} ]"  # type: ignore[union-attr]


def path_to_rdf(g: Graph, path: ir.Path) -> Node:
    """Write ``path`` into ``g`` in SHACL path syntax; returns the path node."""
    if isinstance(path, ir.PredicatePath):
        return path.predicate
    node = BNode()
    if isinstance(path, ir.SequencePath):
        Collection(g, node, [path_to_rdf(g, p) for p in path.paths])
        return node
    if isinstance(path, ir.AlternativePath):
        head = BNode()
        Collection(g, head, [path_to_rdf(g, p) for p in path.paths])
        g.add((node, SH.alternativePath, head))
        return node
    pred = {
        ir.InversePath: SH.inversePath,
        ir.ZeroOrMorePath: SH.zeroOrMorePath,
        ir.OneOrMorePath: SH.oneOrMorePath,
        ir.ZeroOrOnePath: SH.zeroOrOnePath,
    }[type(path)]
    g.add((node, pred, path_to_rdf(g, path.path)))  # type: ignore[union-attr]
    return node
