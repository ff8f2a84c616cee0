"""``cns run --book``: the desk trades the generated news against a recorded L3 day (the shipped sample)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cns.market.lobster_sample import sample_paths

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cns",
            "run",
            "--events",
            "20000",
            "--seconds",
            "30",
            "--no-progress",
            "--no-slow-baseline",
            "--out",
            str(tmp_path / "out"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "CNS_CACHE_DIR": str(tmp_path / "cache")},
    )


def test_cns_run_trades_against_a_recorded_book(tmp_path: Path) -> None:
    msg, ob = sample_paths()
    r = _run(tmp_path, "--book", f"{msg},{ob}", "--book-ticker", "AAPL")
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    notes = " ".join(report["notes"])
    assert "recorded market: AAPL <-" in notes and "835 recorded executions" in notes


def test_a_bad_book_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad_message.csv"
    bad.write_text("not,a,lobster,file\n")
    r = _run(tmp_path, "--book", str(bad))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
