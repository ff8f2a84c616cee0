"""The trading desk of the replay: corroboration decisions → signal → pre-trade risk → venue → OMS/portfolio,
stepped in simulated time against the exchange simulator.

Time and latency are a model, never a measurement (:mod:`cns.replay.latency`): each decision is acted on at
``ts_ns + feed_ns + decision latency`` — a constant or a per-decision seeded draw, the same on every machine —
and the venue path takes ``entry_ns`` (order → book), ``md_ns`` (quote → desk) and ``return_ns`` (execution
report → desk). The fast desk and the slow (LLM-desk) baseline run the same model with their own decision
latency. Nothing the host measures (the in-kernel stamps) changes a trade.

No lookahead. Decisions are acted on in the order of their act times; the venue is advanced to the first act
time of each group (decisions whose act times fall in one ``slice_ns`` slot; the default, 1 ns, makes every
act time its own group) and the group is priced on the quotes the desk sees then, i.e. as they were
``md_ns`` earlier — exact for the group's first decision, at most ``slice_ns`` older for the others, never
newer. Orders are stamped at their own act time. P&L is marked and
exposure re-marked on the same delayed quotes (never the live book), and execution reports reach the
OMS/portfolio ``return_ns`` after the venue produced them (an order stays open for risk until then). At the
end of the run the reports still on their way are booked: those trades happened.

Exits: ``signal.hold_ns`` after an entry order was sent (0: never), the desk unwinds the shares it filled with
an IOC ``signal.exit_aggress_bps`` through the mid and cancels whatever of the entry still rests. Per
instrument, the exit trades the position down to what the entries not yet due still hold (never through
zero), capped by the order size limits; it goes through pre-trade risk like any order (an order that does not
raise the worst-case position passes the position and gross-exposure limits). Exits due in a slice are sent
at the slice time, before that slice's entries, and at every P&L snapshot (so they happen in quiet periods
too); what could not go out or fill (no mid, size cap, risk reject, IOC not filled) is retried
``exit_retry_ns`` later, and an exit IOC still in flight counts as done until it reports.

The market: the venue is :class:`~cns.market.exchange.ExchangeSimulator` built with the public reports of the
replayed news (``DeskConfig.reports``) and the street's source estimates (``DeskConfig.source_reliability``):
its market maker and competitors trade on the same news as the desk, after their own latencies, and only the
informed background takers read the hidden value. Every fill pays the venue's maker/taker fee
(``EXEC_DTYPE.fee``), which the pipeline books into realised P&L (``DeskResult.fees``: paid, rebates, net).
``DeskResult.market`` records every owner's marked P&L and fees at the end of the pass and the quoted spreads
the desk saw at its P&L snapshots. ``DeskConfig.exchange`` plugs in another venue instead (any
:class:`~cns.market.venue_api.Exchange`, e.g. a recorded market), built afresh for each pass.

Stepping: over the default venue, runs of quiet slices (no report, snapshot, exit or accepted entry) go
through one compiled call (:mod:`cns.replay.desk_fused`) that calls the same kernels in the same order as
the Python path below; the trades are the same bit for bit.

Binding limits: every pre-trade rejection is recorded per check — candidates dropped (entries and exits
apart) and the first and last time (order stamp, ns since the open) — in ``DeskResult.risk_limits``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from cns.market.exchange import ExchangeSimulator, SimConfig
from cns.market.sim_config import IDLE_AFTER_NS
from cns.market.venue_api import Exchange
from cns.replay.attribution import attribute
from cns.replay.desk_config import SEC_NS, DeskConfig, DeskResult
from cns.replay.desk_fused import QuietRunner
from cns.replay.desk_kernels import NEVER_NS as _NEVER_NS
from cns.replay.desk_kernels import note_rejects, plan_exits, stamp_orders
from cns.replay.latency import DecisionLatency, LatencyModel
from cns.replay.spreads import spread_percentiles
from cns.telemetry.stats import sample_mask
from cns.trading.config import DAY_NS, Range, checked_number
from cns.trading.corroborate import stamp_calibration
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE, DECISION_DTYPE
from cns.trading.pipeline import TradingPipeline
from cns.trading.risk_kernels import REJ_DAILY_LOSS, RISK_REASON_NAMES
from cns.venue.dtypes import EXEC_DTYPE, EXEC_FILL, EXEC_PARTIAL, ORDER_CANCEL, ORDER_DTYPE


class TradingDesk:
    """One trading pass over a market: owns a fresh venue (:class:`ExchangeSimulator`, or what
    ``DeskConfig.exchange`` builds) and :class:`TradingPipeline`.

    ``latency``: the :class:`LatencyModel` to trade at; a :class:`DecisionLatency` or an int (a constant,
    ns, in ``[0, DAY_NS]``, else :class:`ConfigError` naming ``desk.decision_latency_ns``) replaces only the
    decision hop of the config's ``[latency]`` model; None uses that model as it is. ``slice_ns`` groups
    decisions for stepping (see the module docstring); ``snapshot_ns`` is the P&L series interval.
    """

    def __init__(
        self, config: DeskConfig, latency: LatencyModel | DecisionLatency | int | None = None
    ) -> None:
        c = config
        model = _latency_model(c, latency)
        self.latency = model
        self.decision_latency_ns = model.decision.p50_ns  # the median (the constant, for a constant model)
        self.pipeline = TradingPipeline(c.trading, c.sources, c.tickers, n_instruments=len(c.instruments) + 1)
        # the market idles through news gaps: stay awake past every exit (hold + retries) of an entry
        linger = max(IDLE_AFTER_NS, c.trading.signal.hold_ns + 10 * c.exit_retry_ns)
        sim_cfg = SimConfig(
            start_ns=c.start_ns,
            entry_latency_ns=model.entry_ns,
            md_latency_ns=model.md_ns,
            idle_after_ns=linger,
            keep_tape=False,  # nothing reads the venue's tape: memory follows the active window
        )
        self.sim: Exchange
        if c.exchange is None:
            self.sim = ExchangeSimulator(
                c.instruments,
                c.stories,
                sim_cfg,
                seed=c.seed,
                reports=c.reports,
                source_reliability=c.source_reliability,
            )
        else:
            self.sim = c.exchange(sim_cfg)
        self._md_ns = int(model.md_ns)
        self._spreads: list[np.ndarray] = []  # quoted spreads (bp) the desk saw at its P&L snapshots
        self._spread_counts: list[int] = []  # how many snapshots in a row saw each of them
        self._frozen_reads = isinstance(self.sim, ExchangeSimulator)  # see _repeat_frozen_snapshots
        self.stories = c.stories
        self.seed = c.seed
        self.start_ns = c.start_ns
        self.end_ns = c.end_ns
        self.slice_ns = int(c.slice_ns)
        self.snapshot_ns = int(c.snapshot_ns)
        self.sample_every = c.sample_every
        self._next_snapshot = c.start_ns
        self._orders = 0
        self._fills = 0
        self._sig_lat: list[np.ndarray] = []
        self._risk_lat: list[np.ndarray] = []
        self._decisions: list[np.ndarray] = []
        self._drawn: list[np.ndarray] = []  # the decision latencies drawn for the decisions acted on
        self._return_ns = model.return_ns
        self._pending = np.zeros(0, EXEC_DTYPE)  # execution reports on their way back, by venue time
        self._in_flight_at_end = 0
        n_codes = len(RISK_REASON_NAMES)
        self._rej_first = np.full(n_codes, -1, np.int64)  # ns since the open, per reason code
        self._rej_last = np.full(n_codes, -1, np.int64)
        self._rej_entries = np.zeros(n_codes, np.int64)
        self._rej_exits = np.zeros(n_codes, np.int64)
        self._daily_loss_pnl = float(
            "nan"
        )  # day P&L (USD) the first time the daily-loss limit dropped an order
        n1 = len(c.instruments) + 1
        self._mid = np.full(n1, np.nan)  # per-slice reference prices, reused (see on_decisions)
        self._seen_ts = np.zeros(n1, np.int64)
        self._mid_ts = np.zeros(n1, np.int64)
        self._finite = np.zeros(n1, np.bool_)
        sig = c.trading.signal
        self.hold_ns = int(sig.hold_ns)
        self.exit_retry_ns = c.exit_retry_ns
        self._exit_frac = float(sig.exit_aggress_bps) * 1e-4
        self._max_qty = int(c.trading.risk.max_order_qty)
        self._max_notional = float(c.trading.risk.max_order_notional_usd)
        self._due_row = 0  # OMS table rows before this one are entries already due (or not entries)
        self._next_exit: int = _NEVER_NS  # earliest time the exit pass has work
        self._exit_ids = np.zeros(n1, np.int64)  # [:_n_exit_ids]: exit IOCs sent, maybe still in flight
        self._n_exit_ids = 0
        self._exit_orders = 0
        self._exit_cancels = 0
        self._keep = np.zeros(n1, np.int64)  # scratch of the exit kernel
        self._batch = np.zeros(1024, ORDER_DTYPE)  # the exit pass's order batch, reused
        self._risk_buf = np.empty(0, np.int64)  # risk-stage stamps of the current on_decisions call
        self._risk_pattern = np.empty(0, np.int64)  # their request pattern (sample_mask)
        self._n_risk = 0
        self._unflushed = False  # the venue is at its clock with reports for the desk not yet taken
        self._stamp_cal = stamp_calibration()  # the stamping kernels' (ns_per_cycle, overhead_cycles)
        self._quiet = QuietRunner(self) if isinstance(self.sim, ExchangeSimulator) else None

    # ---- stepping ------------------------------------------------------------------------------------------
    def _advance(self, t_ns: int) -> None:
        """Run the venue to ``t_ns``, booking fills and taking P&L snapshots on the way."""
        while self._next_snapshot <= t_ns:
            ts = self._next_snapshot
            self._step_venue(ts)
            # marks and exposure on the quotes the desk sees (md_ns old), never the live book
            mid, mid_ts = self._reference(ts)
            self.pipeline.portfolio.snapshot(ts, mid)
            self._sample_spreads(ts)
            self.pipeline.risk.refresh(mid)
            exiting = ts >= self._next_exit
            if exiting:
                self._exits(ts, mid, mid_ts)
            self._next_snapshot += self.snapshot_ns
            if not exiting and self._frozen_reads and not len(self._pending):
                self._repeat_frozen_snapshots(ts, t_ns)
        self._step_venue(t_ns)

    def _repeat_frozen_snapshots(self, ts: int, t_ns: int) -> None:
        """After the snapshot at ``ts``: the snapshots up to ``t_ns`` that would see the same quotes (an idle
        venue whose book has not changed since before ``ts - md_ns`` and will not before they read it), with
        no exit due and no report on its way, are that snapshot again — appended at once, the venue stepped
        once later. The same spreads and trades as taking them one by one; the P&L series keeps the last of
        them only (the ones between mark the same)."""
        since, until = self.sim.frozen_span()  # type: ignore[attr-defined]
        if ts - self._md_ns < since:
            return
        last = min(t_ns, until + self._md_ns - 1, self._next_exit - 1)
        k = (last - self._next_snapshot) // self.snapshot_ns + 1
        if k < 1:
            return
        self._next_snapshot += k * self.snapshot_ns
        self.pipeline.portfolio.repeat_snapshot(self._next_snapshot - self.snapshot_ns)
        self._spread_counts[-1] += k

    def _sample_spreads(self, t: int) -> None:
        """Record the quoted spread (bp of the mid) of every instrument with two sides, as the desk sees it
        (a sample equal to the previous one only counts it again: an idle market's snapshots cost no memory)."""
        bid, ask, _ = self.sim.reference_quotes(t)
        with np.errstate(invalid="ignore"):
            sp = (ask - bid) / (0.5 * (ask + bid)) * 1e4
        sp = sp[np.isfinite(sp)]
        if self._spreads and np.array_equal(sp, self._spreads[-1]):
            self._spread_counts[-1] += 1
        else:
            self._spreads.append(sp)
            self._spread_counts.append(1)

    def _market(self) -> dict[str, Any]:
        """The market over this pass: every owner's marked P&L and fees (USD), the quoted spreads the desk saw
        at its P&L snapshots (bp percentiles), how far the mids were from the hidden value at the end
        (evaluation only) and, on a recorded market, the book's trades next to the recorded ones."""
        spread = spread_percentiles(self._spreads, self._spread_counts, (10, 50, 90))
        sim = self.sim
        marks, fund = sim.mark_prices()[1:], sim.fundamentals()[1:]
        dev = np.abs(marks / fund - 1.0) * 1e4
        dev = dev[np.isfinite(dev)]
        out = {
            "pnl": sim.pnl(),
            "fees": sim.fees(),
            "spread_bp": spread,
            "mid_vs_hidden_value_bp_p50_at_end": float(np.median(dev)) if len(dev) else float("nan"),
            "public_reports": int(sim.n_public_reports),
        }
        compare = getattr(sim, "trade_comparison", None)  # a recorded market: its trades next to the tape's
        if compare is not None:
            out["recorded_vs_book"] = compare()
        return out

    def _reference(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """The desk's reference mids and their times at ``t`` (the live feed, ``md_latency_ns`` old), in the
        reused buffers: a missing/NaN/zero mid gets time 0 (the risk gate fails it closed)."""
        mid, mid_ts, finite = self._mid, self._mid_ts, self._finite
        self.sim.reference_prices(t, out=(mid, self._seen_ts))
        np.isfinite(mid, out=finite)
        np.multiply(finite, t - self._md_ns, out=mid_ts)
        return mid, mid_ts

    def _exits(self, t: int, mid: np.ndarray, mid_ts: np.ndarray) -> None:
        """Send the exits (and cancels of still-resting entries) due at ``t``; see the module docstring."""
        if self.hold_ns <= 0:
            self._next_exit = _NEVER_NS
            return
        p = self.pipeline
        oms = p.oms
        first_id = int(oms.id_counter[0])
        n_rows = first_id - oms.base_id  # may run past the end of the table: the kernel stops there
        need = n_rows - self._due_row + len(self._keep)  # at most one cancel per row, one exit per instrument
        if need > len(self._batch):
            self._batch = np.zeros(max(need, 2 * len(self._batch)), ORDER_DTYPE)
        self._due_row, n_cancel, n_exit, self._n_exit_ids, self._next_exit = plan_exits(
            oms.table,
            self._due_row,
            n_rows,
            t,
            self.hold_ns,
            self.exit_retry_ns,
            p.portfolio.position,
            mid,
            self._keep,
            self._exit_ids,
            self._n_exit_ids,
            first_id,
            oms.base_id,
            self._exit_frac,
            self._max_qty,
            self._max_notional,
            self._batch,
        )
        n = n_cancel + n_exit
        if n == 0:
            return
        oms.id_counter[0] += n
        batch = self._batch[:n]
        accepted, reasons = p.risk.check(batch, mid, mid_ts, t)  # a copy: the batch buffer is reused
        if len(accepted) < n:
            self._note_rejects(reasons, batch, self._rej_exits)
        if len(accepted):
            self.sim.submit(accepted)
            n_sent = int(np.count_nonzero(accepted["type"] != ORDER_CANCEL))  # the exits: after the cancels
            self._exit_orders += n_sent
            self._orders += n_sent
            self._exit_cancels += len(accepted) - n_sent
            if n_sent:
                k = self._n_exit_ids
                if k + n_sent > len(self._exit_ids):
                    grown = np.zeros(2 * (k + n_sent), np.int64)
                    grown[:k] = self._exit_ids[:k]
                    self._exit_ids = grown
                self._exit_ids[k : k + n_sent] = accepted["order_id"][len(accepted) - n_sent :]
                self._n_exit_ids = k + n_sent

    def _step_venue(self, t_ns: int) -> None:
        """Run the venue to ``t_ns`` and book the execution reports that are back by then (venue time +
        ``return_ns`` <= ``t_ns``); later ones wait in ``_pending``."""
        if t_ns > self.sim.now_ns or self._unflushed:  # unflushed: the quiet-slice kernel stepped the venue
            self._unflushed = False
            execs = self.sim.advance_to(t_ns)
            if len(execs):
                if self._return_ns == 0 and not len(self._pending):
                    self._book(execs)
                    return
                self._pending = np.concatenate((self._pending, execs)) if len(self._pending) else execs
        if len(self._pending):
            self._release(t_ns - self._return_ns)

    def _release(self, until_ns: int) -> None:
        """Book the pending reports produced at or before venue time ``until_ns``."""
        p = self._pending
        ts = p["ts_ns"]
        if len(p) > 1 and bool(np.any(ts[1:] < ts[:-1])):  # the venue reports in time order; stay correct
            p = self._pending = p[np.argsort(ts, kind="stable")]
            ts = p["ts_ns"]
        k = int(np.searchsorted(ts, until_ns, side="right"))
        if k:
            self._book(p[:k])
            self._pending = p[k:]

    def _book(self, execs: np.ndarray) -> None:
        """Apply reports to the OMS/portfolio; count our fills (reports of other owners are ignored there)."""
        kind = execs["kind"]
        ours = execs["owner"] == self.pipeline.oms.owner
        self._fills += int(np.count_nonzero(ours & ((kind == EXEC_FILL) | (kind == EXEC_PARTIAL))))
        self.pipeline.on_execs(execs)

    def _note_rejects(self, reasons: np.ndarray, orders: np.ndarray, counts: np.ndarray) -> None:
        """Record the checks that dropped some of ``orders`` (see ``DeskResult.risk_limits``)."""
        new = note_rejects(reasons, orders, self.start_ns, self._rej_first, self._rej_last, counts)
        if new & (1 << REJ_DAILY_LOSS):
            self._daily_loss_pnl = self.pipeline.portfolio.day_pnl

    def on_decisions(self, decisions: np.ndarray) -> None:
        """Act on ``decisions`` (DECISION_DTYPE, any order) in simulated time; see the module docstring.

        Only trade and contingency decisions can make orders; the others are recorded, not stepped through.
        Each is acted on at ``ts_ns + feed_ns + its drawn decision latency``, in the order of those times.
        """
        self._decisions.append(decisions)
        decisions = decisions[
            (decisions["action"] == ACTION_TRADE) | (decisions["action"] == ACTION_CONTINGENCY)
        ]
        if len(decisions) == 0:
            return
        decisions, act_at = self._act_order(decisions)
        self.sim.expect_activity(act_at)  # the market is awake and warmed up when the desk acts
        n = len(decisions)
        starts, ends = self._slices(act_at)
        # latency-stamp requests of every slice at once: every sample_every-th decision from a slice's start
        # (a slice's candidates, at most one per decision, use the plain pattern)
        sig_lat_all = sample_mask(n, self.sample_every, starts)
        self._risk_buf = np.empty(n, np.int64)
        self._risk_pattern = sample_mask(n, self.sample_every)
        self._n_risk = 0
        if self._quiet is not None:  # quiet slices in one compiled call, the others below
            self._quiet.run(decisions, act_at, starts, ends, sig_lat_all, n)
        else:
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                self._slice(decisions, act_at, a, b, sig_lat_all, n)
        self._sig_lat.append(sig_lat_all)
        self._risk_lat.append(self._risk_buf[: self._n_risk])

    def _slice(
        self, decisions: np.ndarray, act_at: np.ndarray, a: int, b: int, sig_lat_all: np.ndarray, n: int
    ) -> None:
        """Act on the sorted ``decisions[a:b]`` of one slice (act times ``act_at[a:b]``)."""
        act_a = int(act_at[a])
        # the group's first act time: the desk knows the quotes of t - md_latency, nothing later
        t = max(act_a, self.sim.now_ns)
        mid, mid_ts = self._prepare_slice(t)
        group = decisions[a:b]
        candidates = self.pipeline.signal.orders(group, mid, lat_ns=sig_lat_all[a:b])
        if len(candidates) == 0:
            return  # nothing to check: the risk gate would see an empty batch
        # each order is stamped when the desk acts on the decision that made it
        if b - a == 1:
            candidates["ts_ns"] = max(act_a, t)
        else:
            stamp_orders(candidates, group["news_id"], act_at[a:b], t)
        self._send_entries(candidates, mid, mid_ts, t, n)

    def _act_order(self, decisions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Draw each decision's latency and sort ``decisions`` by their act times (returned with them)."""
        drawn = self.latency.decision.draw(decisions["news_id"], self.seed)
        self._drawn.append(drawn)
        act_at = decisions["ts_ns"] + (self.latency.feed_ns + drawn)
        by_time = np.argsort(act_at, kind="stable")
        return decisions[by_time], act_at[by_time]

    def _slices(self, act_at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end indices of the groups of sorted ``act_at`` sharing one ``slice_ns`` slot."""
        slot = (act_at - self.start_ns) // self.slice_ns
        bounds = np.flatnonzero(np.diff(slot)) + 1
        return np.concatenate(([0], bounds)), np.concatenate((bounds, [len(act_at)]))

    def _prepare_slice(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Step the venue to ``t``, read the quotes the desk sees then, send the exits due and re-mark exposure."""
        self._advance(t)
        # the feed is live: the book as of t - md_latency is what the desk knows at t, however long ago
        # that quote last changed; only a missing/NaN/zero mid fails the collar closed
        mid, mid_ts = self._reference(t)
        if t >= self._next_exit:
            self._exits(t, mid, mid_ts)
        if self.hold_ns > 0:  # exits recycle exposure: re-mark it now, not only at the next snapshot
            self.pipeline.risk.refresh(mid)
        return mid, mid_ts

    def _send_entries(
        self, candidates: np.ndarray, mid: np.ndarray, mid_ts: np.ndarray, t: int, n: int
    ) -> None:
        """Pre-trade risk on a slice's stamped ``candidates`` (sampled latency stamps) and submit what passes."""
        nc = len(candidates)
        n_risk = self._n_risk
        if n_risk + nc > len(self._risk_buf):  # more than one order per decision: never, but stay correct
            self._risk_buf = np.concatenate((self._risk_buf[:n_risk], np.empty(max(n, nc), np.int64)))
            self._risk_pattern = sample_mask(max(n, nc), self.sample_every)
        risk_lat = self._risk_buf[n_risk : n_risk + nc]
        risk_lat[:] = self._risk_pattern[:nc]
        self._n_risk = n_risk + nc
        accepted, reasons = self.pipeline.risk.check(candidates, mid, mid_ts, t, lat_ns=risk_lat)
        self._entries_checked(candidates, accepted, reasons)

    def _accepted(self, candidates: np.ndarray, reasons: np.ndarray, n_ok: int) -> None:
        """The rest of :meth:`_send_entries` after the quiet-slice kernel's risk check accepted ``n_ok``."""
        self._entries_checked(candidates, self.pipeline.risk.register(candidates, reasons, n_ok), reasons)

    def _entries_checked(self, candidates: np.ndarray, accepted: np.ndarray, reasons: np.ndarray) -> None:
        """Note the entries risk dropped and send the ``accepted`` ones."""
        if len(accepted) < len(candidates):
            self._note_rejects(reasons, candidates, self._rej_entries)
        if len(accepted):
            self.sim.submit(accepted)
            self._orders += len(accepted)
            if self.hold_ns > 0:
                self._next_exit = min(self._next_exit, int(accepted["ts_ns"][0]) + self.hold_ns)

    def finish(self) -> DeskResult:
        """Run the venue to the end of the replay, mark to market and summarise."""
        end_ns = max(self.end_ns, self.sim.now_ns)
        self._close(end_ns)
        result = self._result(end_ns)
        if len(self.stories):
            result = replace(result, attribution=attribute(result, self.sim, self.stories))
        return result

    def _close(self, end_ns: int) -> None:
        """Run the venue to ``end_ns``, book the reports still in flight and take the last P&L mark."""
        self._advance(end_ns)
        self._in_flight_at_end = len(self._pending)
        if self._in_flight_at_end:  # still on their way back: the trades happened, book them
            self._release(_NEVER_NS)
        mid, _ = self._reference(end_ns)  # the last quotes the desk sees, md_ns old
        self.pipeline.portfolio.snapshot(end_ns, mid)

    def _result(self, end_ns: int) -> DeskResult:
        """The :class:`DeskResult` of the closed pass (without the attribution)."""
        p = self.pipeline
        series = p.portfolio.pnl_series()
        filled = p.oms.filled_orders()
        n_filled = len(filled)
        return DeskResult(
            orders=self._orders,
            fills=self._fills,
            filled_orders=n_filled,
            realized=p.portfolio.realized_total,
            unrealized=p.portfolio.unrealized_total,
            hit_rate=p.portfolio.hit_rate(),
            fill_rate=n_filled / self._orders if self._orders else float("nan"),
            risk_rejects=p.risk.rejections(),
            signal_latency_ns=_cat(self._sig_lat),
            risk_latency_ns=_cat(self._risk_lat),
            pnl_t_s=(series["ts_ns"] - self.start_ns) / SEC_NS,
            pnl_usd=series["realized"] + series["unrealized"],
            venue=self.sim.stats(),
            decisions=_cat(self._decisions, DECISION_DTYPE),
            exit_orders=self._exit_orders,
            exit_cancels=self._exit_cancels,
            hold_ns=self.hold_ns,
            filled_rows=filled,
            end_ns=end_ns,
            latency=self.latency.to_dict(),
            decision_latency_ns=_summary(_cat(self._drawn)),
            risk_limits=self._risk_limits(),
            reports_in_flight_at_end=self._in_flight_at_end,
            fees={
                "paid": float(p.portfolio.fees_paid.sum()),
                "rebates": float(p.portfolio.rebates_earned.sum()),
                "net": p.portfolio.fees_total,
            },
            market=self._market(),
        )

    def _risk_limits(self) -> dict[str, dict[str, Any]]:
        """Per check that dropped at least one candidate: entries and exits dropped, first and last time
        (order stamp, ns since the open); the daily-loss limit adds the day P&L (USD) when it first bound."""
        out: dict[str, dict[str, Any]] = {}
        for code, name in enumerate(RISK_REASON_NAMES):
            if code == 0 or self._rej_first[code] < 0:
                continue
            out[name] = {
                "entries_dropped": int(self._rej_entries[code]),
                "exits_dropped": int(self._rej_exits[code]),
                "first_ns": int(self._rej_first[code]),
                "last_ns": int(self._rej_last[code]),
            }
        if "daily_loss" in out:
            out["daily_loss"]["day_pnl_at_first_usd"] = self._daily_loss_pnl
        return out


def _latency_model(config: DeskConfig, latency: LatencyModel | DecisionLatency | int | None) -> LatencyModel:
    """The model a desk runs with (see :class:`TradingDesk`)."""
    if isinstance(latency, LatencyModel):
        return latency
    base = LatencyModel.from_config(config.trading.latency)
    if latency is None:
        return base
    if isinstance(latency, DecisionLatency):
        return base.with_decision(latency)
    return base.with_decision(checked_number(latency, int, Range(0, DAY_NS), "desk.decision_latency_ns"))


def _summary(ns: np.ndarray) -> dict[str, float]:
    """n, p50, p99, max of drawn latencies (ns; NaN when none)."""
    if not len(ns):
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {
        "n": int(len(ns)),
        "p50": float(np.percentile(ns, 50)),
        "p99": float(np.percentile(ns, 99)),
        "max": float(ns.max()),
    }


def _cat(parts: list[np.ndarray], dtype: np.dtype | type = np.int64) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)
