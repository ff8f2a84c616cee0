"""RecordedExchange: a venue replaying recorded L3 days tick by tick, which a trading desk trades against.

Usage (the same verbs as :class:`~cns.market.exchange.ExchangeSimulator`, which the desk calls)::

    day = load_lobster_book(msg_csv, orderbook_csv).shifted(start_ns - first_message_ns)
    ex = RecordedExchange({code: day}, n_instruments, RecordedConfig(start_ns=start_ns))
    ex.submit(orders)                      # ORDER_DTYPE; each enters the book at ts_ns + entry_latency_ns
    reports = ex.advance_to(t_ns)          # EXEC_DTYPE reports of the desk's orders produced up to t_ns
    mid, ts = ex.reference_prices(t_ns)    # the book as it was md_latency_ns earlier, tick by tick
    ex.trade_comparison()                  # trades the book produced next to the recorded ones

**Time.** One :class:`~cns.venue.l3book.L3Book` per recorded instrument. ``advance_to(t)`` applies, in time
order, every recorded op with a time ``<= t`` and every desk order whose arrival (``ts_ns +
entry_latency_ns``, never before the clock) is ``<= t``; at equal times the recorded ops go first (a desk
order arriving at the same ns as a recorded message is behind it). Nothing after ``t`` is applied, and
quotes are looked up in the history of the book's best bid/ask after every op, as it was ``md_latency_ns``
before the time asked: a recorded message at ``T`` can affect a desk decision only from ``T +
md_latency_ns`` on (or an order's fill from ``T``, when it is in the book).

**Matching.** The recorded day is replayed as order flow (:mod:`cns.market.recorded_data`): a desk limit
order rests at the tail of its level, behind what was resting when it arrived, and fills when recorded
aggressors reach it; a marketable desk order takes recorded liquidity at once (price then time). Liquidity
the desk took is gone for the recorded flow: the recorded cancels of those orders find nothing (counted in
``stats()["recorded_ops_moot"]``; a partial cancel larger than what is left deletes the rest), and a recorded
aggressor may then trade at other prices. :meth:`trade_comparison` counts trades the book produced next to
the recorded executions; with no desk orders they are the same trades (count, prices, sizes).

**Desk orders.** ORDER_LIMIT / ORDER_IOC prices are snapped to the book's trading tick toward the passive
side (buy down, sell up); ORDER_MARKET; ORDER_CANCEL of the owner's own order. An order for an instrument
without a recorded book is rejected (REJECT_INSTRUMENT). Fills pay ``RecordedConfig.fees`` (maker / taker).
Deterministic: the same days and the same orders give the same reports, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cns.market.recorded_data import DESK_ID_BASE, RECORDED_OWNER, RecordedBook, check_recorded_book
from cns.market.recorded_tape import TRADE_TAPE_DTYPE, QuoteHistory, compare_trades
from cns.market.timebounds import NEVER_NS, check_duration, sat_add
from cns.venue.book import FeeSchedule, check_orders
from cns.venue.dtypes import (
    EXEC_CANCELED,
    EXEC_DTYPE,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    LIQ_MAKER,
    LIQ_TAKER,
    ORDER_CANCEL,
    ORDER_DTYPE,
    ORDER_IOC,
    ORDER_LIMIT,
    ORDER_MARKET,
    REJECT_INSTRUMENT,
    REJECT_PRICE,
    REJECT_PRICE_BAND,
    REJECT_SELF_TRADE,
    REJECT_TYPE,
    REJECT_UNKNOWN_ORDER,
)
from cns.venue.errors import ReservedOwnerError, SimClockError, VenueConfigError
from cns.venue.l3book import L3Book
from cns.venue.l3book_dtypes import (
    EMPTY_ASK_PRICE,
    EMPTY_BID_PRICE,
    MAX_PRICE,
    OP_DELETE,
    OP_IOC,
    OP_LIMIT,
    OP_MARKET,
    OP_REDUCE,
    REASON_NAMES,
    REASON_STP,
    STP_CANCEL_NEWEST,
)

__all__ = ["RecordedConfig", "RecordedExchange"]

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class RecordedConfig:
    """Venue settings of a recorded replay (ns). ``start_ns``: the clock's start (recorded ops up to it are
    applied at construction); ``entry_latency_ns``: order sent at t enters the book at t + it;
    ``md_latency_ns``: quotes reach the desk that much later; ``snapshot_ns``: interval of
    :meth:`RecordedExchange.snapshots`; ``fees``: maker/taker fees of the desk's fills; ``stp``: self-trade
    prevention of the desk's orders (:data:`~cns.venue.l3book_dtypes.STP_CANCEL_NEWEST` by default)."""

    start_ns: int = 0
    entry_latency_ns: int = 20_000
    md_latency_ns: int = 50_000
    snapshot_ns: int = 1_000_000_000
    max_snapshots: int = 8192
    fees: FeeSchedule = field(default_factory=FeeSchedule.us_equities)
    stp: int = STP_CANCEL_NEWEST

    def __post_init__(self) -> None:
        for name in ("entry_latency_ns", "md_latency_ns"):
            check_duration("RecordedConfig", name, getattr(self, name))
        check_duration("RecordedConfig", "snapshot_ns", self.snapshot_ns, positive=True)
        if not isinstance(self.fees, FeeSchedule):
            raise VenueConfigError(f"RecordedConfig.fees must be a FeeSchedule, got {self.fees!r}")
        st = self.start_ns
        if isinstance(st, bool) or not isinstance(st, (int, np.integer)) or not 0 <= int(st) < NEVER_NS:
            raise VenueConfigError(f"RecordedConfig.start_ns must be an int in 0..2**63-2, got {st!r}")
        if not isinstance(self.max_snapshots, int) or self.max_snapshots < 2:
            raise VenueConfigError(
                f"RecordedConfig.max_snapshots must be an int >= 2, got {self.max_snapshots!r}"
            )


