"""Schedules of the simulated market: story impacts, the participants' beliefs and what they do with reports."""

from __future__ import annotations

import numpy as np
import pytest

from cns.market.dtypes import STORY_DTYPE
from cns.market.public import REPORT_DTYPE
from cns.market.sim import (
    Competitor,
    MarketConfig,
    competitor_schedule,
    impact_schedule,
    mm_news_schedule,
    participant_weights,
)
from cns.venue.errors import VenueConfigError

MS = 1_000_000


def stories() -> np.ndarray:
    s = np.zeros(3, STORY_DTYPE)
    s["story_id"] = [0, 1, 2]
    s["instrument"] = [4, 2, 3]
    s["first_report_ns"] = [1000 * MS, 500 * MS, 700 * MS]
    s["impact_pct"] = [2.0, -1.5, 0.0]
    s["impact_delay_ns"] = [100 * MS, 900 * MS, 50 * MS]
    s["is_true"] = [1, 1, 0]
    return s


def reports(rows: list[tuple[int, int, int, int, int, float]]) -> np.ndarray:
    """(t ms, instrument, source, event, direction, move %) rows."""
    r = np.zeros(len(rows), REPORT_DTYPE)
    for k, (t, i, src, ev, d, mv) in enumerate(rows):
        r[k] = (t * MS, i, src, ev, d, 1, mv)
    return r


def test_impact_schedule_only_true_stories_sorted_by_impact_time():
    t, instr, factor = impact_schedule(stories(), 10)
    assert t.tolist() == [1100 * MS, 1400 * MS]
    assert instr.tolist() == [4, 2] and factor == pytest.approx([1.02, 0.985])


def test_participant_weights_are_log_odds_of_the_street_estimate_plus_own_noise():
    rel = np.array([np.nan, 0.9, 0.5, 0.1])
    cfg = MarketConfig(belief_noise=0.0, default_reliability=0.6)
    w = participant_weights(rel, 5, 2, cfg, np.random.default_rng(0))
    assert w.shape == (2, 5)
    assert w[0].tolist() == pytest.approx([np.log(1.5), np.log(9), 0.0, -np.log(9), np.log(1.5)])
    noisy = participant_weights(rel, 5, 2, MarketConfig(belief_noise=0.5), np.random.default_rng(0))
    assert not np.array_equal(noisy[0], noisy[1])  # each participant has its own estimate
    with pytest.raises(VenueConfigError, match="probabilities"):
        participant_weights(np.array([1.5]), 2, 1, cfg, np.random.default_rng(0))


def test_market_maker_prices_the_expected_claimed_move_after_its_latency():
    cfg = MarketConfig(belief_noise=0.0, mm_news_latency_ns=3 * MS, mm_news_weight=1.0)
    w = np.array([0.0, np.log(9.0), 0.0])  # source 1: right 90 % of the time; source 2: a coin
    r = reports([(100, 2, 1, 0, 1, 2.0), (150, 2, 2, 0, -1, 5.0), (200, 2, 1, 0, 1, 2.0)])
    t, ins, dl = mm_news_schedule(r, w, cfg)
    assert t.tolist() == [103 * MS, 203 * MS]  # the coin moves nothing; each update after its latency
    assert ins.tolist() == [2, 2]
    p1 = np.log1p(0.8 * 0.02)  # tanh(log(9)/2) = 0.8 of the claimed 2 %
    p2 = np.log1p(np.tanh(np.log(9.0)) * 0.02)  # two agreeing reports: 0.976 of it
    assert dl.tolist() == pytest.approx([p1, p2 - p1])


def test_competitor_enters_once_per_event_when_confident_on_the_evidence_side():
    cfg = MarketConfig(
        competitors=(
            Competitor("eager", 5_000, min_confidence=0.5),
            Competitor("picky", 50 * MS, min_confidence=0.9),
        ),
        hold_ns=200 * MS,
    )
    w = np.tile(np.array([0.0, np.log(9.0), np.log(0.4 / 0.6)]), (2, 1))
    r = reports(
        [(100, 2, 1, 0, -1, 1.0), (120, 3, 2, 1, 1, 1.0), (130, 2, 1, 0, -1, 1.0), (300, 3, 1, 1, 1, 1.0)]
    )
    p = competitor_schedule(r, w, cfg)
    assert p.offset.tolist() == [0, 2, 3]
    # eager: event 0 at the first report (confidence 0.8); event 1 not on the unreliable report (a source
    # worse than a coin: evidence the other way, confidence 0.2), then on the credible one (0.71)
    assert p.t_ns[:2].tolist() == [100 * MS + 5_000, 300 * MS + 5_000]
    assert p.side[:2].tolist() == [-1, 1] and p.instrument[:2].tolist() == [2, 3]
    # picky: needs two agreeing credible reports (confidence 0.976)
    assert p.t_ns[2:].tolist() == [130 * MS + 50 * MS] and p.side[2:].tolist() == [-1]
    assert p.latency_ns.tolist() == [5_000, 50 * MS] and p.hold_ns == 200 * MS


def test_competitor_plan_reads_no_truth():
    """The schedules take only reports and weights: the same reports give the same plan whatever the truth."""
    cfg = MarketConfig()
    w = participant_weights(None, 4, 1 + len(cfg.competitors), cfg, np.random.default_rng(3))
    r = reports([(100, 2, 1, 0, 1, 1.0), (101, 2, 2, 0, 1, np.nan), (102, 2, 3, 0, 1, 3.0)])
    a = competitor_schedule(r, w[1:], cfg)
    b = competitor_schedule(r.copy(), w[1:], cfg)
    assert all(np.array_equal(x, y) for x, y in zip(a[:6], b[:6], strict=True))


def test_bad_instrument_is_a_clear_error():
    s = stories()
    s["instrument"][1] = 11
    with pytest.raises(VenueConfigError, match="story 1 names instrument 11"):
        impact_schedule(s, 10)
    with pytest.raises(VenueConfigError):
        Competitor("x", -1)
    with pytest.raises(VenueConfigError, match="min_confidence"):
        Competitor("x", 1, min_confidence=1.0)
