"""Per-record cost of the trading kernels on large synthetic batches: ``python -m cns.bench.trading``.

Each kernel is timed per batch with ``time.perf_counter_ns`` (after a warm-up call that compiles or loads
the cached machine code); the figures are batch averages divided by the batch size — not per-event samples —
reported as p50/p99/max over the batches. A second pass over fresh state stamps every record / decision /
candidate inside the kernels (``lat_ns``: cycle counter, calibrated, read-overhead subtracted) and reports
per-event p50/p99/p99.9/max (``per_event``). Prints both tables and writes JSON (``--json PATH``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from cns.signals.dtypes import KIND_CENTRAL_BANK, N_KINDS, empty_news
from cns.signals.universe import default_instruments, source_dictionary, ticker_dictionary
from cns.telemetry.stats import summarize
from cns.trading.config import TradingConfig
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE, DECISION_DTYPE
from cns.trading.pipeline import TradingPipeline
from cns.venue.dtypes import EXEC_DTYPE, EXEC_FILL, EXEC_PARTIAL

SEC = 1_000_000_000
T0 = 1_700_000_000 * SEC


def synthetic_news(
    n: int, n_tickers: int, n_sources: int, seconds: float, rng: np.random.Generator
) -> np.ndarray:
    """``n`` NEWS_DTYPE records over ``seconds``: a mixed bag of kinds, sources, tickers and claims."""
    r = empty_news(n)
    r["id"] = np.arange(1, n + 1)
    r["publish_ns"] = T0 + np.sort(rng.integers(0, int(seconds * SEC), n))
    r["receive_ns"] = r["publish_ns"] + rng.integers(100_000, 5_000_000, n)
    r["source"] = rng.integers(1, n_sources + 1, n)
    r["kind"] = rng.integers(0, N_KINDS, n)
    r["tickers"][:, 0] = rng.integers(1, n_tickers, n)
    r["n_tickers"] = 1
    r["move_pct"] = np.round(rng.normal(0.0, 2.0, n), 1)
    r["eps_expected"] = 2.0
    r["eps_actual"] = np.round(2.0 + rng.normal(0.1, 0.1, n), 2)
    r["rate"] = 5.25 + 0.25 * rng.integers(-1, 2, n)
    r["flags"] = np.where(r["kind"] == KIND_CENTRAL_BANK, 2, 0)
    r["sentiment"] = rng.uniform(-1, 1, n).astype(np.float32)
    return r


def _warm_up(
    cfg: TradingConfig, sources, tickers, news: np.ndarray, mid: np.ndarray, mid_ts: np.ndarray
) -> None:
    """Run every kernel once on a throwaway pipeline so timings exclude compiling/loading machine code."""
    p = TradingPipeline(cfg, sources, tickers)
    p.corroborator.flush(0)
    d = p.corroborator.process(news)
    d["action"] = ACTION_TRADE
    step = p._trade(d, mid, mid_ts, int(mid_ts[0]))
    ex = np.zeros(len(step.accepted), dtype=EXEC_DTYPE)
    ex["order_id"] = step.accepted["order_id"]
    p.oms.apply(ex)


def _summary(name: str, per_batch_ns: list[int], sizes: list[int]) -> dict:
    per_rec = np.array(per_batch_ns, dtype=np.float64) / np.maximum(np.array(sizes), 1)
    total = int(sum(sizes))
    return {
        "kernel": name,
        "records": total,
        "batches": len(sizes),
        "total_ms": sum(per_batch_ns) / 1e6,
        "ns_per_record_mean": sum(per_batch_ns) / max(total, 1),
        **{f"ns_per_record_{k}": v for k, v in summarize(per_rec).items() if k.startswith("p") or k == "max"},
    }


def _per_event(name: str, stamps: list[np.ndarray]) -> dict:
    x = np.concatenate(stamps) if stamps else np.zeros(0, dtype=np.int64)
    s = summarize(x, drop_negative=True)
    return {"stage": name, "events": s.pop("count"), **{f"{k}_ns": v for k, v in s.items()}}


def per_event_latency(
    cfg: TradingConfig,
    sources,
    tickers,
    news: np.ndarray,
    decisions: np.ndarray,
    mid: np.ndarray,
    risk_cfg,
    batch: int,
) -> list[dict]:
    """Every news record, decision and candidate stamped inside the kernels, on fresh state (the pass the
    batch figures come from is left unstamped)."""
    pipe = TradingPipeline(cfg, sources, tickers, order_capacity=2 * len(decisions) + 16)
    pipe.risk = type(pipe.risk)(risk_cfg, tickers, pipe.oms)
    mid_ts = np.full(len(mid), T0, dtype=np.int64)
    lat_c, lat_s, lat_r = [], [], []
    for k in range(0, len(news), batch):
        chunk = news[k : k + batch]
        lat = np.zeros(len(chunk), dtype=np.int64)
        pipe.corroborator.process(chunk, lat_ns=lat)
        pipe.corroborator.flush(int(chunk["publish_ns"][-1]))
        lat_c.append(lat)
    for k in range(0, len(decisions), batch):
        chunk = decisions[k : k + batch]
        lat = np.zeros(len(chunk), dtype=np.int64)
        cands = pipe.signal.orders(chunk, mid, lat)
        lat_s.append(lat)
        mid_ts[:] = cands["ts_ns"][-1] if len(cands) else T0
        lat = np.zeros(len(cands), dtype=np.int64)
        pipe.risk.check(cands, mid, mid_ts, int(mid_ts[0]), lat_ns=lat)
        lat_r.append(lat)
    return [_per_event("corroborate", lat_c), _per_event("signal", lat_s), _per_event("risk", lat_r)]


def run(n_news: int = 1_000_000, batch: int = 65_536, seed: int = 7) -> dict:
    """Per-record cost of each trading kernel on ``n_news`` synthetic records in ``batch``-record batches (ns per
    record, p50/p99/max over batches), plus decision and risk-reject counts.
    """
    rng = np.random.default_rng(seed)
    tickers, sources = ticker_dictionary(), source_dictionary()
    instruments = default_instruments()
    cfg = TradingConfig()
    pipe = TradingPipeline(cfg, sources, tickers)
    mid = np.zeros(len(tickers))
    mid[1:] = [i.price for i in instruments]
    mid_ts = np.full(len(tickers), T0, dtype=np.int64)
    news = synthetic_news(n_news, len(tickers), len(sources) - 1, 300.0, rng)

    _warm_up(cfg, sources, tickers, news[:2000], mid, mid_ts)
    pipe = TradingPipeline(cfg, sources, tickers, order_capacity=2 * n_news + 16)
    t_c, n_c, decisions = [], [], []
    for k in range(0, n_news, batch):
        chunk = news[k : k + batch]
        t = time.perf_counter_ns()
        d = pipe.corroborator.process(chunk)
        d2 = pipe.corroborator.flush(int(chunk["publish_ns"][-1]))
        t_c.append(time.perf_counter_ns() - t)
        n_c.append(len(chunk))
        decisions += [d, d2]
    results = [_summary("corroborate", t_c, n_c)]
    dec = np.concatenate(decisions)

    # signal over synthetic decisions (all actionable) so the kernel's full path is measured
    n_dec = n_news
    sd = np.zeros(n_dec, dtype=DECISION_DTYPE)
    sd["ticker"] = rng.integers(0, len(tickers), n_dec)
    sd["action"] = np.where(rng.random(n_dec) < 0.8, ACTION_TRADE, ACTION_CONTINGENCY)
    sd["direction"] = rng.choice([-1, 1], n_dec)
    sd["size_basis"] = rng.uniform(0, 8, n_dec)
    sd["sentiment"] = rng.uniform(-1, 1, n_dec)
    sd["news_id"] = np.arange(1, n_dec + 1)
    sd["ts_ns"] = T0 + np.arange(n_dec) * 1000
    pipe.signal.orders(sd[:100], mid)
    t_s, n_s, cands = [], [], []
    for k in range(0, n_dec, batch):
        chunk = sd[k : k + batch]
        t = time.perf_counter_ns()
        cands.append(pipe.signal.orders(chunk, mid))
        t_s.append(time.perf_counter_ns() - t)
        n_s.append(len(chunk))
    results.append(_summary("signal", t_s, n_s))

    # risk over those candidates, with limits wide enough that most pass and every check is evaluated
    import dataclasses

    wide = dataclasses.replace(
        cfg.risk,
        max_orders_per_window=10_000_000,
        max_position=10**12,
        max_gross_exposure_usd=1e18,
        max_order_notional_usd=1e12,
        max_order_qty=10**9,
    )
    pipe.risk = type(pipe.risk)(wide, tickers, pipe.oms)
    t_r, n_r, accepted = [], [], []
    for c in cands:
        mid_ts[:] = c["ts_ns"][-1] if len(c) else T0
        t = time.perf_counter_ns()
        a, _ = pipe.risk.check(c, mid, mid_ts, int(mid_ts[0]))
        t_r.append(time.perf_counter_ns() - t)
        n_r.append(len(c))
        accepted.append(a)
    results.append(_summary("risk (+ OMS register)", t_r, n_r))

    # OMS/portfolio: one partial and one complete fill per accepted order
    acc = np.concatenate(accepted)
    ex = np.zeros(2 * len(acc), dtype=EXEC_DTYPE)
    ex["order_id"] = np.repeat(acc["order_id"], 2)
    ex["instrument"] = np.repeat(acc["instrument"], 2)
    ex["side"] = np.repeat(acc["side"], 2)
    half = acc["qty"] // 2
    ex["qty"][0::2], ex["qty"][1::2] = half, acc["qty"] - half
    ex["leaves"][0::2] = acc["qty"] - half
    ex["kind"][0::2], ex["kind"][1::2] = EXEC_PARTIAL, EXEC_FILL
    ex["price"] = np.repeat(acc["price"], 2)
    t_o, n_o = [], []
    for k in range(0, len(ex), batch):
        chunk = ex[k : k + batch]
        t = time.perf_counter_ns()
        pipe.oms.apply(chunk)
        t_o.append(time.perf_counter_ns() - t)
        n_o.append(len(chunk))
    results.append(_summary("oms apply execs (+ portfolio)", t_o, n_o))
    per_event = per_event_latency(cfg, sources, tickers, news, sd, mid, wide, batch)
    return {
        "measure": "batch wall time (perf_counter_ns) / batch size; percentiles are over batches, not events",
        "batch": batch,
        "news": n_news,
        "decisions": int(len(dec)),
        "corroboration": pipe.corroborator.stats(),
        "risk_rejects": pipe.risk.rejections(),
        "results": results,
        "per_event_measure": "in-kernel cycle-counter stamps per event (every event sampled), ns, "
        "read overhead subtracted, clamped at 0",
        "per_event": per_event,
    }


def _table(rep: dict) -> str:
    rows = [
        f"{'kernel':32s} {'records':>9s} {'total ms':>9s} {'mean ns':>8s} {'p50 ns':>8s} {'p99 ns':>8s} {'max ns':>8s}"
    ]
    for r in rep["results"]:
        rows.append(
            f"{r['kernel']:32s} {r['records']:9d} {r['total_ms']:9.1f} {r['ns_per_record_mean']:8.1f} "
            f"{r['ns_per_record_p50']:8.1f} {r['ns_per_record_p99']:8.1f} {r['ns_per_record_max']:8.1f}"
        )
    rows.append("")
    rows.append(
        f"{'per event (in-kernel stamps)':32s} {'events':>9s} {'mean ns':>8s} {'p50 ns':>8s} {'p99 ns':>8s} "
        f"{'p99.9 ns':>9s} {'max ns':>10s}"
    )
    for r in rep["per_event"]:
        rows.append(
            f"{r['stage']:32s} {r['events']:9d} {r['mean_ns']:8.1f} {r['p50_ns']:8.1f} {r['p99_ns']:8.1f} "
            f"{r['p999_ns']:9.1f} {r['max_ns']:10.0f}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run, print the table, write the JSON to ``--json`` if given; returns the exit status 0."""
    ap = argparse.ArgumentParser(prog="python -m cns.bench.trading", description=__doc__.splitlines()[0])
    ap.add_argument("--news", type=int, default=1_000_000, help="synthetic records (default: %(default)s)")
    ap.add_argument("--batch", type=int, default=65_536)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    rep = run(args.news, args.batch)
    print(_table(rep))
    print(f"decisions: {rep['decisions']}  risk rejects: {rep['risk_rejects']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
