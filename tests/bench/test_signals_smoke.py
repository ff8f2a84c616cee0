"""Smoke test of ``cns bench signals --quick``: it runs end to end and writes the documented JSON shape."""

from __future__ import annotations

import json

import pytest

from cns.cli import main

NUMBERS = (
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
    "stream_validations_per_s",
    "processed_ns_per_signal",
)


@pytest.mark.smoke
def test_bench_signals_quick_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "bench-signals.json"
    assert main(["bench", "signals", "--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["quick"] is True and doc["cpu"]
    for key in NUMBERS:
        assert isinstance(doc[key], (int, float)) and doc[key] > 0, key
    assert doc["signals"] >= 1_000_000 and 0 < doc["zero_tick_ratio"] < 1
    assert doc["load_cached_was_cached"] is True
    assert set(doc["goals"]) == {
        "validations_per_s",
        "zero_tick_ns_per_signal",
        "single_event_ns_p99",
        "speedup_vs_pyshacl",
    }
    assert all(isinstance(g["met"], bool) for g in doc["goals"].values())
    assert "stream_mix" in doc and "heartbeat" in doc["stream_mix"]
    assert "speedup vs pySHACL" in printed and ("met" in printed or "MISSED" in printed)
