"""Schedules of the simulated market: story impacts and competitor entries/exits."""

from __future__ import annotations

import numpy as np
import pytest

from cns.market.dtypes import STORY_DTYPE
from cns.market.sim import (
    ACTION_ENTRY,
    ACTION_EXIT,
    FIRST_COMPETITOR,
    Competitor,
    MarketConfig,
    competitor_schedule,
    impact_schedule,
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


def test_impact_schedule_only_true_stories_sorted_by_impact_time():
    t, instr, factor = impact_schedule(stories(), 10)
    assert t.tolist() == [1100 * MS, 1400 * MS]
    assert instr.tolist() == [4, 2] and factor == pytest.approx([1.02, 0.985])


def test_competitor_schedule_latency_direction_and_rumor_chasing():
    cfg = MarketConfig(competitors=(Competitor("a", 5_000, rumor_chase_prob=0.0),
                                    Competitor("b", 5 * MS, rumor_chase_prob=1.0)), hold_ns=200 * MS)
    acts = competitor_schedule(stories(), cfg, 10, np.random.default_rng(0))
    assert np.all(np.diff(acts["t_ns"]) >= 0)
    a = acts[acts["owner"] == FIRST_COMPETITOR]
    b = acts[acts["owner"] == FIRST_COMPETITOR + 1]
    assert sorted(a["story_id"].tolist()) == [0, 0, 1, 1]  # never chases the rumor (story 2)
    assert sorted(b["story_id"].tolist()) == [0, 0, 1, 1, 2, 2]
    e = a[(a["kind"] == ACTION_ENTRY) & (a["story_id"] == 1)][0]
    assert e["t_ns"] == 500 * MS + 5_000 and e["side"] == -1 and e["instrument"] == 2
    x = a[(a["kind"] == ACTION_EXIT) & (a["story_id"] == 1)][0]
    assert x["t_ns"] == 500 * MS + 900 * MS + 200 * MS  # hold after the impact


def test_bad_instrument_is_a_clear_error():
    s = stories()
    s["instrument"][1] = 11
    with pytest.raises(VenueConfigError, match="story 1 names instrument 11"):
        impact_schedule(s, 10)
    with pytest.raises(VenueConfigError):
        Competitor("x", -1)
