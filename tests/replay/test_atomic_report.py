"""The report set is published atomically: a crash at any moment leaves the previous or the new complete set.

``out/report.json``, ``report.md``, ``pnl.png``, ``latency.png`` (and ``rejects-wire.jsonl``) must always
belong to one run: every file carries the run id (:func:`run_id_of`) and they must agree.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cns.errors import CNSError
from cns.news.batch import Reject
from cns.replay import report as report_mod
from cns.replay.report import REPORT_AREA, ReportWriteError, run_id_of, write_report

REQUIRED = ("report.json", "report.md", "pnl.png", "latency.png")
OPTIONAL = ("rejects-wire.jsonl",)


def _report(run_id: str, events: int) -> dict[str, Any]:
    """A small report with every key render_markdown reads."""
    stats = {"p50": 10.0, "p99": 20.0, "p999": 30.0, "max": 40.0, "samples": 5}
    desk = {
        "orders": 1,
        "fills": 1,
        "risk_rejects": {},
        "risk_limits": {},
        "latency": {"decision": "2us"},
        "pnl": {"realized": 1.0, "unrealized": 0.0, "total": 1.0},
    }
    return {
        "run_id": run_id,
        "machine": {"cpu": "test"},
        "trading": {
            "inputs": {"seed": 1, "simulated_s": 1.0},
            "events": events,
            "zero_tick": 1,
            "zero_tick_ratio": 0.1,
            "validated": events - 1,
            "rejected": {},
            "signals": 2,
            "fast": desk,
        },
        "measured": {
            "wall_s": 0.5,
            "events_per_s": 2.0 * events,
            "latency_ns": {s: dict(stats) for s in ("parse", "validate", "total")},
        },
    }


def _write(out: Path, run_id: str, events: int, rejects: list[Reject] | None = None) -> dict[str, Path]:
    t = np.linspace(0.0, 1.0, 16)
    samples = {s: np.arange(1, 50, dtype=np.int64) for s in ("parse", "validate", "total")}
    return write_report(
        _report(run_id, events), out, {"CNS": (t, t * 2.0)}, samples, wire_rejects=rejects or []
    )


def observed(out: Path) -> dict[str, str | None]:
    """What a reader sees in ``out`` now: name -> run id (None = carries none), for the names present."""
    return {n: run_id_of(out / n) for n in REQUIRED if (out / n).exists()}


def assert_one_complete_set(out: Path, allowed: set[str], *, may_be_empty: bool = False) -> str | None:
    """``out`` shows one complete set whose run id is in ``allowed`` (or nothing, if ``may_be_empty``)."""
    seen = observed(out)
    if not seen and may_be_empty:
        assert not any((out / n).exists() for n in OPTIONAL), "rejects without a report"
        return None
    assert set(seen) == set(REQUIRED), f"incomplete set: {seen}"
    ids = set(seen.values())
    assert len(ids) == 1 and None not in ids, f"mixed set: {seen}"
    run_id = ids.pop()
    assert run_id in allowed, (run_id, allowed)
    json_dir = (out / "report.json").resolve().parent
    for n in OPTIONAL:
        if (out / n).exists():
            assert (out / n).resolve().parent == json_dir, f"{n} belongs to another run"
    return run_id


def test_crash_mid_write_keeps_the_previous_complete_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _write(out, "run-A", 100)
    assert_one_complete_set(out, {"run-A"})

    def crash(*_a: Any, **_k: Any) -> None:  # report.json and report.md are written by now
        raise RuntimeError("simulated crash while drawing the P&L plot")

    monkeypatch.setattr(report_mod, "_plot_pnl", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _write(out, "run-B", 200)
    assert_one_complete_set(out, {"run-A"})
    assert json.loads((out / "report.json").read_text())["trading"]["events"] == 100
    assert "run `run-A`" in (out / "report.md").read_text()
    leftovers = [p.name for p in (out / REPORT_AREA).iterdir() if p.name.startswith(("tmp-", "current.tmp"))]
    assert leftovers == [], "a failed write must clean up its staging directory"

    monkeypatch.undo()
    _write(out, "run-C", 300)
    assert_one_complete_set(out, {"run-C"})
    assert json.loads((out / "report.json").read_text())["trading"]["events"] == 300


_FS_CALLS = ("rename", "replace", "symlink", "unlink", "rmdir", "mkdir", "fsync")


def _check_at_every_step(monkeypatch: pytest.MonkeyPatch, check: Callable[[], None]) -> list[str]:
    """Run ``check`` before and after every file-system call of the writer (a kill -9 could land there)."""
    steps: list[str] = []
    checking = False

    def wrap(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*a: Any, **k: Any) -> Any:
            nonlocal checking
            if checking:
                return real(*a, **k)
            checking = True
            try:
                check()
                result = real(*a, **k)
                check()
            finally:
                checking = False
            steps.append(name)
            return result

        return call

    for name in _FS_CALLS:
        monkeypatch.setattr(os, name, wrap(name, getattr(os, name)))
    return steps


def test_a_kill_at_any_step_of_publishing_leaves_one_complete_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    rejects = [Reject(7, "bad_code: kind 99", "raw")]
    sequence: list[tuple[str, list[Reject] | None]] = [
        ("A", None),
        ("B", rejects),
        ("C", None),
        ("D", rejects),
    ]
    old: str | None = None
    for run_id, rj in sequence:
        shown: list[str | None] = []

        def check(old: str | None = old, run_id: str = run_id, shown: list[str | None] = shown) -> None:
            got = assert_one_complete_set(out, {old or "", run_id}, may_be_empty=old is None)
            if shown and shown[-1] == run_id:
                assert got == run_id, "went back to the old set after showing the new one"
            shown.append(got)

        steps = _check_at_every_step(monkeypatch, check)
        _write(out, run_id, 10, rj)
        monkeypatch.undo()
        assert {"rename", "replace", "symlink", "fsync"} <= set(steps), steps
        assert assert_one_complete_set(out, {run_id}) == run_id
        assert shown[0] == old and shown[-1] == run_id, "the old set until the swap, the new one after it"
        old = run_id
        assert (out / "rejects-wire.jsonl").exists() == bool(rj), "rejects must match the report shown"
        if rj:
            assert json.loads((out / "rejects-wire.jsonl").read_text())["line"] == 7


def test_legacy_regular_files_are_replaced_without_showing_a_new_json_beside_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for n in REQUIRED:
        (out / n).write_text("legacy")
    (out / "rejects-wire.jsonl").write_text("{}\n")

    def check() -> None:
        if (out / "report.json").exists() and run_id_of(out / "report.json") == "new":
            assert_one_complete_set(out, {"new"})

    _check_at_every_step(monkeypatch, check)
    _write(out, "new", 5)
    monkeypatch.undo()
    assert_one_complete_set(out, {"new"})
    assert not (out / "rejects-wire.jsonl").exists(), "a stale rejects file from an older run must go"


def test_old_runs_and_dead_writers_leftovers_are_pruned(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, "A", 1)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (out / REPORT_AREA / f"tmp-{dead}-20200101T000000Z-00000000").mkdir()  # a writer killed while staging
    for rid in ("B", "C", "D"):
        _write(out, rid, 1)
    area = sorted(p.name for p in (out / REPORT_AREA).iterdir())
    runs = [n for n in area if n.startswith("run-")]
    assert len(runs) == 2, area  # the current run and the previous one (for readers still on it)
    assert not [n for n in area if n.startswith("tmp-")], area
    assert_one_complete_set(out, {"D"})


def test_write_failure_is_one_report_write_error_and_keeps_the_old_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, "A", 1)
    (out / REPORT_AREA / "current").unlink()
    (out / REPORT_AREA / "current").mkdir()  # swapping the link onto a directory fails
    with pytest.raises(ReportWriteError, match=str(out)) as e:
        _write(out, "B", 2)
    assert isinstance(e.value, CNSError)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(ReportWriteError, match="cannot write the report"):
        _write(not_a_dir, "C", 3)


def test_returned_paths_are_the_stable_names(tmp_path: Path) -> None:
    paths = _write(tmp_path / "o", "A", 1, [Reject(1, "x: y", "z")])
    assert {p.name for p in paths.values()} == set(REQUIRED) | set(OPTIONAL)
    assert all(p.parent == tmp_path / "o" and p.exists() for p in paths.values())


# --- the real thing: kill -9 a `cns run` subprocess at random moments ------------------------------------


def _cns_run(out: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CNS_CACHE_DIR": str(cwd / "cache")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cns",
            "run",
            "--events",
            "20000",
            "--seconds",
            "2",
            "--no-slow-baseline",
            "--no-progress",
            "--out",
            str(out),
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _staging(out: Path) -> bool:
    area = out / REPORT_AREA
    return area.is_dir() and any(p.name.startswith("tmp-") for p in area.iterdir())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_during_cns_run_never_leaves_a_mixed_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    t0 = time.monotonic()
    first = _cns_run(out, tmp_path)
    assert first.wait(timeout=300) == 0, first.stderr.read().decode()[-2000:] if first.stderr else ""
    duration = time.monotonic() - t0
    completed = {run_id_of(out / "report.json") or "?"}
    assert_one_complete_set(out, completed)

    rng = random.Random(20240607)
    kills = during_staging = 0
    for i in range(10):
        proc = _cns_run(out, tmp_path)
        if i % 2:  # a uniformly random moment of the whole run
            deadline = time.monotonic() + rng.uniform(0.0, duration * 1.1)
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.005)
        else:  # aim at the publishing window: shortly after the run starts writing its files
            limit = time.monotonic() + 300
            while not _staging(out) and proc.poll() is None and time.monotonic() < limit:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.3))
        staging = _staging(out)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
            during_staging += staging
        rc = proc.wait(timeout=60)
        if rc not in (0, -signal.SIGKILL):
            pytest.fail(
                f"cns run failed (rc {rc}): {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
            )
        # after a kill: the previous complete set, or (killed after the swap) the killed run's complete set
        now = run_id_of(out / "report.json") or "?"
        assert_one_complete_set(out, completed | {now})
        if rc != 0 and now not in completed:
            assert now.split("-")[1] == str(proc.pid), (
                "a set that is neither the old one nor the killed run's"
            )
        completed.add(now)
    assert kills >= 3, f"only {kills} runs were killed; the test did not exercise anything"
    assert during_staging >= 1, "no kill landed while a run was writing its report files"

    last = _cns_run(out, tmp_path)
    assert last.wait(timeout=300) == 0
    assert_one_complete_set(out, {run_id_of(out / "report.json") or "?"})
    area = [p.name for p in (out / REPORT_AREA).iterdir()]
    assert not [n for n in area if n.startswith("tmp-")], f"killed writers' staging left behind: {area}"
    assert len([n for n in area if n.startswith("run-")]) <= 2, area
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)
