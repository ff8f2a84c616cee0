"""Property test: the Numba L3 book against a small pure-Python reference book on random op sequences.

The reference below is written from the contract in :mod:`cns.venue.l3book` with dicts and lists and no
cleverness; both books must produce identical reports (every field, in order) and identical resting orders
(priority order) after every op, through the batch path and through the single-op path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cns.venue.l3book import L3Book
from cns.venue.l3book_dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_MODIFIED,
    EXEC_PARTIAL,
    EXEC_PRINT,
    EXEC_REJECTED,
    L3_OP_DTYPE,
    MAX_PRICE,
    MAX_QTY,
    MAX_QUOTE,
    N_OP_KINDS,
    N_STP_MODES,
    OP_ADD,
    OP_CANCEL,
    OP_DELETE,
    OP_EXEC,
    OP_FOK,
    OP_LIMIT,
    OP_MARKET,
    OP_MARKET_QUOTE,
    OP_MODIFY,
    OP_NOOP,
    OP_PMODIFY,
    OP_POST_ONLY,
    OP_PRINT,
    OP_REDUCE,
    REASON_STP,
    REJECT_DUPLICATE_ID,
    REJECT_EXCEEDS,
    REJECT_FOK,
    REJECT_OWNER,
    REJECT_POST_ONLY,
    REJECT_PRICE,
    REJECT_QTY,
    REJECT_QUOTE,
    REJECT_SIDE,
    REJECT_STP_MODE,
    REJECT_TYPE,
    REJECT_UNKNOWN_ORDER,
    STP_CANCEL_BOTH,
    STP_CANCEL_NEWEST,
    STP_CANCEL_OLDEST,
    STP_DECREMENT,
)

I64_MAX = (1 << 63) - 1


@dataclass
class Ord:
    oid: int
    owner: int
    side: int
    price: int
    qty: int


class RefL3Book:
    """Price levels as dicts of FIFO lists; the contract of cns.venue.l3book, spelled out."""

    def __init__(self) -> None:
        self.levels: dict[int, dict[int, list[Ord]]] = {1: {}, -1: {}}
        self.orders: dict[int, Ord] = {}

    # -- book primitives --
    def rest(self, o: Ord) -> None:
        self.levels[o.side].setdefault(o.price, []).append(o)
        self.orders[o.oid] = o

    def remove(self, o: Ord) -> None:
        q = self.levels[o.side][o.price]
        q.remove(o)
        if not q:
            del self.levels[o.side][o.price]
        del self.orders[o.oid]

    def to_tail(self, o: Ord, qty: int) -> None:
        q = self.levels[o.side][o.price]
        q.remove(o)
        o.qty = qty
        q.append(o)

    def best_prices(self, side: int) -> list[int]:
        return sorted(self.levels[side], reverse=(side == 1))

    def snapshot(self) -> list[tuple[int, int, int, int, int]]:
        return [
            (o.side, o.price, o.oid, o.owner, o.qty)
            for side in (1, -1)
            for p in self.best_prices(side)
            for o in self.levels[side][p]
        ]

    # -- ops --
    def apply(self, ts, oid, owner, kind, side, price, qty, quote, stp) -> list[tuple]:
        rep: list[tuple] = []

        def r(*a):
            rep.append((ts, *a))

        def reject(s, reason, px=price):
            r(oid, 0, owner, 0, EXEC_REJECTED, s, px, qty, 0, reason, 0)
            return rep

        if not 0 <= kind < N_OP_KINDS:
            return reject(side, REJECT_TYPE)
        if kind == OP_NOOP:
            return rep
        if kind in (OP_CANCEL, OP_DELETE, OP_REDUCE, OP_EXEC, OP_MODIFY, OP_PMODIFY):
            o = self.orders.get(oid)
            if o is None:
                return reject(side, REJECT_UNKNOWN_ORDER)
            if kind in (OP_CANCEL, OP_MODIFY) and o.owner != owner:
                return reject(o.side, REJECT_OWNER)
            if kind in (OP_CANCEL, OP_DELETE):
                self.remove(o)
                if kind == OP_CANCEL:
                    r(oid, 0, owner, 0, EXEC_CANCELED, o.side, o.price, o.qty, 0, 0, 0)
                return rep
            if not 0 < qty <= MAX_QTY:
                return reject(o.side, REJECT_QTY)
            if kind in (OP_REDUCE, OP_EXEC):
                if qty > o.qty:
                    return reject(o.side, REJECT_EXCEEDS, o.price)
                left = o.qty - qty
                if left == 0:
                    self.remove(o)
                else:
                    o.qty = left
                if kind == OP_EXEC:
                    r(
                        oid,
                        0,
                        o.owner,
                        0,
                        EXEC_FILL if left == 0 else EXEC_PARTIAL,
                        o.side,
                        o.price,
                        qty,
                        left,
                        0,
                        1,
                    )
                return rep
            if not 0 < price <= MAX_PRICE:
                return reject(o.side, REJECT_PRICE)
            if not 0 <= stp < N_STP_MODES:
                return reject(o.side, REJECT_STP_MODE)
            if price == o.price:
                if qty < o.qty:
                    o.qty = qty
                elif qty > o.qty:
                    self.to_tail(o, qty)
                if kind == OP_MODIFY:
                    r(oid, 0, owner, 0, EXEC_MODIFIED, o.side, price, 0, qty, 0, 0)
                return rep
            self.remove(o)
            if kind == OP_PMODIFY:
                self.rest(Ord(oid, o.owner, o.side, price, qty))
                return rep
            r(oid, 0, owner, 0, EXEC_MODIFIED, o.side, price, 0, qty, 0, 0)
            self.take(r, oid, owner, o.side, price, qty, 0, stp, OP_MODIFY)
            return rep
        if side not in (1, -1):
            return reject(side, REJECT_SIDE)
        if kind not in (OP_MARKET, OP_MARKET_QUOTE) and not 0 < price <= MAX_PRICE:
            return reject(side, REJECT_PRICE)
        if kind == OP_MARKET_QUOTE:
            if not 0 <= qty <= MAX_QTY:
                return reject(side, REJECT_QTY)
            if not 0 < quote <= MAX_QUOTE:
                return reject(side, REJECT_QUOTE)
        elif not 0 < qty <= MAX_QTY:
            return reject(side, REJECT_QTY)
        if kind == OP_PRINT:
            r(oid, 0, owner, 0, EXEC_PRINT, side, price, qty, 0, 0, 0)
            return rep
        if not 0 <= stp < N_STP_MODES:
            return reject(side, REJECT_STP_MODE)
        if oid in self.orders:
            return reject(side, REJECT_DUPLICATE_ID)
        if kind == OP_ADD:
            self.rest(Ord(oid, owner, side, price, qty))
            return rep
        opp = self.best_prices(-side)
        if kind == OP_POST_ONLY and opp and (opp[0] <= price if side > 0 else opp[0] >= price):
            return reject(side, REJECT_POST_ONLY)
        lim = price
        if kind in (OP_MARKET, OP_MARKET_QUOTE):
            lim = I64_MAX if side > 0 else 0
        if kind == OP_FOK and not self.fok_fillable(side, lim, qty, owner, stp):
            return reject(side, REJECT_FOK)
        cap = (qty if qty > 0 else MAX_QTY) if kind == OP_MARKET_QUOTE else qty
        r(
            oid,
            0,
            owner,
            0,
            EXEC_ACK,
            side,
            0 if lim in (0, I64_MAX) else lim,
            0,
            quote if kind == OP_MARKET_QUOTE else qty,
            0,
            0,
        )
        self.take(r, oid, owner, side, lim, cap, quote, stp, kind)
        return rep

    def crosses(self, side, px, lim):
        return px <= lim if side > 0 else px >= lim

    def fok_fillable(self, side, lim, qty, owner, stp) -> bool:
        avail = 0
        for p in self.best_prices(-side):
            if not self.crosses(side, p, lim):
                return False
            for o in self.levels[-side][p]:
                if stp and o.owner == owner:
                    if stp != STP_CANCEL_OLDEST:
                        return False
                    continue
                avail += o.qty
                if avail >= qty:
                    return True
        return False

    def take(self, r, oid, owner, side, lim, qty, quote, stp, kind) -> None:
        rem, budget, is_quote, done = qty, quote, kind == OP_MARKET_QUOTE, False
        while rem > 0 and self.levels[-side]:
            px = self.best_prices(-side)[0]
            if not self.crosses(side, px, lim):
                break
            f = min(rem, budget // px) if is_quote else rem
            if is_quote and f == 0:
                break
            m = self.levels[-side][px][0]
            if stp and m.owner == owner:
                if stp in (STP_CANCEL_OLDEST, STP_CANCEL_BOTH):
                    r(m.oid, oid, m.owner, owner, EXEC_CANCELED, m.side, px, m.qty, 0, REASON_STP, 0)
                    self.remove(m)
                if stp in (STP_CANCEL_NEWEST, STP_CANCEL_BOTH):
                    r(oid, m.oid, owner, m.owner, EXEC_CANCELED, side, px, rem, 0, REASON_STP, 0)
                    rem, done = 0, True
                elif stp == STP_DECREMENT:
                    d = min(rem, m.qty)
                    r(m.oid, oid, m.owner, owner, EXEC_CANCELED, m.side, px, d, m.qty - d, REASON_STP, 0)
                    if d == m.qty:
                        self.remove(m)
                    else:
                        m.qty -= d
                    rem -= d
                    r(oid, m.oid, owner, m.owner, EXEC_CANCELED, side, px, d, rem, REASON_STP, 0)
                    done = rem == 0
                continue
            f = min(f, m.qty)
            rem -= f
            left = m.qty - f
            if is_quote:
                budget -= f * px
            tk = EXEC_PARTIAL if (rem > 0 or is_quote) else EXEC_FILL
            r(oid, m.oid, owner, m.owner, tk, side, px, f, budget if is_quote else rem, 0, 0)
            r(m.oid, oid, m.owner, owner, EXEC_FILL if left == 0 else EXEC_PARTIAL, m.side, px, f, left, 0, 1)
            if left == 0:
                self.remove(m)
            else:
                m.qty = left
        if is_quote:
            r(oid, 0, owner, 0, EXEC_EXPIRED, side, 0, 0, budget, 0, 0)
            return
        if done or rem == 0:
            return
        if kind in (OP_LIMIT, OP_POST_ONLY, OP_MODIFY):
            self.rest(Ord(oid, owner, side, lim, rem))
            return
        r(oid, 0, owner, 0, EXEC_EXPIRED, side, lim if kind != OP_MARKET else 0, rem, 0, 0, 0)


# ---- strategies --------------------------------------------------------------------------------------------


def _mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` about 19 times in 20, else ``bad`` (hostile values)."""
    return st.integers(0, 19).flatmap(lambda k: bad if k == 0 else good)


