"""Reads the W3C SHACL test manifests in ``tests/rules/w3c`` and normalises validation reports for comparison.

A report is reduced to ``conforms`` plus the multiset of results keyed on focusNode, resultPath, value,
resultSeverity, sourceConstraintComponent and sourceShape, as the W3C harness compares them. Blank nodes
compare as "some blank node" (``_:``); a complex ``sh:resultPath`` is compared structurally (parsed to the IR
path, whose dataclasses compare by value).
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import rdflib
from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH
from rdflib.term import Node

from cns.rules.shapes import parse_path

W3C_DIR = Path(__file__).parent / "w3c"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")


@dataclass(frozen=True)
class W3CCase:
    name: str
    manifest: Path
    data: Path
    shapes: Path
    expect_failure: bool
    expected: tuple[bool, Counter] | None  # (conforms, results) unless expect_failure


def _local_path(node: Node) -> Path:
    return Path(str(node).removeprefix("file://"))


def _parse(path: Path) -> Graph:
    return parse_turtle(path=path)


def parse_turtle(*, path: Path | None = None, data: str | None = None) -> Graph:
    """Parse Turtle keeping lexical forms as written (``"none"^^xsd:boolean`` stays itself)."""
    old = rdflib.NORMALIZE_LITERALS
    rdflib.NORMALIZE_LITERALS = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if path is not None:
                return Graph().parse(path.as_posix(), format="turtle", publicID=path.resolve().as_uri())
            return Graph().parse(data=data, format="turtle")
    finally:
        rdflib.NORMALIZE_LITERALS = old


def _term(n: Node | None) -> object:
    if n is None:
        return None
    return "_:" if isinstance(n, BNode) else n


def report_key(g: Graph, report: Node) -> tuple[bool, Counter]:
    """(conforms, Counter of normalised results) of the sh:ValidationReport ``report`` in ``g``."""
    conforms = g.value(report, SH.conforms)
    assert isinstance(conforms, Literal), "report without sh:conforms"
    results: Counter = Counter()
    for r in g.objects(report, SH.result):
        path_node = g.value(r, SH.resultPath)
        path = parse_path(g, path_node, "resultPath") if path_node is not None else None
        results[
            (
                _term(g.value(r, SH.focusNode)),
                path,
                _term(g.value(r, SH.value)),
                g.value(r, SH.resultSeverity),
                g.value(r, SH.sourceConstraintComponent),
                _term(g.value(r, SH.sourceShape)),
            )
        ] += 1
    return bool(conforms.toPython()), results


def report_of_graph(g: Graph) -> tuple[bool, Counter]:
    reports = list(g.subjects(RDF.type, SH.ValidationReport))
    assert len(reports) == 1, f"expected one sh:ValidationReport, found {len(reports)}"
    return report_key(g, reports[0])


def _cases_in(path: Path) -> list[W3CCase]:
    g = _parse(path)
    out: list[W3CCase] = []
    for manifest in g.subjects(RDF.type, MF.Manifest):
        for inc in g.objects(manifest, MF.include):
            out.extend(_cases_in(_local_path(inc)))
        for head in g.objects(manifest, MF.entries):
            for entry in Collection(g, head):
                if (entry, RDF.type, SHT.Validate) not in g:
                    continue
                action = g.value(entry, MF.action)
                data = _local_path(g.value(action, SHT.dataGraph))
                shapes = _local_path(g.value(action, SHT.shapesGraph))
                result = g.value(entry, MF.result)
                failure = result == SHT.Failure
                name = f"{path.parent.name}/{str(entry).rsplit('/', 1)[-1]}"
                out.append(
                    W3CCase(name, path, data, shapes, failure, None if failure else report_key(g, result))
                )
    return out


def load_cases() -> list[W3CCase]:
    """Every sht:Validate case reachable from the node/ and property/ manifests."""
    cases: list[W3CCase] = []
    for sub in ("node", "property"):
        cases.extend(_cases_in(W3C_DIR / sub / "manifest.ttl"))
    return sorted(cases, key=lambda c: c.name)


__all__ = ["W3CCase", "load_cases", "parse_turtle", "report_key", "report_of_graph", "W3C_DIR", "URIRef"]
