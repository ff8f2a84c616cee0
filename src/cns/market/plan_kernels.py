"""Numba kernels that turn the public reports into what the simulated participants do about them.

Both walk the reports in time order (a participant's constant latency keeps that order) and keep, per event,
the participant's evidence ``E = sum(direction * w[source])``: ``w`` is the participant's own log-odds that a
source's claimed direction is right (``logit`` of its reliability estimate), so ``tanh(E / 2) = P(up) -
P(down)`` under independent reports. They read no truth (no story table): only ``REPORT_DTYPE`` columns and
the participant's own weights. Times saturate at int64 max ("never") instead of wrapping.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NEVER_NS = np.int64(np.iinfo(np.int64).max)


@njit(cache=True, inline="always")
def _sat_add(t, d):
    if d > 0 and t > NEVER_NS - d:
        return NEVER_NS
    return t + d


@njit(cache=True)
def news_updates(
    rep_t,
    rep_instr,
    rep_src,
    rep_event,
    rep_dir,
    rep_mag,
    w,
    latency_ns,
    weight,
    typical_pct,
    n_events,
    out_t,
    out_instr,
    out_dlog,
):
    """The market maker's value updates from the news: one row per report that changes its view.

    Per event the market maker prices ``weight * tanh(E / 2) * m`` as a log move, where ``m`` is the claimed
    move magnitude averaged with weights ``max(w[source], 0)`` (a claim without a number counts
    ``typical_pct``; ``typical_pct`` while no report has a positive weight); each report it reads (at ``t + latency_ns``) moves its estimate
    by the change of that target. Writes ``out_*[:n]`` (time ns, instrument, log move) and returns ``n``.
    ``w`` is indexed by source code (codes beyond it weigh 0); ``rep_event`` in ``0..n_events-1``.
    """
    e = np.zeros(n_events)
    msum = np.zeros(n_events)
    wsum = np.zeros(n_events)
    priced = np.zeros(n_events)
    n = 0
    for k in range(rep_t.shape[0]):
        d = rep_dir[k]
        if d == 0:
            continue
        ev = rep_event[k]
        src = rep_src[k]
        wk = w[src] if src < w.shape[0] else 0.0
        e[ev] += d * wk
        mag = rep_mag[k]
        wp = max(wk, 0.0)
        msum[ev] += wp * (mag if mag >= 0.0 else typical_pct)
        wsum[ev] += wp
        m = msum[ev] / wsum[ev] if wsum[ev] > 0.0 else typical_pct
        x = weight * math.tanh(0.5 * e[ev]) * m * 0.01
        target = math.log1p(min(max(x, -0.9), 9.0))
        delta = target - priced[ev]
        if delta == 0.0:
            continue
        priced[ev] = target
        out_t[n] = _sat_add(rep_t[k], latency_ns)
        out_instr[n] = rep_instr[k]
        out_dlog[n] = delta
        n += 1
    return n


@njit(cache=True)
def competitor_entries(
    rep_t,
    rep_instr,
    rep_src,
    rep_event,
    rep_dir,
    w,
    latency_ns,
    min_confidence,
    n_events,
    out_t,
    out_instr,
    out_side,
):
    """A competitor's entries: the first report after which its confidence ``|tanh(E / 2)|`` in an event
    reaches ``min_confidence`` (and that report claims a direction) makes one entry on the sign of ``E``, at
    the report's time + ``latency_ns``; at most one entry per event. Returns the count (``out_*[:n]``)."""
    e = np.zeros(n_events)
    done = np.zeros(n_events, np.uint8)
    n = 0
    for k in range(rep_t.shape[0]):
        d = rep_dir[k]
        ev = rep_event[k]
        if d == 0 or done[ev] != 0:
            continue
        src = rep_src[k]
        e[ev] += d * (w[src] if src < w.shape[0] else 0.0)
        if e[ev] == 0.0 or abs(math.tanh(0.5 * e[ev])) < min_confidence:
            continue
        done[ev] = 1
        out_t[n] = _sat_add(rep_t[k], latency_ns)
        out_instr[n] = rep_instr[k]
        out_side[n] = 1 if e[ev] > 0 else -1
        n += 1
    return n
