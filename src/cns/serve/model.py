"""The journal-derived state of one shard (event sourcing): what recovery rebuilds and snapshots hold.

A :class:`ShardModel` applies journal entries, in index order, through the same kernels the live stages use:

- ``order`` / ``cancel`` / ``exec`` entries: the OMS and the portfolio (orders booked open and registered,
  reports applied: positions, average cost, realised P&L, fees, order states), the OMS id counter and the
  wire-id <-> OMS-id map (:mod:`cns.serve.journal`);
- ``news`` entries: the compiled news rules (the validator's verdict) and the streaming corroborator
  (:meth:`~cns.trading.corroborate.Corroborator.process` on the conforming records): open corroboration
  windows with their reports. The live stage's timed flush is not journalled: it only closes windows a later
  report would close anyway and emits rumor-storm decisions (ignore / monitor / alert, never an order), so
  the windows that can still trade are the same with or without it;
- ``risk_ok`` (orders the risk gate accepted, in check order) through the risk kernel itself
  (:func:`~cns.trading.risk_kernels.check_orders` with every check off but the cool-down, which passes again
  on the same table): the order-rate ring, the last order per instrument (duplicate check) and the
  cool-down table; ``risk_counts`` (rejections per reason of one check) into the per-reason counters;
  a ``control`` runaway trip (code 2) engages the kill switch;
- ``held`` / ``unheld``: decisions the signal stage holds for a paused feed and those it released or dropped;
- ``feed_seq``: each feed's last sequence number; ``fix_in``: where each FIX session must resume reading.

:meth:`export` gives the state as named NumPy arrays (a :class:`cns.journal.snapshot.Snapshot`'s content),
:meth:`load` takes them back (:class:`ModelError` if they do not fit this shard's config), :meth:`install`
copies the state into the live objects of a :class:`~cns.serve.state.ServeState` before the tree starts.
The exposures of the risk gate are not part of it: the risk stage re-marks them at its first check.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from cns.engine import VERDICT_CONFORMS
from cns.journal import TYPE_CANCEL, TYPE_CONTROL, TYPE_EXEC, TYPE_NEWS, TYPE_ORDER
from cns.serve.errors import ServeError
from cns.serve.state import ServeState
from cns.trading.corroborate_kernels import DECISION_DTYPE
from cns.trading.credibility import CredibilityTable
from cns.trading.pipeline import TradingPipeline
from cns.trading.risk import risk_params
from cns.trading.risk_kernels import RISK_REASON_NAMES, RiskState, check_spread
from cns.venue.dtypes import ORDER_CANCEL

__all__ = [
    "RISK_COUNTS_DTYPE",
    "TYPE_HELD",
    "TYPE_RISK_COUNTS",
    "TYPE_RISK_OK",
    "TYPE_UNHELD",
    "ModelError",
    "ShardModel",
]

#: user entry types of the serve journal beyond 1000 (feed_seq) and 1001 (fix_in), see cns.serve.journal
TYPE_RISK_OK = 1002  # ORDER_DTYPE: the orders one risk check accepted, in check order
TYPE_RISK_COUNTS = 1003  # RISK_COUNTS_DTYPE: one check's rejections per reason (index 0 unused), OMS next id
TYPE_HELD = 1004  # DECISION_DTYPE: decisions held for a paused feed (the entry's ts_ns: when)
TYPE_UNHELD = 1005  # DECISION_DTYPE: held decisions released or dropped
RISK_COUNTS_DTYPE = np.dtype([("counts", np.int64, (len(RISK_REASON_NAMES),)), ("next_id", np.int64)])
_RISK_KEYS = ("scal", "ring", "last_side", "last_qty", "last_px", "last_ts", "cd_keys", "cd_ts", "counts")
_COOLDOWN = RISK_REASON_NAMES.index("cooldown")
_KILL = 0  # RS_KILL in cns.trading.risk_kernels
CONTROL_RUNAWAY = 2


def _keys(d: np.ndarray) -> list[bytes]:
    """One key per decision from its field values (padding bytes are not copied with the records)."""
    from numpy.lib import recfunctions

    packed = recfunctions.repack_fields(np.asarray(d))
    return [bytes(x) for x in np.ascontiguousarray(packed).view(np.uint8).reshape(len(d), -1)]


def _concat(parts: list[np.ndarray], dtype: np.dtype = DECISION_DTYPE) -> np.ndarray:
    """Records concatenated into ``dtype`` (``np.concatenate`` would drop a dtype's padding)."""
    out = np.empty(sum(len(p) for p in parts), dtype)
    k = 0
    for p in parts:
        out[k : k + len(p)] = p
        k += len(p)
    return out


class ModelError(ServeError):
    """Snapshot arrays that do not fit this shard (another config, instrument count or version)."""


class ShardModel:
    """One shard's journal-derived state (see the module doc), built from ``state``'s config and
    dictionaries, empty (index 0) until entries are applied or :meth:`load` is called."""

    def __init__(self, state: ServeState, feeds: tuple[str, ...]) -> None:
        cfg = state.config
        src, tick, _ = state.dictionaries
        self.state = state
        self.feeds = feeds
        self.n_sessions = len(cfg.fix)
        self.pipeline = TradingPipeline(cfg.trading, src, tick, n_instruments=len(state.tradable))
        self.oms = self.pipeline.oms
        self.corroborator = self.pipeline.corroborator
        self.validator = state.extra.get("validator")
        self.risk = {k: v for k, v in self.pipeline.risk.state().items() if k in _RISK_KEYS}
        n = len(state.tradable)
        self._rp = risk_params(cfg.trading.risk)
        self._enabled = np.zeros(len(RISK_REASON_NAMES), np.uint8)
        self._enabled[_COOLDOWN] = 0 if "cooldown" in cfg.trading.risk.disabled_checks else 1
        self._scratch = [np.zeros(n, np.float64), np.zeros(n, np.int64)]
        self.wire_to_oms: dict[int, int] = {}
        self.feed_seq = np.zeros(len(feeds), np.int64)
        self.fix_next = np.zeros(max(self.n_sessions, 1), np.int64)  # 0 = no report journalled
        self.pending: tuple[int, int] | None = None  # the last fix_in marker whose exec entry is not seen yet
        self.held: list[tuple[int, np.ndarray]] = []  # (wall ns held at, decisions)
        self.runaway = False
        self.index = 0
        self.counts = {"orders": 0, "cancels": 0, "execs": 0, "news": 0}

    # ------------------------------------------------------------------ applying entries
    def apply(self, e: Any) -> None:
        """Apply one journal entry (``index``, ``type``, ``records``, ``ts_ns``); entries of other types are
        skipped. Entries must come in index order."""
        t = e.type
        if t == TYPE_NEWS:
            self._news(e.records)
        elif t == TYPE_ORDER or t == TYPE_CANCEL:
            self._orders(e.records)
        elif t == TYPE_EXEC:
            self.oms.apply(self._to_oms(e.records))
            self.counts["execs"] += len(e.records)
            if self.pending is not None:
                self.fix_next[self.pending[0]] = self.pending[1] + 1
                self.pending = None
        elif t == 1000:  # feed_seq
            for f, s in zip(e.records["feed"].tolist(), e.records["last_seq"].tolist(), strict=True):
                if f < len(self.feed_seq):
                    self.feed_seq[f] = s
        elif t == 1001:  # fix_in
            r0 = e.records[0]
            s, q = int(r0["session"]), int(r0["seq"])
            if self.pending is not None:  # a marker whose report was never journalled: resend from it
                p, pq = self.pending
                self.fix_next[p] = pq if not self.fix_next[p] else min(int(self.fix_next[p]), pq)
            self.pending = (s, q) if s < len(self.fix_next) else None
        elif t == TYPE_RISK_OK:
            self._risk_ok(e.records)
        elif t == TYPE_RISK_COUNTS:
            c = self.risk["counts"]
            c[1:] += e.records["counts"].sum(axis=0)[1:]
            nxt = int(e.records["next_id"].max())  # ids handed to rejected candidates are not reused
            if nxt > int(self.oms.id_counter[0]):
                self.oms.id_counter[0] = nxt
        elif t == TYPE_HELD:
            self.held.append((int(e.ts_ns), np.array(e.records, copy=True)))
        elif t == TYPE_UNHELD:
            self._unhold(e.records)
        elif t == TYPE_CONTROL:
            if int(e.records["command"][0]) == CONTROL_RUNAWAY:
                self.runaway = True
                self.risk["scal"][_KILL] = 1
        self.index = int(e.index)

    def apply_chunk(self, chunk: Any) -> None:
        """Apply a :class:`~cns.journal.reader.ReplayChunk`'s entries in order, as :meth:`apply` would, with
        the news of consecutive entries (feed_seq markers between them touch no window) validated and
        corroborated in one call each: the kernels are streaming, record order is what counts."""
        pending: list[np.ndarray] = []
        for k in range(len(chunk)):
            e = chunk.entry(k)
            t = e.type
            if t == TYPE_NEWS:
                if len(e.records):
                    pending.append(e.records)
                self.counts["news"] += len(e.records)
                self.index = int(e.index)
                continue
            if pending and t != 1000:
                self._news_many(pending)
                pending = []
            self.apply(e)
        if pending:
            self._news_many(pending)

    def _news_many(self, parts: list[np.ndarray]) -> None:
        self._news(parts[0] if len(parts) == 1 else _concat(parts, parts[0].dtype), count=False)

    def _news(self, recs: np.ndarray, *, count: bool = True) -> None:
        if count:
            self.counts["news"] += len(recs)
        if not len(recs) or self.validator is None:
            return
        sources = self.state.dictionaries[0]
        if len(sources) > len(self.corroborator.credibility.scores):
            cred = self.state.config.trading.credibility
            self.corroborator.set_credibility(CredibilityTable.for_dictionary(sources, cred))
        n = len(recs)
        verdict = np.empty(n, np.uint8)
        self.validator.process(recs, verdict, np.empty(n, np.uint16), np.empty(n, np.uint8))
        self.corroborator.process(recs, mask=np.equal(verdict, VERDICT_CONFORMS))

    def _to_oms(self, execs: np.ndarray) -> np.ndarray:
        out = execs.copy()
        m = self.wire_to_oms
        out["order_id"] = np.fromiter(
            (m.get(int(x), 0) for x in execs["order_id"].tolist()), np.uint64, len(execs)
        )
        return out

    def _orders(self, rec: np.ndarray) -> None:
        """A journalled order/cancel entry (wire ids; the OMS id in ``target_id`` for new orders, see
        :meth:`cns.serve.journal.ServeJournal.orders`)."""
        live = rec["type"] != ORDER_CANCEL
        for w, o in zip(rec["order_id"][live].tolist(), rec["target_id"][live].tolist(), strict=True):
            self.wire_to_oms[w] = o
        o = rec.copy()
        o["order_id"][live] = rec["target_id"][live]
        o["target_id"][live] = 0
        c = ~live
        if c.any():
            o["order_id"][c] = rec["news_id"][c]
            o["news_id"][c] = 0
            m = self.wire_to_oms
            o["target_id"][c] = [m.get(int(x), 0) for x in rec["target_id"][c].tolist()]
        oms = self.oms
        if len(o):
            hi = int(o["order_id"].max())
            if hi >= int(oms.id_counter[0]):
                oms.id_counter[0] = hi + 1
        n_live = int(np.count_nonzero(live))
        if n_live:
            oms.book_open(o[live])
        self.counts["orders"] += n_live
        self.counts["cancels"] += len(o) - n_live
        oms.submit(o)

    def _risk_ok(self, orders: np.ndarray) -> None:
        """Book accepted orders into the throttle state through the risk kernel (see the module doc)."""
        r = self.risk
        exp, pos = self._scratch
        n = len(exp)
        state = RiskState(
            p=self._rp,
            enabled=self._enabled,
            restricted=np.zeros(n, np.uint8),
            position=pos,
            open_buy=np.zeros(n, np.int64),
            open_sell=np.zeros(n, np.int64),
            exposure=np.zeros(n, np.float64),
            gross=np.zeros(1, np.float64),
            counts=np.zeros(len(RISK_REASON_NAMES), np.int64),
            **{
                k: r[k]
                for k in ("scal", "ring", "last_side", "last_qty", "last_px", "last_ts", "cd_keys", "cd_ts")
            },
        )
        check_spread(  # mid unused with the reference check off (limit orders carry their price); mid_ts = pos
            np.ascontiguousarray(orders),
            exp,
            pos,
            np.int64(0),
            0.0,
            np.zeros(len(orders), np.uint8),
            None,
            0.0,
            0.0,
            *state,
        )
        r["counts"][0] += len(orders)

    def _unhold(self, gone: np.ndarray) -> None:
        keys = _keys(gone)
        kept: list[tuple[int, np.ndarray]] = []
        for at, d in self.held:
            stay = np.ones(len(d), np.bool_)
            for i, b in enumerate(_keys(d)):
                if b in keys:
                    keys.remove(b)
                    stay[i] = False
            if stay.any():
                kept.append((at, d[stay]))
        self.held = kept

    # ------------------------------------------------------------------ arrays
    def export(self) -> dict[str, np.ndarray]:
        """The state as named arrays (copies): what a snapshot holds."""
        oms, pf = self.oms, self.oms.portfolio
        n_rows = int(oms.id_counter[0]) - oms.base_id
        held = [d for _, d in self.held]
        out = {
            "index": np.array([self.index], np.int64),
            "oms_table": oms.table[: max(n_rows, 0)].copy(),
            "oms_id_counter": oms.id_counter.copy(),
            "oms_open_buy": oms.open_buy.copy(),
            "oms_open_sell": oms.open_sell.copy(),
            "oms_stats": oms.stats_array.copy(),
            "pf_position": pf.position.copy(),
            "pf_avg_cost": pf.avg_cost.copy(),
            "pf_realized": pf.realized.copy(),
            "pf_fees": pf.fees_paid.copy(),
            "pf_rebates": pf.rebates_earned.copy(),
            "pf_stats": pf.stats_array.copy(),
            "wire_ids": np.fromiter(self.wire_to_oms.keys(), np.uint64, len(self.wire_to_oms)),
            "wire_oms": np.fromiter(self.wire_to_oms.values(), np.int64, len(self.wire_to_oms)),
            "feed_seq": self.feed_seq.copy(),
            "fix_next": self.fix_next.copy(),
            "fix_pending": np.array(self.pending if self.pending is not None else (-1, -1), np.int64),
            "held": _concat(held),
            "held_ts": np.array([at for at, d in self.held for _ in range(len(d))], np.int64),
            "runaway": np.array([int(self.runaway)], np.int64),
        }
        for k, v in self.corroborator.state().items():
            out["corr_" + k] = v
        for k, v in self.risk.items():
            out["risk_" + k] = v.copy()
        return out

    def load(self, a: dict[str, np.ndarray]) -> None:
        """Take an :meth:`export` back; :class:`ModelError` (nothing changed) when it does not fit."""
        try:
            self._check(a)
            corr = {k[5:]: v for k, v in a.items() if k.startswith("corr_")}
            self.corroborator.restore(corr)
        except (KeyError, ValueError, TypeError, IndexError) as e:
            raise ModelError(f"snapshot does not fit this shard: {e}") from None
        except ServeError:
            raise
        except Exception as e:  # noqa: BLE001 - StateError of the corroborator
            raise ModelError(f"snapshot does not fit this shard: {e}") from None
        oms, pf = self.oms, self.oms.portfolio
        table = a["oms_table"]
        oms.table = np.zeros(max(len(table) * 2, len(oms.table)), oms.table.dtype)
        oms.table[: len(table)] = table
        oms.id_counter[0] = int(a["oms_id_counter"][0])
        oms.open_buy[:] = a["oms_open_buy"]
        oms.open_sell[:] = a["oms_open_sell"]
        oms.stats_array[:] = a["oms_stats"]
        pf.position[:] = a["pf_position"]
        pf.avg_cost[:] = a["pf_avg_cost"]
        pf.realized[:] = a["pf_realized"]
        pf.fees_paid[:] = a["pf_fees"]
        pf.rebates_earned[:] = a["pf_rebates"]
        pf.stats_array[:] = a["pf_stats"]
        self.wire_to_oms = dict(zip(a["wire_ids"].tolist(), a["wire_oms"].tolist(), strict=True))
        self.feed_seq[:] = a["feed_seq"]
        self.fix_next[:] = a["fix_next"]
        p = a["fix_pending"].tolist()
        self.pending = None if p[0] < 0 else (int(p[0]), int(p[1]))
        held, ts = a["held"], a["held_ts"]
        self.held = [(int(ts[i]), held[i : i + 1].copy()) for i in range(len(held))]
        for k in _RISK_KEYS:
            self.risk[k][...] = a["risk_" + k]
        self.runaway = bool(a["runaway"][0])
        self.index = int(a["index"][0])

    def _check(self, a: dict[str, np.ndarray]) -> None:
        oms, pf = self.oms, self.oms.portfolio
        same = {
            "oms_open_buy": oms.open_buy,
            "oms_open_sell": oms.open_sell,
            "oms_stats": oms.stats_array,
            "oms_id_counter": oms.id_counter,
            "pf_position": pf.position,
            "pf_avg_cost": pf.avg_cost,
            "pf_realized": pf.realized,
            "pf_fees": pf.fees_paid,
            "pf_rebates": pf.rebates_earned,
            "pf_stats": pf.stats_array,
            "feed_seq": self.feed_seq,
            "fix_next": self.fix_next,
            **{"risk_" + k: v for k, v in self.risk.items()},
        }
        for k, v in same.items():
            if a[k].shape != v.shape or a[k].dtype != v.dtype:
                raise ModelError(
                    f"snapshot array {k}: {a[k].dtype}{a[k].shape}, this shard {v.dtype}{v.shape}"
                )
        if a["oms_table"].dtype != oms.table.dtype or a["held"].dtype != DECISION_DTYPE:
            raise ModelError(
                f"snapshot: OMS table {a['oms_table'].dtype} or held decisions {a['held'].dtype} of another dtype"
            )
        if len(a["wire_ids"]) != len(a["wire_oms"]) or len(a["held"]) != len(a["held_ts"]):
            raise ModelError("snapshot: wire-id or held arrays of different lengths")

    # ------------------------------------------------------------------ into the live state
    def install(self, journal: Any) -> None:
        """Copy the state into the live objects of the shard (before the tree starts): OMS, portfolio,
        corroborator, risk gate (throttle state; exposures re-marked at the first check), ``journal``'s
        wire-id maps, the feeds' ``last_seq``, the held decisions (``state.extra["held"]``, their age kept)
        and, after a runaway trip, the kill switch and ``state.stopping``."""
        import time

        st = self.state
        a = self.export()
        live = ShardModel.__new__(ShardModel)  # reuse load() on the live pipeline's objects
        live.state, live.oms, live.corroborator = st, st.pipeline.oms, st.pipeline.corroborator
        live.feed_seq, live.fix_next = self.feed_seq.copy(), self.fix_next.copy()
        live.risk = {k: v for k, v in st.pipeline.risk.state().items() if k in _RISK_KEYS}
        live.load(a)
        rs = st.pipeline.risk.state()
        rs.update(live.risk)
        st.pipeline.risk.restore(rs)
        journal.wire_to_oms = dict(self.wire_to_oms)
        journal.oms_to_wire = {o: w for w, o in self.wire_to_oms.items()}
        for k, s in enumerate(self.feed_seq.tolist()):
            if s and k < len(self.feeds):
                st.feed_stats[self.feeds[k]].last_seq = int(s)
        wall, mono = time.time_ns(), time.monotonic_ns()
        st.extra["held"] = deque((mono - max(wall - at, 0), d.copy(), 0) for at, d in self.held)
        if self.runaway:
            st.stopping = True

    def fix_resume(self) -> dict[int, int]:
        """Per FIX session index: the MsgSeqNum to resume reading at (the first report not journalled)."""
        out = {k: int(v) for k, v in enumerate(self.fix_next.tolist()) if v}
        if self.pending is not None:
            out[self.pending[0]] = self.pending[1]
        return out
