"""A user's news file spanning more than ``--seconds``: the report says so and takes "× real time" on the
simulated span the desk actually covered (``measured.simulated_span_s``), not on ``--seconds``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cns.resources import shipped_scenario

pytestmark = pytest.mark.slow


def test_report_states_the_span_the_news_and_the_market_covered(tmp_path: Path) -> None:
    lines = [json.loads(s) for s in shipped_scenario("2-earnings-beat.jsonl").read_text().splitlines() if s]
    late = dict(lines[-1], id=lines[-1]["id"] + 1)
    for k in ("publish_ns", "receive_ns"):
        late[k] = lines[-1][k] + 20 * 10**9  # 20 s after the rest: past --seconds 5
    news = tmp_path / "news.jsonl"
    news.write_text("".join(json.dumps(d) + "\n" for d in [*lines, late]))
    out = tmp_path / "out"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cns",
            "run",
            "--news",
            str(news),
            "--seconds",
            "5",
            "--no-progress",
            "--no-slow-baseline",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "CNS_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    m = report["measured"]
    assert m["simulated_span_s"] >= 5.0
    assert m["realtime_factor"] == pytest.approx(m["simulated_span_s"] / m["wall_s"])
    assert any("receive times span 20." in n and "more than --seconds (5.0 s)" in n for n in report["notes"])
    assert "simulated span (s)" in (out / "report.md").read_text()
