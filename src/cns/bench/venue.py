"""Venue benchmark: order-book operations per second and the wall time of a full simulated market run.

``python -m cns.bench.venue [--quick] [--newsgen-only [--step-ns NS]] [--json PATH]`` prints a table and
optionally writes JSON (``--newsgen-only``: just the default news world's 300 s market, the desk's load). Every
figure is measured here with ``time.perf_counter_ns`` / ``time.process_time_ns``; per-operation latencies
are batch times divided by the batch size (the kernels are not timed one order at a time), reported as
percentiles over the batches.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from cns.market.dtypes import STORY_DTYPE
from cns.market.exchange import ExchangeSimulator, SimConfig
from cns.signals.universe import default_instruments
from cns.telemetry.stats import summarize
from cns.venue import book_kernels as K
from cns.venue.book import TRADE_DTYPE, allocate_book
from cns.venue.dtypes import EXEC_DTYPE, ORDER_CANCEL, ORDER_DTYPE, ORDER_IOC, ORDER_LIMIT

BATCH = 1024


def _pct(x: np.ndarray) -> dict[str, float]:
    return summarize(x)


def _timed(b: K.BookArrays, orders: np.ndarray) -> dict:
    room = 4 * BATCH + 2 * int(b.n_rest.max()) + 8  # the kernel reserves worst-case room per order
    out = np.zeros(room, EXEC_DTYPE)
    trades = np.zeros(room, TRADE_DTYPE)
    per_op = []
    total = 0
    for s in range(0, orders.shape[0], BATCH):
        chunk = orders[s : s + BATCH]
        t0 = time.perf_counter_ns()
        j, _, _ = K.process_batch(b, chunk, 0, out, 0, trades, 0)
        dt = time.perf_counter_ns() - t0
        if j != chunk.shape[0]:
            raise RuntimeError("benchmark buffers too small")
        total += dt
        per_op.append(dt / chunk.shape[0])
    return {
        "ops": int(orders.shape[0]),
        "ops_per_s": orders.shape[0] / (total * 1e-9),
        "ns_per_op": _pct(np.asarray(per_op)),
    }


def bench_book(n_orders: int, n_instr: int, seed: int = 1) -> dict[str, dict]:
    """Add ``n_orders`` resting limits, cancel them all, re-add, then match each with a one-order IOC."""
    rng = np.random.default_rng(seed)
    ref = np.concatenate(([np.nan], [i.price for i in default_instruments(n_instr)]))
    b = allocate_book(ref, capacity=n_orders + 16, tracked_owners=4)
    adds = np.zeros(n_orders, ORDER_DTYPE)
    adds["order_id"] = np.arange(1, n_orders + 1)
    adds["owner"] = 1
    adds["instrument"] = rng.integers(1, n_instr + 1, n_orders)
    adds["side"] = np.where(rng.random(n_orders) < 0.5, 1, -1)
    adds["type"] = ORDER_LIMIT
    adds["qty"] = 100
    ticks = rng.integers(1, 200, n_orders)  # 1..199 ticks away from the reference, never crossing
    ins = adds["instrument"]
    adds["price"] = (ref[ins] / b.tick[ins]).round() * b.tick[ins] - adds["side"] * ticks * b.tick[ins]
    adds["ts_ns"] = np.arange(n_orders)
    cancels = adds[rng.permutation(n_orders)].copy()
    cancels["type"] = ORDER_CANCEL
    cancels["target_id"] = cancels["order_id"]
    cancels["order_id"] += n_orders
    takes = adds[rng.permutation(n_orders)].copy()
    takes["order_id"] += 2 * n_orders
    takes["owner"] = 2
    takes["side"] = -takes["side"]
    takes["type"] = ORDER_IOC
    lo = b.base_tick * b.tick
    hi = (b.base_tick + b.lv.shape[1] - 1) * b.tick
    takes["price"] = np.where(takes["side"] > 0, hi[takes["instrument"]], lo[takes["instrument"]])
    res = {"add": _timed(b, adds), "cancel": _timed(b, cancels)}
    _timed(b, adds)
    res["match"] = _timed(b, takes)  # each IOC fills exactly one resting order (best first)
    if b.n_rest.sum() != 0:
        raise RuntimeError("match benchmark left orders resting")
    return res


def _stories(n: int, n_instr: int, seconds: float, start: int, rng: np.random.Generator) -> np.ndarray:
    s = np.zeros(n, STORY_DTYPE)
    s["story_id"] = np.arange(n)
    s["instrument"] = rng.integers(1, n_instr + 1, n)
    s["first_report_ns"] = start + np.sort(rng.integers(0, int(seconds * 1e9), n))
    s["is_true"] = rng.random(n) < 0.6
    s["impact_pct"] = np.where(s["is_true"] == 1, rng.normal(0, 2.0, n), 0.0)
    s["impact_delay_ns"] = rng.integers(50_000_000, 2_000_000_000, n)
    return s


def bench_sim(
    seconds: float,
    n_instr: int,
    n_stories: int,
    step_ns: int = 100_000_000,
    seed: int = 7,
    stories: np.ndarray | None = None,
    start_ns: int | None = None,
) -> dict:
    """Build and run the market for ``seconds`` with no CNS orders, stepping ``advance_to`` by ``step_ns``.

    ``stories`` (e.g. from the news generator) replace ``n_stories`` synthetic ones."""
    cfg = SimConfig() if start_ns is None else SimConfig(start_ns=start_ns)
    if stories is None:
        stories = _stories(n_stories, n_instr, seconds, cfg.start_ns, np.random.default_rng(seed))
    w0, c0 = time.perf_counter_ns(), time.process_time_ns()
    sim = ExchangeSimulator(default_instruments(n_instr), stories, cfg, seed=seed)
    build_ns = time.perf_counter_ns() - w0
    steps = []
    end = cfg.start_ns + int(seconds * 1e9)
    t = cfg.start_ns
    while t < end:
        t = min(t + step_ns, end)
        s0 = time.perf_counter_ns()
        sim.advance_to(t)
        steps.append(time.perf_counter_ns() - s0)
    wall = time.perf_counter_ns() - w0
    st = sim.stats()
    return {
        "simulated_s": seconds,
        "instruments": n_instr,
        "stories": int(stories.shape[0]),
        "step_ns": step_ns,
        "wall_s": wall * 1e-9,
        "cpu_s": (time.process_time_ns() - c0) * 1e-9,
        "build_s": build_ns * 1e-9,
        "step_us": {k: v / 1e3 for k, v in _pct(np.asarray(steps, np.float64)).items()},
        "book_orders_per_wall_s": st["orders"] / (wall * 1e-9),
        "stats": st,
    }


def _newsgen_run(n_events: int, secs: float, n_instr: int, step_ns: int = 100_000_000) -> dict | None:
    """The market driven by the project's news generator (default world: 4,565,400 events in 300 s)."""
    try:
        from cns.market.newsgen import EPOCH_NS, generate_news
    except ImportError:  # generator not present in this checkout
        return None
    stories = generate_news(
        n_events, secs, seed=7, instruments=default_instruments(n_instr), sentiment=False
    ).stories
    return bench_sim(secs, n_instr, 0, stories=stories, start_ns=EPOCH_NS, step_ns=step_ns)


