"""The RDF view of records (cns.signals.rdf) spells non-finite numbers as XSD does (INF, -INF, NaN), so the
view survives serialisation: a re-parsed graph has the same well-typed values."""

from __future__ import annotations

import math

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import XSD

from cns.signals.dtypes import KIND_EARNINGS, empty_news
from cns.signals.rdf import record_node, records_to_graph
from cns.signals.schema import news_schema
from cns.signals.synth import extended_news_inputs

EPS = URIRef("https://w3id.org/cns/ns#epsActual")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value, lexical", [(math.inf, "INF"), (-math.inf, "-INF"), (1.5, "1.5")])
def test_non_finite_values_round_trip(value: float, lexical: str) -> None:
    dicts, tables, _ = extended_news_inputs()
    schema = news_schema()
    b = empty_news(1)
    b["id"] = 7
    b["kind"] = KIND_EARNINGS
    b["eps_actual"] = value
    g = records_to_graph(b, schema, dicts, tables)
    (lit,) = list(g.objects(record_node(schema, 7), EPS))
    assert str(lit) == lexical and lit.datatype == XSD.double
    again = Graph().parse(data=g.serialize(format="nt"), format="nt")
    (lit2,) = list(again.objects(record_node(schema, 7), EPS))
    assert not lit2.ill_typed and lit2.toPython() == value
