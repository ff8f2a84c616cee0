"""Exact value comparisons where float64 would round: CNS vs pySHACL (differential, real pySHACL).

Integers beyond 2**53 (nanosecond timestamps around 1.7e18 that differ by a few ns), integer vs decimal
(XPath promotes the integer to decimal: exact), integers beyond int64 and dateTimes whose microseconds a
float64 POSIX timestamp cannot hold, for every value-comparison component: sh:min/maxInclusive,
sh:min/maxExclusive, sh:lessThan, sh:lessThanOrEquals.
"""

from __future__ import annotations

import pytest
from rdflib import Graph, Literal, URIRef

from cns.rules.graph import bind_graph
from cns.rules.validate import validate_graph
from tests.rules.test_differential import PFX, compare

pytest.importorskip("pyshacl")

T0 = 1_700_000_000_000_000_000  # ~2023-11 in ns since the epoch; float64 spacing here is 256
RANGE = ["minInclusive", "maxInclusive", "minExclusive", "maxExclusive"]
PAIR = ["lessThan", "lessThanOrEquals"]


def _dec(lex: str) -> str:
    return f'"{lex}"^^xsd:decimal'


def _dt(time: str) -> str:  # far from the epoch, where a float64 POSIX timestamp has ~30 us spacing
    return f'"9999-12-31T{time}"^^xsd:dateTime'


# value sets, each with constants that fall between / onto them; float64 cannot tell the values apart
CASES = {
    "ns_integers": ([str(T0 + 9), str(T0 + 1), str(T0 + 5), str(T0)],
                    [str(T0 + 1), str(T0 + 5), str(T0 + 9), str(T0 + 4)]),
    "negative": ([str(-T0 - 9), str(-T0 - 1), str(-T0 - 5)], [str(-T0 - 5), str(-T0 - 2)]),
    "long_typed": ([f'"{T0 + 9}"^^xsd:long', f'"{T0 + 1}"^^xsd:long', f'"{T0 + 3}"^^xsd:unsignedLong'],
                   [f'"{T0 + 3}"^^xsd:long', str(T0 + 2)]),
    "int64_edge": ([str(2**63 - 1), str(2**63 - 2), str(-(2**63)), str(-(2**63) + 1)],
                   [str(2**63 - 2), str(-(2**63) + 1)]),
    "beyond_int64": ([str(2**70 + 1), str(2**70 + 3), str(-(2**70) - 1)], [str(2**70 + 2), str(2**70 + 3)]),
    "integer_vs_decimal": ([str(T0 + 1), str(T0 + 2), _dec(f"{T0 + 1}.5"), _dec(f"{T0 + 2}.0")],
                           [_dec(f"{T0 + 1}.5"), str(T0 + 2), _dec(f"{T0 + 1}.9999")]),
    "long_decimals": ([_dec("0.10000000000000000001"), _dec("0.1"), _dec("0.10000000000000000002")],
                      [_dec("0.10000000000000000001"), _dec("0.1")]),
    # naive and zoned dateTimes are incomparable in SPARQL (pySHACL differs there), so one case each
    "datetime_usec": ([_dt("23:59:59.000001"), _dt("23:59:59.000003"), _dt("23:59:59.000002")],
                      [_dt("23:59:59.000002")]),
    "datetime_usec_tz": ([_dt("23:59:59.000001Z"), _dt("23:59:59.000003Z"), _dt("22:59:59.000002-01:00")],
                         [_dt("23:59:59.000002Z")]),
}  # fmt: skip
NODES = ["ex:a", "ex:b", "ex:c", "ex:d"]
XSD_NS = "http://www.w3.org/2001/XMLSchema#"  # (rdflib's XSD namespace object warns under pytest collection)


def test_float64_cannot_tell_the_values_apart() -> None:  # the cases really exercise the exact path
    assert float(T0 + 9) == float(T0 + 1) == float(T0)
    assert float(2**63 - 1) == float(2**63 - 2)


@pytest.mark.parametrize("op", RANGE)
@pytest.mark.parametrize("case", list(CASES))
def test_value_range_exact(case: str, op: str) -> None:
    values, bounds = CASES[case]
    data = "\n".join(f"{n} ex:p {v} ." for n, v in zip(NODES, values))
    for b in bounds + values:
        compare(
            f"ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:p ; sh:property [ sh:path ex:p ; sh:{op} {b} ] .",
            data,
        )


@pytest.mark.parametrize("op", PAIR)
@pytest.mark.parametrize("case", list(CASES))
def test_property_pair_exact(case: str, op: str) -> None:
    values, bounds = CASES[case]
    vs = values + bounds
    # every focus node gets one ex:p and one or two ex:q values: all ordered pairs of the case's values
    lines = [
        f"ex:n{i}_{j} ex:p {a} ; ex:q {b}, {vs[(j + 1) % len(vs)]} ."
        for i, a in enumerate(vs)
        for j, b in enumerate(vs)
    ]
    shapes = f"ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:p ; sh:property [ sh:path ex:p ; sh:{op} ex:q ] ."
    compare(shapes, "\n".join(lines))


def test_exact_rank_orders_and_equates() -> None:
    g = Graph()
    dec, dbl = URIRef(XSD_NS + "decimal"), URIRef(XSD_NS + "double")
    terms = [
        Literal(T0 + 9),
        Literal(T0 + 1),
        Literal(f"{T0 + 1}.0", datatype=dec),
        Literal(f"{T0 + 1}.5", datatype=dec),
        Literal("1.5e300", datatype=dbl),
    ]
    b = bind_graph(g, terms)
    r = [int(b.exact_rank[b.code(t)]) for t in terms]
    assert r[1] == r[2] < r[3] < r[0]  # 1 == 1.0 (integer promoted to decimal), exact above 2**53
    assert r[4] == -1  # doubles compare as float64 (XPath promotes the other operand to double)


def test_integer_vs_double_follows_xpath_promotion() -> None:
    # op:numeric-less-than promotes xsd:integer to xsd:double: T0 + 9 becomes 1.7e18, equal to the bound.
    # (pySHACL compares the Python values exactly here and reports a violation; SPARQL/XPath do not.)
    ttl = (
        "ex:S a sh:NodeShape ; sh:targetNode ex:a ; "
        'sh:property [ sh:path ex:p ; sh:maxInclusive "1.7e18"^^xsd:double ] .'
    )
    shapes = Graph().parse(data=PFX + ttl, format="turtle")
    data = Graph().parse(data=PFX + f"ex:a ex:p {T0 + 9} .", format="turtle")
    assert validate_graph(shapes, data).conforms