def run(quick: bool, newsgen_only: bool = False, step_ns: int = 100_000_000) -> dict:
    """Book ops/s and ns/op, full simulated market runs (wall and CPU s) and the news-world run stepped every
    ``step_ns`` ns; ``quick``: smaller sizes, ``newsgen_only``: only the news-world run.
    """
    n_orders, n_instr, secs = (20_000, 100, 30.0) if quick else (500_000, 500, 300.0)
    bench_book(2 * BATCH, 4)  # compile / load the kernels outside the timed runs
    bench_sim(0.5, 3, 2)
    result = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "quick": quick,
        "book": {} if newsgen_only else bench_book(n_orders, n_instr),
    }
    if not newsgen_only:
        result["sim_no_stories"] = bench_sim(secs, n_instr, 0)
        result["sim_with_stories"] = bench_sim(secs, n_instr, int(secs * 10))
    news = _newsgen_run(45_654 if quick else 4_565_400, secs, n_instr, step_ns)
    if news is not None:
        result["sim_newsgen"] = news
    return result


def print_table(r: dict) -> None:
    """Print :func:`run`'s result as text tables (book ops, market runs)."""
    print(
        f"{'book op':<10}{'ops':>10}{'Mops/s':>10}{'p50 ns':>10}{'p99 ns':>10}{'p99.9 ns':>10}{'max ns':>10}"
    )
    for name, v in r["book"].items():
        q = v["ns_per_op"]
        print(
            f"{name:<10}{v['ops']:>10}{v['ops_per_s'] / 1e6:>10.2f}{q['p50']:>10.0f}{q['p99']:>10.0f}"
            f"{q['p999']:>10.0f}{q['max']:>10.0f}"
        )
    print()
    print(
        f"{'market run':<18}{'sim s':>7}{'instr':>7}{'stories':>8}{'wall s':>8}{'cpu s':>7}{'orders':>10}"
        f"{'trades':>9}{'step p50 us':>12}{'p99':>8}{'max':>9}"
    )
    for key in ("sim_no_stories", "sim_with_stories", "sim_newsgen"):
        if key not in r:
            continue
        v = r[key]
        s = v["step_us"]
        print(
            f"{key:<18}{v['simulated_s']:>7.0f}{v['instruments']:>7}{v['stories']:>8}{v['wall_s']:>8.2f}"
            f"{v['cpu_s']:>7.2f}{v['stats']['orders']:>10}{v['stats']['trades']:>9}{s['p50']:>12.0f}"
            f"{s['p99']:>8.0f}{s['max']:>9.0f}"
        )


def main(args: argparse.Namespace) -> int:
    """CLI entry point (``cns bench venue``): run, print the tables, write JSON to ``args.json`` if set; returns 0."""
    r = run(
        bool(getattr(args, "quick", False)),
        bool(getattr(args, "newsgen_only", False)),
        int(getattr(args, "step_ns", 100_000_000)),
    )
    print_table(r)
    if getattr(args, "json", None):
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(r, f, indent=2)
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m cns.bench.venue", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes: checks the benchmark, not the machine")
    p.add_argument(
        "--newsgen-only",
        action="store_true",
        help="only the news-driven market run (skip the book and synthetic-flow benchmarks)",
    )
    p.add_argument(
        "--step-ns",
        type=int,
        default=100_000_000,
        help="advance_to interval of the market runs, ns (the desk uses 1_000_000)",
    )
    p.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    sys.exit(main(p.parse_args()))
