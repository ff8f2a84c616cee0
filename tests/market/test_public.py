"""The public report stream: what a reader can take from a news item, and nothing hidden."""

from __future__ import annotations

import numpy as np
import pytest

from cns.market.newsgen import generate_news
from cns.market.public import (
    EPS_SURPRISE_PER_MOVE_PCT,
    REPORT_DTYPE,
    check_reports,
    public_reports,
    report_direction,
)
from cns.signals.dtypes import FLAG_TEST, KIND_CENTRAL_BANK, KIND_EARNINGS, KIND_GUIDANCE, empty_news
from cns.venue.errors import VenueConfigError


def _records() -> np.ndarray:
    r = empty_news(6)
    r["receive_ns"] = [50, 10, 20, 30, 40, 60]
    r["source"] = [1, 2, 3, 4, 5, 6]
    r["tickers"][:, 0] = [3, 3, 4, 5, 0, 3]
    r["n_tickers"] = [1, 1, 1, 1, 0, 1]
    r["kind"] = [KIND_GUIDANCE, KIND_EARNINGS, KIND_CENTRAL_BANK, KIND_GUIDANCE, KIND_GUIDANCE, KIND_GUIDANCE]
    r["move_pct"][0] = -2.5
    r["eps_actual"][1], r["eps_expected"][1] = 1.03, 1.00
    r["rate"][2] = 4.0  # a cut: prices up
    r["sentiment"][3] = -0.4
    r["flags"][5] = FLAG_TEST
    return r


def test_direction_from_what_the_item_states():
    assert report_direction(_records()).tolist() == [-1, 1, 1, -1, 0, 0]


def test_public_reports_keep_real_reports_sorted_with_claims_and_events():
    r = _records()
    story_of = np.array([7, 7, 2, 9, 9, -1])
    rep = public_reports(r, story_of)
    assert rep.dtype == REPORT_DTYPE
    assert rep["t_ns"].tolist() == [10, 20, 30, 50]  # no ticker / test traffic dropped, sorted by time
    assert rep["instrument"].tolist() == [3, 4, 5, 3] and rep["source"].tolist() == [2, 3, 4, 1]
    assert rep["direction"].tolist() == [1, 1, -1, -1]
    assert rep["move_pct"][0] == pytest.approx(0.03 / EPS_SURPRISE_PER_MOVE_PCT)  # earnings: 1 % move
    assert np.isnan(rep["move_pct"][1]) and np.isnan(rep["move_pct"][2]) and rep["move_pct"][3] == 2.5
    assert rep["event"][0] == rep["event"][3] and len(set(rep["event"].tolist())) == 3
    by_window = public_reports(r, window_ns=25)  # without story ids: (instrument, kind, time bucket)
    assert by_window.shape[0] == 4 and by_window["event"].max() == 3


def test_generated_world_reports_carry_no_truth_field():
    g = generate_news(5000, 5.0, seed=3)
    rep = public_reports(g.batch.records, g.story_of)
    assert set(REPORT_DTYPE.names) == {
        "t_ns",
        "instrument",
        "source",
        "event",
        "direction",
        "kind",
        "move_pct",
    }
    assert rep.shape[0] > 1000 and np.all(np.diff(rep["t_ns"]) >= 0)
    # a direction is claimed except by an earnings report whose EPS rounds to the estimate under a neutral headline
    assert np.mean(rep["direction"] == 0) < 0.02
    assert np.all(np.isfinite(rep["move_pct"]) | (rep["kind"] == KIND_CENTRAL_BANK))


def test_check_reports_names_the_bad_row():
    rep = np.zeros(2, REPORT_DTYPE)
    rep["instrument"] = [1, 9]
    with pytest.raises(VenueConfigError, match=r"reports\[1\]"):
        check_reports(rep, 5)
    rep["instrument"] = [1, 2]
    rep["t_ns"] = [5, 3]
    assert check_reports(rep, 5)["t_ns"].tolist() == [3, 5]
    with pytest.raises(VenueConfigError):
        check_reports(np.zeros(2), 5)
