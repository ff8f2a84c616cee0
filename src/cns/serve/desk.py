"""The live desk: the last process of the trading subtree, owning the way out (an
:class:`~cns.serve.sink.OrderSink`) and the way back (execution reports into the OMS and portfolio).

:class:`LiveDesk` (a :class:`~cns.otp.GenServer`, registered ``<shard>:desk``) handles:

- :class:`~cns.serve.stages.Approved` orders: sent through the sink (a FIX send parks the desk until the
  bytes are written); the written ones are stamped in the latency probe (socket read of the news ->
  NewOrderSingle written); refused ones are booked as rejected so the OMS releases their open quantity.
- :class:`~cns.fix.FixInbound` ExecutionReports (``35=8``, decoded by :class:`~cns.fix.ExecReportDecoder`
  on the shard's symbol table) and in-process :class:`~cns.serve.sink.VenueReports`: applied to the OMS /
  portfolio; OrderMassCancelReports (``35=r``) answer a pending ``cancel_all``.
- ``FixSessionUp``/``FixSessionDown``: the session's state in ``state.session_up`` (a down session refuses
  orders at once).
- Exits: every ``desk.exit_check_s`` the exit pass of the replay desk (:func:`cns.replay.desk_kernels.plan_exits`):
  ``signal.hold_ns`` after an entry, its filled shares are unwound with an IOC ``signal.exit_aggress_bps``
  through the mid and what still rests is canceled; exits pass the risk gate like any order.
- Marking: every ``desk.mark_s`` the portfolio is marked on the current mids (P&L, exposure).

Calls: ``"stats"`` -> a dict of the desk's figures; ``"cancel_all"`` -> the kill switch: the risk gate's
kill switch is engaged (no new order passes), ``state.stopping`` is set (no new decisions, no exits), the
sink's mass cancel is sent and the call is answered once every session's OrderMassCancelReport arrived or
``stop_timeout_s`` passed: ``{"requests", "reports", "open_before", "open_after", "timed_out"}``.

The exit bookkeeping lives in ``state.extra["exits"]`` and the OMS in the state: a restarted desk resumes
with both (reports that arrived while it was down are lost: the FIX session drops events for an
unregistered app name, counted in its ``send_errors``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cns.fix import ExecReportDecoder, FixInbound, FixSessionDown, FixSessionUp
from cns.fix import spec as S
from cns.otp import NOREPLY, GenServer
from cns.replay.desk_kernels import NEVER_NS, plan_exits
from cns.runtime import From, Node, Pid
from cns.serve.sink import OrderSink, VenueReports, rejected_reports
from cns.serve.stages import RUNAWAY, Approved
from cns.serve.state import ServeState
from cns.venue.dtypes import EXEC_FILL, EXEC_PARTIAL, ORDER_CANCEL, ORDER_DTYPE

__all__ = ["ExitBook", "LiveDesk", "SinkFactory"]

SinkFactory = Callable[[Node, ServeState, Pid], OrderSink]


class _Tick:
    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


_EXIT, _MARK, _CANCEL_TIMEOUT = _Tick("exit"), _Tick("mark"), _Tick("cancel_timeout")


@dataclass
class ExitBook:
    """The exit pass's state (see :func:`cns.replay.desk_kernels.plan_exits`), owned by the shard."""

    n: int
    due_row: int = 0
    next_exit: int = NEVER_NS
    exit_ids: np.ndarray = field(default_factory=lambda: np.zeros(64, np.int64))
    n_exit_ids: int = 0
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    batch: np.ndarray = field(default_factory=lambda: np.zeros(1024, ORDER_DTYPE))

    def __post_init__(self) -> None:
        if len(self.keep) != self.n:
            self.keep = np.zeros(self.n, np.int64)


