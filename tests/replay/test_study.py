"""``cns study``: confidence intervals (Student's t), the corroboration strategy switch, and a tiny study end to
end (2 seeds, 2 latencies, a tiny world) writing ``study.json`` with CI fields, ``study.md`` and the PNG."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cns import cli
from cns.replay.study import StudyOptionError, StudyOptions, mean_ci, parse_latencies, t_critical
from cns.signals.dtypes import KIND_MACRO, empty_news
from cns.signals.universe import source_dictionary
from cns.trading.config import TradingConfig
from cns.trading.corroborate import Corroborator
from cns.trading.corroborate_kernels import ACTION_MONITOR, ACTION_TRADE
from cns.trading.credibility import CredibilityTable


@pytest.mark.parametrize(
    ("nu", "t"),
    [
        (1, 12.7062),
        (2, 4.3027),
        (3, 3.1824),
        (4, 2.7764),
        (9, 2.2622),
        (29, 2.0452),
        (100, 1.9840),
        (1000, 1.9623),
    ],
)
def test_t_critical_matches_the_tables(nu: int, t: float) -> None:
    assert t_critical(0.95, nu) == pytest.approx(t, abs=1e-4)


def test_mean_ci() -> None:
    s = mean_ci([1.0, 2.0, 3.0, float("nan"), None])  # type: ignore[list-item]
    assert s["n"] == 3 and s["mean"] == 2.0 and s["sd"] == 1.0
    assert s["half_width"] == pytest.approx(4.302652729749459 / math.sqrt(3))
    assert s["ci_low"] < 2.0 < s["ci_high"]
    assert mean_ci([5.0])["ci_low"] is None and mean_ci([])["mean"] is None


def test_first_credible_trades_on_one_credible_report_corroborate_waits() -> None:
    src = source_dictionary()
    r = empty_news(1)
    r[0]["id"], r[0]["source"], r[0]["kind"], r[0]["move_pct"] = 1, src.code("reuters.com"), KIND_MACRO, -3.0
    r[0]["tickers"][0], r[0]["n_tickers"], r[0]["publish_ns"], r[0]["receive_ns"] = (
        2,
        1,
        10**18,
        10**18 + 1000,
    )
    cfg = TradingConfig()
    actions = {}
    for strategy in ("first_credible", "corroborate"):
        c = dataclasses.replace(cfg.corroboration, strategy=strategy)
        corr = Corroborator(c, CredibilityTable.for_dictionary(src, cfg.credibility), n_tickers=4)
        actions[strategy] = corr.process(r)["action"].tolist()
    assert actions == {"first_credible": [ACTION_TRADE], "corroborate": [ACTION_MONITOR]}


def test_latency_lists_parse() -> None:
    assert parse_latencies("100ms, 1us,1us,10us") == (1_000, 10_000, 100_000_000)


@pytest.mark.parametrize(
    "argv",
    [
        ["--seeds", "1"],
        ["--latencies", "1us,fast"],
        ["--seconds", "nan"],
        ["--events", "0"],
        ["--first-seed", "-2"],
        ["--latencies", ""],
    ],
)
def test_bad_study_options_exit_2_with_one_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["study", "--out", str(tmp_path / "o"), "--no-progress", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_study_options_are_checked() -> None:
    with pytest.raises(StudyOptionError, match="strategies"):
        StudyOptions(strategies=("yolo",))
    with pytest.raises(StudyOptionError, match="latencies"):
        StudyOptions(latencies=())


def test_tiny_study_writes_json_with_ci_fields_and_the_png(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CNS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    code = cli.main(
        [
            "study",
            "--seeds",
            "2",
            "--events",
            "6000",
            "--seconds",
            "2",
            "--latencies",
            "1us,100ms",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    doc = json.loads((out / "study.json").read_text())
    assert doc["world"] == {"events": 6000, "simulated_s": 2.0, "seeds": [1, 2]}
    assert doc["latency_value"]["latencies_ns"] == [1_000, 100_000_000]
    ci_keys = {"mean", "ci_low", "ci_high", "half_width", "sd", "n"}
    for strategy in ("first_credible", "corroborate"):
        points = doc["latency_value"]["strategies"][strategy]
        assert [p["latency_ns"] for p in points] == [1_000, 100_000_000]
        for p in points:
            assert set(p["pnl"]) >= ci_keys and p["pnl"]["n"] == 2
            assert p["pnl"]["ci_low"] <= p["pnl"]["mean"] <= p["pnl"]["ci_high"]
    for desk in ("fast", "slow", "fast_minus_slow"):
        for m in ("pnl", "fills", "hit_rate", "entry_edge", "hold_informed", "residual"):
            assert set(doc["desks"][desk][m]) >= ci_keys, (desk, m)
    assert doc["desks"]["slow"]["latency"]["decision"] == "100ms"
    # the slow desk at 100 ms is the corroborate sweep's 100 ms point: same model, same decisions, same result
    slow = [s["slow"]["pnl"] for s in doc["per_seed"]]
    assert slow == [s["sweep"]["corroborate"][1]["pnl"] for s in doc["per_seed"]]
    assert len(doc["per_seed"]) == 2 and doc["headline"]
    assert (out / "latency-value.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "study.md").read_text()
    assert "P&L vs decision latency" in md and "| 1 µs |" in md and "| 100 ms |" in md
    assert "study.json" in capsys.readouterr().out
    # the study is a function of its options: a second run gives the same figures
    assert (
        cli.main(
            [
                "study",
                "--seeds",
                "2",
                "--events",
                "6000",
                "--seconds",
                "2",
                "--latencies",
                "1us,100ms",
                "--out",
                str(tmp_path / "again"),
                "--no-progress",
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "again" / "study.json").read_text())
    assert again["per_seed"] == doc["per_seed"]
    assert np.isfinite([p["pnl"]["mean"] for p in again["latency_value"]["strategies"]["corroborate"]]).all()
