"""``cns run`` refuses bad options with one line and exit 2, before any heavy work (no data is prepared)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cns import cli
from cns.replay import driver
from cns.replay.driver import ReplayOptionError, ReplayOptions, run_replay
from cns.replay.latency import LatencySpecError
from cns.trading.errors import ConfigError


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the replay gets as far as preparing news."""

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("heavy work started: prepare_news was called")

    monkeypatch.setattr(driver, "prepare_news", boom)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--seconds", "inf"], "seconds"),
        (["--seconds", "nan"], "seconds"),
        (["--seconds", "-3"], "seconds"),
        (["--seconds", "0"], "seconds"),
        (["--seed", "-1"], "seed"),
        (["--seed", str(1 << 63)], "seed"),
        (["--events", "0"], "events"),
        (["--decision-latency", "3 parsecs"], "decision latency"),
        (["--decision-latency", "lognormal:p50=2us"], "decision latency"),
        (["--decision-latency=-5us"], "decision latency"),
    ],
)
def test_bad_run_options_exit_2_with_one_line(
    argv: list[str], says: str, no_data: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["run", "--out", str(tmp_path / "o"), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and says in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_desk_values_fail_before_the_news_is_prepared(no_data: None) -> None:
    with pytest.raises(ConfigError, match="desk.slice_ns"):
        run_replay(ReplayOptions(events=1000, seconds=1.0, slice_ns=10**18, progress=False))


def test_options_are_checked_at_construction() -> None:
    for kw in (
        {"seconds": float("inf")},
        {"seconds": float("nan")},
        {"seconds": -1.0},
        {"seed": -5},
        {"seed": True},
        {"events": 0},
        {"batch": 0},
        {"sample_every": 0},
        {"events": 1.5},
    ):
        with pytest.raises(ReplayOptionError):
            ReplayOptions(**kw)  # type: ignore[arg-type]
    with pytest.raises(LatencySpecError):
        ReplayOptions(decision_latency="fast")
    assert ReplayOptions(seconds=1, decision_latency="lognormal:p50=2us,p99=20us").seconds == 1


def test_the_real_command_refuses_inf_seconds_quickly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cns",
            "run",
            "--seconds",
            "inf",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "seconds" in proc.stderr, proc.stderr


def test_metrics_port_reaches_the_options() -> None:
    from cns.replay.cli import options_from_args

    args = cli.build_parser().parse_args(["run", "--metrics-port", "9464", "--no-progress"])
    assert options_from_args(args).metrics_port == 9464
    with pytest.raises(ReplayOptionError, match="metrics_port"):
        ReplayOptions(metrics_port=70000)