_price = _mostly(st.integers(95, 105), st.sampled_from([0, -3, MAX_PRICE, MAX_PRICE + 1, 10**9]))
_qty = _mostly(st.integers(1, 12), st.sampled_from([0, -1, MAX_QTY, MAX_QTY + 1]))
_kind = _mostly(
    st.sampled_from([OP_LIMIT] * 6 + [OP_CANCEL, OP_MODIFY, OP_MODIFY] + list(range(N_OP_KINDS))),
    st.sampled_from([-1, 15, 99]),
)
_stp = st.integers(0, 3).flatmap(
    lambda k: st.just(0) if k < 2 else _mostly(st.integers(0, N_STP_MODES - 1), st.just(7))
)
_op = st.tuples(
    st.integers(0, 1 << 62),  # ts
    st.integers(1, 25),  # id
    st.integers(0, 2),  # owner
    _kind,
    _mostly(st.sampled_from([1, -1]), st.sampled_from([0, 2])),  # side
    _price,
    _qty,
    _mostly(st.integers(1, 3000), st.sampled_from([0, -5, MAX_QUOTE, MAX_QUOTE + 1])),  # quote
    _stp,
)


def _rows(reports: np.ndarray) -> list[tuple]:
    return [tuple(int(x) for x in row) for row in reports.tolist()]


