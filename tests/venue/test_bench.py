"""Smoke test of the venue benchmark: it runs and reports measured, well-formed figures."""

from __future__ import annotations

import json
import math

import pytest

from cns.bench.venue import bench_book, bench_sim, print_table


@pytest.mark.smoke
def test_bench_runs_small_and_reports(capsys, tmp_path):
    book = bench_book(4096, 8)
    assert set(book) == {"add", "cancel", "match"}
    for v in book.values():
        assert v["ops"] == 4096 and v["ops_per_s"] > 0
        q = v["ns_per_op"]
        assert 0 < q["p50"] <= q["p99"] <= q["p999"] <= q["max"]
    sim = bench_sim(2.0, 5, 4)
    assert sim["stats"]["orders"] > 0 and sim["wall_s"] > 0 and math.isfinite(sim["cpu_s"])
    r = {"book": book, "sim_no_stories": sim, "sim_with_stories": sim}
    print_table(r)
    assert "match" in capsys.readouterr().out
    (tmp_path / "r.json").write_text(json.dumps(r))
