"""Issue 12: ``cns run`` killed and resumed reports what an uninterrupted run reports.

The journal itself (:mod:`cns.replay.checkpoint`): phases round-trip exactly, a damaged file is recomputed
with a warning, another key's journal is removed. The whole: ``kill -9`` at random instants of a small world,
then a completed run — its ``report.json`` equals an uninterrupted run's in everything but what the host
measured (``trading`` byte for byte, ``trading_sha256``)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cns.replay.checkpoint import CHECKPOINT_AREA, IngestState, Journal
from cns.replay.desk import DeskResult
from cns.replay.report import canonical_json
from cns.trading.corroborate_kernels import DECISION_DTYPE

EVENTS, SECONDS = "200000", "20"


def _desk_result() -> DeskResult:
    dec = np.zeros(5, DECISION_DTYPE)
    dec["ts_ns"] = np.arange(5) * 7
    return DeskResult(
        orders=3,
        fills=2,
        filled_orders=2,
        realized=1.25,
        unrealized=-0.1 + 0.2,
        hit_rate=float("nan"),
        fill_rate=2 / 3,
        risk_rejects={"max_position": 1},
        signal_latency_ns=np.array([-1, 250, 300], np.int64),
        risk_latency_ns=np.array([40], np.int64),
        pnl_t_s=np.linspace(0.0, 1.0, 4),
        pnl_usd=np.array([0.0, 1.0, -2.5, 1e-17]),
        venue={"acks": 3},
        decisions=dec,
        attribution={"by_kind": {"earnings": [1, 2.5, None]}, "n": np.int64(4)},
        market={"spread_bps": np.float64(1.5), "owners": ("mm", "desk")},
    )


def _fields_equal(x: np.ndarray, y: np.ndarray) -> bool:
    """Equal values, field by field (bit for bit; padding bytes do not count)."""
    if x.dtype.names is None:
        return x.tobytes() == y.tobytes()
    return all(
        np.ascontiguousarray(x[n]).tobytes() == np.ascontiguousarray(y[n]).tobytes() for n in x.dtype.names
    )


def _same(a: DeskResult, b: DeskResult) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and _fields_equal(x, y), f.name
        else:
            assert canonical_json(x) == canonical_json(y), f.name


def test_phases_round_trip_exactly(tmp_path: Path) -> None:
    j = Journal(tmp_path, "k1")
    r = _desk_result()
    j.save_desk("fast", r)
    st = IngestState(
        r.decisions,
        {"events": 10, "zero_tick": 2},
        {"NewsShape / x: MinCount": 3},
        [(4, "bad_kind: kind 9", "\\x00")],
        {"parse": np.array([5, -1], np.int64), "validate": np.array([6, 7]), "corroborate": np.array([1, 2])},
        {"every": 32, "final": 2, "batch_ns": {"parse": 10}},
        1.5,
    )
    j.save_ingest(st)
    again = Journal(tmp_path, "k1")
    assert again.phases() == ["ingest", "fast"]
    got = again.load_desk("fast")
    assert got is not None
    _same(r, got)
    ing = again.load_ingest()
    assert ing is not None
    assert ing.totals == st.totals and ing.rejected == st.rejected and ing.quarantine == st.quarantine
    assert ing.decisions.dtype == st.decisions.dtype and _fields_equal(ing.decisions, st.decisions)
    assert ing.lat_meta == st.lat_meta
    assert all(ing.lat[k].tobytes() == st.lat[k].tobytes() for k in st.lat)


def test_damaged_checkpoint_is_recomputed_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    j = Journal(tmp_path, "k1")
    j.save_desk("fast", _desk_result())
    path = tmp_path / CHECKPOINT_AREA / "k1" / "fast.ckpt"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        assert j.load_desk("fast") is None
    assert "sha256 mismatch" in caplog.text and not path.exists()
    path.write_bytes(b"CNSCKPT1short")
    assert j.load_desk("fast") is None
    path.write_bytes(b"")
    assert j.load_ingest() is None


def test_another_keys_journal_is_dropped(tmp_path: Path) -> None:
    Journal(tmp_path, "old").save_desk("slow", _desk_result())
    stale = tmp_path / CHECKPOINT_AREA / "k2" / ".fast.ckpt.123.abcd.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"partial")
    j = Journal(tmp_path, "k2")
    assert not (tmp_path / CHECKPOINT_AREA / "old").exists() and not stale.exists()
    assert j.phases() == [] and j.load_desk("slow") is None
    j.discard()
    assert not (tmp_path / CHECKPOINT_AREA).exists()


def _cns_run(out: Path, cwd: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "cns", "run", "--events", EVENTS, "--seconds", SECONDS]
    argv += ["--no-progress", "--out", str(out)]
    return subprocess.Popen(
        argv, cwd=cwd, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _finish(proc: subprocess.Popen[bytes]) -> None:
    rc = proc.wait(timeout=600)
    assert rc == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else rc


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what the host measured (and the random run id)."""
    drop = {"measured", "run_id", "machine", "headline", "notes"}
    return {k: v for k, v in report.items() if k not in drop}


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_killed_and_resumed_run_reports_like_an_uninterrupted_one(tmp_path: Path) -> None:
    t0 = time.monotonic()
    _finish(_cns_run(tmp_path / "whole", tmp_path))
    duration = time.monotonic() - t0
    whole = json.loads((tmp_path / "whole" / "report.json").read_bytes())
    assert whole["measured"]["resumed"] == []
    assert not (tmp_path / "whole" / CHECKPOINT_AREA).exists(), "a completed run leaves its journal"

    out = tmp_path / "killed"
    # first a kill right after the ingest is journalled, so a resume from a checkpoint is always exercised
    proc = _cns_run(out, tmp_path)
    limit = time.monotonic() + 600
    while not list(out.glob(f"{CHECKPOINT_AREA}/*/ingest.ckpt")) and time.monotonic() < limit:
        assert proc.poll() is None, "the run ended before journalling its ingest"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    rng = random.Random(12)
    kills = 1
    for _ in range(5):
        proc = _cns_run(out, tmp_path)
        deadline = time.monotonic() + rng.uniform(0.1, 0.8) * duration
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        assert proc.wait(timeout=60) in (0, -signal.SIGKILL)
    assert kills >= 4, f"only {kills} runs were killed"
    _finish(_cns_run(out, tmp_path))
    resumed = json.loads((out / "report.json").read_bytes())
    assert resumed["trading_sha256"] == whole["trading_sha256"]
    assert json.dumps(resumed["trading"]).encode() == json.dumps(whole["trading"]).encode()
    assert _comparable(resumed) == _comparable(whole)
    assert set(resumed) == set(whole) and set(resumed["measured"]) == set(whole["measured"])
    assert not (out / CHECKPOINT_AREA).exists()
