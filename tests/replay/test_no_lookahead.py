"""No lookahead: what the desk does before time T cannot depend on the market after T.

* The market is perturbed at T (a large foreign market order reaching the venue at T): every order stamped
  before ``T + md_ns`` — priced on quotes the desk sees ``md_ns`` late — and every P&L point before it
  (marked on the same delayed quotes) is unchanged; afterwards the perturbation shows.
* Execution reports reach the OMS/portfolio ``return_ns`` after the venue produced them.
* A rumour-storm decision is stamped no earlier than the close of the window that produced it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cns.replay.desk import TradingDesk
from cns.replay.latency import LatencyModel
from cns.signals.dtypes import KIND_RUMOR, empty_news
from cns.signals.universe import source_dictionary
from cns.trading.config import LatencyConfig, TradingConfig
from cns.trading.corroborate import Corroborator
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE
from cns.trading.credibility import CredibilityTable
from cns.venue.dtypes import ORDER_DTYPE, ORDER_MARKET
from tests.replay.test_desk import AAPL, MSFT, SEC, START, config, decisions

MODEL = LatencyModel.from_config(LatencyConfig(decision_ns=300, decision_p99_ns=0))
T = START + 3 * SEC - 20_000  # the perturbation reaches the venue 20 µs before the 3 s P&L snapshot
US = 1e-6


def _decisions() -> np.ndarray:
    rows = [
        (
            0.3 + 0.25 * k,
            AAPL if k % 2 == 0 else MSFT,
            1 if k % 3 else -1,
            ACTION_TRADE if k % 4 else ACTION_CONTINGENCY,
        )
        for k in range(16)
    ]
    at = (T - START) / SEC
    rows += [
        (2.2, AAPL, 1, ACTION_TRADE),  # open over T: its mark at the 3 s snapshot must not see T
        (at + 10 * US, AAPL, -1, ACTION_TRADE),  # acted inside T + md_ns: priced on quotes from before T
        (at + 2_000 * US, AAPL, 1, ACTION_TRADE),
    ]  # 2 ms after T: the perturbed quotes
    return np.sort(decisions(*rows), order="ts_ns", kind="stable")


def _run(perturb: bool) -> tuple[TradingDesk, object]:
    desk = TradingDesk(config(seconds=6.0, hold_ns=SEC), MODEL)
    if perturb:  # 200k shares bought at market by someone else, at the venue at T
        o = np.zeros(1, ORDER_DTYPE)
        o["order_id"], o["owner"], o["instrument"], o["side"], o["type"] = 1, 99, AAPL, 1, ORDER_MARKET
        o["qty"], o["ts_ns"] = 200_000, T - MODEL.entry_ns
        desk.sim.submit(o)
    desk.on_decisions(_decisions())
    return desk, desk.finish()


def _rows(desk: TradingDesk) -> np.ndarray:
    oms = desk.pipeline.oms
    t = oms.table[: int(oms.id_counter[0]) - oms.base_id]
    return t[t["state"] != 0]


@pytest.fixture(scope="module")
def pair():
    return _run(False), _run(True)


def test_orders_and_fills_before_t_plus_md_are_unchanged(pair) -> None:
    (a, _), (b, _) = pair
    ra, rb = _rows(a), _rows(b)
    horizon = T + MODEL.md_ns
    early_a, early_b = ra[ra["sent_ns"] < horizon], rb[rb["sent_ns"] < horizon]
    assert len(early_a) >= 10
    # the order acted on 10 µs after T is among them: priced on quotes the desk saw before T
    assert np.any((early_a["sent_ns"] >= T) & (early_a["instrument"] == AAPL))
    for f in ("sent_ns", "instrument", "side", "qty", "price", "news_id"):
        assert np.array_equal(early_a[f], early_b[f]), f
    # fills of orders filled before T are booked the same
    done_a, done_b = early_a[early_a["last_ns"] < T], early_b[early_b["last_ns"] < T]
    assert len(done_a) and np.array_equal(
        done_a[["filled", "avg_px", "last_ns"]], done_b[["filled", "avg_px", "last_ns"]]
    )


def test_pnl_marks_before_t_plus_md_are_unchanged_and_the_market_did_change(pair) -> None:
    (a, ra), (b, rb) = pair
    t_s = ra.pnl_t_s
    assert np.array_equal(t_s, rb.pnl_t_s)
    before = START + t_s * SEC < T + MODEL.md_ns
    assert before.sum() >= 4  # 0, 1, 2 and 3 s: the 3 s point is 20 µs after T
    assert np.array_equal(ra.pnl_usd[before], rb.pnl_usd[before])
    # the perturbation is real: the order acted 2 ms after T is priced differently, and P&L diverges
    late_a, late_b = _rows(a), _rows(b)
    pick = T + 1_000_000
    pa = late_a[(late_a["sent_ns"] > pick) & (late_a["instrument"] == AAPL) & (late_a["news_id"] != 0)][
        "price"
    ][0]
    pb = late_b[(late_b["sent_ns"] > pick) & (late_b["instrument"] == AAPL) & (late_b["news_id"] != 0)][
        "price"
    ][0]
    assert pb > pa
    assert not np.array_equal(ra.pnl_usd, rb.pnl_usd)


def test_fills_are_booked_only_after_the_return_latency() -> None:
    model = dataclasses.replace(MODEL, return_ns=5_000_000)
    desk = TradingDesk(config(seconds=4.0, hold_ns=0), model)
    desk.on_decisions(decisions((1.0, AAPL, 1, ACTION_TRADE)))  # steps the venue to the act time only
    pf, oms = desk.pipeline.portfolio, desk.pipeline.oms
    arrive = START + SEC + 300 + model.entry_ns  # the IOC fills when it reaches the book
    desk._advance(arrive + 1_000_000)  # filled at the venue, report still on its way
    assert pf.position[AAPL] == 0 and oms.open_buy[AAPL] > 0 and len(desk._pending) >= 1
    desk._advance(arrive + model.return_ns + 1_000)
    assert pf.position[AAPL] > 0 and oms.open_buy[AAPL] == 0 and len(desk._pending) == 0
    r = desk.finish()
    assert r.fills >= 1 and r.reports_in_flight_at_end == 0


def test_reports_still_in_flight_at_the_end_are_booked() -> None:
    model = dataclasses.replace(MODEL, return_ns=2 * SEC)
    desk = TradingDesk(config(seconds=2.0, hold_ns=0), model)
    desk.on_decisions(decisions((1.5, AAPL, 1, ACTION_TRADE)))
    r = desk.finish()
    assert r.reports_in_flight_at_end >= 1 and r.fills >= 1 and desk.pipeline.portfolio.position[AAPL] > 0


def test_rumour_storm_is_stamped_at_its_window_close() -> None:
    cfg = TradingConfig()
    src = source_dictionary()
    corr = Corroborator(cfg.corroboration, CredibilityTable.for_dictionary(src, cfg.credibility), n_tickers=8)
    window = cfg.corroboration.window_ns
    n = 6
    r = empty_news(n)
    for i in range(n):  # six reports of one rumour within its window, received 1 ms after publication
        r[i]["id"], r[i]["source"], r[i]["kind"] = (
            i + 1,
            src.code("reuters.com" if i % 2 else "x.com"),
            KIND_RUMOR,
        )
        r[i]["tickers"][0], r[i]["n_tickers"] = 3, 1
        r[i]["publish_ns"] = START + i * 100_000_000
        r[i]["receive_ns"] = r[i]["publish_ns"] + 1_000_000
    assert len(corr.process(r)) == 0  # nothing decided while the window is open
    storm = corr.flush(START + window + 5 * SEC)
    assert len(storm) == 1
    last_receive = int(r["receive_ns"][-1])
    assert last_receive < START + window  # the last report came well before the close
    assert (
        int(storm["ts_ns"][0]) == START + window + 1
    )  # stamped when the window closed, not at its last report
    # a storm whose last report is received after the nominal close is stamped at that receipt
    late = r.copy()
    late["receive_ns"][-1] = START + window + 7_000_000
    corr2 = Corroborator(
        cfg.corroboration, CredibilityTable.for_dictionary(src, cfg.credibility), n_tickers=8
    )
    corr2.process(late)
    assert int(corr2.flush(None)["ts_ns"][0]) == START + window + 7_000_000
