"""Where a desk pass's P&L came from, measured against the simulator's hidden fundamental.

Per filled order, with ``F(t)`` the fundamental of its instrument at time ``t`` (the venue's snapshots every
``snapshot_ns`` times the story impacts since, exact up to the random walk within one snapshot interval):

* ``entry_edge``: ``side * qty * (F(fill) - price)`` of entry orders (news_id != 0): the price paid against
  what the instrument was worth then. Half spread plus market-maker skew make it negative; a positive edge
  means the desk bought below value (quotes not yet moved to an impact, or a stale order of someone else);
* ``exit_edge``: the same for the desk's exit orders (news_id == 0);
* over the holding period ``(fill, min(sent + hold_ns, end)]`` (to the end of the run without exits), the
  move of ``F`` on the entry's shares, split into impacts of stories already *reported* at the fill (the news
  the desk could know: this is what reaction speed and judging sources buy), impacts of stories not yet
  reported (luck), and the rest (the fundamental's random walk);
* ``fees``: minus the venue fees the desk paid net of rebates (``DeskResult.fees["net"]``), booked in realised
  P&L;
* ``residual``: the desk's P&L minus all of the above — exits netted across lots, exits later than due,
  mark versus fundamental at the end.

Stories' first reports come from ``stories`` (STORY_DTYPE, the same table the simulator was built with).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cns.market.sim import impact_schedule
from cns.market.venue_api import Exchange
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY
from cns.venue.dtypes import ORDER_IOC, ORDER_LIMIT


def _impacts(stories: np.ndarray, n_instruments: int) -> tuple[np.ndarray, ...]:
    """Impacts sorted by (instrument, time): time, instrument, log factor, first report of the story."""
    t, ins, factor = impact_schedule(stories, n_instruments)
    true = stories[(stories["is_true"] != 0) & (stories["impact_pct"] != 0.0)]
    t_true = true["first_report_ns"] + np.maximum(true["impact_delay_ns"], 0)
    first = true["first_report_ns"][np.argsort(t_true, kind="stable")].astype(np.int64)
    o = np.lexsort((t, ins))
    return t[o], ins[o].astype(np.int64), np.log(factor[o]), first[o]


def _ranges(
    imp_t: np.ndarray, block: np.ndarray, ins: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges ``[lo, hi)`` of the impacts on ``ins[k]`` with ``a[k] < t <= b[k]``."""
    lo = np.zeros(len(ins), np.int64)
    hi = np.zeros(len(ins), np.int64)
    for i in np.unique(ins):
        q = ins == i
        s, e = block[i], block[i + 1]
        lo[q] = s + np.searchsorted(imp_t[s:e], a[q], side="right")
        hi[q] = s + np.searchsorted(imp_t[s:e], b[q], side="right")
    return lo, hi


def attribute(result: Any, sim: Exchange, stories: np.ndarray) -> dict[str, Any]:
    """Decompose ``result`` (a :class:`cns.replay.desk.DeskResult`) of a pass over ``sim``; see the module
    docstring. USD unless the key says bp; counts of fills."""
    rows = result.filled_rows
    n1 = len(sim.fundamentals())
    imp_t, imp_i, imp_lf, imp_first = _impacts(stories, n1 - 1)
    block = np.searchsorted(imp_i, np.arange(n1 + 1))
    cum = np.concatenate(([0.0], np.cumsum(imp_lf)))
    snap_t, _, snap_fund = sim.snapshots()
    end = int(result.end_ns) or sim.now_ns

    def fund(ins: np.ndarray, t: np.ndarray) -> np.ndarray:
        j = np.maximum(np.searchsorted(snap_t, t, side="right") - 1, 0)
        lo, hi = _ranges(imp_t, block, ins, snap_t[j], t)
        return snap_fund[j, ins] * np.exp(cum[hi] - cum[lo])

    ins = rows["instrument"].astype(np.int64)
    side = rows["side"].astype(np.float64)
    qty = rows["filled"].astype(np.float64)
    px = rows["avg_px"]
    t_fill = rows["last_ns"].astype(np.int64)
    f_fill = fund(ins, t_fill) if len(rows) else np.zeros(0)
    edge = side * qty * (f_fill - px)
    is_entry = rows["news_id"] != 0

    e = is_entry
    hold = int(result.hold_ns)
    t_out = np.minimum(rows["sent_ns"][e] + hold, end) if hold > 0 else np.full(int(e.sum()), end, np.int64)
    t_out = np.maximum(t_out, t_fill[e])
    f_out = fund(ins[e], t_out) if e.any() else np.zeros(0)
    lo, hi = _ranges(imp_t, block, ins[e], t_fill[e], t_out)
    lens = hi - lo
    owner = np.repeat(np.arange(len(lo)), lens)
    idx = np.repeat(lo - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(int(lens.sum()))
    known = imp_first[idx] <= t_fill[e][owner]
    lf_all = np.bincount(owner, imp_lf[idx], minlength=len(lo))
    lf_known = np.bincount(owner, imp_lf[idx] * known, minlength=len(lo))
    w = side[e] * qty[e] * f_fill[e]
    informed = w * np.expm1(lf_known)
    luck = w * (np.exp(lf_all) - np.exp(lf_known))
    move = side[e] * qty[e] * (f_out - f_fill[e])
    notional = qty * px
    bp = np.divide(edge, notional, out=np.zeros_like(edge), where=notional > 0) * 1e4
    parts = {
        "entry_edge": float(edge[e].sum()),
        "exit_edge": float(edge[~e].sum()),
        "hold_informed": float(informed.sum()),
        "hold_luck": float(luck.sum()),
        "hold_random_walk": float((move - informed - luck).sum()),
        "fees": -float((getattr(result, "fees", None) or {}).get("net", 0.0)),
    }
    total = float(result.realized + result.unrealized)
    out: dict[str, Any] = {
        "entry_fills": int(e.sum()),
        "exit_fills": int((~e).sum()),
        "total": total,
        **parts,
        "residual": total - sum(parts.values()),
        "entry_edge_bp_mean": float(bp[e].mean()) if e.any() else float("nan"),
        "entry_edge_bp_p50": float(np.median(bp[e])) if e.any() else float("nan"),
        "entries_with_reported_impact_pending": int(
            np.count_nonzero(np.bincount(owner, known, minlength=len(lo)))
        ),
    }
    # contingency entries rest as limits; trade entries are IOCs, or limits too with signal.trade_order "limit":
    # a limit entry is a contingency one when its news made a contingency decision
    types = rows["type"][e]
    decisions = getattr(result, "decisions", None)
    cont_ids = (
        decisions["news_id"][decisions["action"] == ACTION_CONTINGENCY]
        if decisions is not None and len(decisions)
        else np.zeros(0, np.uint64)
    )
    is_cont = (types == ORDER_LIMIT) & np.isin(rows["news_id"][e], cont_ids)
    for name, m in (
        ("trade", ((types == ORDER_IOC) | (types == ORDER_LIMIT)) & ~is_cont),
        ("contingency", is_cont),
    ):
        out[name] = {
            "fills": int(m.sum()),
            "entry_edge": float(edge[e][m].sum()),
            "entry_edge_bp_mean": float(bp[e][m].mean()) if m.any() else float("nan"),
            "hold_informed": float(informed[m].sum()),
            "hold_luck": float(luck[m].sum()),
        }
    return out


__all__ = ["attribute"]
