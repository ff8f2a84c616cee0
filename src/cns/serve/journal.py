"""The shard's journal (``[journal]``): every state-changing input and every output of one serve pipeline,
appended to a :mod:`cns.journal` journal before it takes effect; recovery on start.

What is appended (one journal per shard, ``<dir>/<shard>``):

- ``news``: each :class:`~cns.feeds.FeedBatch` as parsed (records + headlines), followed by a ``feed_seq``
  entry (user type 1000: feed index, last sequence delivered) so a restart resumes every feed after it;
- ``order`` / ``cancel``: the desk's risk-approved records, **before** they are handed to FIX, durable per
  the fsync policy (``wait_durable`` for ``group``). On the wire (ClOrdID) each carries
  :func:`cns.journal.clordid.order_id_for` ``(shard_id, index, slot)`` of its entry, not the OMS's dense
  id: a resend of the entry is recognisably the same order. The OMS id stays in the journalled record's
  ``target_id`` for new orders (cancels keep their target's wire id in ``target_id`` and their own OMS id
  in ``news_id``), so replay maps wire ids back to the OMS;
- ``exec``: every execution report as decoded (wire ids), and the rejects the desk books for orders a sink
  refused, before the OMS applies them;
- ``control``: the kill switch (code 1).

- ``risk_ok`` / ``risk_counts``: each risk check's accepted orders (in check order) and, when it rejected any,
  its rejections per reason and the OMS's next id; ``held`` / ``unheld``: decisions the signal stage holds
  for a paused feed and lets go of (:mod:`cns.serve.model`).

Recovery (:meth:`ServeJournal.recover`, run by :func:`cns.serve.service.prepare` when the directory holds
entries): the latest usable state snapshot plus the journal entries after it (:mod:`cns.serve.snapshots`;
the whole journal when there is none), applied to a :class:`~cns.serve.model.ShardModel` through the same
kernels the stages use, then installed into the prepared state -- the OMS (orders, open quantities, exec
reports: positions, average cost, realised P&L, order states), the OMS id counter, the wire-id map, every
feed's ``last_seq``, the open corroboration windows, the risk throttle (rate ring, duplicate and cool-down
tables, counters) and the held decisions. The FIX stores are rewound (durably,
:meth:`cns.fix.store.FileSessionStore.rewind_target`) to the first report not journalled, so the venue
resends what we missed. Orders journalled but never acknowledged
(state ``new`` after replay) are reconciled by the desk once the session is up (:meth:`unacked`): a cancel
with the same ClOrdID as ``OrigClOrdID`` is sent, never a second NewOrderSingle -- the gateway only refuses
a duplicate ClOrdID of a *live* order, so resending one it already filled would trade twice.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from cns.journal import (
    TYPE_CANCEL,
    TYPE_CONTROL,
    TYPE_EXEC,
    TYPE_NEWS,
    TYPE_ORDER,
    FsyncPolicy,
    JournalWriter,
)
from cns.journal.clordid import order_ids_for
from cns.journal.dtypes import CONTROL_DTYPE, default_registry
from cns.serve.model import RISK_COUNTS_DTYPE, TYPE_HELD, TYPE_RISK_COUNTS, TYPE_RISK_OK, TYPE_UNHELD
from cns.trading.corroborate_kernels import DECISION_DTYPE
from cns.venue.dtypes import ORDER_CANCEL, ORDER_DTYPE

__all__ = ["FEED_SEQ_DTYPE", "TYPE_FEED_SEQ", "JournalSpec", "ServeJournal"]

TYPE_FEED_SEQ = 1000
FEED_SEQ_DTYPE = np.dtype([("feed", np.uint32), ("pad", np.uint32), ("last_seq", np.uint64)])
#: marker appended just before the exec entry of a FIX ExecutionReport: session (index in ``[[fix]]``) and the
#: report's MsgSeqNum -- recovery rewinds the FIX store's next expected number to the first report not
#: journalled, so the venue resends it (a report consumed by the session but lost in the desk's mailbox at a
#: ``kill -9`` is not lost)
TYPE_FIX_IN = 1001
FIX_IN_DTYPE = np.dtype([("session", np.uint32), ("pad", np.uint32), ("seq", np.uint64)])
CONTROL_KILL_SWITCH = 1
CONTROL_RUNAWAY = 2
FSYNC = ("every", "group", "os")


@dataclass(frozen=True)
class JournalSpec:
    """``[journal]``: ``dir`` (the shard's journal is ``dir/<shard>``, its snapshots
    ``dir/<shard>.snapshots``), ``fsync`` (every | group | os), ``group_us`` (the group policy's flush delay),
    ``shard_id`` (0..255, in every ClOrdID), ``snapshot_every`` (journal entries between two state
    snapshots, 0 = never: recovery then replays the whole journal), ``snapshot_retain`` (newest kept)."""

    dir: str
    fsync: str = "group"
    group_us: int = 1000
    shard_id: int = 0
    snapshot_every: int = 100_000
    snapshot_retain: int = 3

    def policy(self) -> FsyncPolicy:
        """The fsync policy named by ``fsync``: per entry, left to the OS, or grouped (``group_us`` µs)."""
        if self.fsync == "every":
            return FsyncPolicy.every_entry()
        if self.fsync == "os":
            return FsyncPolicy.os()
        return FsyncPolicy.group(self.group_us)


def registry() -> Any:
    """The serve journal's entry types: the default ones plus feed_seq, fix_in and the model's (risk_ok,
    risk_counts, held, unheld: :mod:`cns.serve.model`)."""
    reg = default_registry()
    reg.register(TYPE_FEED_SEQ, "feed_seq", FEED_SEQ_DTYPE)
    reg.register(TYPE_FIX_IN, "fix_in", FIX_IN_DTYPE)
    reg.register(TYPE_RISK_OK, "risk_ok", ORDER_DTYPE)
    reg.register(TYPE_RISK_COUNTS, "risk_counts", RISK_COUNTS_DTYPE)
    reg.register(TYPE_HELD, "held", DECISION_DTYPE)
    reg.register(TYPE_UNHELD, "unheld", DECISION_DTYPE)
    return reg


class ServeJournal:
    """One shard's journal writer and the wire-id <-> OMS-id map (see the module doc)."""

    def __init__(self, spec: JournalSpec, shard: str, feeds: tuple[str, ...]) -> None:
        self.spec = spec
        self.directory = os.path.join(spec.dir, shard)
        os.makedirs(self.directory, exist_ok=True)
        self.registry = registry()
        self.feeds = feeds
        self.wait = spec.fsync == "group"
        self.writer = JournalWriter(self.directory, self.registry, fsync=spec.policy())
        self.wire_to_oms: dict[int, int] = {}
        self.oms_to_wire: dict[int, int] = {}
        self.appended = {"news": 0, "orders": 0, "cancels": 0, "execs": 0, "control": 0}
        self.recovered: dict[str, Any] = {}

    def close(self) -> None:
        """Close the journal writer."""
        self.writer.close()

    # ------------------------------------------------------------------ inputs
    def news(self, batch: Any, last_seq: int) -> None:
        """Journal a feed batch's news records (headlines too) and the feed's ``last_seq`` marker."""
        nb = batch.news
        if len(nb.records):
            h = getattr(nb, "headlines", None)
            self.writer.append(TYPE_NEWS, nb.records, h if h is not None and len(h) else None)
            self.appended["news"] += 1
        s = np.zeros(1, FEED_SEQ_DTYPE)
        s["feed"] = self.feeds.index(batch.feed) if batch.feed in self.feeds else 0xFFFFFFFF
        s["last_seq"] = last_seq
        self.writer.append(TYPE_FEED_SEQ, s)

    def fix_in(self, session: int, seq: int) -> None:
        """The marker before the exec entry of FIX report ``seq`` of session ``session`` (see TYPE_FIX_IN)."""
        m = np.zeros(1, FIX_IN_DTYPE)
        m["session"], m["seq"] = session, seq
        self.writer.append(TYPE_FIX_IN, m)

    def control(self, code: int, value: float = 0.0) -> None:
        """Journal control command ``code`` (``CONTROL_*``), argument ``int(value)``, stamped wall-clock ns;
        with the ``group`` policy, returns only once it is durable.
        """
        c = np.zeros(1, CONTROL_DTYPE)
        c["ts_ns"] = time.time_ns()
        c["command"] = code
        c["arg0"] = int(value)
        self.writer.append(TYPE_CONTROL, c)
        self.appended["control"] += 1
        self._durable()

    def risk_checked(
        self, accepted: np.ndarray, counts_before: np.ndarray, counts_after: np.ndarray, next_id: int
    ) -> None:
        """Journal one risk check: the accepted orders in check order (``risk_ok``) and, when it rejected
        any, the rejections per reason and the OMS's next order id (``risk_counts``): the throttle state and
        the id counter replay from them."""
        if len(accepted):
            self.writer.append(TYPE_RISK_OK, np.ascontiguousarray(accepted))
        if int(counts_after[1:].sum()) != int(counts_before[1:].sum()):
            c = np.zeros(1, RISK_COUNTS_DTYPE)
            c["counts"][0] = counts_after - counts_before
            c["counts"][0][0] = 0
            c["next_id"] = next_id
            self.writer.append(TYPE_RISK_COUNTS, c)

    def held(self, decisions: np.ndarray, *, released: bool = False) -> None:
        """Journal decisions the signal stage holds for a paused feed (``released``: that it let go of,
        released or dropped)."""
        if len(decisions):
            self.writer.append(TYPE_UNHELD if released else TYPE_HELD, np.ascontiguousarray(decisions))

    def execs(self, execs: np.ndarray) -> np.ndarray:
        """Journal reports (wire ids) and return them with OMS ids (unknown ids -> 0: not ours)."""
        if not len(execs):
            return execs
        self.writer.append(TYPE_EXEC, execs)
        self.appended["execs"] += 1
        return self._to_oms(execs)

    def _to_oms(self, execs: np.ndarray) -> np.ndarray:
        out = execs.copy()
        m = self.wire_to_oms
        out["order_id"] = np.fromiter(
            (m.get(int(x), 0) for x in execs["order_id"].tolist()), np.uint64, len(execs)
        )
        return out

    # ------------------------------------------------------------------ outputs
    def orders(self, orders: np.ndarray) -> np.ndarray:
        """Journal ``orders`` (OMS ids) and return the wire records (journal-derived ids) to send; durable
        per the policy when this returns."""
        n = len(orders)
        idx = self.writer.next_index
        wire = orders.copy()
        wire["order_id"] = order_ids_for(self.spec.shard_id, idx, n)
        cancel = orders["type"] == ORDER_CANCEL
        if cancel.any():
            m = self.oms_to_wire
            wire["target_id"][cancel] = [m.get(int(t), int(t)) for t in orders["target_id"][cancel].tolist()]
            wire["news_id"][cancel] = orders["order_id"][cancel]
        live = ~cancel
        wire["target_id"][live] = orders["order_id"][live]  # the OMS id, for replay
        rec = wire.copy()
        self.writer.append(TYPE_CANCEL if cancel.all() else TYPE_ORDER, rec)
        self._map(rec)
        self.appended["cancels" if cancel.all() else "orders"] += 1
        self._durable()
        wire["target_id"][live] = 0
        wire["news_id"][cancel] = 0
        return wire

    def _map(self, rec: np.ndarray) -> None:
        live = rec["type"] != ORDER_CANCEL
        for w, o in zip(rec["order_id"][live].tolist(), rec["target_id"][live].tolist(), strict=True):
            self.wire_to_oms[w] = o
            self.oms_to_wire[o] = w

    def _durable(self) -> None:
        if self.wait:
            self.writer.wait_durable(self.writer.last_index)

    def to_oms_ids(self, wire: np.ndarray) -> np.ndarray:
        """OMS records for wire records (refused by a sink): ids mapped back."""
        out = wire.copy()
        m = self.wire_to_oms
        live = out["type"] != ORDER_CANCEL
        out["order_id"][live] = [m.get(int(x), 0) for x in wire["order_id"][live].tolist()]
        return out

    # ------------------------------------------------------------------ recovery
    def recover(self, state: Any) -> dict[str, Any]:
        """Rebuild ``state`` (prepared, nothing started) from the latest usable snapshot and the journal
        after it (:func:`cns.serve.snapshots.recover_model`), rewind the FIX stores to the first report not
        journalled; the model is kept in ``state.extra["model"]`` for the snapshotter. Returns what was
        rebuilt: entries, snapshot (index or None), snapshot_skipped, replayed, orders / cancels / execs /
        news (replayed), fix_rewind, feeds_last_seq, unacked, seconds."""
        from cns.serve.snapshots import recover_model

        t0 = time.monotonic()
        model, n = recover_model(self, state)
        model.install(self)
        state.extra["model"] = model
        n.update(model.counts)
        n["fix_rewind"] = self._rewind_fix(state.config, model.fix_resume())
        n["feeds_last_seq"] = {
            self.feeds[k]: int(s) for k, s in enumerate(model.feed_seq.tolist()) if k < len(self.feeds) and s
        }
        n["unacked"] = len(self.unacked(state))
        n["seconds"] = round(time.monotonic() - t0, 4)
        self.recovered = n
        return n

    def _rewind_fix(self, config: Any, fix_next: dict[int, int]) -> dict[str, Any]:
        """Rewind each FIX session's store to the first report not journalled
        (:meth:`cns.fix.store.FileSessionStore.rewind_target`, durable), before any session starts: the
        venue resends from there at the next Logon."""
        from cns.fix.store import FileSessionStore

        out: dict[str, Any] = {}
        for k, nxt in fix_next.items():
            if k >= len(config.fix) or not config.fix[k].store_dir:
                continue
            spec = config.fix[k]
            st = FileSessionStore(spec.store_dir, spec.name)
            try:
                before = st.next_target_seq
                st.rewind_target(nxt)
            finally:
                st.close()
            out[spec.name] = {"store_next": before, "journal_next": nxt}
        return out

    def unacked(self, state: Any) -> list[int]:
        """OMS ids of orders journalled but still ``new`` (never acknowledged, rejected or filled)."""
        oms = state.pipeline.oms
        return [o for o in self.wire_to_oms.values() if oms.state(o) == "new"]

    def reconcile_cancels(self, state: Any, ts_ns: int) -> np.ndarray:
        """ORDER_CANCEL records (OMS ids) for the unacknowledged orders: sent by the desk once the session
        is up, with the original ClOrdID as OrigClOrdID."""
        oms = state.pipeline.oms
        ids = self.unacked(state)
        out = np.zeros(len(ids), ORDER_DTYPE)
        for k, o in enumerate(ids):
            row = oms.order(o)
            out[k]["order_id"] = int(oms.id_counter[0])
            oms.id_counter[0] += 1
            out[k]["target_id"] = o
            out[k]["owner"] = oms.owner
            out[k]["instrument"] = int(row["instrument"])
            out[k]["side"] = int(row["side"])
            out[k]["type"] = ORDER_CANCEL
            out[k]["ts_ns"] = ts_ns
        return out
