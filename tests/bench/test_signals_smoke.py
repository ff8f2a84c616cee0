"""Smoke test of ``cns bench signals --quick``: it runs end to end and writes the documented JSON shape."""

from __future__ import annotations

import argparse
import json

import pytest

from cns.bench import signals

NUMBERS = (
    "stream_validations_per_s",
    "stream_cycles_per_signal",
    "bind_s",
    "validations_per_s",
    "ns_per_signal",
    "cycles_per_signal",
    "zero_tick_ns_per_signal",
    "zero_tick_ratio",
    "single_event_ns_p50",
    "single_event_ns_p99",
    "compile_cold_s",
    "load_cached_s",
    "pyshacl_validations_per_s",
    "speedup_vs_pyshacl",
    "speedup_vs_pyshacl_with_bind",
    "processed_ns_per_signal",
)


@pytest.mark.smoke
@pytest.mark.slow  # ~30 s: the cold compile (codegen + JIT into an empty cache) is one of the figures
def test_bench_signals_quick_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "bench-signals.json"
    assert signals.main(argparse.Namespace(quick=True, runs=2, json=str(out))) == 0
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["quick"] is True and doc["cpu"] and doc["runs"] == 2
    for key in NUMBERS:
        assert isinstance(doc[key], (int, float)) and doc[key] > 0, key
    assert doc["signals"] >= 1_000_000 and 0 < doc["zero_tick_ratio"] < 1
    assert doc["load_cached_was_cached"] is True
    sp = doc["spread"]["stream_validations_per_s"]
    assert sp["runs"] == 2 and sp["min"] <= sp["median"] <= sp["max"]
    # pySHACL and CNS ran on the same fixed subset, and agree on it
    sub = doc["subset"]
    assert sub["records"] == 500 and doc["pyshacl"]["records"] == 500
    assert sub["verdicts_agree_on_non_elided"] is True and sub["cns_violating"] > 0
    assert sub["cns_with_bind_per_s"] < sub["cns_per_s"]
    assert set(doc["goals"]) == {
        "stream_validations_per_s",
        "validations_per_s",
        "zero_tick_ns_per_signal",
        "single_event_ns_p99",
        "speedup_vs_pyshacl",
    }
    assert all(isinstance(g["met"], bool) for g in doc["goals"].values())
    rows = doc["headline"]
    assert 3 <= len(rows) <= 6
    assert all(r["figure"] and r["cns"] and "n/a" not in r["cns"] for r in rows)
    assert "DRAM" in rows[0]["figure"] and "cycles" in rows[1]["cns"]
    assert any("bind" in r["figure"] for r in rows) and any("pySHACL" in r["peer"] for r in rows)
    assert "stream_mix" in doc and "heartbeat" in doc["stream_mix"]
    assert "speedup vs pySHACL" in printed and ("met" in printed or "MISSED" in printed)
