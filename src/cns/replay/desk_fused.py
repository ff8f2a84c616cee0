"""The fast desk's quiet slices in one compiled call (:func:`quiet_slices`), and the Python side that drives it.

A *quiet* slice is one whose handling needs nothing but compiled kernels: the venue steps to the slice time
without returning to Python (:func:`cns.market.sim_kernels.run_until` answers ``ST_DONE``) and without an
execution report for the desk, no P&L snapshot, pending report or exit is due, and pre-trade risk drops every
candidate. Most slices of a replay are quiet (the rate limit drops most candidates); :func:`quiet_slices`
runs them back to back — venue step, reference mids, exposure re-mark, signal, order stamps, pre-trade
risk, rejection notes — calling the very kernels the Python path calls, in the same order with the same
arguments, so the trades are the same bit for bit. At the first slice that is not quiet it stops and says
why; :class:`~cns.replay.desk.TradingDesk` then handles that slice on its Python path (or, for
``Q_ACCEPTED``, only what follows the risk check; for ``Q_UNFLUSHED``/``Q_PENDING``, only the booking of
the reports — what :meth:`~cns.replay.desk.TradingDesk._step_venue` does first — before the kernel resumes the
same slice) and calls it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from cns.kernel_deps import follow_sources
from cns.market import sim_kernels as S
from cns.replay.desk_kernels import note_rejects, stamp_orders
from cns.trading.risk_kernels import REJ_DAILY_LOSS, check_orders, refresh_exposure
from cns.trading.signal_kernels import decisions_to_orders


def _probe() -> int:  # only its Numba cache locator is used (never compiled)
    return 0


# the kernels below compile in code of the market, venue, trading and replay kernel modules (and dtypes), and
# what those import: the signals' clock (stamp_step) and dtypes, the market's constants (prices, sim)
_PKG = Path(__file__).resolve().parent.parent
_DEPS = [
    f
    for d in ("market", "venue", "trading", "replay")
    for f in (_PKG / d).glob("*.py")
    if "kernels" in f.name or f.name == "dtypes.py"
] + [_PKG / m for m in ("signals/clock.py", "signals/dtypes.py", "market/prices.py", "market/sim.py")]
follow_sources(__file__, _DEPS, _probe)

# why quiet_slices stopped (its return value's first element)
Q_DONE = 0  # every slice handled
Q_SLICE = 1  # the slice needs the Python path from its start (the venue may have stepped part of the way)
Q_UNFLUSHED = (
    2  # the venue is at the slice time with reports for the desk not yet taken: book them, then resume
)
Q_ACCEPTED = 3  # risk accepted some of the slice's candidates: register, note and send them (Python)
Q_PENDING = 4  # the venue is at the slice time and reports on their way back are due: book them, then resume

# the driver's int64 state (qs), read and written by the kernel
QS_SLICE = 0  # next slice to handle
QS_N_RISK = 1  # risk-stage stamps written so far (desk._n_risk)
QS_STALE = 2  # stale quote lookups to add to the venue's counter
QS_NC = 3  # Q_ACCEPTED: the slice's candidate count
QS_NOK = 4  # Q_ACCEPTED: how many passed
QS_T = 5  # Q_ACCEPTED: the slice time
QS_SIZE = 8


@njit(cache=True)
def quiet_slices(
    b,
    s,
    io,
    qs,
    dec,
    act,
    starts,
    ends,
    sig_lat,
    risk_buf,
    risk_pattern,
    mid,
    seen_ts,
    mid_ts,
    finite,
    md_ns,
    end_limit_ns,
    next_snapshot,
    next_exit,
    pending_min_ts,
    return_ns,
    hold_ns,
    start_ns,
    proxy,
    sig_p,
    next_id,
    cand,
    sig_stats,
    day_pnl,
    R,
    reasons,
    rej_first,
    rej_last,
    rej_entries,
    daily_loss_pnl,
    ns_per_cycle,
    overhead,
):
    """Handle slices ``qs[QS_SLICE]..`` while they are quiet (module docstring); returns ``Q_*``.

    The arguments are the state the desk's Python path hands the same kernels: the venue (``b``, ``s``,
    ``io``), the sorted decisions ``dec`` and act times ``act`` with the slice bounds ``starts``/``ends``, the
    desk's reference buffers, the signal's parameters and state, and the risk gate's arrays ``R`` (a
    :class:`~cns.trading.risk_kernels.RiskState`). ``pending_min_ts``: the earliest venue time of a report
    still on its way back (``NEVER_NS``: none); ``day_pnl`` is constant while slices are quiet (no booking, no
    mark). On ``Q_SLICE``/``Q_UNFLUSHED``, ``qs[QS_SLICE]`` is the slice to handle in Python; on
    ``Q_ACCEPTED`` it is the slice whose candidates (``cand[:qs[QS_NC]]``, reasons in ``reasons``) passed risk
    ``qs[QS_NOK]`` times at ``qs[QS_T]``."""
    n_slices = starts.shape[0]
    cur = s.cur
    while qs[QS_SLICE] < n_slices:
        k = qs[QS_SLICE]
        a = starts[k]
        e = ends[k]
        t = max(act[a], cur[S.C_NOW])
        if next_snapshot <= t or t > end_limit_ns:
            return Q_SLICE
        if t > cur[S.C_NOW]:
            if S.run_until(b, s, io, t) != S.ST_DONE:
                return Q_SLICE
        if cur[S.C_N_OUT] > 0:
            return Q_UNFLUSHED
        if pending_min_ts <= t - return_ns:
            return Q_PENDING
        if t >= next_exit:
            return Q_SLICE
        # the desk's reference: the quotes of t - md_ns (TradingDesk._reference)
        seen = max(t - md_ns, -S.NEVER_NS)
        qs[QS_STALE] += S.mids_at(s.q_ts, s.q_bid, s.q_ask, s.q_cnt, s.q_head, seen, mid, seen_ts)
        for i in range(mid.shape[0]):
            f = np.isfinite(mid[i])
            finite[i] = f
            mid_ts[i] = (t - md_ns) if f else 0
        if hold_ns > 0:
            refresh_exposure(mid, R)
        if cand.shape[0] < e - a:
            return Q_SLICE
        nc = decisions_to_orders(
            dec[a:e], mid, proxy, sig_p, next_id, cand, sig_stats, sig_lat[a:e], ns_per_cycle, overhead
        )
        if nc == 0:
            qs[QS_SLICE] = k + 1
            continue
        c = cand[:nc]
        if e - a == 1:
            ts = max(act[a], t)
            for i in range(nc):
                c[i].ts_ns = ts
        else:
            ids = np.empty(e - a, np.uint64)
            for j in range(e - a):
                ids[j] = dec[a + j].news_id
            stamp_orders(c, ids, act[a:e], t)
        n_risk = qs[QS_N_RISK]
        if n_risk + nc > risk_buf.shape[0] or nc > risk_pattern.shape[0]:
            return Q_SLICE  # never (at most one candidate per decision), but the Python path copes
        for i in range(nc):
            risk_buf[n_risk + i] = risk_pattern[i]
        qs[QS_N_RISK] = n_risk + nc
        r = reasons[:nc]
        r[:] = 0
        n_ok = check_orders(
            c, mid, mid_ts, t, day_pnl, R, r, risk_buf[n_risk : n_risk + nc], ns_per_cycle, overhead
        )
        if n_ok > 0:
            qs[QS_NC] = nc
            qs[QS_NOK] = n_ok
            qs[QS_T] = t
            return Q_ACCEPTED
        new = note_rejects(r, c, start_ns, rej_first, rej_last, rej_entries)
        if new & (1 << REJ_DAILY_LOSS):
            daily_loss_pnl[0] = day_pnl
        qs[QS_SLICE] = k + 1
    return Q_DONE


def compiled_entry(*args: Any) -> Any:
    """The compiled entry point of :func:`quiet_slices` for ``args``' exact types (see
    :func:`cns.market.exchange._compiled`: skips re-typing the venue's namedtuples on every call)."""
    try:
        return quiet_slices.compile(tuple(quiet_slices.typeof_pyval(a) for a in args))
    except Exception:  # pragma: no cover - numba internals
        return quiet_slices


