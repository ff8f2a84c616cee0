"""Differential tests: CNS and pySHACL must agree on ``conforms`` and on the set of
(focusNode, resultPath, value, sourceConstraintComponent, sourceShape) for small random shapes + data.

Hypothesis draws a data graph over a few nodes/predicates/literals and a shape exercising one component group
(value-type, cardinality, property-pair, logical/shape-based). Blank nodes compare as "some blank node"; the
shapes use IRIs for every shape so sourceShape is compared exactly.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import BNode, Graph
from rdflib.namespace import SH

from cns.rules.shapes import parse_path
from cns.rules.validate import validate_graph

pyshacl = pytest.importorskip("pyshacl")

PFX = """@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix ex: <http://example.org/> .
"""
NODES = ["ex:a", "ex:b", "ex:c", "ex:d"]
PREDS = ["ex:p", "ex:q"]
LITERALS = [
    "1",
    "2",
    "3",
    '"1.5"^^xsd:decimal',
    '"abc"',
    '"b"',
    '"hello"@en',
    '"hallo"@de',
    '"hi"@en',
    "true",
    '"2020-01-01"^^xsd:date',
    '"x"^^xsd:integer',
]
OBJECTS = NODES + LITERALS + ["ex:C", "ex:D"]
PATHS = [
    "ex:p",
    "[ sh:inversePath ex:p ]",
    "( ex:p ex:q )",
    "[ sh:alternativePath ( ex:p ex:q ) ]",
    "[ sh:zeroOrMorePath ex:p ]",
    "[ sh:oneOrMorePath ex:p ]",
    "[ sh:zeroOrOnePath ex:q ]",
]
CONSTS = ["1", "2", '"1.5"^^xsd:decimal', '"b"', '"2020-01-01"^^xsd:date']

triple = st.tuples(st.sampled_from(NODES), st.sampled_from(PREDS + ["rdf:type"]), st.sampled_from(OBJECTS))
types = st.tuples(st.sampled_from(NODES), st.just("rdf:type"), st.sampled_from(["ex:C", "ex:D"]))
data_st = st.lists(st.one_of(triple, types), min_size=0, max_size=12)
target_st = st.sampled_from(
    [
        "sh:targetNode ex:a, ex:b, ex:c",
        "sh:targetClass ex:C",
        "sh:targetSubjectsOf ex:p",
        "sh:targetObjectsOf ex:q",
    ]
)

value_constraint = st.one_of(
    st.sampled_from(["ex:C", "ex:D"]).map(lambda c: f"sh:class {c}"),
    st.sampled_from(["xsd:integer", "xsd:string", "rdf:langString", "xsd:decimal", "xsd:date"]).map(
        lambda d: f"sh:datatype {d}"
    ),
    st.sampled_from(
        [
            "sh:IRI",
            "sh:Literal",
            "sh:BlankNode",
            "sh:BlankNodeOrIRI",
            "sh:IRIOrLiteral",
            "sh:BlankNodeOrLiteral",
        ]
    ).map(lambda k: f"sh:nodeKind {k}"),
    st.tuples(
        st.sampled_from(["minExclusive", "minInclusive", "maxExclusive", "maxInclusive"]),
        st.sampled_from(CONSTS),
    ).map(lambda t: f"sh:{t[0]} {t[1]}"),
    st.tuples(st.sampled_from(["minLength", "maxLength"]), st.integers(0, 4)).map(
        lambda t: f"sh:{t[0]} {t[1]}"
    ),
    st.sampled_from(['"^a"', '"b"', '"^[0-9]+$"', '"L"']).map(lambda p: f"sh:pattern {p}"),
    st.just('sh:pattern "H" ; sh:flags "i"'),
    st.sampled_from(['( "en" )', '( "de" "fr" )', '( "EN" )']).map(lambda ls: f"sh:languageIn {ls}"),
    st.lists(st.sampled_from(OBJECTS), min_size=0, max_size=3).map(lambda vs: f"sh:in ( {' '.join(vs)} )"),
    st.sampled_from(OBJECTS).map(lambda v: f"sh:hasValue {v}"),
)
count_constraint = st.one_of(
    st.integers(0, 3).map(lambda n: f"sh:minCount {n}"),
    st.integers(0, 2).map(lambda n: f"sh:maxCount {n}"),
    st.just("sh:uniqueLang true"),
)
# numerics float64 cannot tell apart: integers around 1.7e18 (ns timestamps) a few units apart, the same as
# xsd:long / xsd:decimal (integer vs decimal compares exactly), and integers at and beyond the int64 edges
T0 = 1_700_000_000_000_000_000
big_numeric = st.one_of(
    st.integers(T0 - 3, T0 + 3).map(str),
    st.integers(T0 - 3, T0 + 3).map(lambda n: f'"{n}"^^xsd:long'),
    st.tuples(st.integers(T0 - 3, T0 + 3), st.sampled_from(["0", "5", "999"])).map(
        lambda t: f'"{t[0]}.{t[1]}"^^xsd:decimal'
    ),
    st.sampled_from([2**63 - 1, 2**63 - 2, -(2**63), 2**70 + 1, 2**70 + 2, -(2**70)]).map(str),
)
# plus a few small literals; no IRIs, ill-typed, tagged or date literals, where pySHACL departs from SPARQL
# (it lets lessThanOrEquals pass for an IRI paired with itself, and a date vs a number is no violation)
small_literal = st.sampled_from(["1", '"1.5"^^xsd:decimal', '"abc"'])
num_triple = st.tuples(
    st.sampled_from(NODES), st.sampled_from(PREDS), st.one_of(big_numeric, big_numeric, small_literal)
)
num_data_st = st.lists(num_triple, min_size=0, max_size=10)
pair_constraint = st.tuples(
    st.sampled_from(["equals", "disjoint", "lessThan", "lessThanOrEquals"]), st.sampled_from(PREDS)
).map(lambda t: f"sh:{t[0]} {t[1]}")


def _head(c: str) -> str:
    return c.split()[0]


def _settings(n: int = 40):  # type: ignore[no-untyped-def]
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _parse(text: str) -> Graph:
    return Graph().parse(data=text, format="turtle")


def _norm(n):  # type: ignore[no-untyped-def]
    return "_:" if isinstance(n, BNode) else n


def _key(g: Graph, r) -> tuple:  # type: ignore[no-untyped-def]
    p = g.value(r, SH.resultPath)
    return (
        _norm(g.value(r, SH.focusNode)),
        parse_path(g, p, "resultPath") if p is not None else None,
        _norm(g.value(r, SH.value)),
        g.value(r, SH.sourceConstraintComponent),
        _norm(g.value(r, SH.sourceShape)),
    )


def compare(shapes_ttl: str, data_ttl: str) -> None:
    shapes, data = _parse(PFX + shapes_ttl), _parse(PFX + data_ttl)
    ours = validate_graph(shapes, data)
    ours_g = _parse(ours.to_turtle())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conforms, theirs_g, _ = pyshacl.validate(
            data, shacl_graph=shapes, inference="none", advanced=False, allow_warnings=False
        )
    ours_set = {_key(ours_g, r) for r in ours_g.objects(None, SH.result)}
    theirs_set = {_key(theirs_g, r) for r in theirs_g.objects(None, SH.result)}
    assert ours.conforms == conforms, (shapes_ttl, data_ttl, ours_set, theirs_set)
    assert ours_set == theirs_set, (shapes_ttl, data_ttl, ours_set - theirs_set, theirs_set - ours_set)
    # the file path of cns validate (pyoxigraph + Numba encoder) must report the same, from Turtle and N-Triples
    with tempfile.TemporaryDirectory() as tmp:
        ttl, nt = Path(tmp) / "data.ttl", Path(tmp) / "data.nt"
        ttl.write_text(PFX + data_ttl)
        nt.write_bytes(data.serialize(format="nt", encoding="utf-8"))
        for path in (ttl, nt):
            fast = validate_graph(shapes, path)
            fast_g = _parse(fast.to_turtle())
            fast_set = {_key(fast_g, r) for r in fast_g.objects(None, SH.result)}
            assert fast.conforms == conforms, (path.name, shapes_ttl, data_ttl)
            assert fast_set == theirs_set, (
                path.name,
                shapes_ttl,
                data_ttl,
                fast_set - theirs_set,
                theirs_set - fast_set,
            )


def _data(triples: list[tuple[str, str, str]]) -> str:
    return "\n".join(f"{s} {p} {o} ." for s, p, o in triples)


@_settings(50)
@given(
    data_st,
    target_st,
    st.sampled_from(PATHS),
    st.lists(value_constraint, min_size=1, max_size=2, unique_by=_head),
)
def test_value_components_property_shape(triples, target, path, constraints) -> None:
    shapes = f"ex:S a sh:NodeShape ; {target} ; sh:property ex:P .\nex:P sh:path {path} ; {' ; '.join(constraints)} ."
    compare(shapes, _data(triples))


@_settings(40)
@given(data_st, target_st, st.lists(value_constraint, min_size=1, max_size=2, unique_by=_head))
def test_value_components_node_shape(triples, target, constraints) -> None:
    compare(f"ex:S a sh:NodeShape ; {target} ; {' ; '.join(constraints)} .", _data(triples))


@_settings(40)
@given(
    data_st,
    target_st,
    st.sampled_from(PATHS),
    st.lists(st.one_of(count_constraint, pair_constraint), min_size=1, max_size=2, unique_by=_head),
)
def test_count_and_pair_components(triples, target, path, constraints) -> None:
    shapes = f"ex:S a sh:NodeShape ; {target} ; sh:property ex:P .\nex:P sh:path {path} ; {' ; '.join(constraints)} ."
    compare(shapes, _data(triples))


logical = st.one_of(
    st.just("sh:not ex:T1"),
    st.just("sh:node ex:T1"),
    st.just("sh:and ( ex:T1 ex:T2 )"),
    st.just("sh:or ( ex:T1 ex:T2 )"),
    st.just("sh:xone ( ex:T1 ex:T2 )"),
    st.just("sh:xone ( ex:T1 ex:T1 )"),
)
qualified = st.tuples(st.integers(0, 2), st.integers(0, 2), st.booleans()).map(
    lambda t: (
        f"sh:qualifiedValueShape ex:T1 ; sh:qualifiedMinCount {t[0]} ; sh:qualifiedMaxCount {t[1]}"
        + (" ; sh:qualifiedValueShapesDisjoint true" if t[2] else "")
    )
)


@_settings(50)
@given(
    data_st,
    target_st,
    st.sampled_from(PATHS),
    logical,
    qualified,
    value_constraint,
    value_constraint,
    st.booleans(),
)
def test_shape_based_components(triples, target, path, logic, qual, c1, c2, closed) -> None:
    closed_s = " ; sh:closed true ; sh:ignoredProperties ( rdf:type )" if closed else ""
    shapes = (
        f"ex:S a sh:NodeShape ; {target} ; {logic} ; sh:property ex:P, ex:P2{closed_s} .\n"
        f"ex:P sh:path {path} ; {logic} .\n"
        f"ex:P2 sh:path ex:q ; {qual} .\n"
        f"ex:P3 sh:path ex:p ; sh:qualifiedValueShape ex:T2 ; sh:qualifiedMinCount 1 .\n"
        f"ex:S2 a sh:NodeShape ; sh:targetNode ex:a ; sh:property ex:P2, ex:P3 .\n"
        f"ex:T1 a sh:NodeShape ; {c1} .\nex:T2 a sh:NodeShape ; {c2} ."
    )
    compare(shapes, _data(triples))


@_settings(40)
@given(
    num_data_st,
    st.sampled_from(["ex:p", "[ sh:alternativePath ( ex:p ex:q ) ]"]),
    st.lists(
        st.one_of(
            st.tuples(
                st.sampled_from(["minExclusive", "minInclusive", "maxExclusive", "maxInclusive"]), big_numeric
            ).map(lambda t: f"sh:{t[0]} {t[1]}"),
            st.sampled_from(["lessThan", "lessThanOrEquals"]).map(lambda c: f"sh:{c} ex:q"),
        ),
        min_size=1,
        max_size=2,
        unique_by=_head,
    ),
)
def test_big_numeric_comparisons(triples, path, constraints) -> None:
    shapes = (
        f"ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:p ; sh:property ex:P .\n"
        f"ex:P sh:path {path} ; {' ; '.join(constraints)} ."
    )
    compare(shapes, _data(triples))
