"""``cns demo`` runs, narrates restarts and escalation, and its figures come from telemetry."""

from __future__ import annotations

from cns.cli import main
from cns.otp.demo import run_demo


def test_demo_narrates_restarts_and_escalation() -> None:
    lines: list[str] = []
    result = run_demo(lines.append)
    text = "\n".join(lines)
    assert "restarted feed" in text and "restarted risk" in text and "restarted strategy" in text
    assert result["counters"]["restarts"] == 7
    assert result["counters"]["exits_by_reason"]["RuntimeError"] == 4
    assert result["pool"].lost == 5 and result["pool"].restarts == 1


def test_cli_demo_exit_code(capsys) -> None:
    assert main(["demo"]) == 0
    assert "escalated to root" in capsys.readouterr().out
