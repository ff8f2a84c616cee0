"""The replay trades in the market that does not hand out the answer: the simulator gets the public reports of
the replayed news and the street's calibrated source estimates; the desk judges sources with a learnt table
(never the generator's hidden one) and the report says which; fees reach the desk's P&L; the market's own
P&L, fees and spreads are reported; ``--credibility PATH`` swaps the desk's table and nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cns.replay.driver import ReplayOptions, run_replay
from cns.replay.report import render_markdown
from cns.trading.calibrate import calibrate
from cns.trading.credibility import GENERATOR_PROVENANCE

WORLD: dict[str, Any] = {"events": 20_000, "seconds": 3.0, "seed": 11}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def default_run(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("out")
    return run_replay(ReplayOptions(**WORLD, out_dir=str(out), cache_dir=str(cache), progress=False)).report


def test_the_market_trades_on_the_public_reports(default_run: dict[str, Any]) -> None:
    t = default_run["trading"]
    assert t["inputs"]["public_reports"] > 1000
    venue = t["fast"]["venue"]
    assert venue["public_reports"] == t["inputs"]["public_reports"]
    assert venue["mm_news_updates"] > 0 and venue["competitor_orders"] > 0
    mk = t["fast"]["market"]
    assert set(mk["pnl"]) >= {"cns", "market_maker", "takers"} and mk["spread_bp"]["n"] > 0
    assert 0 < mk["spread_bp"]["p50"] < 500
    # the desk's own figures agree with the venue's books
    assert mk["pnl"]["cns"] == pytest.approx(
        t["fast"]["pnl"]["total"], abs=max(1.0, 0.05 * abs(mk["pnl"]["cns"]))
    )


def test_fees_reach_the_desk_and_are_reported(default_run: dict[str, Any]) -> None:
    fast, slow = default_run["trading"]["fast"], default_run["trading"]["slow"]
    for desk in (fast, slow):
        f = desk["fees"]
        assert f["paid"] >= 0 and f["rebates"] >= 0 and f["net"] == pytest.approx(f["paid"] - f["rebates"])
        assert f["paid"] == pytest.approx(desk["venue"]["cns_fees_paid_usd"])
        assert desk["attribution"]["fees"] == pytest.approx(-f["net"])
    assert fast["fills"] == 0 or fast["fees"]["paid"] + fast["fees"]["rebates"] > 0
    md = render_markdown(default_run)
    assert "fees paid" in md and "market_maker" in md and "Source credibility tables used" in md


def test_the_desk_table_is_learnt_and_named(default_run: dict[str, Any]) -> None:
    cred = default_run["trading"]["inputs"]["credibility"]
    assert cred["desk"]["provenance"].startswith("calibrated:")
    assert GENERATOR_PROVENANCE not in cred["desk"]["provenance"]
    assert (
        "[cached" not in cred["desk"]["provenance"]
    )  # machine-specific paths stay out of the trading section
    assert cred["desk"] == cred["street"]


def test_credibility_file_swaps_the_desk_table_only(
    default_run: dict[str, Any], cache: Path, tmp_path: Path
) -> None:
    doc = calibrate(1, 99, events=5_000, seconds=30.0).to_dict()
    path = tmp_path / "cred.json"
    path.write_text(json.dumps(doc))
    rep = run_replay(
        ReplayOptions(
            **WORLD,
            out_dir=str(tmp_path / "out"),
            cache_dir=str(cache),
            progress=False,
            slow_baseline=False,
            credibility_path=str(path),
        )
    ).report
    cred = rep["trading"]["inputs"]["credibility"]
    assert f"[file {path}]" in cred["desk"]["provenance"]
    assert cred["desk"]["scores_sha256"] != cred["street"]["scores_sha256"]
    assert cred["street"] == default_run["trading"]["inputs"]["credibility"]["street"]
    # the same market: the street is the same, only the desk's decisions differ
    assert rep["trading"]["inputs"]["public_reports"] == default_run["trading"]["inputs"]["public_reports"]
