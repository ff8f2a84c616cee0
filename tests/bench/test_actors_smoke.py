"""``cns bench actors``: every runtime runs the same workload; headline rows carry the like-for-like ratios
with their spread over runs."""

from __future__ import annotations

import argparse
import json

import pytest

from cns.bench import actors
from cns.bench.actors_peers import Sizes

KEYS = (
    "spawn_ns_p50",
    "spawn_linked_ns_p50",
    "send_msgs_per_s",
    "call_ns_p50",
    "call_ns_p99",
    "call_ns_p999",
    "bytes_per_idle_actor",
    "spawn_1m_s",
)
RUNTIMES = ("cns", "pykka", "thespian", "asyncio")
TINY = Sizes(
    flood=2_000, calls=200, spawn=50, memory=50, spawn_1m_peer=50, spawn_1m_cns=2_000, pykka_threads=20
)


def _check(doc: dict, sizes: Sizes, runs: int) -> None:
    errors = {k: doc[k].get("error") for k in RUNTIMES if "error" in doc[k]}
    assert not errors, errors
    assert doc["cpu"] and doc["runs"] == runs
    for runtime in RUNTIMES:  # same workload for everyone
        for key in KEYS:
            assert key in doc[runtime], (runtime, key)
        assert doc[runtime]["send_n"] == sizes.flood and doc[runtime]["call_n"] == sizes.calls, runtime
        assert doc[runtime]["runs_ok"] == runs
    cns = doc["cns"]
    for key in KEYS:
        assert isinstance(cns[key], (int, float)) and cns[key] > 0, key
    for peer in ("pykka", "thespian", "asyncio"):
        assert doc[peer]["send_msgs_per_s"] > 0 and doc[peer]["call_ns_p50"] > 0
        for key in (f"send_vs_{peer}", f"call_vs_{peer}"):
            sp = doc["spread"]["ratios"][key]
            assert sp["runs"] == runs and sp["min"] <= sp["median"] <= sp["max"], key
            assert doc["ratios"][key] == sp["median"]
    assert set(doc["comparability"]) == {"pykka", "thespian", "asyncio"}
    assert "cross-thread" in doc["comparability"]["pykka"]
    rows = doc["headline"]
    assert 3 <= len(rows) <= 8
    assert all(r["figure"] and r["cns"] and "n/a" not in r["cns"] for r in rows)
    assert (
        "Thespian" in rows[0]["peer"]
        and "CNS/Thespian" in rows[0]["ratio"]
        and "in-thread" in rows[0]["figure"]
    )
    assert "Thespian" in rows[1]["peer"]
    assert any("NOT like for like" in r["figure"] and "Pykka" in r["peer"] for r in rows)
    if runs > 1:
        assert f"{runs} runs" in rows[0]["cns"] and f"{runs} runs" in rows[0]["ratio"]


def test_bench_actors_runs_fold_into_median_and_range() -> None:
    """Tiny sizes, in this process: the per-run folding, ratios and headline rows (fast)."""
    doc = actors.run(TINY, runs=2, isolate=False)
    _check(doc, TINY, 2)


@pytest.mark.smoke
@pytest.mark.slow  # ~15 s: 2 runs x 4 runtimes, each in a fresh interpreter
def test_bench_actors_quick_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "bench-actors.json"
    rc = actors.main(argparse.Namespace(quick=True, runs=2, json=str(out)))
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert rc == 0
    assert doc["quick"] is True
    _check(doc, actors.QUICK, 2)
    assert doc["cns"]["call_ns_p50"] <= doc["cns"]["call_ns_p99"]
    assert {g["goal"] for g in doc["goals"]} >= {"send", "call_p50", "spawn_1m", "send_vs_thespian"}
    assert "Goals (CNS)" in printed and ("MISSED" in printed or "met" in printed)
    assert "NO (cross-thread hand-off)" in printed
