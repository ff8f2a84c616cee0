"""``cns bench live`` end to end at a tiny size: the JSON has every figure, the headline rows and the machine,
both sides measured in the same run; the goals are recorded, never asserted."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cns.bench.live import _step_metrics
from cns.bench.live_breakdown import profile_summary

pytestmark = pytest.mark.smoke


def test_step_metrics_measure_from_the_intended_send_time() -> None:
    gen = {
        "t0_ns": 1_000,
        "interval_ns": 100.0,
        "seconds": 1e-6,
        "rate": 1e7,
        "planned": 10,
        "sent": 10,
        "not_sent": 0,
        "frames": 3,
        "lateness_ns": {},
    }
    seq = np.arange(1, 11)
    done = 1_000 + (seq - 1) * 100 + 50  # every record done 50 ns after its intended send
    done[-1] += 10_000  # the last one waited behind a stall: it carries the wait (coordinated omission)
    m = _step_metrics(gen, seq, done, done - 20, np.array([3]), np.array([1_200]), np.array([1_300]), 0.0)
    assert m["event_ns"]["p50"] == 50 and m["event_ns"]["max"] == 10_050
    assert m["event_from_read_ns"]["p50"] == 20
    assert m["order_ns"]["p50"] == 1_300 - (1_000 + 2 * 100) and m["order_from_read_ns"]["p50"] == 100
    assert m["loss"] == 0 and m["backlog_at_end"] == 1 and m["processed"] == 10


def test_profile_summary_reads_collapsed_stacks(tmp_path: Path) -> None:
    p = tmp_path / "p.txt"
    p.write_text(
        "main;run;select (selectors.py:1) 30\nmain;handle (cns/serve/stages.py:9);process "
        "(cns/trading/corroborate.py:5) 70\n"
    )
    s = profile_summary(p)
    assert s["samples"] == 100 and s["by_area_pct"]["corroborate"] == 70.0
    assert s["top_self_pct"][0] == ["process (cns/trading/corroborate.py:5)", 70.0]


def test_bench_live_quick_writes_the_json_with_peer_and_headline(tmp_path: Path) -> None:
    out = tmp_path / "bench-live.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cns",
            "bench",
            "live",
            "--quick",
            "--rates",
            "15200",
            "--seconds",
            "0.5",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["cpu"] and doc["machine"] and doc["goals"]["p50_ns"] == 20_000
    (c,) = doc["cns"]
    (p,) = doc["peer"]
    for side in (c, p):
        assert side["rate"] == 15200 and side["planned"] == 7600
        assert side["processed"] + side["loss"] == side["sent"]
        for key in ("order_ns", "order_from_read_ns", "event_ns", "event_from_read_ns"):
            assert {"count", "p50", "p99", "p999", "max"} <= set(side[key])
        assert side["event_ns"]["count"] > 0 and not math.isnan(side["event_ns"]["p50"])
    assert p["fix"] in ("quickfix", "socket")
    assert len(doc["headline"]) == 2 and all(
        {"figure", "cns", "peer", "goal", "met"} <= set(h) for h in doc["headline"]
    )
    assert set(doc["verdict"]) >= {"p50_met", "p99_met", "ratio_met", "lossless_met"}
