"""Differential: the compiled record kernels agree with pySHACL and with the graph validator (cns.rules)
on the same records converted to RDF (hypothesis-generated, a few hundred per run)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rdflib import Graph, URIRef
from rdflib.namespace import SH

from cns.engine import VERDICT_ELIDED, NewsValidator
from cns.resources import shipped_rules
from cns.rules import validate_graph
from cns.rules.record import UNKNOWN_CODE_VIOLATION
from cns.signals.dtypes import FLAG_DIRECT_QUOTE, FLAG_HAS_EVIDENCE, FLAG_STATISTICAL, FLAG_TEST, empty_news
from cns.signals.rdf import linked_node, record_node, records_to_graph
from cns.signals.synth import extended_news_inputs

pyshacl = pytest.importorskip("pyshacl")
SHAPES = shipped_rules("news.ttl")
DICTS, TABLES, ODD = extended_news_inputs()
SHAPES_GRAPH = Graph().parse(SHAPES)


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> NewsValidator:
    return NewsValidator.load(
        SHAPES, cache_dir=tmp_path_factory.mktemp("kernels"), dictionaries=DICTS, tables=TABLES
    )


_T = 1_700_000_000_000_000_000
# steps of 1 µs: the graph validator compares integers as float64 (ulp 256 ns at 1.7e18), see the report
times = st.one_of(st.just(0), st.integers(-10, 10).map(lambda k: _T + 1000 * k))
finite = st.floats(-0.5, 1.5, allow_nan=False)
record = st.fixed_dictionaries(
    {
        "kind": st.integers(1, 9),
        "publish_ns": times,
        "receive_ns": times,
        "event_ns": times,
        "source": st.sampled_from([0, 1, 2, 10, 18, *(c for k, c in ODD.items() if k != "bad_ticker")]),
        "data_source": st.integers(0, len(DICTS["data_source"]) - 1),
        "tickers": st.lists(st.sampled_from([1, 2, 3, 400, ODD["bad_ticker"]]), min_size=0, max_size=4),
        "confidence": st.one_of(finite, st.just(float("nan")), st.just(1.0)),
        "evidence_type": st.integers(0, 5),
        "flags": st.sets(st.sampled_from([FLAG_STATISTICAL, FLAG_HAS_EVIDENCE, FLAG_DIRECT_QUOTE])).map(sum),
        "hash": st.one_of(st.just(b"\0" * 32), st.binary(min_size=32, max_size=32)),
        "eps_actual": st.one_of(st.just(float("nan")), st.floats(-5, 5)),
        "rate": st.one_of(st.just(float("nan")), st.floats(-10, 30)),
    }
)


def _batch(recs: list[dict]) -> np.ndarray:
    b = empty_news(len(recs))
    for i, r in enumerate(recs):
        b[i]["id"] = i + 1
        for f in (
            "kind",
            "publish_ns",
            "receive_ns",
            "event_ns",
            "source",
            "data_source",
            "confidence",
            "evidence_type",
            "flags",
            "eps_actual",
            "rate",
        ):
            b[i][f] = r[f]
        b[i]["n_tickers"] = len(r["tickers"])
        b[i]["tickers"][: len(r["tickers"])] = r["tickers"]
        b[i]["evidence_hash"] = np.frombuffer(r["hash"], dtype=np.uint8)
    return b


def _results_by_focus(report_graph: Graph) -> dict[URIRef, set[tuple[str, str]]]:
    out: dict[URIRef, set[tuple[str, str]]] = {}
    for res in report_graph.objects(None, SH.result):  # top-level results only, not sh:detail
        focus = report_graph.value(res, SH.focusNode)
        path = report_graph.value(res, SH.resultPath)
        comp = report_graph.value(res, SH.sourceConstraintComponent)
        out.setdefault(focus, set()).add((str(path) if path is not None else "", str(comp)))
    return out


def _compare(validator: NewsValidator, b: np.ndarray) -> None:
    verdict = np.empty(len(b), np.uint8)
    code = np.empty(len(b), np.uint16)
    validator.process(b, verdict, code)
    g = records_to_graph(b, validator.schema, DICTS, TABLES)
    conforms, report, _ = pyshacl.validate(g, shacl_graph=SHAPES_GRAPH, inference="none", advanced=False)
    ref = _results_by_focus(report)
    ours_graph = validate_graph(SHAPES, g)
    ref2: dict = {}
    for r in ours_graph.results:
        ref2.setdefault(r.focus_node, set()).add(str(r.component))
    for i, rec in enumerate(b):
        node = record_node(validator.schema, rec["id"])
        if verdict[i] == VERDICT_ELIDED:
            continue
        expected = ref.get(node, set())
        assert (code[i] != 0) == bool(expected), (i, rec, int(code[i]), expected)
        assert (code[i] != 0) == bool(ref2.get(node)), (i, rec, int(code[i]), ref2.get(node))
        if code[i] and code[i] != UNKNOWN_CODE_VIOLATION:
            info = validator.explain(int(code[i]))
            assert (info.path or "", info.component) in expected, (info, expected)
    # source nodes: the per-source table agrees with pySHACL on every source these records reference
    bad_sources = validator.linked_violations()
    for src in {int(s) for s in b["source"] if s}:
        ln = linked_node(validator.schema, src, DICTS)
        assert (src in bad_sources) == (ln in ref), (src, ref.get(ln))


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(st.lists(record, min_size=40, max_size=60))
def test_kernels_agree_with_pyshacl_and_graph_validator(validator: NewsValidator, recs: list[dict]) -> None:
    _compare(validator, _batch(recs))


def test_elided_records_are_not_validated(validator: NewsValidator) -> None:
    recs = [dict(kind=0), dict(kind=1, flags=FLAG_TEST), dict(kind=1, confidence=0.0)]
    b = empty_news(3)
    for i, r in enumerate(recs):
        for k, v in r.items():
            b[i][k] = v
    b["confidence"][:2] = 0.5
    b["confidence"][2] = 0.0
    verdict = np.empty(3, np.uint8)
    code = np.empty(3, np.uint16)
    stats = validator.process(b, verdict, code)
    assert list(verdict) == [VERDICT_ELIDED] * 3 and list(code) == [0, 0, 0]
    assert stats.elided == 3 and stats.processed == 0 and stats.zero_tick_ratio == 1.0
