"""The production replay end to end on a small world: real generator, stage actors, venue and report files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cns.replay.driver import ReplayOptions, run_replay
from cns.replay.report import LATENCY_STAGES, write_report
from cns.resources import shipped_scenario

REQUIRED = ("events", "zero_tick", "validated", "signals", "orders", "fills", "risk_rejects", "pnl", "wall_s",
            "events_per_s", "latency_ns", "slow_baseline")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("replay")
    opts = ReplayOptions(events=60_000, seconds=6.0, seed=3, out_dir=str(root / "out"),
                         cache_dir=str(root / "cache"), progress=False, sample_every=8)
    return opts, run_replay(opts)


def test_report_has_every_key_the_issue_names(small_run) -> None:
    _, outcome = small_run
    r = outcome.report
    for key in REQUIRED:
        assert key in r, key
    assert set(r["pnl"]) >= {"realized", "unrealized"}
    assert set(r["slow_baseline"]) >= {"pnl", "fills", "decision_latency_ns"}
    for stage in LATENCY_STAGES:
        assert set(r["latency_ns"][stage]) >= {"p50", "p99", "p999", "max"}, stage


def test_counts_are_consistent(small_run) -> None:
    opts, outcome = small_run
    r = outcome.report
    assert r["events"] == r["wire_records"] == opts.events
    assert 0 < r["zero_tick"] < r["events"]
    assert r["validated"] + r["zero_tick"] + sum(r["rejected"].values()) == r["events"]
    assert r["signals"] == sum(r["decisions"].values()) > 0
    assert r["orders"] > 0 and r["fills"] > 0
    assert r["slow_baseline"]["decision_latency_ns"] == 100_000_000
    att = r["attribution"]
    assert att["total"] == pytest.approx(r["pnl"]["realized"] + r["pnl"]["unrealized"])
    assert att["entry_fills"] + att["exit_fills"] == r["filled_orders"]


def test_latencies_are_measured_per_event(small_run) -> None:
    opts, outcome = small_run
    lat = outcome.report["latency_ns"]
    expected = -(-opts.events // opts.sample_every)
    for stage in ("parse", "validate", "corroborate"):
        assert lat[stage]["samples"] == expected
        assert lat[stage]["p50"] <= lat[stage]["p99"] <= lat[stage]["p999"] <= lat[stage]["max"]
    # stamps come from a clock: they are not all equal, and parse work is never free
    assert lat["parse"]["max"] > lat["parse"]["p50"] > 0
    assert lat["signal"]["samples"] > 0 and lat["risk"]["samples"] > 0


def test_writes_report_files(small_run, tmp_path: Path) -> None:
    _, outcome = small_run
    paths = write_report(outcome.report, tmp_path, outcome.pnl_series, outcome.latency_samples)
    data = json.loads(paths["json"].read_text())
    assert data["events"] == outcome.report["events"]
    assert "Per-stage latency" in paths["md"].read_text()
    for png in ("pnl_png", "latency_png"):
        assert paths[png].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_trading(tmp_path: Path, small_run) -> None:
    opts, outcome = small_run
    again = run_replay(ReplayOptions(**{**{f: getattr(opts, f) for f in opts.__dataclass_fields__},
                                        "slow_baseline": False}))
    for key in ("events", "zero_tick", "validated", "signals", "decisions"):
        assert again.report[key] == outcome.report[key], key


def test_user_news_with_malformed_lines_is_quarantined_and_run_goes_on(tmp_path: Path) -> None:
    good = shipped_scenario("2-earnings-beat.jsonl")
    lines = good.read_text().splitlines()
    bad = ['{"id": 1, "source": ', '{"id": 2, "source": "x.com", "type": "weather"}', "[1, 2]"]
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(lines[:3] + bad + lines[3:]) + "\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "cns", "run", "--news", str(path), "--seconds", "5", "--out", str(out),
         "--no-slow-baseline", "--no-progress"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert sum(report["quarantined"].values()) == 3
    assert report["events"] == len(lines)
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert sorted(r["line"] for r in rejects) == [4, 5, 6]
    assert all(r["reason"] for r in rejects)


def test_missing_news_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "cns", "run", "--news", str(tmp_path / "nope.jsonl"),
                           "--out", str(tmp_path / "o"), "--no-progress"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "nope.jsonl" in proc.stderr


def test_market_file_sets_opening_prices(tmp_path: Path) -> None:
    from cns.signals.universe import ticker_dictionary
    from cns.replay.market_data import MarketDataError, load_market_instruments

    csv = tmp_path / "quotes.csv"
    csv.write_text("ts_ns,ticker,bid,ask\n2,AAPL,101,103\n1,AAPL,99,101\n1,MSFT,10,12\n")
    instruments, note = load_market_instruments(csv, ticker_dictionary())
    by = {i.ticker: i.price for i in instruments}
    assert by["AAPL"] == 100.0 and by["MSFT"] == 11.0
    assert "2 of" in note
    (tmp_path / "bad.csv").write_text("symbol,price\nAAPL,1\n")
    with pytest.raises(MarketDataError, match="ticker"):
        load_market_instruments(tmp_path / "bad.csv", ticker_dictionary())
    assert np.isfinite([i.price for i in instruments]).all()


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[risk]\nmax_orderz = 5\n")
    proc = subprocess.run([sys.executable, "-m", "cns", "run", "--events", "1000", "--seconds", "1", "--config",
                           str(cfg), "--out", str(tmp_path / "o"), "--no-progress"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 2
    assert "risk.max_orderz" in proc.stderr and "Traceback" not in proc.stderr
