"""Unit tests of the sparse L3 book: each order type, priority rules, STP modes, queries, sparsity, growth and
hostile input (the random-sequence comparison with a reference book is in test_l3book_model.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cns.errors import CNSError
from cns.venue.errors import OrderBatchError, VenueConfigError, VenueError
from cns.venue.l3book import L3Book, L3InputError, make_ops
from cns.venue.l3book_dtypes import (
    EMPTY_ASK_PRICE,
    EMPTY_BID_PRICE,
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_MODIFIED,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    MAX_PRICE,
    MAX_QTY,
    OP_ADD,
    OP_DELETE,
    OP_EXEC,
    OP_LIMIT,
    REASON_STP,
    REJECT_BOOK_FULL,
    REJECT_DUPLICATE_ID,
    REJECT_FOK,
    REJECT_OWNER,
    REJECT_POST_ONLY,
    REJECT_PRICE,
    REJECT_QTY,
    REJECT_SIDE,
    REJECT_STP_MODE,
    REJECT_TYPE,
    REJECT_UNKNOWN_ORDER,
    STP_CANCEL_BOTH,
    STP_CANCEL_NEWEST,
    STP_CANCEL_OLDEST,
    STP_DECREMENT,
    STP_NONE,
)

B, S = 1, -1


def kinds(r: np.ndarray) -> list[int]:
    return [int(k) for k in r["kind"]]


def test_price_time_priority_and_partial_fills() -> None:
    b = L3Book(0.01)
    b.limit(1, S, 101, 5)
    b.limit(2, S, 100, 5)
    b.limit(3, S, 100, 5)
    r = b.limit(9, B, 101, 12).copy()
    fills = r[r["maker"] == 1]
    assert [(int(x["order_id"]), int(x["price"]), int(x["qty"])) for x in fills] == [
        (2, 100, 5),
        (3, 100, 5),
        (1, 101, 2),
    ]
    assert kinds(r) == [EXEC_ACK, EXEC_PARTIAL, EXEC_FILL, EXEC_PARTIAL, EXEC_FILL, EXEC_FILL, EXEC_PARTIAL]
    assert b.best() == (0, 0, 101, 3)
    assert b.leaves(1) == 3 and b.leaves(2) == 0
    assert b.check() == 0


def test_ioc_market_expire_and_limit_rests() -> None:
    b = L3Book()
    b.limit(1, S, 100, 5)
    r = b.ioc(2, B, 100, 8).copy()
    assert kinds(r)[-1] == EXEC_EXPIRED and int(r[-1]["qty"]) == 3
    assert b.n_orders == 0
    b.limit(3, S, 105, 5)
    r = b.market(4, B, 7).copy()
    assert int(r[r["maker"] == 1]["qty"].sum()) == 5 and kinds(r)[-1] == EXEC_EXPIRED
    b.limit(5, S, 110, 5)
    b.limit(6, B, 110, 8)
    assert b.best() == (110, 3, 0, 0)


def test_fok_is_all_or_nothing() -> None:
    b = L3Book()
    b.limit(1, S, 100, 5)
    b.limit(2, S, 101, 5)
    before = b.snapshot()
    r = b.fok(3, B, 101, 11).copy()
    assert kinds(r) == [EXEC_REJECTED] and int(r[0]["reason"]) == REJECT_FOK
    assert np.array_equal(b.snapshot(), before)
    r = b.fok(4, B, 100, 6).copy()  # 10 shares exist but only 5 at <= 100
    assert int(r[0]["reason"]) == REJECT_FOK
    r = b.fok(5, B, 101, 10).copy()
    assert int(r[r["maker"] == 1]["qty"].sum()) == 10 and b.n_orders == 0


def test_post_only_rejected_when_crossing() -> None:
    b = L3Book()
    b.limit(1, S, 100, 5)
    r = b.post_only(2, B, 100, 5).copy()
    assert kinds(r) == [EXEC_REJECTED] and int(r[0]["reason"]) == REJECT_POST_ONLY
    assert kinds(b.post_only(3, B, 99, 5)) == [EXEC_ACK]
    assert b.best() == (99, 5, 100, 5)


def test_modify_priority_rules() -> None:
    b = L3Book()
    for i in (1, 2, 3):
        b.limit(i, B, 100, 10)
    b.modify(2, 100, 4)  # reduce: keeps its place
    assert b.queue_ahead(2) == (1, 10) and b.leaves(2) == 4
    r = b.modify(1, 100, 20).copy()  # increase: to the tail
    assert kinds(r) == [EXEC_MODIFIED] and int(r[0]["leaves"]) == 20
    assert b.queue_ahead(1) == (2, 14)
    b.modify(3, 99, 10)  # new price: loses priority (new level)
    assert b.order(3) is not None and b.order(3).price == 99
    b.modify(3, 100, 10)
    assert b.queue_ahead(3) == (2, 24)
    b.limit(7, S, 101, 5)
    r = b.modify(3, 101, 10).copy()  # a re-priced active modify may match
    assert kinds(r)[0] == EXEC_MODIFIED and int(r[r["maker"] == 1]["order_id"][0]) == 7
    assert b.best()[:2] == (101, 5)
    assert b.check() == 0


def test_cancel_and_owner_rights() -> None:
    b = L3Book()
    b.limit(1, B, 100, 10, owner=7)
    r = b.cancel(1, owner=8).copy()
    assert kinds(r) == [EXEC_REJECTED] and int(r[0]["reason"]) == REJECT_OWNER
    r = b.cancel(1, owner=7).copy()
    assert kinds(r) == [EXEC_CANCELED] and int(r[0]["qty"]) == 10
    r = b.cancel(1, owner=7).copy()
    assert int(r[0]["reason"]) == REJECT_UNKNOWN_ORDER


def test_market_by_quote_amount() -> None:
    b = L3Book(0.01)
    b.limit(1, S, 100, 3)  # 3 x 1.00 USD
    b.limit(2, S, 200, 10)  # then 2.00 USD
    budget = b.quote_units(7.50)  # 750 units: 3*100 + 2*200 = 700, 50 left
    r = b.market_quote(3, B, budget).copy()
    assert int(r[r["maker"] == 1]["qty"].sum()) == 5
    assert kinds(r)[-1] == EXEC_EXPIRED and int(r[-1]["leaves"]) == 50
    assert b.leaves(2) == 8
    r = b.market_quote(4, B, 10_000, max_qty=2).copy()
    assert int(r[r["maker"] == 1]["qty"].sum()) == 2


@pytest.mark.parametrize(
    ("mode", "taker_fill", "resting_after"),
    [
        (STP_CANCEL_NEWEST, 0, {1: 5, 2: 5}),
        (STP_CANCEL_OLDEST, 5, {}),
        (STP_CANCEL_BOTH, 0, {2: 5}),
    ],
)
def test_self_trade_prevention_modes(mode: int, taker_fill: int, resting_after: dict[int, int]) -> None:
    b = L3Book()
    b.limit(1, S, 100, 5, owner=1)  # own order first in line
    b.limit(2, S, 100, 5, owner=2)
    r = b.limit(3, B, 100, 5, owner=1, stp=mode).copy()
    assert int(r[r["maker"] == 1]["qty"].sum()) == taker_fill
    stp = r[r["reason"] == REASON_STP]
    assert len(stp) >= 1 and set(kinds(stp)) == {EXEC_CANCELED}
    assert {int(o["order_id"]): int(o["qty"]) for o in b.snapshot() if o["side"] == S} == resting_after
    assert b.n_levels(B) == 0 and b.stats()["stp"] == 1


def test_stp_decrement_and_cancel() -> None:
    b = L3Book()
    b.limit(1, S, 100, 3, owner=1)
    b.limit(2, S, 100, 5, owner=2)
    r = b.limit(3, B, 100, 6, owner=1, stp=STP_DECREMENT).copy()
    # own 3 shares canceled from both sides without a trade, then 3 traded with owner 2
    assert [int(x) for x in r[r["reason"] == REASON_STP]["qty"]] == [3, 3]
    assert int(r[r["maker"] == 1]["qty"].sum()) == 3 and b.leaves(2) == 2 and b.leaves(1) == 0
    b.limit(4, S, 100, 1, owner=1)
    r = b.limit(5, B, 100, 1, owner=1, stp=STP_NONE).copy()  # STP off: owners may self-trade
    assert int(r[r["maker"] == 1]["qty"].sum()) == 1


def test_queries_depth_and_queue_position() -> None:
    b = L3Book()
    for i, (p, q) in enumerate([(100, 5), (100, 7), (99, 1), (98, 4)], start=1):
        b.limit(i, B, p, q)
    b.limit(10, S, 103, 2)
    d = b.depth(B, 2)
    assert [tuple(int(x) for x in row) for row in d.tolist()] == [(100, 12, 2), (99, 1, 1)]
    assert b.queue_ahead(2) == (1, 5) and b.queue_ahead(99) is None
    o = b.order(2)
    assert o is not None and (o.side, o.price, o.leaves) == (B, 100, 7)
    assert b.best() == (100, 12, 103, 2)


def test_far_away_prices_are_sparse() -> None:
    near, far = L3Book(capacity=64), L3Book(capacity=64)
    near.limit(1, S, 101, 5)
    near.limit(2, B, 100, 5)
    far.limit(1, S, 10**9, 5)  # an ask at 1e9 ticks
    far.limit(2, B, 1, 5)
    assert far.best() == (1, 5, 10**9, 5)
    assert far.state_bytes() == near.state_bytes()  # memory follows orders, not the price range
    r = far.limit(3, S, MAX_PRICE, 1).copy()
    assert kinds(r) == [EXEC_ACK]


def test_growth_keeps_the_book() -> None:
    b = L3Book(capacity=1)
    rng = np.random.default_rng(3)
    prices = rng.integers(1, 10**9, 5000)
    for i, p in enumerate(prices, start=1):
        b.add(i, B if i % 2 else S, int(p), 1)
    assert b.n_orders == 5000 and b.capacity >= 5000 and b.check() == 0
    assert b.leaves(4321) == 1


def test_bounded_book_refuses_when_full() -> None:
    b = L3Book(capacity=2, max_orders=2)
    b.limit(1, B, 100, 1)
    b.limit(2, B, 99, 1)
    r = b.limit(3, B, 98, 1).copy()
    assert kinds(r) == [EXEC_ACK, EXEC_EXPIRED] and int(r[-1]["reason"]) == REJECT_BOOK_FULL
    r = b.add(4, B, 98, 1).copy()
    assert int(r[0]["reason"]) == REJECT_BOOK_FULL
    assert b.n_orders == 2


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"price": 2**62}, REJECT_PRICE),
        ({"price": 0}, REJECT_PRICE),
        ({"price": -(2**63)}, REJECT_PRICE),
        ({"qty": 2**62}, REJECT_QTY),
        ({"qty": MAX_QTY + 1}, REJECT_QTY),
        ({"qty": -1}, REJECT_QTY),
        ({"side": 0}, REJECT_SIDE),
        ({"side": 2**62}, REJECT_SIDE),
        ({"kind": 99}, REJECT_TYPE),
        ({"kind": -(2**63)}, REJECT_TYPE),
        ({"stp": 9}, REJECT_STP_MODE),
    ],
)
def test_hostile_fields_are_rejected_not_crashing(kw: dict[str, int], reason: int) -> None:
    b = L3Book()
    op = {
        "kind": OP_LIMIT,
        "order_id": 5,
        "side": B,
        "price": 100,
        "qty": 1,
        "stp": 0,
        "ts_ns": 2**63 - 1,
    } | kw
    r = b.submit(
        op.pop("kind"),
        op.pop("order_id"),
        **{k: op[k] for k in ("side", "price", "qty")},
        stp=op["stp"],
        ts_ns=op["ts_ns"],
    ).copy()
    assert kinds(r) == [EXEC_REJECTED] and int(r[0]["reason"]) == reason
    assert b.n_orders == 0 and b.check() == 0


def test_unrepresentable_python_values_raise_venue_errors() -> None:
    b = L3Book()
    for bad in (
        {"order_id": 2**64},
        {"order_id": -1},
        {"price": float("nan")},
        {"qty": 2**63},
        {"ts_ns": 2**63},
    ):
        args = {"order_id": 1, "side": B, "price": 100, "qty": 1} | bad
        with pytest.raises(L3InputError):
            b.limit(args["order_id"], B, args["price"], args["qty"], ts_ns=args.get("ts_ns", 0))
    assert issubclass(L3InputError, VenueError) and issubclass(L3InputError, CNSError)
    with pytest.raises(L3InputError):
        b.to_ticks(float("nan"))
    with pytest.raises(L3InputError):
        b.to_ticks(1.005)  # off the 0.01 grid
    assert b.to_ticks(1.23) == 123
    with pytest.raises(OrderBatchError):
        b.process(np.zeros(3, np.int64))
    with pytest.raises(VenueConfigError):
        L3Book(float("nan"))
    with pytest.raises(VenueConfigError):
        L3Book(max_orders=2**40)


def test_hostile_batch_never_crashes() -> None:
    rng = np.random.default_rng(11)
    n = 20_000
    ops = make_ops(n)
    raw = ops.view(np.int64).reshape(n, -1)
    raw[:] = rng.integers(-(2**63), 2**63 - 1, raw.shape, dtype=np.int64, endpoint=True)
    mask = rng.random(n) < 0.7  # keep most ops plausible enough to reach the deep paths
    ops["kind"][mask] = rng.integers(0, 15, mask.sum())
    ops["side"][mask] = rng.choice([1, -1], mask.sum())
    ops["price"][mask] = rng.integers(1, 50, mask.sum())
    ops["qty"][mask] = rng.integers(1, 20, mask.sum())
    ops["order_id"][mask] = rng.integers(0, 200, mask.sum())
    ops["quote"][mask] = rng.integers(1, 10_000, mask.sum())
    ops["stp"][mask] = rng.integers(0, 5, mask.sum())
    b = L3Book(capacity=4)
    r = b.process(ops)
    assert len(r) > 0 and b.check() == 0
    assert b.process(make_ops(0)).shape == (0,)


def test_duplicate_id_and_passive_ops() -> None:
    b = L3Book()
    b.add(1, S, 101, 10)
    assert int(b.add(1, S, 102, 1)[0]["reason"]) == REJECT_DUPLICATE_ID
    b.add(2, S, 101, 4)
    b.reduce(1, 3)  # partial cancel keeps priority
    assert b.queue_ahead(2) == (1, 7)
    r = b.execute(1, 2).copy()
    assert kinds(r) == [EXEC_PARTIAL] and int(r[0]["maker"]) == 1 and int(r[0]["leaves"]) == 5
    b.pmodify(2, 100, 4)
    assert b.best() == (0, 0, 100, 4)
    b.add(3, B, 100, 1)  # passive adds never match, even if they cross
    assert b.best() == (100, 1, 100, 4)
    b.delete(3)
    assert b.n_levels(B) == 0


def test_replay_reports_top_of_book_after_each_op() -> None:
    ops = make_ops(4)
    ops[0] = (1, 1, 0, OP_ADD, B, 100, 5, 0, 0)
    ops[1] = (2, 2, 0, OP_ADD, S, 102, 3, 0, 0)
    ops[2] = (3, 2, 0, OP_EXEC, 0, 0, 1, 0, 0)
    ops[3] = (4, 1, 0, OP_DELETE, 0, 0, 0, 0, 0)
    reports, tob = L3Book().replay(ops, levels=2)
    assert tob.shape == (4, 8)
    assert tob[0].tolist() == [EMPTY_ASK_PRICE, 0, 100, 5, EMPTY_ASK_PRICE, 0, EMPTY_BID_PRICE, 0]
    assert tob[2, :4].tolist() == [102, 2, 100, 5]
    assert tob[3, :4].tolist() == [102, 2, EMPTY_BID_PRICE, 0]
    assert len(reports) == 1 and int(reports[0]["qty"]) == 1


def test_single_op_view_and_fallback_for_big_sweeps() -> None:
    b = L3Book(report_capacity=16)
    for i in range(1, 101):
        b.add(i, S, 100 + i, 1)
    r = b.market(500, B, 100)  # needs ~200 reports: more than the area, falls back to the batch path
    assert int(r[r["maker"] == 1]["qty"].sum()) == 100
    assert b.n_orders == 0