__all__ = [
    "Q_ACCEPTED",
    "Q_DONE",
    "Q_PENDING",
    "Q_SLICE",
    "Q_UNFLUSHED",
    "QS_SIZE",
    "compiled_entry",
    "quiet_slices",
]


class QuietRunner:
    """Drives :func:`quiet_slices` for one :class:`~cns.replay.desk.TradingDesk` over an
    :class:`~cns.market.exchange.ExchangeSimulator` (other venues take the Python path throughout)."""

    def __init__(self, desk: Any) -> None:
        self.desk = desk
        self.qs = np.zeros(QS_SIZE, np.int64)
        self._fn: Any = None
        self._tag: Any = None  # the venue's run_until entry the compiled entry was typed alongside
        self._dl = np.full(1, np.nan)  # daily-loss day P&L noted by the kernel (NaN: not yet)
        self._reasons = np.zeros(0, np.uint8)  # the kernel's risk reasons of a slice

    def run(
        self,
        dec: np.ndarray,
        act: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        sig_lat: np.ndarray,
        n: int,
    ) -> None:
        """Handle every slice of one ``on_decisions`` call: quiet ones in the kernel, the others in Python."""
        desk = self.desk
        # the compiled entry is typed once: C-contiguous, writable arrays of these dtypes (no copy if they are)
        dec = np.require(dec, None, ("C", "W"))
        act, starts, ends = (np.require(x, np.int64, ("C", "W")) for x in (act, starts, ends))
        # sig_lat (the desk's sample_mask, int64 C): the kernel writes the stamps into it in place
        qs = self.qs
        qs[:] = 0
        qs[QS_N_RISK] = desk._n_risk
        n_slices = len(starts)
        while int(qs[QS_SLICE]) < n_slices:
            code = self._call(dec, act, starts, ends, sig_lat)
            desk.sim.stale_quote_lookups += int(qs[QS_STALE])
            qs[QS_STALE] = 0
            desk._n_risk = int(qs[QS_N_RISK])
            if not np.isnan(self._dl[0]):
                desk._daily_loss_pnl = float(self._dl[0])
                self._dl[0] = np.nan
            if code == Q_DONE:
                break
            k = int(qs[QS_SLICE])
            if code == Q_ACCEPTED:
                nc = int(qs[QS_NC])
                cand = desk.pipeline.signal._out[:nc].copy()
                reasons = self._reasons[:nc].copy()
                desk._accepted(cand, reasons, int(qs[QS_NOK]))
            elif code in (
                Q_UNFLUSHED,
                Q_PENDING,
            ):  # the venue is at the slice time: book, then resume the slice
                desk._unflushed = code == Q_UNFLUSHED
                desk._step_venue(desk.sim.now_ns)
                continue
            else:
                desk._slice(dec, act, int(starts[k]), int(ends[k]), sig_lat, n)
                qs[QS_N_RISK] = desk._n_risk
            qs[QS_SLICE] = k + 1

    def _call(
        self, dec: np.ndarray, act: np.ndarray, starts: np.ndarray, ends: np.ndarray, sig_lat: np.ndarray
    ) -> int:
        desk = self.desk
        sim = desk.sim
        p = desk.pipeline
        sig = p.signal
        if len(self._reasons) < len(sig._out):
            self._reasons = np.zeros(len(sig._out), np.uint8)
        pending = desk._pending
        pmin = int(pending["ts_ns"].min()) if len(pending) else int(S.NEVER_NS)
        args = (
            sim.book,
            sim.state,
            sim._io,
            self.qs,
            dec,
            act,
            starts,
            ends,
            sig_lat,
            desk._risk_buf,
            desk._risk_pattern,
            desk._mid,
            desk._seen_ts,
            desk._mid_ts,
            desk._finite,
            int(desk._md_ns),
            int(sim.end_limit_ns),
            int(desk._next_snapshot),
            int(desk._next_exit),
            pmin,
            int(desk._return_ns),
            int(desk.hold_ns),
            int(desk.start_ns),
            int(sig.proxy),
            sig._p,
            sig._next,
            sig._out,
            sig._stats,
            float(p.oms.portfolio.day_pnl),
            p.risk.arrays,
            self._reasons,
            desk._rej_first,
            desk._rej_last,
            desk._rej_entries,
            self._dl,
            *desk._stamp_cal,
        )
        if self._fn is None or self._tag is not sim._run_fn:
            self._fn = compiled_entry(*args)
            self._tag = sim._run_fn
        return int(self._fn(*args))
