"""Smoke test of ``cns bench actors --quick``: it runs every runtime and writes the documented JSON shape."""

from __future__ import annotations

import json

import pytest

from cns.cli import main

KEYS = ("spawn_ns_p50", "spawn_linked_ns_p50", "send_msgs_per_s", "call_ns_p50", "call_ns_p99", "call_ns_p999",
        "bytes_per_idle_actor", "spawn_1m_s")


@pytest.mark.smoke
def test_bench_actors_quick_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "bench-actors.json"
    rc = main(["bench", "actors", "--quick", "--json", str(out)])
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    errors = {k: doc[k].get("error") for k in ("cns", "pykka", "thespian", "asyncio") if "error" in doc[k]}
    assert not errors, errors
    assert rc == 0
    assert doc["cpu"] and doc["quick"] is True
    for runtime in ("cns", "pykka", "thespian", "asyncio"):
        for key in KEYS:
            assert key in doc[runtime], (runtime, key)
    cns = doc["cns"]
    for key in KEYS:  # CNS measures every figure itself (nothing extrapolated)
        assert isinstance(cns[key], (int, float)) and cns[key] > 0, key
    assert cns["spawn_1m_extrapolated_from"] is None
    assert cns["call_ns_p50"] <= cns["call_ns_p99"] <= cns["call_ns_p999"]
    for peer in ("pykka", "thespian", "asyncio"):
        assert doc[peer]["send_msgs_per_s"] > 0 and doc[peer]["call_ns_p50"] > 0
    for key in ("send_vs_pykka", "send_vs_thespian", "send_vs_asyncio", "call_vs_pykka", "call_vs_thespian"):
        assert doc["ratios"][key] > 0, key
    assert {g["goal"] for g in doc["goals"]} >= {"send", "call_p50", "spawn_1m", "send_vs_pykka"}
    assert "Goals (CNS)" in printed and ("MISSED" in printed or "met" in printed)