def _snap(book: L3Book) -> list[tuple]:
    return [tuple(int(x) for x in row) for row in book.snapshot().tolist()]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_op, min_size=1, max_size=120))
def test_batch_matches_reference(ops_list: list[tuple]) -> None:
    ref = RefL3Book()
    expected: list[tuple] = []
    for o in ops_list:
        expected.extend(ref.apply(*o))
    book = L3Book(0.01, capacity=2)  # tiny: the batch must grow the state mid-run
    ops = np.array(ops_list, dtype=L3_OP_DTYPE)
    got = _rows(book.process(ops))
    assert got == expected
    assert _snap(book) == ref.snapshot()
    assert book.check() == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_op, min_size=1, max_size=80))
def test_single_op_matches_reference_every_step(ops_list: list[tuple]) -> None:
    ref = RefL3Book()
    book = L3Book(0.01, capacity=1, report_capacity=16)  # small report area: exercises the fallback
    for o in ops_list:
        ts, oid, owner, kind, side, price, qty, quote, stp = o
        got = _rows(book.submit(kind, oid, side, price, qty, owner=owner, quote=quote, stp=stp, ts_ns=ts))
        assert got == ref.apply(*o), o
        assert _snap(book) == ref.snapshot(), o
        bids, asks = ref.best_prices(1), ref.best_prices(-1)
        bp, _, ap, _ = book.best()
        assert bp == (bids[0] if bids else 0) and ap == (asks[0] if asks else 0)
    assert book.check() == 0
    for oid in range(1, 26):  # queue position of every live order
        ro = ref.orders.get(oid)
        info = book.order(oid)
        if ro is None:
            assert info is None
            continue
        q = ref.levels[ro.side][ro.price]
        k = q.index(ro)
        assert info is not None and (info.orders_ahead, info.shares_ahead) == (k, sum(x.qty for x in q[:k]))
        assert info.leaves == ro.qty == book.leaves(oid)
