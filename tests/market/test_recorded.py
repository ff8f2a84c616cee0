"""RecordedExchange: a replayed LOBSTER / L3 day as the desk's venue (cns.market.recorded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cns.market.lobster import LOBSTER_TICK, lobster_passive_ops, read_lobster
from cns.market.lobster_sample import generate_lobster_day, sample_paths, write_lobster_day
from cns.market.recorded import RecordedConfig, RecordedExchange
from cns.market.recorded_data import RECORDED_OWNER, RecordedBook, load_l3_csv_book, load_lobster_book
from cns.market.venue_api import Exchange
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    LIQ_MAKER,
    LIQ_TAKER,
    ORDER_DTYPE,
    ORDER_IOC,
    ORDER_LIMIT,
    REJECT_INSTRUMENT,
)
from cns.venue.errors import ReservedOwnerError, SimClockError
from cns.venue.l3book import L3Book

SEC = 1_000_000_000
DAY0 = 1_340_251_200 * SEC  # 2012-06-21 00:00 New York (04:00 UTC): the files' date, LOBSTER's time zone
OPEN = DAY0 + 34_200 * SEC


def _write(tmp: Path, rows: list[str], name: str = "TEST_2012-06-21_34200000_57600000_message_1.csv") -> Path:
    p = tmp / name
    p.write_text("\n".join(rows) + "\n")
    return p


def _exchange(day: RecordedBook, start_ns: int, **cfg: int) -> RecordedExchange:
    return RecordedExchange({1: day}, 2, RecordedConfig(start_ns=start_ns, **cfg))


def _order(oid: int, side: int, price: float, qty: int, ts: int, typ: int = ORDER_LIMIT) -> np.ndarray:
    o = np.zeros(1, ORDER_DTYPE)
    o["order_id"], o["instrument"], o["side"], o["type"] = oid, 1, side, typ
    o["qty"], o["price"], o["ts_ns"] = qty, price, ts
    return o


def _replay_all(ex: RecordedExchange, day: RecordedBook, step_ns: int) -> None:
    t = ex.now_ns
    while t < day.last_ns:
        t = min(t + step_ns, day.last_ns)
        ex.advance_to(t)


# ---- replay without the desk --------------------------------------------------------------------------


def test_a_recorded_exchange_is_an_exchange() -> None:
    day = load_lobster_book(*sample_paths())
    assert isinstance(_exchange(day, day.first_ns), Exchange)
    # stamped in UTC ns: 09:30:00.008532264 New York on 2012-06-21 is 13:30:00.008532264 UTC
    assert day.first_ns == 1_340_285_400 * SEC + 8_532_264


def test_replay_without_desk_orders_reproduces_the_recorded_trades_exactly() -> None:
    day = load_lobster_book(*sample_paths())
    assert day.quarantined == () and day.trades.shape[0] > 500
    tapes = []
    for step in (SEC, 37 * SEC // 10, 600 * SEC):  # the stepping does not change anything
        ex = _exchange(day, day.first_ns)
        _replay_all(ex, day, step)
        tape = ex.book_trades(1)
        assert np.array_equal(tape["ts_ns"], day.trades["ts_ns"])
        assert np.array_equal(tape["price"], day.trades["price"])
        assert np.array_equal(tape["qty"], day.trades["qty"])
        cmp = ex.trade_comparison()["CNSX"]
        assert cmp["identical"] and cmp["book"] == cmp["recorded"] and cmp["book_with_desk"] == 0
        st = ex.stats()
        assert st["recorded_ops_rejected"] == 0 and st["recorded_ops_applied"] == day.ops.shape[0]
        tapes.append(tape)
    assert all(np.array_equal(tapes[0], t) for t in tapes[1:])


@pytest.mark.parametrize("cut_s", [36_000, 45_000, 52_000])
def test_a_midday_file_is_seeded_from_its_first_orderbook_row(tmp_path: Path, cut_s: int) -> None:
    m, o = write_lobster_day(tmp_path, from_ns=cut_s * SEC)
    raw = read_lobster(m, o)
    day = load_lobster_book(m, o)
    assert day.seed.shape[0] > 10 and day.seed_conflicts == 0
    # the seed plus the first message is the first orderbook row; every later row follows
    book = L3Book(LOBSTER_TICK)
    book.process(day.seed)
    reports, tob = book.replay(lobster_passive_ops(raw.messages), levels=raw.orderbook.shape[1] // 4)
    assert np.array_equal(tob[0], raw.orderbook[0])
    assert np.array_equal(tob, raw.orderbook)
    assert not (reports["kind"] == EXEC_REJECTED).any()
    # without the seed, the orders resting before the start are missing: cancels and executions of them fail
    bare = L3Book(LOBSTER_TICK)
    bare_rep, bare_tob = bare.replay(lobster_passive_ops(raw.messages), levels=raw.orderbook.shape[1] // 4)
    assert not np.array_equal(bare_tob[0], raw.orderbook[0]) or (bare_rep["kind"] == EXEC_REJECTED).any()
    # and the seeded exchange reproduces the recorded executions of the window
    ex = _exchange(day, day.first_ns)
    _replay_all(ex, day, 10 * SEC)
    cmp = ex.trade_comparison()["CNSX"]
    assert cmp["identical"] and cmp["recorded"]["trades"] > 100


def test_the_first_quote_the_desk_sees_is_the_first_orderbook_row(tmp_path: Path) -> None:
    m, o = write_lobster_day(tmp_path, from_ns=45_000 * SEC)
    raw = read_lobster(m, o)
    day = load_lobster_book(m, o)
    ex = _exchange(day, day.first_ns, md_latency_ns=0)
    bid, ask, ts = ex.reference_quotes(day.first_ns)
    row = raw.orderbook[0]
    assert (bid[1], ask[1]) == (row[2] * LOBSTER_TICK, row[0] * LOBSTER_TICK)
    assert ts[1] == day.first_ns


# ---- the desk's orders in the recorded book -----------------------------------------------------------


def _small_day(tmp_path: Path) -> RecordedBook:
    """Bid 100 x 10.00 (orders 1, 2 of 100 each), ask 100 x 10.01 (order 3), then sells hitting the bid."""
    rows = [
        "34200.000000000,1,1,100,100000,1",
        "34200.000000001,1,2,100,100000,1",
        "34200.000000002,1,3,100,100100,-1",
        "34210.000000000,4,1,100,100000,1",  # a sell of 100 takes order 1
        "34220.000000000,4,2,60,100000,1",  # a sell of 60 takes part of order 2
        "34230.000000000,3,2,40,100000,1",  # order 2's rest is cancelled
        "34240.000000000,1,4,300,100100,-1",  # a new ask behind order 3
        "34250.000000000,4,3,100,100100,-1",  # a buy of 100 takes order 3
    ]
    return load_lobster_book(_write(tmp_path, rows))


def test_a_desk_limit_order_waits_behind_the_liquidity_resting_when_it_arrived(tmp_path: Path) -> None:
    day = _small_day(tmp_path)
    ex = _exchange(day, OPEN + SEC, entry_latency_ns=1000)
    ex.submit(_order(7, 1, 10.00, 50, OPEN + SEC))
    rep = ex.advance_to(OPEN + 2 * SEC)
    assert rep["kind"].tolist() == [EXEC_ACK]
    assert ex.queue_position(0, 7) == 200  # orders 1 and 2 are ahead
    rep = ex.advance_to(OPEN + 15 * SEC)
    assert rep.shape[0] == 0 and ex.queue_position(0, 7) == 100  # the first sell took order 1 only
    # the second sell (60) takes 60 of order 2, still ahead of the desk; then order 2 is cancelled
    rep = ex.advance_to(OPEN + 35 * SEC)
    assert rep.shape[0] == 0 and ex.queue_position(0, 7) == 0
    cmp = ex.trade_comparison()["TEST"]
    assert cmp["identical"] and cmp["book_with_desk"] == 0


def test_a_recorded_aggressor_reaches_the_desk_order_only_after_the_queue_ahead(tmp_path: Path) -> None:
    rows = [
        "34200.000000000,1,1,100,100000,1",
        "34200.000000002,1,3,100,100100,-1",
        "34210.000000000,4,1,100,100000,1",
        "34210.000000000,1,9,80,100000,-1",  # a sell limit of 180 at 10.00: 100 executed, 80 rests
    ]
    day = load_lobster_book(_write(tmp_path, rows))
    ex = _exchange(day, OPEN + SEC, entry_latency_ns=1000)
    ex.submit(_order(7, 1, 10.004, 50, OPEN + SEC))  # snapped down to 10.00, behind order 1
    ex.advance_to(OPEN + 2 * SEC)
    rep = ex.advance_to(OPEN + 20 * SEC)
    fills = rep[(rep["kind"] == EXEC_FILL) | (rep["kind"] == EXEC_PARTIAL)]
    assert fills["qty"].tolist() == [50] and fills["price"].tolist() == [10.00]
    assert fills["liquidity"].tolist() == [LIQ_MAKER] and fills["ts_ns"].tolist() == [OPEN + 10 * SEC]
    assert fills["fee"][0] == pytest.approx(50 * -0.0020)
    cmp = ex.trade_comparison()["TEST"]
    # the book traded 100 (recorded) + 50 (with the desk); the recorded limit's remainder rests 30, not 80
    assert cmp["book"]["trades"] == 2 and cmp["book_with_desk"] == 1 and cmp["recorded"]["trades"] == 1
    assert ex.positions()[1] == 50


def test_a_marketable_desk_order_takes_only_the_liquidity_that_is_there(tmp_path: Path) -> None:
    day = _small_day(tmp_path)
    ex = _exchange(day, OPEN + SEC, entry_latency_ns=1000)
    # buy 500 up to 10.02 at 34201: only order 3 (100 @ 10.01) rests; order 4 (300) comes at 34240
    ex.submit(_order(8, 1, 10.02, 500, OPEN + SEC, typ=ORDER_IOC))
    rep = ex.advance_to(OPEN + 2 * SEC)
    assert rep["kind"].tolist() == [EXEC_ACK, EXEC_PARTIAL, EXEC_EXPIRED]
    f = rep[rep["kind"] == EXEC_PARTIAL]
    assert f["qty"].tolist() == [100] and f["price"][0] == pytest.approx(10.01)
    assert f["liquidity"].tolist() == [LIQ_TAKER] and f["fee"][0] == pytest.approx(100 * 0.0030)
    # the recorded buy of order 3 at 34250 finds it gone: it now trades with order 4 (impact, reported)
    ex.advance_to(OPEN + 60 * SEC)
    cmp = ex.trade_comparison()["TEST"]
    assert cmp["book_with_desk"] == 1 and not cmp["identical"]
    marks = ex.mark_prices()
    assert ex.positions()[1] == 100
    assert ex.pnl()["cns"] == pytest.approx(100 * (marks[1] - 10.01) - 0.30, abs=1e-9)


def test_orders_for_an_instrument_without_a_book_are_rejected_and_the_recorded_owner_is_reserved(
    tmp_path: Path,
) -> None:
    day = _small_day(tmp_path)
    ex = _exchange(day, OPEN + SEC)
    o = _order(9, 1, 10.0, 10, OPEN + SEC)
    o["instrument"] = 2
    ex.submit(o)
    rep = ex.advance_to(OPEN + 2 * SEC)
    assert rep["kind"].tolist() == [EXEC_REJECTED] and rep["reason"].tolist() == [REJECT_INSTRUMENT]
    o["owner"] = RECORDED_OWNER
    with pytest.raises(ReservedOwnerError):
        ex.submit(o)


# ---- no lookahead ---------------------------------------------------------------------------------------


def test_a_future_recorded_message_does_not_reach_a_decision_before_its_time_plus_md_latency(
    tmp_path: Path,
) -> None:
    base = [
        "34200.000000000,1,1,100,100000,1",
        "34200.000000002,1,3,100,100100,-1",
    ]
    a = load_lobster_book(_write(tmp_path, base, "A_2012-06-21_x_message_1.csv"))
    extra = [*base, "34300.000000000,1,5,100,100050,-1"]  # at T = +100 s an ask improves to 10.005
    b = load_lobster_book(_write(tmp_path, extra, "B_2012-06-21_x_message_1.csv"))
    md = 50_000
    T = OPEN + 100 * SEC
    ea, eb = _exchange(a, OPEN, md_latency_ns=md), _exchange(b, OPEN, md_latency_ns=md)
    for t in (OPEN + SEC, T - 1, T, T + md - 1):
        ea.advance_to(t)
        eb.advance_to(t)
        qa, qb = ea.reference_quotes(t), eb.reference_quotes(t)
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(qa, qb, strict=True)), t
    ea.advance_to(T + md)
    eb.advance_to(T + md)
    assert eb.reference_quotes(T + md)[1][1] == pytest.approx(10.005)
    assert ea.reference_quotes(T + md)[1][1] == pytest.approx(10.01)
    # the venue never answers for quotes it has not replayed yet
    with pytest.raises(SimClockError):
        ea.reference_quotes(ea.now_ns + md + 1)


def test_desk_decisions_before_a_message_are_independent_of_it(tmp_path: Path) -> None:
    """A desk order sent and filled before T reports the same whatever the day holds after T."""
    base = [
        "34200.000000000,1,1,100,100000,1",
        "34200.000000002,1,3,100,100100,-1",
        "34250.000000000,3,3,100,100100,-1",
    ]
    a = load_lobster_book(_write(tmp_path, base, "A_2012-06-21_x_message_1.csv"))
    b = load_lobster_book(
        _write(tmp_path, [*base[:2], "34205.000000000,3,3,100,100100,-1"], "B_2012-06-21_x_message_1.csv")
    )
    out = []
    for day in (a, b):
        ex = _exchange(day, OPEN, entry_latency_ns=1000)
        ex.submit(_order(1, 1, 10.01, 10, OPEN + 2 * SEC, typ=ORDER_IOC))
        out.append(ex.advance_to(OPEN + 3 * SEC))
    assert np.array_equal(out[0], out[1]) and out[0]["qty"].sum() == 10


# ---- hostile input ---------------------------------------------------------------------------------------


def test_hostile_recorded_lines_are_quarantined_with_line_and_reason(tmp_path: Path) -> None:
    rows = [
        "34200.000000000,1,1,100,100000,1",
        "34200.000000001,1,2,100,100100,-1",
        "garbage",  # 3
        "34201,1,x,100,100000,1",  # 4
        "34201.5,1,-5,100,100000,1",  # 5: negative id
        "34202,1,4611686018427387904,100,100000,1",  # 6: id 2**62, reserved
        "34199,1,7,100,99900,1",  # 7: time goes backwards
        "34203,1,1,100,99900,1",  # 8: id 1 submitted twice
        "34204,9,8,100,99900,1",  # 9: event type
        "34205,1,9,0,99900,1",  # 10: size 0
        "34206,1,10,100,99900,1",
        "99999999999,1,11,100,99900,1",  # 12: time outside the day
    ]
    day = load_lobster_book(_write(tmp_path, rows))
    lines = {q.line: q.reason for q in day.quarantined}
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9, 10, 12]
    assert "2**62" in lines[5] and "2**62" in lines[6] and "earlier" in lines[7] and "twice" in lines[8]
    ex = _exchange(day, OPEN)
    ex.advance_to(OPEN + 10 * SEC)
    assert ex.stats()["recorded_ops_applied"] == 3 and ex.stats()["recorded_ops_rejected"] == 0


def test_a_generic_l3_csv_replays_with_rebuilt_aggressors(tmp_path: Path) -> None:
    p = tmp_path / "feed.csv"
    p.write_text(
        "ts,oid,side,px,qty,act\n"
        "1000,1,buy,10.00,100,add\n"
        "1001,2,sell,10.02,100,add\n"
        "1002,2,,10.01,100,modify\n"
        "1003,3,sell,10.02,100,add\n"
        "2000,2,,,100,trade\n"
        "2000,3,,,50,trade\n"
        "3000,9,,,5,trade\n"  # an order never added: quarantined
        "4000,1,,,,delete\n"
    )
    from cns.market.lobster import L3CsvColumns

    cols = L3CsvColumns(order_id="oid", timestamp="ts", side="side", price="px", size="qty", action="act")
    day = load_l3_csv_book(p, tick_size=0.01, columns=cols, epoch_ns=OPEN)
    assert [q.reason for q in day.quarantined] == ["trade of order 9 never added"]
    ex = _exchange(day, OPEN)
    ex.advance_to(OPEN + 2500)
    tape = ex.book_trades(1)
    assert tape["qty"].tolist() == [100, 50] and tape["price"].tolist() == [1001, 1002]
    assert ex.trade_comparison()["feed"]["identical"]
    ex.advance_to(OPEN + 5000)
    assert ex.stats()["recorded_ops_rejected"] == 0


def test_the_replay_is_deterministic_with_desk_orders() -> None:
    day = load_lobster_book(*sample_paths())
    runs = []
    for _ in range(2):
        ex = _exchange(day, day.first_ns)
        reps = []
        rng = np.random.default_rng(5)
        t = day.first_ns
        for k in range(200):
            t += 100 * SEC
            reps.append(ex.advance_to(t))
            side = 1 if k % 2 else -1
            mid = ex.reference_prices(t)[0][1]
            if np.isfinite(mid):
                px = mid + side * 0.01 * float(rng.integers(-2, 3))
                ex.submit(_order(k + 1, side, px, 100, t, typ=ORDER_LIMIT if k % 3 else ORDER_IOC))
        runs.append((np.concatenate(reps), ex.book_trades(1), ex.stats()))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2] and runs[0][2]["fills"] > 0


def test_generated_day_shape_is_unchanged() -> None:
    msgs, book = generate_lobster_day()
    assert msgs.shape[0] == book.shape[0]


def test_orders_resting_beyond_the_first_rows_depth_are_seeded_when_they_come_into_view(
    tmp_path: Path,
) -> None:
    msgs = [
        "34200.0,1,10,100,100100,-1",  # an ask; the bid 10.00 x 300 (order 5) rested before the start
        "34201.0,3,5,300,100000,1",  # order 5 goes: the bid 9.99 x 200 resting since before comes into view
        "34202.0,1,11,50,99900,1",
    ]
    rows = ["100100,100,100000,300", "100100,100,99900,200", "100100,100,99900,250"]
    m = _write(tmp_path, msgs)
    o = tmp_path / m.name.replace("message", "orderbook")
    o.write_text("\n".join(rows) + "\n")
    day = load_lobster_book(m, o)
    seeded = sorted(zip(day.seed["side"].tolist(), day.seed["price"].tolist(), day.seed["qty"].tolist()))
    assert seeded == [(1, 99900, 200), (1, 100000, 300)]
    raw = read_lobster(m, o)
    book = L3Book(LOBSTER_TICK)
    book.process(day.seed)
    _, tob = book.replay(lobster_passive_ops(raw.messages), levels=1)
    assert np.array_equal(tob, raw.orderbook)
    ex = _exchange(day, OPEN, md_latency_ns=0)
    ex.advance_to(OPEN + SEC + 1)
    assert ex.reference_quotes(OPEN + SEC + 1)[0][1] == pytest.approx(9.99)


def test_a_hand_built_day_out_of_time_order_is_refused() -> None:
    import dataclasses

    from cns.market.lobster import LobsterImportError

    day = load_lobster_book(*sample_paths())
    ops = day.ops[::-1].copy()
    with pytest.raises(LobsterImportError, match="earlier"):
        _exchange(dataclasses.replace(day, ops=ops), day.first_ns)
    with pytest.raises(LobsterImportError, match="RecordedBook"):
        RecordedExchange({1: "not a day"}, 2)  # type: ignore[dict-item]


def test_hidden_executions_cross_trades_and_halts_are_kept_and_not_replayed(tmp_path: Path) -> None:
    rows = [
        "34200.0,1,1,100,100000,1",
        "34200.1,1,2,100,100100,-1",
        "34201.0,5,0,50,100050,1",  # hidden execution
        "34202.0,6,-1,1000,100050,-1",  # cross trade (auction), id -1
        "34203.0,7,0,0,-1,-1",  # trading halt
        "34204.0,7,0,0,1,-1",  # trading resumes
        "34205.0,4,1,100,100000,1",
    ]
    day = load_lobster_book(_write(tmp_path, rows))
    assert day.quarantined == () and day.hidden_trades == 2 and day.hidden_shares == 1050
    ex = _exchange(day, OPEN)
    ex.advance_to(OPEN + 10 * SEC)
    cmp = ex.trade_comparison()["TEST"]
    assert cmp["identical"] and cmp["book"]["trades"] == 1
    assert cmp["recorded_hidden_trades_not_replayable"] == 2


def test_desk_cancels_report_on_the_target_and_a_failed_cancel_on_its_own_id(tmp_path: Path) -> None:
    from cns.venue.dtypes import EXEC_CANCELED, ORDER_CANCEL, REJECT_UNKNOWN_ORDER

    day = _small_day(tmp_path)
    ex = _exchange(day, OPEN + SEC, entry_latency_ns=1000)
    ex.submit(_order(7, 1, 9.99, 50, OPEN + SEC))
    ex.advance_to(OPEN + 2 * SEC)
    for cid, target in ((8, 7), (9, 7)):
        c = _order(cid, 1, 9.99, 50, OPEN + 3 * SEC, typ=ORDER_CANCEL)
        c["target_id"] = target
        ex.submit(c)
    rep = ex.advance_to(OPEN + 4 * SEC)
    assert rep["kind"].tolist() == [EXEC_CANCELED, EXEC_REJECTED]
    assert rep["order_id"].tolist() == [7, 9] and rep["reason"].tolist() == [0, REJECT_UNKNOWN_ORDER]
    assert ex.queue_position(0, 7) == -1 and ex.stats()["cancels"] == 1
