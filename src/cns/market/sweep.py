"""Calibration sweep of the simulated market's defaults: the default news world with no CNS orders, one line of
JSON per configuration (spreads, market maker P&L, every owner's P&L, how far mids are from the hidden value).

    python -m cns.market.sweep 300 '[{}, {"flow": {"informed_hz": 1.0}, "market": {"mm_news_latency_ns": 200000}}]'

Each configuration overrides fields of :class:`~cns.market.prices.FlowConfig` (``"flow"``) and
:class:`~cns.market.sim.MarketConfig` (``"market"``; ``"comp_notional"`` sets every default competitor's
notional). The market trades on the world's public reports with the street's calibrated source estimates
(:func:`cns.trading.calibrate.default_credibility` of the seed), as in ``cns run``. Spreads are sampled every
simulated second on every instrument ("quiet": instruments without a report in the last 100 ms). Everything
but ``wall_s`` is a function of the arguments.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np

from cns.market.exchange import ExchangeSimulator, SimConfig
from cns.market.newsgen import EPOCH_NS, cached_world
from cns.market.prices import FlowConfig
from cns.market.public import load_public_reports
from cns.market.sim import DEFAULT_COMPETITORS, MarketConfig
from cns.signals.universe import default_instruments


def run(
    seconds: float,
    reports: np.ndarray,
    stories: np.ndarray,
    reliability: np.ndarray,
    seed: int,
    over: dict[str, Any],
) -> dict[str, Any]:
    """One configuration ``over`` (see the module docstring) run for ``seconds``; returns its figures."""
    mk_over = dict(over.get("market", {}))
    cn = mk_over.pop("comp_notional", None)
    if cn:
        mk_over["competitors"] = tuple(replace(c, notional_usd=float(cn)) for c in DEFAULT_COMPETITORS)
    mk = replace(MarketConfig(), flow=replace(FlowConfig(), **over.get("flow", {})), **mk_over)
    cfg = SimConfig(start_ns=EPOCH_NS, market=mk)
    sim = ExchangeSimulator(
        default_instruments(), stories, cfg, seed=seed, reports=reports, source_reliability=reliability
    )
    rt, ri = reports["t_ns"], reports["instrument"].astype(np.int64)
    n1 = len(default_instruments()) + 1
    spreads, quiet = [], []
    t0 = time.perf_counter()
    end, t, k = EPOCH_NS + int(seconds * 1e9), EPOCH_NS, 0
    while t < end:
        t = min(t + 100_000_000, end)
        sim.advance_to(t)
        k += 1
        if k % 10 == 0:
            bid, ask, _ = sim.reference_quotes(t + cfg.md_latency_ns)
            sp = (ask - bid) / (0.5 * (bid + ask)) * 1e4
            recent = np.zeros(n1, bool)
            recent[
                ri[np.searchsorted(rt, t - 100_000_000, side="right") : np.searchsorted(rt, t, side="right")]
            ] = True
            ok = np.isfinite(sp)
            ok[0] = False
            spreads.append(sp[ok])
            quiet.append(sp[ok & ~recent])
    sp, q = np.concatenate(spreads), np.concatenate(quiet)
    marks, fund = sim.mark_prices()[1:], sim.fundamentals()[1:]
    inv = np.abs(sim.positions()[1, 1:]) / np.maximum(sim.state.mm_qty[1:], 1)
    st = sim.stats()
    return {
        "config": over,
        "seconds": seconds,
        "wall_s": time.perf_counter() - t0,
        "spread_bp": {f"p{p}": float(np.percentile(sp, p)) for p in (10, 50, 90)},
        "quiet_spread_bp_p50": float(np.median(q)) if len(q) else None,
        "mid_vs_hidden_bp_p50": float(np.median(np.abs(marks / fund - 1.0) * 1e4)),
        "mm_inventory_lots_p50": float(np.median(inv)),
        "pnl": sim.pnl(),
        "fees": sim.fees(),
        "informed_orders": st["informed_orders"],
        "competitor_orders": st["competitor_orders"],
        "trades": st["trades"],
    }


def main(argv: list[str]) -> int:
    """``python -m cns.market.sweep SECONDS JSON``: run the market alone per config override; print its figures."""
    seconds = float(argv[0]) if argv else 300.0
    configs = json.loads(argv[1]) if len(argv) > 1 else [{}]
    configs = [configs] if isinstance(configs, dict) else configs
    seed = 7
    from cns.trading.calibrate import default_credibility

    files, _ = cached_world(4_565_400, 300.0, seed)
    reports = load_public_reports(files.news, files.story_of)
    stories = np.load(files.stories, allow_pickle=False)
    reliability = default_credibility(seed).reliability()
    for over in configs:
        print(json.dumps(run(seconds, reports, stories, reliability, seed, over)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
