"""Schedules of the simulated market: story impacts and competitor entries/exits."""

from __future__ import annotations

import numpy as np
import pytest

from cns.market.dtypes import STORY_DTYPE
from cns.market.sim import Competitor, MarketConfig, competitor_plan, impact_schedule
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


def test_impact_schedule_only_true_stories_sorted_by_impact_time():
    t, instr, factor = impact_schedule(stories(), 10)
    assert t.tolist() == [1100 * MS, 1400 * MS]
    assert instr.tolist() == [4, 2] and factor == pytest.approx([1.02, 0.985])


def test_competitor_plan_latency_direction_and_rumor_chasing():
    cfg = MarketConfig(competitors=(Competitor("a", 5_000, rumor_chase_prob=0.0),
                                    Competitor("b", 5 * MS, rumor_chase_prob=1.0)), hold_ns=200 * MS)
    p = competitor_plan(stories(), cfg, 10, np.random.default_rng(0))
    assert p.first_ns.tolist() == [500 * MS, 700 * MS, 1000 * MS]  # sorted by first report
    assert p.instrument.tolist() == [2, 3, 4] and p.side.tolist()[0::2] == [-1, 1]
    assert p.take[:, 0].tolist() == [1, 0, 1]  # "a" never chases the rumor (the 700 ms story)
    assert p.take[:, 1].tolist() == [1, 1, 1]
    assert p.latency_ns.tolist() == [5_000, 5 * MS] and p.hold_ns == 200 * MS
    assert p.impact_ns.tolist() == [1400 * MS, 750 * MS, 1100 * MS]
    # exits ordered by max(entry, impact) + hold: story@1000ms (1300) before story@500ms (1600)
    assert p.exit_len.tolist() == [2, 3] and p.exit_order[0, :2].tolist() == [2, 0]
    assert p.exit_order[1, :3].tolist() == [1, 2, 0]


def test_bad_instrument_is_a_clear_error():
    s = stories()
    s["instrument"][1] = 11
    with pytest.raises(VenueConfigError, match="story 1 names instrument 11"):
        impact_schedule(s, 10)
    with pytest.raises(VenueConfigError):
        Competitor("x", -1)
