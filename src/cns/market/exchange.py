"""ExchangeSimulator: an event-driven venue over simulated time, with the simulated market trading on it.

Usage (the replay drives it)::

    reports = public_reports(world.batch.records, world.story_of)     # cns.market.public: what anyone can read
    sim = ExchangeSimulator(default_instruments(500), stories, SimConfig(start_ns=epoch), seed=7,
                            reports=reports, source_reliability=table.reliability())
    sim.submit(orders)                 # ORDER_DTYPE; each reaches the venue at ts_ns + entry_latency_ns
    reports = sim.advance_to(t_ns)     # EXEC_DTYPE reports for external owners (0 = CNS) produced up to t_ns
    mid, ts = sim.reference_prices(t_ns)   # quotes as seen at t_ns, i.e. as they were md_latency_ns earlier
    marks = sim.mark_prices()          # live mid (else last trade, else opening price) for mark-to-market

Times are absolute ns since the epoch. The venue clock runs from ``start_ns`` to at most ``start_ns +
max_span_ns`` (default 8 h): ``advance_to`` past that, or outside int64, raises :class:`SimClockError` rather
than simulating (and allocating for) an absurd span; the mid/fundamental snapshots are thinned to at most
``max_snapshots`` whatever the span. Index ``k`` of per-instrument arrays is ticker code ``k``
(``instruments[k - 1]``); index 0 is unused (NaN / 0). Owners 1..2+len(competitors) belong to the simulator
(market maker, background takers, competitors); any other owner may submit orders; positions, cash (net of
fees) and fees are kept for owner 0 and the simulator's owners.

Who knows what: ``stories`` (the hidden truth) only move the hidden fundamental, which only the informed
background takers read. The market maker and the competitors act on ``reports`` (public, REPORT_DTYPE) after
their own latency, weighted by their own estimate of each source (``source_reliability``: the street's
probability that a source's claimed direction is right, by source code; each participant perturbs it with
seeded noise), and the market maker also on the signed flow of the trade tape. Without ``reports`` nobody
trades on news: prices learn the truth only from informed flow.

Every fill pays the venue's :class:`~cns.venue.book.FeeSchedule` (``SimConfig.fees``), reported per fill in
``EXEC_DTYPE.fee`` and summed per owner by :meth:`ExchangeSimulator.fees`; self-trade prevention
(``SimConfig.stp``) is cancel-newest by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cns.market import sim_kernels as S
from cns.market import sim_kernels_state as L
from cns.market.dtypes import STORY_DTYPE
from cns.market.exchange_quotes import QuoteView, _compiled
from cns.market.prices import BackgroundStream, lot_sizes
from cns.market.public import REPORT_DTYPE, check_reports
from cns.market.sim import (
    FIRST_COMPETITOR,
    OWNER_CNS,
    OWNER_MARKET_MAKER,
    OWNER_TAKERS,
    competitor_schedule,
    impact_schedule,
    mm_news_schedule,
    participant_weights,
)
from cns.market.sim_config import SimConfig
from cns.market.timebounds import NEVER_NS, sat_add
from cns.signals.universe import InstrumentInfo
from cns.venue import book_kernels as K
from cns.venue.book import TRADE_DTYPE, allocate_book, check_orders
from cns.venue.dtypes import EXEC_DTYPE, ORDER_DTYPE
from cns.venue.errors import ReservedOwnerError, SimClockError, VenueConfigError


class ExchangeSimulator(QuoteView):
    """The venue plus its simulated participants; deterministic for a given seed, stories, reports, source
    reliability and order flow.

    ``reports``: the public news (``cns.market.public.REPORT_DTYPE``, e.g. :func:`cns.market.public.
    public_reports`), what the market maker and competitors trade on; None = no news trading.
    ``source_reliability``: the street's estimate, per source code, of the probability that a source's claimed
    direction is right (e.g. ``CredibilityTable.reliability()`` of a calibrated table); None =
    ``MarketConfig.default_reliability`` for every source. Neither ever sees ``stories``.
    """

    def __init__(
        self,
        instruments: Sequence[InstrumentInfo],
        stories: np.ndarray | None = None,
        config: SimConfig | None = None,
        seed: int = 0,
        *,
        reports: np.ndarray | None = None,
        source_reliability: np.ndarray | None = None,
    ) -> None:
        cfg = config or SimConfig()
        self.config = cfg
        n = len(instruments)
        if n < 1:
            raise VenueConfigError("ExchangeSimulator needs at least one instrument")
        stories = np.zeros(0, STORY_DTYPE) if stories is None else stories
        if not isinstance(stories, np.ndarray) or stories.dtype != STORY_DTYPE:
            raise VenueConfigError("stories must be a cns.market.dtypes.STORY_DTYPE array")
        reports = check_reports(np.zeros(0, REPORT_DTYPE) if reports is None else reports, n)
        mk = cfg.market
        self._rng = np.random.default_rng(seed)
        ref = np.concatenate(([np.nan], [float(x.price) for x in instruments]))
        self.n_owners = FIRST_COMPETITOR + len(mk.competitors)
        self.owner_names = ("cns", "market_maker", "takers") + tuple(c.name for c in mk.competitors)
        # the simulator's owners: no reports, and out of the id index (the market maker cancels by pool slot;
        # takers and competitors only send IOC / market orders, which never rest)
        emit = np.full(self.n_owners, K.EMIT_UNINDEXED, np.uint8)
        emit[OWNER_CNS] = K.EMIT_REPORTS
        self.book = allocate_book(
            ref,
            tick_bp=cfg.tick_bp,
            levels=cfg.levels,
            capacity=cfg.order_capacity,
            tracked_owners=self.n_owners,
            emit=emit,
            fees=cfg.fees,
            stp=cfg.stp,
        )
        imp_t, imp_i, imp_f = impact_schedule(stories, n)
        # the participants' own source weights (row 0: market maker, 1..: competitors), drawn from the seed only
        n_src = max(
            int(reports["source"].max()) + 1 if reports.shape[0] else 1,
            0 if source_reliability is None else int(np.asarray(source_reliability).shape[0]),
        )
        if n_src > 1 << 20:
            raise VenueConfigError(f"source_reliability has {n_src} entries; at most 2**20 source codes")
        weights = participant_weights(source_reliability, n_src, 1 + len(mk.competitors), mk, self._rng)
        nw_t, nw_i, nw_d = mm_news_schedule(reports, weights[0], mk)
        plan = competitor_schedule(reports, weights[1:], mk, seed)
        self.n_public_reports = int(reports.shape[0])
        fl = mk.flow
        par = np.zeros(L.PAR_SIZE)
        par[L.P_VOL] = mk.flow.vol_per_sqrt_s
        par[L.P_HALF_SPREAD] = mk.flow.mm_half_spread_bp * 1e-4
        par[L.P_CROSS_TICKS] = mk.flow.taker_cross_ticks
        par[L.P_AGGRESSION] = mk.aggression_bp * 1e-4
        par[L.P_SNAPSHOT_NS] = cfg.snapshot_ns
        par[L.P_HOLD_NS] = mk.hold_ns
        par[L.P_REFILL_NS] = fl.mm_refill_ns
        par[L.P_KYLE] = fl.mm_flow_bp_per_lot * 1e-4
        par[L.P_FLOW_MAX] = fl.mm_flow_max_bp * 1e-4
        par[L.P_VOL_TAU_NS] = fl.mm_vol_window_ns
        par[L.P_VOL_MULT] = fl.mm_vol_spread_mult
        par[L.P_INV_SKEW] = fl.mm_inventory_skew_bp_per_lot * 1e-4
        par[L.P_INV_SKEW_MAX] = fl.mm_inventory_skew_max_bp * 1e-4
        par[L.P_INV_SPREAD] = fl.mm_inventory_spread_bp_per_lot * 1e-4
        par[L.P_MAX_HALF_SPREAD] = fl.mm_max_half_spread_bp * 1e-4
        par[L.P_INF_EDGE] = fl.informed_edge_bp * 1e-4
        par[L.P_INF_MAX_LOTS] = fl.informed_max_notional_usd / fl.mm_level_notional_usd
        n1, d, r = n + 1, mk.flow.mm_levels, cfg.quote_history
        cur = np.zeros(L.CUR_SIZE, np.int64)
        cur[L.C_NOW] = cfg.start_ns
        cur[L.C_NEXT_SNAP] = cfg.start_ns
        cur[L.C_OPEN_POS] = 1
        cur[L.C_LAST_ACT] = cfg.start_ns  # the opening counts as activity
        cur[L.C_IDLE_AFTER] = cfg.idle_after_ns
        cur[L.C_WAKE_BEFORE] = cfg.wake_before_ns
        self.state = L.SimArrays(
            fund=ref.copy(),
            fund_t=np.full(n1, cfg.start_ns, np.int64),
            ref_px=ref,
            mm_id=np.zeros((n1, 2, d), np.uint64),
            mm_lvl=np.full((n1, 2, d), -1, np.int32),
            mm_slot=np.full((n1, 2, d), -1, np.int64),
            mm_qty=lot_sizes(ref, fl.mm_level_notional_usd),
            mm_est=ref.copy(),
            mm_var=np.zeros(n1),
            mm_var_t=np.full(n1, cfg.start_ns, np.int64),
            rq_t=np.zeros(n1, np.int64),
            rq_i=np.zeros(n1, np.int64),
            rq_pending=np.zeros(n1, np.uint8),
            tk_qty=lot_sizes(ref, fl.taker_notional_usd).astype(np.float64),
            q_ts=np.zeros((n1, r), np.int64),
            q_bid=np.full((n1, r), np.nan),
            q_ask=np.full((n1, r), np.nan),
            q_cnt=np.zeros(n1, np.int64),
            q_head=np.zeros(n1, np.int64),
            q_last=np.zeros((n1, 2), np.int32),
            imp_t=imp_t,
            imp_instr=imp_i,
            imp_factor=imp_f,
            nw_t=nw_t,
            nw_instr=nw_i,
            nw_dlog=nw_d,
            cp_off=plan.offset,
            cp_t=plan.t_ns,
            cp_instr=plan.instrument,
            cp_side=plan.side,
            cp_notional=plan.notional_usd,
            cp_md=plan.md_latency_ns,
            cp_pos=np.repeat(plan.offset[None, :-1], 2, axis=0).copy(),
            req=np.zeros(4 * d + 2, ORDER_DTYPE),
            req_mm=np.full(4 * d + 2, -1, np.int64),
            req_slot=np.full(4 * d + 2, -1, np.int64),
            cur=cur,
            par=par,
        )
        self._stream = BackgroundStream(n, fl, self._rng, cfg.start_ns)
        self.end_limit_ns = int(cfg.start_ns) + int(cfg.max_span_ns)  # the clock never passes this
        n_snap = min(1024, cfg.max_snapshots)
        # pending external orders: ``_ext_buf[C_EXT_POS:_ext_n]``, sorted by arrival; io.ext/ext_at view [:_ext_n]
        self._ext_buf = np.zeros(256, ORDER_DTYPE)
        self._at_buf = np.zeros(256, np.int64)
        self._ext_n = 0
        self._io = L.SimIO(
            *self._stream.next_chunk(),
            ext=self._ext_buf[:0],
            ext_at=self._at_buf[:0],
            wake_t=np.zeros(0, np.int64),
            out=np.zeros(1 << 14, EXEC_DTYPE),
            trades=np.zeros(1 << 16, TRADE_DTYPE),
            snap_t=np.zeros(n_snap, np.int64),
            snap_mid=np.zeros((n_snap, n1)),
            snap_fund=np.zeros((n_snap, n1)),
        )
        self._reports: list[np.ndarray] = []
        # the trade tape: full chunks here, the one being written is io.trades[:cur[C_N_TR]]. Chunks are never
        # copied or concatenated while running: growing one array by doubling re-copied the 0.5 GB tape of the
        # default news world and took ~5 s of the 300 s run (first touch of fresh pages is slow here)
        self._tape: list[np.ndarray] = []
        self._tape_n = 0
        self._run_fn: Any = None  # run_until's entry point for the current types of (book, state, _io)
        self._quotes_fn: Any = None  # quotes_at's entry point for internally allocated outputs
        self._mids_fn: Any = None  # mids_at's entry point for contiguous outputs
        self._no_reports = np.zeros(0, EXEC_DTYPE)
        self._n1 = ref.shape[0]
        self.late_orders = 0
        self.stale_quote_lookups = 0
        self.advance_to(cfg.start_ns)  # opening quotes on every instrument

    # ---- driving -------------------------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        """Venue time reached so far (ns since epoch)."""
        return int(self.state.cur[L.C_NOW])

    @property
    def idle(self) -> bool:
        """True while the market is idle: no background flow is simulated (see :meth:`expect_activity`)."""
        return bool(self.state.cur[L.C_IDLE])

    def idle_ns(self) -> int:
        """Simulated ns the market has spent idle so far (the current idle period up to ``now_ns`` included)."""
        c = self.state.cur
        return int(c[L.C_IDLE_NS]) + (max(0, int(c[L.C_NOW] - c[L.C_IDLE_SINCE])) if c[L.C_IDLE] else 0)

    def frozen_span(self) -> tuple[int, int]:
        """``(since, until)`` ns: the book has not changed since ``since`` and, the market being idle, nothing
        but an order arriving changes it before ``until`` (``until == now_ns`` when the market is awake).
        Valid until the next ``submit``/``expect_activity``."""
        c = self.state.cur
        return int(c[L.C_LAST_EVENT]), int(c[L.C_FROZEN_UNTIL])

    def expect_activity(self, times_ns: np.ndarray) -> None:
        """Announce times (int ns since the epoch) at which an outside trader will look at or trade on the
        market, so that it is awake and warmed up then.

        The market goes idle ``SimConfig.idle_after_ns`` after the last activity (news the market maker or a
        competitor reads, an impact, an order, an announced time) when the next known one is more than
        ``SimConfig.wake_before_ns`` away; it wakes ``wake_before_ns`` before the next. An order nobody
        announced wakes it only when it arrives, on quotes frozen since it went idle, so a trader announces
        the times it will act at (the replay desk announces its decisions' act times). Times before
        ``now_ns`` are ignored; the same announcements give the same market, bit for bit."""
        t = np.asarray(times_ns)
        if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
            raise VenueConfigError(
                "expect_activity: times_ns must be a 1-D integer array of ns since the epoch"
            )
        t = t.astype(np.int64, copy=False)
        pos, old = int(self.state.cur[L.C_WAKE_POS]), self._io.wake_t
        merged = np.sort(np.concatenate((old[pos:], t[t >= self.now_ns])), kind="stable")
        self.state.cur[L.C_WAKE_POS] = 0
        self._io = self._io._replace(wake_t=merged)

    def submit(self, orders: np.ndarray) -> None:
        """Queue external orders; each reaches the venue at ``max(ts_ns + entry_latency_ns, now_ns)``.

        Orders are matched when ``advance_to`` passes their arrival time. An arrival earlier than ``now_ns``
        (an order stamped before time already simulated) is counted in ``late_orders`` and applied at
        ``now_ns``: it can be late, never early.
        """
        orders = check_orders(orders)
        if orders.shape[0] == 0:
            return
        own = orders["owner"]
        bad = (own >= OWNER_MARKET_MAKER) & (own < self.n_owners)
        if np.any(bad):
            k = int(np.argmax(bad))
            raise ReservedOwnerError(
                f"orders[{k}].owner = {int(own[k])} is reserved for the simulator "
                f"(owners {OWNER_MARKET_MAKER}..{self.n_owners - 1}: "
                f"{', '.join(self.owner_names[1:])})"
            )
        now = self.now_ns
        arrival = sat_add(orders["ts_ns"], self.config.entry_latency_ns)  # int64 max = never arrives
        late = arrival < now
        n_late = int(np.count_nonzero(late))
        if n_late:
            self.late_orders += n_late
            arrival = np.where(late, now, arrival)
        cur = self.state.cur
        pos, n, k = int(cur[L.C_EXT_POS]), self._ext_n, orders.shape[0]
        if (pos == n or int(arrival[0]) >= int(self._at_buf[n - 1])) and (
            k == 1 or bool(np.all(arrival[1:] >= arrival[:-1]))
        ):
            # the common case: the new orders arrive after every pending one, in order — appending them
            # gives the same queue as the stable sort of pending + new
            if n + k > self._ext_buf.shape[0]:
                self._ext_room(pos, n, k)
                n = self._ext_n
            self._ext_buf[n : n + k] = orders
            self._at_buf[n : n + k] = arrival
        else:
            ext = np.concatenate((self._ext_buf[pos:n], orders))
            at = np.concatenate((self._at_buf[pos:n], arrival))
            order = np.argsort(at, kind="stable")
            k = ext.shape[0]
            self._ext_room(0, 0, k)  # empties the queue (the pending orders are in ext), grows it if needed
            n = 0
            self._ext_buf[:k] = ext[order]
            self._at_buf[:k] = at[order]
        self._ext_n = n = n + k
        self._io = self._io._replace(ext=self._ext_buf[:n], ext_at=self._at_buf[:n])

    def _ext_room(self, pos: int, n: int, k: int) -> None:
        """Make room for ``k`` more pending orders: drop the ``pos`` processed ones (and grow if needed)."""
        pend = n - pos
        cap = self._ext_buf.shape[0]
        if pend + k > cap:
            cap = max(2 * cap, pend + k)
            ext, at = np.zeros(cap, ORDER_DTYPE), np.zeros(cap, np.int64)
            ext[:pend] = self._ext_buf[pos:n]
            at[:pend] = self._at_buf[pos:n]
            self._ext_buf, self._at_buf = ext, at
        elif pend:
            self._ext_buf[:pend] = self._ext_buf[pos:n].copy()
            self._at_buf[:pend] = self._at_buf[pos:n].copy()
        self.state.cur[L.C_EXT_POS] = 0
        self._ext_n = pend

    def _time(self, what: str, t_ns: int) -> int:
        is_int = isinstance(t_ns, (int, np.integer)) and not isinstance(t_ns, bool)
        if not is_int or not -NEVER_NS <= t_ns <= NEVER_NS:
            raise SimClockError(f"{what}({t_ns!r}): a time must be an int64 number of ns since the epoch")
        return int(t_ns)

    def advance_to(self, t_ns: int) -> np.ndarray:
        """Run the venue and the market to ``t_ns``; return external owners' reports produced meanwhile.

        Raises :class:`SimClockError` for a time before the clock, outside int64, or past ``start_ns +
        max_span_ns`` (:attr:`end_limit_ns`: the simulator refuses to run an absurd span)."""
        cur = self.state.cur
        t_ns = self._time("advance_to", t_ns)
        if t_ns < cur[L.C_NOW]:
            raise SimClockError(f"advance_to({t_ns}) is before the venue clock {self.now_ns}")
        if t_ns > self.end_limit_ns:
            raise SimClockError(
                f"advance_to({t_ns}) is {(t_ns - self.config.start_ns) / 1e9:,.0f} s after the opening; the "
                f"simulator runs at most SimConfig.max_span_ns = {self.config.max_span_ns / 1e9:,.0f} s (check the "
                f"data's times)"
            )
        t = np.int64(t_ns)
        while True:
            run = self._run_fn
            if run is None:
                run = self._run_fn = _compiled(S.run_until, self.book, self.state, self._io, t)
            st = run(self.book, self.state, self._io, t)
            if st == L.ST_DONE:
                break
            self._run_fn = None  # the buffers below are replaced: re-type them on the next call
            if st == L.ST_NEED_BG:
                self._io = self._io._replace(
                    **dict(
                        zip(
                            ("bg_t", "bg_instr", "bg_kind", "bg_u", "bg_z"),
                            self._stream.next_chunk(),
                            strict=True,
                        )
                    )
                )
                cur[L.C_BG_POS] = 0
            elif st == L.ST_WAKE:
                w = int(cur[L.C_WAKE_AT])
                z, chunk = self._stream.restart(w)
                self._io = self._io._replace(
                    **dict(zip(("bg_t", "bg_instr", "bg_kind", "bg_u", "bg_z"), chunk, strict=True))
                )
                S.wake(self.state, np.int64(w), z)
            elif st == L.ST_NEED_ROOM:
                n_out, n_tr = int(cur[L.C_N_OUT]), int(cur[L.C_N_TR])
                self._flush()
                io = self._io
                n_trb, n_outb = io.trades.shape[0], io.out.shape[0]
                if n_out == 0 and n_tr == 0:  # one event needs more than the empty buffers: grow both
                    n_outb *= 2
                    io = io._replace(out=np.zeros(n_outb, EXEC_DTYPE))
                    n_trb = max(2 * n_trb, n_outb)
                    io = io._replace(trades=np.zeros(n_trb, TRADE_DTYPE))
                elif n_tr > 0 and (n_out == 0 or n_trb - n_tr < n_outb):  # retire the trade chunk
                    self._tape_n += n_tr
                    cur[L.C_N_TR] = 0
                    if self.config.keep_tape:
                        self._tape.append(io.trades[:n_tr])
                        io = io._replace(trades=np.zeros(max(min(2 * n_trb, 1 << 20), n_outb), TRADE_DTYPE))
                self._io = io
            elif st == L.ST_NEED_SNAP:
                self._snapshot_room()
        if cur[L.C_N_OUT]:
            self._flush()
        reports = self._reports
        if not reports:
            return self._no_reports  # shared: an empty array has nothing to modify
        self._reports = []
        return reports[0] if len(reports) == 1 else np.concatenate(reports)

    def _snapshot_room(self) -> None:
        """The snapshot buffers are full: double them up to ``max_snapshots``, then thin instead (keep every
        other snapshot, double the interval) so memory stays bounded whatever the span."""
        io, cur, cap = self._io, self.state.cur, self._io.snap_t.shape[0]
        if cap < self.config.max_snapshots:
            k = min(2 * cap, self.config.max_snapshots) - cap
            self._io = io._replace(
                snap_t=np.concatenate((io.snap_t, np.zeros(k, io.snap_t.dtype))),
                snap_mid=np.concatenate((io.snap_mid, np.zeros((k, io.snap_mid.shape[1])))),
                snap_fund=np.concatenate((io.snap_fund, np.zeros((k, io.snap_fund.shape[1])))),
            )
            return
        n = int(cur[L.C_N_SNAP])
        m = (n + 1) // 2
        for a in (io.snap_t, io.snap_mid, io.snap_fund):
            a[:m] = a[0:n:2]
        cur[L.C_N_SNAP] = m
        par = self.state.par
        par[L.P_SNAPSHOT_NS] = min(2.0 * par[L.P_SNAPSHOT_NS], float(1 << 62))
        cur[L.C_NEXT_SNAP] = int(sat_add(io.snap_t[m - 1], int(par[L.P_SNAPSHOT_NS])))

    def _flush(self) -> None:
        n = int(self.state.cur[L.C_N_OUT])
        if n:
            self._reports.append(self._io.out[:n].copy())
        self.state.cur[L.C_N_OUT] = 0

    # ---- what traders and reports see ----------------------------------------------------------------------

    def tick_sizes(self) -> np.ndarray:
        """Tick size per ticker code, USD (limit prices are snapped to it toward the passive side)."""
        return self.book.tick.copy()

    def fundamentals(self) -> np.ndarray:
        """The hidden fundamental value per ticker code now (USD) — for evaluation, not for trading."""
        return self.state.fund.copy()

    def mm_estimates(self) -> np.ndarray:
        """The market maker's value estimate per ticker code now (USD): what its quotes are centred on before
        the inventory skew — learnt from reports and flow, never from the fundamental (for evaluation)."""
        return self.state.mm_est.copy()

    def fees(self) -> dict[str, dict[str, float]]:
        """Fees paid and rebates earned so far per tracked owner name, USD (both >= 0): ``{"cns": {"paid":
        ..., "rebates": ..., "net": paid - rebates}, ...}``. Cash (and :meth:`pnl`) is already net of them."""
        f = self.book.fees
        return {
            name: {"paid": float(f[k, 0]), "rebates": float(f[k, 1]), "net": float(f[k, 0] - f[k, 1])}
            for k, name in enumerate(self.owner_names)
        }

    def trades(self) -> np.ndarray:
        """The venue's trade tape so far (TRADE_DTYPE, a copy); :class:`VenueConfigError` when
        ``SimConfig.keep_tape`` is False (only ``stats()["trades"]`` counts them then)."""
        if not self.config.keep_tape:
            raise VenueConfigError("trades(): this simulator was built with SimConfig.keep_tape=False")
        return np.concatenate(self._tape + [self._io.trades[: int(self.state.cur[L.C_N_TR])]])

    def snapshots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ts_ns[k], mid[k, n+1], fundamental[k, n+1])`` sampled every ``snapshot_ns`` (for plots)."""
        k = int(self.state.cur[L.C_N_SNAP])
        io = self._io
        return io.snap_t[:k].copy(), io.snap_mid[:k].copy(), io.snap_fund[:k].copy()

    def queue_position(self, owner: int, order_id: int) -> int:
        """Shares queued ahead of a resting order at its price; -1 if it is not resting."""
        return int(K.shares_ahead(self.book, np.uint32(owner), np.uint64(order_id)))

    def positions(self) -> np.ndarray:
        """Net shares ``[owner, ticker code]`` of owner 0 and the simulator's owners (see ``owner_names``)."""
        return self.book.pos.copy()

    def pnl(self) -> dict[str, float]:
        """Marked-to-market P&L per tracked owner name, USD: cash (net of fees) + position x
        :meth:`mark_prices`."""
        marks = np.nan_to_num(self.mark_prices())
        value = self.book.cash + self.book.pos @ marks
        return {name: float(value[k]) for k, name in enumerate(self.owner_names)}

    def stats(self) -> dict[str, Any]:
        """Counters of everything processed so far (ints), plus the simulated seconds spent idle (``idle_s``,
        float; ``wakes`` counts the idle periods ended) and CNS's fees paid and rebates earned (USD floats
        ``cns_fees_paid_usd`` / ``cns_rebates_usd``; every owner's: :meth:`fees`)."""
        c, m = self.state.cur, self.book.meta
        return {
            "orders": int(m[K.M_ORDERS]),
            "matches": int(m[K.M_MATCHES]),
            "cancels": int(m[K.M_CANCELS]),
            "rejects": int(m[K.M_REJECTS]),
            "resting": int(self.book.n_rest.sum()),
            "requotes": int(c[L.C_REQUOTES]),
            "refills": int(c[L.C_REFILLS]),
            "taker_orders": int(c[L.C_TAKERS]),
            "taker_skips": int(c[L.C_TAKER_SKIPS]),
            "competitor_orders": int(c[L.C_ACTIONS]),
            "competitor_skips": int(c[L.C_ACTION_SKIPS]),
            "external_orders": int(c[L.C_EXT]),
            "impacts": int(c[L.C_IMPACTS]),
            "quote_changes": int(c[L.C_QUOTE_CHANGES]),
            "informed_orders": int(c[L.C_INFORMED]),
            "informed_skips": int(c[L.C_INFORMED_SKIPS]),
            "public_reports": self.n_public_reports,
            "mm_news_updates": int(c[L.C_NEWS_UPDATES]),
            "mm_flow_updates": int(c[L.C_FLOW_UPDATES]),
            "stp_cancels": int(m[K.M_STP_CANCELS]),
            "trades": self._tape_n + int(c[L.C_N_TR]),
            "late_orders": self.late_orders,
            "idle_s": self.idle_ns() / 1e9,
            "wakes": int(c[L.C_WAKES]),
            "stale_quote_lookups": self.stale_quote_lookups,
            "cns_fees_paid_usd": float(self.book.fees[OWNER_CNS, 0]),
            "cns_rebates_usd": float(self.book.fees[OWNER_CNS, 1]),
        }


__all__ = ["ExchangeSimulator", "SimConfig", "OWNER_CNS", "OWNER_TAKERS"]
