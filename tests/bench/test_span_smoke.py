"""``cns bench span`` end to end on two small workloads: the gap is idle, the document is complete."""

from __future__ import annotations

import pytest

from cns.bench.span import run

pytestmark = pytest.mark.slow


def test_span_bench_reports_the_idle_gap():
    doc = run(runs=1, workloads={"one cluster": (0,), "two clusters an hour apart": (0, 3600)})
    one, gap = doc["workloads"]["one cluster"], doc["workloads"]["two clusters an hour apart"]
    assert one["errors"] == gap["errors"] == []
    assert one["wakes"] == 0 and gap["wakes"] == 1
    assert gap["simulated_span_s"] == pytest.approx(3600.12, abs=0.01)
    assert gap["idle_s"] > 0.9 * gap["simulated_span_s"]
    assert gap["peak_rss_mib"]["runs"] == 1 and doc["headline"][0]["goal"] == "idle gaps cost nothing"