class _Replay:
    """One instrument: its book, its recorded ops and where the replay is."""

    def __init__(self, code: int, day: RecordedBook) -> None:
        self.code = code
        self.day = day
        self.book = L3Book(day.unit_usd, capacity=max(1024, 2 * day.seed.shape[0]))
        self.ops = np.ascontiguousarray(day.ops)
        self.ts = self.ops["ts_ns"]
        self.pos = 0
        self.hist = QuoteHistory()
        self.tick_units = max(1, round(day.tick_usd / day.unit_usd))
        self.tape: list[np.ndarray] = []
        self.rejects: dict[str, int] = {}
        self.moot = 0  # recorded ops on orders the desk took
        self.touched: set[int] = set()  # recorded ids the desk traded against (partly or fully)
        self.touched_arr = np.zeros(0, np.uint64)
        self.last_px = 0
        if day.seed.shape[0]:
            self.book.process(day.seed)
        bp, _, ap, _ = self.book.best()
        self.hist.append(
            np.array([day.seed["ts_ns"][0] if day.seed.shape[0] else 0]), np.array([bp]), np.array([ap])
        )


class RecordedExchange:
    """The venue of a desk over recorded days: ``books`` maps ticker codes (1..``n_instruments``) to
    :class:`~cns.market.recorded_data.RecordedBook`; instruments without one have no quotes and reject
    orders. See the module docstring for time, matching and the desk's orders."""

    def __init__(
        self, books: Mapping[int, RecordedBook], n_instruments: int, config: RecordedConfig | None = None
    ) -> None:
        cfg = config or RecordedConfig()
        self.config = cfg
        if n_instruments < 1:
            raise VenueConfigError("RecordedExchange needs at least one instrument")
        self._n1 = int(n_instruments) + 1
        self._rp: dict[int, _Replay] = {}
        for code, day in sorted(books.items()):
            if not 1 <= int(code) < self._n1:
                raise VenueConfigError(
                    f"recorded book code {code} is not a ticker code in 1..{n_instruments}"
                )
            self._rp[int(code)] = _Replay(int(code), check_recorded_book(day))
        self._now = int(cfg.start_ns)
        self._pend = np.zeros(0, ORDER_DTYPE)  # desk orders not yet in the book, by arrival
        self._pend_at = np.zeros(0, np.int64)
        self._out: list[np.ndarray] = []
        fs = cfg.fees
        self._fee_rates = (fs.maker_bps * 1e-4, fs.maker_per_share, fs.taker_bps * 1e-4, fs.taker_per_share)
        self._pos = np.zeros(self._n1, np.int64)  # the desk's (owner 0) shares per ticker code
        self._cash = 0.0
        self._fees = np.zeros(2)  # paid, rebates (USD, both >= 0)
        self._ref = np.full(self._n1, np.nan)
        for code, rp in self._rp.items():
            self._ref[code] = rp.day.opening_price_usd()
        self.n_public_reports = 0
        self.late_orders = 0
        self.stale_quote_lookups = 0
        self._counts = dict.fromkeys(("orders", "cancels", "rejects", "fills", "desk_trades"), 0)
        self.advance_to(int(cfg.start_ns))

    # ---- driving -------------------------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        """Venue time reached so far (ns since the epoch)."""
        return self._now

    @property
    def end_limit_ns(self) -> int:
        """The clock may run to any int64 time (a recorded day is finite; nothing happens after it)."""
        return NEVER_NS

    def submit(self, orders: np.ndarray) -> None:
        """Queue desk orders; each enters its book at ``max(ts_ns + entry_latency_ns, now_ns)`` (an arrival
        before the clock is counted in ``late_orders``). Owner :data:`RECORDED_OWNER` is reserved
        (:class:`~cns.venue.errors.ReservedOwnerError`)."""
        orders = check_orders(orders)
        if orders.shape[0] == 0:
            return
        bad = orders["owner"] == RECORDED_OWNER
        if bad.any():
            k = int(np.argmax(bad))
            raise ReservedOwnerError(
                f"orders[{k}].owner = {RECORDED_OWNER} is reserved for the recorded flow"
            )
        at = sat_add(orders["ts_ns"], self.config.entry_latency_ns)
        late = at < self._now
        if late.any():
            self.late_orders += int(late.sum())
            at = np.where(late, self._now, at)
        allo = np.concatenate((self._pend, orders))
        all_at = np.concatenate((self._pend_at, at))
        o = np.argsort(all_at, kind="stable")
        self._pend, self._pend_at = allo[o], all_at[o]

    def expect_activity(self, times_ns: np.ndarray) -> None:
        """Nothing to do: a recorded market replays every recorded tick, idle or not."""

    def advance_to(self, t_ns: int) -> np.ndarray:
        """Replay to ``t_ns`` (see the module docstring); return the EXEC_DTYPE reports of desk orders
        produced meanwhile, in time order. A time before the clock or outside int64 raises
        :class:`~cns.venue.errors.SimClockError`."""
        t = self._time("advance_to", t_ns)
        if t < self._now:
            raise SimClockError(f"advance_to({t}) is before the venue clock {self._now}")
        k = int(np.searchsorted(self._pend_at, t, side="right"))
        for i in range(k):
            o, a = self._pend[i], int(self._pend_at[i])
            rp = self._rp.get(int(o["instrument"]))
            if rp is None:
                self._reject(o, a, REJECT_INSTRUMENT)
                continue
            self._run(rp, a)
            self._desk_op(rp, o, a)
        self._pend, self._pend_at = self._pend[k:], self._pend_at[k:]
        for rp in self._rp.values():
            self._run(rp, t)
        self._now = t
        if not self._out:
            return np.zeros(0, EXEC_DTYPE)
        out = np.concatenate(self._out)
        self._out = []
        return out[np.argsort(out["ts_ns"], kind="stable")]

    def _time(self, what: str, t_ns: int) -> int:
        ok = isinstance(t_ns, (int, np.integer)) and not isinstance(t_ns, bool)
        if not ok or not -NEVER_NS <= t_ns <= NEVER_NS:
            raise SimClockError(f"{what}({t_ns!r}): a time must be an int64 number of ns since the epoch")
        return int(t_ns)

    # ---- the recorded flow ---------------------------------------------------------------------------------

    def _run(self, rp: _Replay, t: int) -> None:
        """Apply ``rp``'s recorded ops with times <= ``t``."""
        end = int(np.searchsorted(rp.ts, t, side="right"))
        while rp.pos < end:
            stop = end
            if rp.touched_arr.size:  # ops on orders the desk traded against go one by one
                chunk = rp.ops[rp.pos : end]
                hit = np.nonzero(np.isin(chunk["order_id"], rp.touched_arr))[0]
                if hit.size:
                    stop = rp.pos + int(hit[0])
            if stop > rp.pos:
                self._batch(rp, rp.ops[rp.pos : stop])
                rp.pos = stop
            if stop < end:
                self._touched_op(rp, rp.ops[stop : stop + 1].copy())
                rp.pos = stop + 1

    def _batch(self, rp: _Replay, ops: np.ndarray) -> None:
        rep, tob = rp.book.replay(ops, levels=1)
        bid = np.where(tob[:, 2] == EMPTY_BID_PRICE, 0, tob[:, 2])
        ask = np.where(tob[:, 0] == EMPTY_ASK_PRICE, 0, tob[:, 0])
        rp.hist.append(ops["ts_ns"], bid, ask)
        self._reports(rp, rep)

    def _touched_op(self, rp: _Replay, one: np.ndarray) -> None:
        """A recorded op (``one``: 1 op) on an order the desk traded against: a cancel of what is no longer
        there is moot; a partial cancel larger than what is left deletes the rest."""
        oid, kind = int(one["order_id"][0]), int(one["kind"][0])
        left = rp.book.leaves(oid)
        if kind in (OP_REDUCE, OP_DELETE) and left == 0:
            rp.moot += 1
            return
        if kind == OP_REDUCE and int(one["qty"][0]) >= left:
            one["kind"] = OP_DELETE
            rp.moot += 1
        self._batch(rp, one)

    def _reports(self, rp: _Replay, rep: np.ndarray) -> None:
        """Book the reports of a recorded batch: the tape, rejected recorded ops, the desk's maker fills."""
        if rep.shape[0] == 0:
            return
        kind = rep["kind"]
        fill = (kind == EXEC_FILL) | (kind == EXEC_PARTIAL)
        mk = rep[fill & (rep["maker"] == 1)]
        if mk.shape[0]:
            self._tape(rp, mk)
        rej = rep[(kind == EXEC_REJECTED) & (rep["owner"] == RECORDED_OWNER)]
        for r in rej["reason"].tolist():
            name = REASON_NAMES.get(int(r), str(r))
            rp.rejects[name] = rp.rejects.get(name, 0) + 1
        ours = rep[rep["owner"] != RECORDED_OWNER]
        if ours.shape[0]:
            self._desk_reports(rp, ours)

    def _tape(self, rp: _Replay, mk: np.ndarray) -> None:
        t = np.zeros(mk.shape[0], TRADE_TAPE_DTYPE)
        t["ts_ns"], t["price"], t["qty"] = mk["ts_ns"], mk["price"], mk["qty"]
        t["maker_owner"], t["taker_owner"] = mk["owner"], mk["contra_owner"]
        rp.tape.append(t)
        rp.last_px = int(mk["price"][-1])

    # ---- the desk's orders ---------------------------------------------------------------------------------

    def _reject(self, o: np.void, at: int, reason: int) -> None:
        r = np.zeros(1, EXEC_DTYPE)
        r["order_id"], r["owner"], r["instrument"] = o["order_id"], o["owner"], o["instrument"]
        r["kind"], r["side"], r["reason"], r["ts_ns"] = EXEC_REJECTED, o["side"], reason, at
        r["price"] = o["price"]
        self._counts["rejects"] += 1
        self._out.append(r)

    def _desk_op(self, rp: _Replay, o: np.void, at: int) -> None:
        """Apply one desk order at its arrival ``at`` (the recorded flow is at ``at`` already)."""
        typ, owner, oid = int(o["type"]), int(o["owner"]), int(o["order_id"])
        if typ == ORDER_CANCEL:
            tid = int(o["target_id"])
            if tid >= DESK_ID_BASE:
                self._reject(o, at, REJECT_UNKNOWN_ORDER)
                return
            rep = rp.book.cancel(DESK_ID_BASE + tid, owner=owner, ts_ns=at).copy()
            rej = rep["kind"] == EXEC_REJECTED
            if rej.any():  # as the simulator: a failed cancel is reported on the cancel's own id
                rep["order_id"][rej] = DESK_ID_BASE + oid
            self._counts["cancels"] += int((rep["kind"] == EXEC_CANCELED).sum())
        else:
            if oid >= DESK_ID_BASE or typ not in (ORDER_LIMIT, ORDER_IOC, ORDER_MARKET):
                self._reject(o, at, REJECT_TYPE)
                return
            side, qty = int(o["side"]), int(o["qty"])
            price = 0
            if typ != ORDER_MARKET:
                px = float(o["price"])
                if not (math.isfinite(px) and px > 0):
                    self._reject(o, at, REJECT_PRICE)
                    return
                x = px / (rp.tick_units * rp.day.unit_usd)
                ticks = (
                    math.floor(x + _EPS * abs(x) + _EPS) if side > 0 else math.ceil(x - _EPS * abs(x) - _EPS)
                )
                price = ticks * rp.tick_units
                if not 1 <= price <= MAX_PRICE:
                    self._reject(o, at, REJECT_PRICE_BAND)
                    return
            kind = OP_LIMIT if typ == ORDER_LIMIT else OP_IOC if typ == ORDER_IOC else OP_MARKET
            self._counts["orders"] += 1
            rep = rp.book.submit(
                kind, DESK_ID_BASE + oid, side, price, qty, owner=owner, stp=self.config.stp, ts_ns=at
            ).copy()
        bp, _, ap, _ = rp.book.best()
        rp.hist.append(np.array([at]), np.array([bp]), np.array([ap]))
        kind_r = rep["kind"]
        mk = rep[((kind_r == EXEC_FILL) | (kind_r == EXEC_PARTIAL)) & (rep["maker"] == 1)]
        if mk.shape[0]:
            self._tape(rp, mk)
            took = mk["order_id"][mk["owner"] == RECORDED_OWNER]
            if took.size:
                rp.touched.update(int(x) for x in took.tolist())
                rp.touched_arr = np.array(sorted(rp.touched), np.uint64)
        self._desk_reports(rp, rep[rep["owner"] == owner])

    def _desk_reports(self, rp: _Replay, rep: np.ndarray) -> None:
        """L3 reports of desk orders -> EXEC_DTYPE (USD prices, fees), booked into position and cash."""
        n = rep.shape[0]
        if n == 0:
            return
        out = np.zeros(n, EXEC_DTYPE)
        out["order_id"] = rep["order_id"] - np.uint64(DESK_ID_BASE)
        out["owner"], out["instrument"] = rep["owner"], rp.code
        out["kind"], out["side"] = rep["kind"], rep["side"]
        reason = rep["reason"]
        out["reason"] = np.where(
            reason == REASON_STP, REJECT_SELF_TRADE, np.where(reason > 10, REJECT_TYPE, reason)
        )
        kind = rep["kind"]
        fill = (kind == EXEC_FILL) | (kind == EXEC_PARTIAL)
        maker = rep["maker"] == 1
        out["liquidity"] = np.where(fill, np.where(maker, LIQ_MAKER, LIQ_TAKER), 0)
        out["qty"] = np.where(fill, rep["qty"], 0)
        out["leaves"] = rep["leaves"]
        px = rep["price"] * rp.day.unit_usd
        out["price"] = px
        out["ts_ns"] = rep["ts_ns"]
        mbp, mps, tbp, tps = self._fee_rates
        q = out["qty"].astype(np.float64)
        fee = np.where(maker, q * (px * mbp + mps), q * (px * tbp + tps))
        out["fee"] = np.where(fill, fee, 0.0)
        self._counts["rejects"] += int((kind == EXEC_REJECTED).sum())
        f = out[fill & (out["owner"] == 0)]
        if f.shape[0]:
            self._counts["fills"] += f.shape[0]
            signed = f["side"].astype(np.int64) * f["qty"]
            self._pos[rp.code] += int(signed.sum())
            self._cash -= float((signed * f["price"]).sum()) + float(f["fee"].sum())
            self._fees[0] += float(f["fee"][f["fee"] > 0].sum())
            self._fees[1] -= float(f["fee"][f["fee"] < 0].sum())
        self._out.append(out)

    # ---- what the desk sees --------------------------------------------------------------------------------

    def _seen(self, what: str, t_ns: int) -> int:
        seen = max(self._time(what, t_ns) - self.config.md_latency_ns, -NEVER_NS)
        if seen > self._now:
            raise SimClockError(f"quotes at {t_ns} need the venue replayed to {seen}; it is at {self._now}")
        return seen

    def reference_quotes(
        self, t_ns: int, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(bid USD, ask USD, ts_ns)`` per ticker code as seen at ``t_ns``: the best prices after every op
        stamped at or before ``t_ns - md_latency_ns`` and the time they were set; NaN / 0 where a side is
        empty or there is no book. ``out``: optional arrays to fill (1-D float64, float64, int64 of
        ``n_instruments + 1``)."""
        seen = self._seen("reference_quotes", t_ns)
        n1 = self._n1
        if out is None:
            bid, ask, ts = np.full(n1, np.nan), np.full(n1, np.nan), np.zeros(n1, np.int64)
        else:
            bid, ask, ts = out
            for arr, dt in ((bid, np.float64), (ask, np.float64), (ts, np.int64)):
                if not isinstance(arr, np.ndarray) or arr.dtype != dt or arr.shape != (n1,):
                    raise VenueConfigError(f"reference_quotes: out arrays must be 1-D of length {n1}")
            bid[:], ask[:], ts[:] = np.nan, np.nan, 0
        for code, rp in self._rp.items():
            b, a, t = rp.hist.at(seen)
            u = rp.day.unit_usd
            bid[code] = b * u if b > 0 else np.nan
            ask[code] = a * u if a > 0 else np.nan
            ts[code] = t
        return bid, ask, ts

    def reference_prices(
        self, t_ns: int, out: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(mid USD, ts_ns)`` per ticker code as seen at ``t_ns`` (see :meth:`reference_quotes`; NaN
        without both sides). ``out``: optional ``(mid, ts)`` arrays to fill."""
        bid, ask, ts = self.reference_quotes(t_ns)
        mid = 0.5 * (bid + ask)
        if out is None:
            return mid, ts
        m, t = out
        if (
            not isinstance(m, np.ndarray)
            or m.shape != (self._n1,)
            or not isinstance(t, np.ndarray)
            or t.shape != (self._n1,)
        ):
            raise VenueConfigError(f"reference_prices: out arrays must be 1-D of length {self._n1}")
        m[:], t[:] = mid, ts
        return m, t

    def mark_prices(self) -> np.ndarray:
        """Live mark per ticker code (USD): the book's mid, else its last trade, else its opening price; NaN
        without a book (index 0 NaN)."""
        out = np.full(self._n1, np.nan)
        for code, rp in self._rp.items():
            bp, _, ap, _ = rp.book.best()
            u = rp.day.unit_usd
            if bp > 0 and ap > 0:
                out[code] = 0.5 * (bp + ap) * u
            elif rp.last_px > 0:
                out[code] = rp.last_px * u
            else:
                out[code] = self._ref[code]
        return out

    def tick_sizes(self) -> np.ndarray:
        """Trading tick per ticker code, USD (NaN without a book)."""
        out = np.full(self._n1, np.nan)
        for code, rp in self._rp.items():
            out[code] = rp.tick_units * rp.day.unit_usd
        return out

    def fundamentals(self) -> np.ndarray:
        """NaN per ticker code: a recorded market has no hidden value to measure against."""
        return np.full(self._n1, np.nan)

    def snapshots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ts_ns[k], mid[k, n+1], fundamental[k, n+1])`` every ``snapshot_ns`` from ``start_ns`` to now
        (at most ``max_snapshots``, the interval doubled as needed; at least one row): mids of the live book
        then, fundamentals NaN."""
        c = self.config
        step = c.snapshot_ns
        while (self._now - c.start_ns) // step + 1 > c.max_snapshots:
            step *= 2
        t = np.arange(c.start_ns, self._now + 1, step, dtype=np.int64)
        mid = np.full((t.size, self._n1), np.nan)
        for code, rp in self._rp.items():
            b, a = rp.hist.at_many(t)
            both = (b > 0) & (a > 0)
            mid[:, code] = np.where(both, 0.5 * (b + a) * rp.day.unit_usd, np.nan)
        return t, mid, np.full_like(mid, np.nan)

    def queue_position(self, owner: int, order_id: int) -> int:
        """Shares queued ahead of a resting desk order at its price; -1 if it is not resting."""
        for rp in self._rp.values():
            o = rp.book.order(DESK_ID_BASE + int(order_id))
            if o is not None and o.owner == owner:
                return o.shares_ahead
        return -1

    def positions(self) -> np.ndarray:
        """The desk's (owner 0) net shares per ticker code."""
        return self._pos.copy()

    def fees(self) -> dict[str, dict[str, float]]:
        """The desk's fees, USD: ``{"cns": {"paid", "rebates", "net"}}`` (paid and rebates >= 0)."""
        p, r = float(self._fees[0]), float(self._fees[1])
        return {"cns": {"paid": p, "rebates": r, "net": p - r}}

    def pnl(self) -> dict[str, float]:
        """The desk's marked P&L, USD: cash (net of fees) + position x :meth:`mark_prices`."""
        return {"cns": self._cash + float(self._pos @ np.nan_to_num(self.mark_prices()))}

    def book_trades(self, code: int) -> np.ndarray:
        """The trades instrument ``code``'s book produced so far (TRADE_TAPE_DTYPE, a copy)."""
        rp = self._rp[code]
        return np.concatenate(rp.tape) if rp.tape else np.zeros(0, TRADE_TAPE_DTYPE)

    def trade_comparison(self) -> dict[str, dict[str, Any]]:
        """Per instrument name: the trades the book produced up to now next to the recorded visible
        executions up to now (:func:`~cns.market.recorded_tape.compare_trades`: count, shares, VWAP, trades
        with the desk, leading trades that agree, ``identical``), its ticker ``code`` and the recorded hidden
        executions, which no replay can produce."""
        out: dict[str, dict[str, Any]] = {}
        for code, rp in self._rp.items():
            rec = rp.day.trades[rp.day.trades["ts_ns"] <= self._now]
            cmp = compare_trades(self.book_trades(code), rec, rp.day.unit_usd, RECORDED_OWNER)
            cmp["code"] = code
            cmp["recorded_hidden_trades_not_replayable"] = rp.day.hidden_trades
            out[rp.day.name] = cmp
        return out

    def stats(self) -> dict[str, Any]:
        """Counters so far: the desk's orders, cancels, rejects and fills; recorded ops applied, rejected by
        the book (by reason) and moot (their order was taken by the desk); trades; seed conflicts; rows
        quarantined at load; late orders and the fees of the desk (USD)."""
        applied = sum(rp.pos for rp in self._rp.values())
        rej: dict[str, int] = {}
        for rp in self._rp.values():
            for k, v in rp.rejects.items():
                rej[f"recorded_rejects_{k}"] = rej.get(f"recorded_rejects_{k}", 0) + v
        return {
            "orders": self._counts["orders"],
            "external_orders": self._counts["orders"],
            "cancels": self._counts["cancels"],
            "rejects": self._counts["rejects"],
            "fills": self._counts["fills"],
            "resting": sum(rp.book.n_orders for rp in self._rp.values()),
            "trades": sum(sum(t.shape[0] for t in rp.tape) for rp in self._rp.values()),
            "recorded_ops_applied": applied,
            "recorded_ops_rejected": sum(rej.values()),
            **rej,
            "recorded_ops_moot": sum(rp.moot for rp in self._rp.values()),
            "recorded_trades": sum(int(rp.day.trades.shape[0]) for rp in self._rp.values()),
            "seed_orders": sum(int(rp.day.seed.shape[0]) for rp in self._rp.values()),
            "seed_conflicts": sum(rp.day.seed_conflicts for rp in self._rp.values()),
            "quarantined_rows": sum(len(rp.day.quarantined) for rp in self._rp.values()),
            "late_orders": self.late_orders,
            "stale_quote_lookups": self.stale_quote_lookups,
            "cns_fees_paid_usd": float(self._fees[0]),
            "cns_rebates_usd": float(self._fees[1]),
        }