class LiveDesk(GenServer):
    """Desk + OMS of one shard (see the module doc)."""

    def init(self, state: ServeState, sink_factory: SinkFactory) -> None:
        self.state = state
        self.pipe = state.pipeline
        self.oms = state.pipeline.oms
        self.sink = sink_factory(self.node, state, self.pid)
        self.decoder = ExecReportDecoder(state.symbols, owner=self.oms.owner)
        self.exits: ExitBook = state.extra.setdefault("exits", ExitBook(len(state.tradable)))
        sig = state.config.trading.signal
        risk = state.config.trading.risk
        self.hold_ns = int(sig.hold_ns)
        self.exit_frac = float(sig.exit_aggress_bps) * 1e-4
        self.max_qty = int(risk.max_order_qty)
        self.max_notional = float(risk.max_order_notional_usd)
        self.retry_ns = 100_000_000
        self.cancel_waiter: From | None = None
        self.cancel_expect = 0
        self.cancel_reports = 0
        self.cancel_info: dict[str, Any] = {}
        self.cancel_timer: Any = None
        self.journal: Any = state.extra.get("journal")
        self.fix_index = {s.name: k for k, s in enumerate(state.config.fix)}
        d = state.config.desk
        self.timers = [
            self.node.send_interval(d.exit_check_s, self.pid, _EXIT),
            self.node.send_interval(d.mark_s, self.pid, _MARK),
        ]

    def terminate(self, reason: Any) -> None:
        for t in self.timers:
            self.node.cancel_timer(t)

    # ------------------------------------------------------------------ messages
    def handle_info(self, msg: Any) -> Any:
        cls = msg.__class__
        if cls is Approved:
            self.state.flow_handled[self.state.names.desk] += 1
            if self.hold_ns > 0:  # entries fall due for their exit hold_ns after they were stamped
                e = self.exits
                e.next_exit = min(e.next_exit, int(msg.orders["ts_ns"].min()) + self.hold_ns)
            return self._send(msg.orders, msg.recv_ns)
        if cls is FixInbound:
            self._inbound(msg.msg, msg.session)
        elif cls is VenueReports:
            self._book_wire(msg.execs)
        elif cls is FixSessionUp:
            self.state.session_up[f"fix:{msg.session}"] = True
            if self.journal is not None and self.state.extra.pop("recovered", None) is not None:
                return self._reconcile()
        elif cls is FixSessionDown:
            self.state.session_up[f"fix:{msg.session}"] = False
        elif msg is _EXIT:
            if not self.state.stopping and self.hold_ns > 0 and time.time_ns() >= self.exits.next_exit:
                return self._exits()
        elif msg is _MARK:
            self.pipe.portfolio.mark(self.state.quotes.mid)
        elif msg is _CANCEL_TIMEOUT:
            self._answer_cancel(timed_out=True)
        elif msg is RUNAWAY:
            return self._runaway()
        return None

    def handle_call(self, request: Any, from_: From) -> Any:
        if request == "stats":
            return self.stats()
        if request == "cancel_all":
            return self._cancel_all(from_)
        raise ValueError(f"LiveDesk: unknown call {request!r}")

    # ------------------------------------------------------------------ orders out
    async def _reconcile(self) -> None:
        """After recovery: orders journalled but never acknowledged are canceled (OrigClOrdID = their
        journal ClOrdID), never sent again (see :mod:`cns.serve.journal`)."""
        cancels = self.journal.reconcile_cancels(self.state, time.time_ns())
        self.state.counters["reconcile_cancels"] += len(cancels)
        if len(cancels):
            self.oms.submit(cancels)
            await self._send(cancels, 0)

    async def _runaway(self) -> None:
        """The runaway guard tripped (the risk stage engaged the kill switch): journal it, mass-cancel."""
        if self.journal is not None:
            self.journal.control(2)
        n = await self.sink.cancel_all()
        self.state.counters["runaway_mass_cancels"] += n

    def _reconcile_reject(self, msg: Any) -> None:
        """A cancel refused by the venue (unknown order) for an order we still hold as ``new`` after a
        recovery: the venue never had it -- booked (and journalled) as rejected, its quantity released."""
        orig = msg.get(S.ORIG_CL_ORD_ID)
        try:
            wire = int(orig or b"0")
        except ValueError:
            return
        oid = self.journal.wire_to_oms.get(wire)
        if oid is None or self.oms.state(oid) != "new":
            return
        row = self.oms.order(oid)
        o = np.zeros(1, ORDER_DTYPE)
        o["order_id"], o["owner"], o["instrument"], o["side"] = (
            wire,
            self.oms.owner,
            row["instrument"],
            row["side"],
        )
        self.state.counters["reconcile_rejected"] += 1
        self._book_wire(rejected_reports(o, time.time_ns()))

    async def _send(self, orders: np.ndarray, recv_ns: int) -> None:
        j = self.journal
        if j is not None:  # journalled (durable per the policy) before the bytes go out
            orders = j.orders(orders)
        r = await self.sink.send_orders(orders)
        t = time.monotonic_ns()
        c = self.state.counters
        if r.written:
            written = (
                orders if not len(r.refused) else orders[~np.isin(orders["order_id"], r.refused["order_id"])]
            )
            cancels = int(np.count_nonzero(written["type"] == ORDER_CANCEL))
            c["orders_sent"] += len(written) - cancels
            c["cancels_sent"] += cancels
            if recv_ns:
                self.state.probe.orders_written([n for n in written["news_id"].tolist() if n], recv_ns, t)
        if len(r.refused):
            c["orders_refused"] += len(r.refused)
            self._book_wire(rejected_reports(r.refused, time.time_ns()))

    async def _exits(self) -> None:
        """The exit pass at now (see :class:`cns.replay.desk.TradingDesk` for the rules)."""
        e = self.exits
        oms = self.oms
        t = time.time_ns()
        mid = self.state.quotes.mid
        first_id = int(oms.id_counter[0])
        n_rows = first_id - oms.base_id
        need = n_rows - e.due_row + len(e.keep)
        if need > len(e.batch):
            e.batch = np.zeros(max(need, 2 * len(e.batch)), ORDER_DTYPE)
        e.due_row, n_cancel, n_exit, e.n_exit_ids, e.next_exit = plan_exits(
            oms.table,
            e.due_row,
            n_rows,
            t,
            self.hold_ns,
            self.retry_ns,
            self.pipe.portfolio.position,
            mid,
            e.keep,
            e.exit_ids,
            e.n_exit_ids,
            first_id,
            oms.base_id,
            self.exit_frac,
            self.max_qty,
            self.max_notional,
            e.batch,
        )
        n = n_cancel + n_exit
        if n == 0:
            return
        oms.id_counter[0] += n
        m, mid_ts = self.state.quotes.refs(t)
        j = self.journal
        before = self.pipe.risk.counts.copy() if j is not None else None
        accepted, _ = self.pipe.risk.check(e.batch[:n], m, mid_ts, t)
        if j is not None:
            j.risk_checked(accepted, before, self.pipe.risk.counts, int(oms.id_counter[0]))
        if not len(accepted):
            return
        n_sent = int(np.count_nonzero(accepted["type"] != ORDER_CANCEL))
        self.state.counters["exit_orders"] += n_sent
        if n_sent:
            k = e.n_exit_ids
            if k + n_sent > len(e.exit_ids):
                grown = np.zeros(2 * (k + n_sent), np.int64)
                grown[:k] = e.exit_ids[:k]
                e.exit_ids = grown
            e.exit_ids[k : k + n_sent] = accepted["order_id"][len(accepted) - n_sent :]
            e.n_exit_ids = k + n_sent
        await self._send(accepted, 0)

    # ------------------------------------------------------------------ reports back
    def _inbound(self, msg: Any, session: str = "") -> None:
        mt = msg.msg_type
        c = self.state.counters
        if mt == S.EXECUTION_REPORT:
            rec = self.decoder.decode(msg)
            c["exec_reports"] += 1
            if rec is None:
                c["exec_unmapped"] += 1
            else:
                if self.journal is not None:
                    self.journal.fix_in(self.fix_index.get(session, 0), int(msg.seq))
                self._book_wire(rec)
        elif mt == S.ORDER_CANCEL_REJECT and self.journal is not None:
            self._reconcile_reject(msg)
        elif mt == S.ORDER_MASS_CANCEL_REPORT:
            c["mass_cancels"] += 1
            self.cancel_reports += 1
            if self.cancel_waiter is not None and self.cancel_reports >= self.cancel_expect:
                self._answer_cancel(timed_out=False)

    def _book_wire(self, execs: np.ndarray) -> None:
        """Reports as the venue (or a sink) gave them: journalled, ids mapped to the OMS's, booked."""
        j = self.journal
        if j is not None:
            execs = j.execs(execs)
            known = execs["order_id"] != 0
            if not known.all():
                self.state.counters["exec_unmapped"] += int(np.count_nonzero(~known))
                execs = execs[known]
            if not len(execs):
                return
        self._book(execs)

    def _book(self, execs: np.ndarray) -> None:
        self.oms.apply(execs)
        ours = execs["owner"] == self.oms.owner
        kind = execs["kind"]
        fills = ours & ((kind == EXEC_FILL) | (kind == EXEC_PARTIAL))
        if fills.any():
            self.state.quotes.version += 1  # positions changed: the risk gate re-marks its exposures
            c = self.state.counters
            c["fills"] += int(np.count_nonzero(fills))
            c["filled_qty"] += int(execs["qty"][fills].sum())

    # ------------------------------------------------------------------ kill switch
    def _open_orders(self) -> int:
        counts = self.oms.state_counts()
        return sum(v for k, v in counts.items() if k in ("new", "acked", "partially_filled"))

    async def _cancel_all(self, from_: From) -> Any:
        st = self.state
        st.stopping = True
        if self.journal is not None:
            self.journal.control(1)
        self.pipe.risk.engage_kill_switch(time.time_ns())
        self.cancel_info = {"open_before": self._open_orders()}
        n = await self.sink.cancel_all()
        self.cancel_info["requests"] = n
        if self.sink.name != "fix" or n == 0:
            self.cancel_reports = 0
            self.cancel_waiter = from_
            self._answer_cancel(timed_out=False)
            return NOREPLY
        self.cancel_expect, self.cancel_reports, self.cancel_waiter = n, 0, from_
        self.cancel_timer = self.node.send_after(st.config.stop_timeout_s, self.pid, _CANCEL_TIMEOUT)
        return NOREPLY

    def _answer_cancel(self, *, timed_out: bool) -> None:
        w, self.cancel_waiter = self.cancel_waiter, None
        if w is None:
            return
        if self.cancel_timer is not None:
            self.node.cancel_timer(self.cancel_timer)
            self.cancel_timer = None
        self.reply(
            w,
            dict(
                self.cancel_info,
                reports=self.cancel_reports,
                open_after=self._open_orders(),
                timed_out=timed_out,
            ),
        )

    # ------------------------------------------------------------------ figures
    def stats(self) -> dict[str, Any]:
        """P&L (USD, marked on the current mids), positions (shares, non-zero only), order states."""
        pf = self.pipe.portfolio
        pf.mark(self.state.quotes.mid)
        tickers = self.state.dictionaries[1]
        pos = {tickers.string(int(k)): int(pf.position[k]) for k in np.flatnonzero(pf.position)}
        return {
            "realized_usd": pf.realized_total,
            "unrealized_usd": pf.unrealized_total,
            "pnl_usd": pf.realized_total + pf.unrealized_total,
            "positions": pos,
            "orders": self.oms.state_counts(),
            "risk_rejects": self.pipe.risk.rejections(),
            "sink": self.sink.name,
            "sessions_up": dict(self.state.session_up),
        }
