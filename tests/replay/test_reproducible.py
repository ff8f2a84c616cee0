"""Same inputs + same seed ⇒ the same trading, byte for byte, on any machine.

* A run in a subprocess with ``NUMBA_OPT=0`` and an empty kernel cache — every kernel compiled unoptimised, a
  much slower "machine" — writes a ``report.json`` whose trading section is byte-identical to this process's
  (the measured section differs, as it should).
* Pins: the bytes of a small generated world (news binary, story table) and the sha256 of its trading
  section. Any change that moves a byte of either fails here, on purpose.

Updating the pins (only after an *intended* change of the generator, the market simulator, corroboration,
signal, risk, the desk or the latency model): run ``.venv/bin/python -m tests.replay.test_reproducible`` from
the repository root; it prints the current values. Paste them below and say in the commit message what
changed the bytes and why.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cns.market.newsgen import cached_world
from cns.replay.driver import ReplayOptions, run_replay
from cns.replay.report import canonical_json, trading_sha256, write_report

WORLD: dict[str, Any] = {"events": 20_000, "seconds": 3.0, "seed": 11}
PINNED_NEWS_SHA256 = "0788144f201073f44c585ad11db25d8be73037cb4ec068c08cec5feb92764a93"
PINNED_STORIES_SHA256 = "c0b6fed4ba30b96ccbb20f9038af1a3a897958d3869515d633e37f7c8d941477"
PINNED_TRADING_SHA256 = "fdc55b1fec4969e463df3412a01e3758b63fa1330118a617101d58a0def70f3e"


def world_hashes(cache_dir: Path) -> tuple[str, str]:
    """sha256 of the generated news binary and of the story table's array bytes for :data:`WORLD`."""
    files, _ = cached_world(WORLD["events"], WORLD["seconds"], WORLD["seed"], cache_dir)
    news = hashlib.sha256(files.news.read_bytes()).hexdigest()
    stories = np.load(files.stories, allow_pickle=False)
    return news, hashlib.sha256(np.ascontiguousarray(stories).tobytes()).hexdigest()


def replay(root: Path) -> tuple[dict[str, Any], Path]:
    """Run :data:`WORLD` in this process; return the report and the written ``report.json``."""
    opts = ReplayOptions(**WORLD, out_dir=str(root / "out"), cache_dir=str(root / "data"), progress=False)
    outcome = run_replay(opts)
    paths = write_report(outcome.report, opts.out_dir, outcome.pnl_series, outcome.latency_samples)
    return outcome.report, paths["json"]


@pytest.fixture(scope="module")
def here(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return replay(tmp_path_factory.mktemp("here"))


def test_generated_world_bytes_are_pinned(tmp_path: Path) -> None:
    assert world_hashes(tmp_path) == (PINNED_NEWS_SHA256, PINNED_STORIES_SHA256)


def test_trading_section_is_pinned(here: tuple[dict[str, Any], Path]) -> None:
    report, path = here
    written = json.loads(path.read_text())
    assert written["trading"] == report["trading"]
    assert trading_sha256(written["trading"]) == report["trading_sha256"] == PINNED_TRADING_SHA256


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_much_slower_machine_trades_byte_for_byte_the_same(
    here: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    report, path = here
    env = {
        **os.environ,
        "NUMBA_OPT": "0",
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
        "CNS_CACHE_DIR": str(tmp_path / "cns"),
    }
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cns",
            "run",
            "--events",
            str(WORLD["events"]),
            "--seconds",
            str(WORLD["seconds"]),
            "--seed",
            str(WORLD["seed"]),
            "--out",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=1100,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    slow = json.loads((out / "report.json").read_text())
    mine = json.loads(path.read_text())
    # the trading section: the same canonical bytes, the same text as written, the same recorded hash
    assert canonical_json(slow["trading"]) == canonical_json(mine["trading"])
    assert json.dumps(slow["trading"], indent=2) == json.dumps(mine["trading"], indent=2)
    assert slow["trading_sha256"] == mine["trading_sha256"] == report["trading_sha256"]
    # ... while the host's measurements are its own
    assert slow["measured"] != mine["measured"]


if __name__ == "__main__":  # print the current pins (see the module docstring)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        news_sha, stories_sha = world_hashes(Path(d) / "data")
        rep, _ = replay(Path(d))
    print(f'PINNED_NEWS_SHA256 = "{news_sha}"')
    print(f'PINNED_STORIES_SHA256 = "{stories_sha}"')
    print(f'PINNED_TRADING_SHA256 = "{rep["trading_sha256"]}"')
