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

REQUIRED_TRADING = ("events", "zero_tick", "validated", "signals", "decisions", "fast", "slow", "inputs")
REQUIRED_DESK = ("orders", "fills", "risk_rejects", "risk_limits", "pnl", "latency", "attribution")
REQUIRED_MEASURED = ("wall_s", "events_per_s", "latency_ns", "decision_latency_ns_p50", "cpu")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("replay")
    opts = ReplayOptions(
        events=60_000,
        seconds=6.0,
        seed=3,
        out_dir=str(root / "out"),
        cache_dir=str(root / "cache"),
        progress=False,
        sample_every=8,
    )
    return opts, run_replay(opts)


def test_report_has_every_key_the_issue_names(small_run) -> None:
    _, outcome = small_run
    r = outcome.report
    t, m = r["trading"], r["measured"]
    for key in REQUIRED_TRADING:
        assert key in t, key
    for desk in ("fast", "slow"):
        for key in REQUIRED_DESK:
            assert key in t[desk], (desk, key)
    for key in REQUIRED_MEASURED:
        assert key in m, key
    assert set(t["fast"]["pnl"]) >= {"realized", "unrealized"}
    assert t["slow"]["latency"]["decision"] == "100ms"
    for stage in LATENCY_STAGES:
        assert set(m["latency_ns"][stage]) >= {"p50", "p99", "p999", "max"}, stage
    # the host's measurement is labelled and kept out of what was traded
    assert "not used by the simulation" in m["decision_latency_label"]
    assert "wall_s" not in t and "latency_ns" not in t and "cpu" not in t
    assert len(r["headline"]) == 2 and r["trading_sha256"][:12] in r["headline"][0]["figure"]


def test_counts_are_consistent(small_run) -> None:
    opts, outcome = small_run
    t = outcome.report["trading"]
    fast = t["fast"]
    assert t["events"] == t["inputs"]["wire_records"] == opts.events
    assert 0 < t["zero_tick"] < t["events"]
    assert t["validated"] + t["zero_tick"] + sum(t["rejected"].values()) == t["events"]
    assert t["signals"] == sum(t["decisions"].values()) > 0
    assert fast["orders"] > 0 and fast["fills"] > 0
    assert t["slow"]["latency"]["decision_p50_ns"] == 100_000_000
    att = fast["attribution"]
    assert att["total"] == pytest.approx(fast["pnl"]["realized"] + fast["pnl"]["unrealized"], rel=1e-9)
    assert att["entry_fills"] + att["exit_fills"] == fast["filled_orders"]
    # every check that dropped a candidate is reported with when it first bound
    for check, n in fast["risk_rejects"].items():
        if n:
            lim = fast["risk_limits"][check]
            assert lim["entries_dropped"] + lim["exits_dropped"] == n
            assert 0 <= lim["first_ns"] <= lim["last_ns"]


def test_latencies_are_measured_per_event(small_run) -> None:
    opts, outcome = small_run
    lat = outcome.report["measured"]["latency_ns"]
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
    assert data["trading"] == outcome.report["trading"]
    md = paths["md"].read_text()
    assert "Per-stage latency" in md and "not used by the simulation" in md and "Risk limits that bound" in md
    for png in ("pnl_png", "latency_png"):
        assert paths[png].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_trading(tmp_path: Path, small_run) -> None:
    """Not only the decisions: orders, fills, P&L and attribution (the whole trading section) are equal."""
    opts, outcome = small_run
    again = run_replay(
        ReplayOptions(**{**{f: getattr(opts, f) for f in opts.__dataclass_fields__}, "sample_every": 1})
    )
    assert again.report["trading"] == outcome.report["trading"]
    assert again.report["trading_sha256"] == outcome.report["trading_sha256"]
    assert again.report["run_id"] != outcome.report["run_id"]


def test_user_news_with_malformed_lines_is_quarantined_and_run_goes_on(tmp_path: Path) -> None:
    good = shipped_scenario("2-earnings-beat.jsonl")
    lines = good.read_text().splitlines()
    bad = ['{"id": 1, "source": ', '{"id": 2, "source": "x.com", "type": "weather"}', "[1, 2]"]
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(lines[:3] + bad + lines[3:]) + "\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cns",
            "run",
            "--news",
            str(path),
            "--seconds",
            "5",
            "--out",
            str(out),
            "--no-slow-baseline",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())["trading"]
    assert sum(report["quarantined"].values()) == 3
    assert report["events"] == len(lines)
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert sorted(r["line"] for r in rejects) == [4, 5, 6]
    assert all(r["reason"] for r in rejects)


def test_missing_news_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cns",
            "run",
            "--news",
            str(tmp_path / "nope.jsonl"),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "nope.jsonl" in proc.stderr


def test_market_file_sets_opening_prices(tmp_path: Path) -> None:
    from cns.replay.market_data import MarketDataError, load_market_instruments
    from cns.signals.universe import ticker_dictionary

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
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cns",
            "run",
            "--events",
            "1000",
            "--seconds",
            "1",
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "risk.max_orderz" in proc.stderr and "Traceback" not in proc.stderr


def test_flat_view_serves_readers_of_the_old_flat_layout(small_run) -> None:
    from cns.replay.report import flat_view

    _, outcome = small_run
    r = outcome.report
    flat = flat_view(r)
    assert flat["events"] == r["trading"]["events"] and flat["orders"] == r["trading"]["fast"]["orders"]
    assert flat["pnl"] == r["trading"]["fast"]["pnl"] and flat["wall_s"] == r["measured"]["wall_s"]
    assert flat["wire_records"] == r["trading"]["inputs"]["wire_records"] and flat["latency_ns"]
