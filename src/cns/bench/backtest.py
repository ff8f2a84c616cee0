"""``cns bench backtest``: CNS, hftbacktest and NautilusTrader replay the same generated L3 market-data stream
with the same strategy, each in a fresh process, in one invocation; prints the rates and the CNS/peer ratios.

**The stream** (written once per invocation, ``.npy`` of :data:`cns.market.lobster.LOBSTER_MSG_DTYPE`): a seeded
LOBSTER-format session from :func:`cns.market.lobster_sample.generate_lobster_day` (its own price-time exchange,
independent of CNS's book), types 1-4 only (add, partial cancel, delete, visible execution), followed by the
deletion of the orders still resting at the close, tiled (ids and times shifted per copy) to the requested
number of events. Every copy starts and ends with an empty book, so every engine sees the same book.

**The workload** (:mod:`cns.bench.backtest_peers`): each engine applies every event to its L3 book and, after the
last event of each timestamp (one market update: what a feed delivers in one packet), a strategy reads the top
of book and occasionally sends a marketable IOC order (imbalance rule, :mod:`cns.bench.backtest_kernels`).
CNS: a Numba kernel over the sparse L3 book's state (the venue book, :mod:`cns.venue.l3book`) with the strategy
compiled in. hftbacktest: ``HashMapMarketDepthBacktest`` and ``ROIVectorMarketDepthBacktest`` (L3 FIFO queue
model, zero latency, no-partial-fill exchange) with an ``@njit`` strategy over ``wait_next_feed`` / ``depth``.
NautilusTrader: ``BacktestEngine`` with an L3 (MBO) venue book fed ``OrderBookDelta`` records and a ``Strategy``
reading the managed book in ``on_order_book_deltas``.

**Figures**: events/s = stream events / wall time of the replay loop (data conversion and engine set-up
excluded, reported as ``prepare_s``), also per CPU-second of the process; median and min-max over ``--runs``
repeats, the engines interleaved (round r runs each engine once). The ratio is CNS's median over the peer's,
same invocation. The JSON also carries CNS's full default-replay figure from an existing ``out/report.json``
(news events + simulated book orders per wall second), when one is there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cns.bench.common import fmt_rate, machine, print_table, write_json

ENGINES = ("cns", "hftbacktest", "hftbacktest-roivector", "nautilus")
PEER_PACKAGES = {
    "hftbacktest": "hftbacktest",
    "hftbacktest-roivector": "hftbacktest",
    "nautilus": "nautilus_trader",
}
GOAL_RATIO_HBT = 1.5  # issue 9: >= 1.5x hftbacktest's loop
GOAL_REPLAY_RATE = 10e6  # issue 9: default replay's (events + simulated book orders)/s
DAY_MESSAGES = 100_000  # messages per generated session (the generator is pure Python: ~1.4 s per 100k)


def make_stream(n_events: int, seed: int = 11, day_messages: int = DAY_MESSAGES) -> np.ndarray:
    """About ``n_events`` LOBSTER_MSG_DTYPE rows: one generated session (``seed``) of types 1-4 plus the
    close-out deletes, tiled whole (at least one copy; ids and times shifted per copy)."""
    from cns.market.lobster_sample import generate_lobster_day

    msgs, _ = generate_lobster_day(seed=seed, n_messages=min(day_messages, max(1_000, n_events)), levels=1)
    day = msgs[(msgs["type"] >= 1) & (msgs["type"] <= 4)]
    live: dict[int, tuple[int, int, int]] = {}
    for ty, oid, sz, px, d in day[["type", "order_id", "size", "price", "direction"]].tolist():
        if ty == 1:
            live[oid] = (sz, px, d)
        elif ty == 3:
            live.pop(oid, None)
        elif oid in live:
            q, px0, d0 = live[oid]
            if q - sz > 0:
                live[oid] = (q - sz, px0, d0)
            else:
                del live[oid]
    close = np.zeros(len(live), day.dtype)
    end = int(day["time_ns"].max()) + 1
    for k, (oid, (q, px, d)) in enumerate(sorted(live.items())):
        close[k] = (end, 3, oid, q, px, d, 0)
    one = np.concatenate([day, close])
    span_t = end + 1
    span_id = int(one["order_id"].max()) + 1
    copies = max(1, round(n_events / one.shape[0]))
    parts = []
    for k in range(copies):
        c = one.copy()
        c["time_ns"] += k * span_t
        c["order_id"] += k * span_id
        parts.append(c)
    out = np.concatenate(parts)
    out["line"] = np.arange(1, out.shape[0] + 1)
    return out


def _run_engine(
    name: str, stream: Path, params: dict[str, int], limit: int, timeout_s: float
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "cns.bench.backtest_peers",
        name,
        str(stream),
        json.dumps(params),
        str(limit),
    ]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"engine": name, "unavailable": f"timed out after {timeout_s:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return {"engine": name, "error": f"exit {p.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "wall_ns" in r]
    if not ok:
        return {"unavailable": next((r.get("unavailable") or r.get("error") for r in runs), "no run")}
    rates = [r["events"] / (r["wall_ns"] * 1e-9) for r in ok]
    cpu_rates = [r["events"] / (r["cpu_ns"] * 1e-9) for r in ok if r["cpu_ns"] > 0]
    last = ok[-1]
    return {
        "version": last.get("version"),
        "events": last["events"],
        "market_updates": last.get("loop_events"),
        "runs": len(ok),
        "events_per_s": statistics.median(rates),
        "events_per_s_min": min(rates),
        "events_per_s_max": max(rates),
        "events_per_cpu_s": statistics.median(cpu_rates) if cpu_rates else float("nan"),
        "wall_s": [r["wall_ns"] * 1e-9 for r in ok],
        "prepare_s": statistics.median(r["prepare_ns"] * 1e-9 for r in ok),
        "orders": last["orders"],
        "fills": last["fills"],
        "position": last["position"],
        "quoted_updates": last.get("quoted"),
        **{k: last[k] for k in ("book_check", "prefix_events", "prefix_orders", "fill_events") if k in last},
        **({"failed_runs": [r for r in runs if "wall_ns" not in r]} if len(ok) < len(runs) else {}),
    }


def replay_figure(path: str | Path = "out/report.json") -> dict[str, Any]:
    """CNS's full default replay from a ``cns run`` report: news events plus the simulated exchange's book orders
    of the fast desk's world (``trading.fast.venue.orders``: every order the simulated venue's book processed,
    market maker, takers, competitors and CNS) per second of ``measured.wall_s``, which spans ingest (parse,
    validate, corroborate) and the fast world's trading — not data preparation, warm-up or the slow-desk
    baseline world (run after ``wall_s`` is taken). ``{"unavailable": why}`` without a usable report."""
    p = Path(path)
    try:
        r = json.loads(p.read_text())
        tr, ms = r["trading"], r["measured"]
        events, wall = int(tr["events"]), float(ms["wall_s"])
        orders = int(tr["fast"]["venue"]["orders"])
        slow = tr.get("slow")
        slow_orders = int(slow["venue"]["orders"]) if isinstance(slow, dict) else None
    except (OSError, ValueError, KeyError, TypeError) as e:
        return {"unavailable": f"{p}: {type(e).__name__}: {e}"}
    rate = (events + orders) / wall
    return {
        "source": str(p),
        "run_id": r.get("run_id"),
        "news_events": events,
        "book_orders": orders,
        "slow_world_book_orders_not_counted": slow_orders,
        "wall_s": wall,
        "ingest_s": ms.get("ingest_s"),  # parse/validate/corroborate; the rest of wall_s: fast world trading
        "news_events_per_s": events / wall,
        "events_plus_book_orders_per_s": rate,
        "goal": GOAL_REPLAY_RATE,
        "met": rate >= GOAL_REPLAY_RATE,
        "includes": "measured.wall_s of the cns run: ingest (parse, validate, corroborate) and the fast desk's "
        "trading against the simulated exchange; excludes data preparation, warm-up and the slow baseline",
        "cpu": ms.get("cpu"),
    }


def run(
    events: int = 2_000_000,
    runs: int = 3,
    *,
    engines: tuple[str, ...] = ENGINES,
    nautilus_events: int = 100_000,
    seed: int = 11,
    workdir: str | None = None,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Write the stream, run every engine ``runs`` times (fresh process each, interleaved) and return the JSON
    result. NautilusTrader replays the first ``nautilus_events`` events only (0: all): it is ~30x slower."""
    from cns.bench.backtest_peers import DEFAULT_PARAMS

    res: dict[str, Any] = {"machine": machine(), "params": dict(DEFAULT_PARAMS), "runs": runs, "seed": seed}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        t0 = time.perf_counter()
        stream = make_stream(events, seed)
        path = Path(tmp) / "stream.npy"
        np.save(path, stream)
        res["stream"] = {
            "events": int(stream.shape[0]),
            "market_updates": int(np.count_nonzero(np.diff(stream["time_ns"])) + 1),
            "format": "LOBSTER messages, types 1-4 + close-out deletes, tiled sessions",
            "generate_s": time.perf_counter() - t0,
        }
        limits = {e: (nautilus_events if e == "nautilus" else 0) for e in engines}
        raw: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
        for _ in range(runs):
            for e in engines:
                if raw[e] and "unavailable" in raw[e][-1]:
                    continue
                extra = {"prefix": nautilus_events} if e == "cns" and nautilus_events else {}
                raw[e].append(_run_engine(e, path, extra, limits[e], timeout_s))
    res["engines"] = {e: _summary(raw[e]) for e in engines}
    cns = res["engines"].get("cns", {})
    ratios: dict[str, Any] = {}
    for e in engines:
        v = res["engines"][e]
        if e == "cns" or "events_per_s" not in v or "events_per_s" not in cns:
            continue
        same_n = v["events"] == cns["events"]
        ratios[e] = {
            "wall": cns["events_per_s"] / v["events_per_s"],
            "cpu": cns["events_per_cpu_s"] / v["events_per_cpu_s"],
            # the strategy's decisions depend on the book alone: equal counts = the engines saw the same books
            "same_orders": v["orders"] == (cns["orders"] if same_n else cns.get("prefix_orders")),
            "peer_events": v["events"],
        }
    res["ratios"] = ratios
    hbt = [ratios[e]["wall"] for e in ("hftbacktest", "hftbacktest-roivector") if e in ratios]
    if hbt:
        res["goal"] = {
            "ratio_vs_best_hftbacktest": min(hbt),
            "target": GOAL_RATIO_HBT,
            "met": min(hbt) >= GOAL_RATIO_HBT,
            "basis": "median wall-clock events/s of the replay loop, same invocation",
        }
    res["default_replay"] = replay_figure()
    res["includes"] = {
        "events_per_s": "stream events (L3 adds, partial cancels, deletes, executions) / wall time of the "
        "engine's replay loop, strategy included (one top-of-book read per market update, its orders and "
        "fills); excludes process start, imports, data conversion (prepare_s), engine set-up and the "
        "warm-up run on the first 20 000 events",
        "events_per_cpu_s": "the same over the process CPU time of the loop (robust to other load)",
        "nautilus": "replays the first nautilus_events events of the same stream (rates are per event)",
    }
    return res


def _report(r: dict[str, Any]) -> None:
    rows = []
    for e, v in r["engines"].items():
        if "events_per_s" not in v:
            rows.append({"engine": e, "events/s": "-", "note": f"unavailable: {v.get('unavailable')}"})
            continue
        rt = r["ratios"].get(e)
        rows.append(
            {
                "engine": f"{e} {v.get('version') or ''}".strip(),
                "events": v["events"],
                "events/s": fmt_rate(v["events_per_s"]),
                "min-max": f"{fmt_rate(v['events_per_s_min'])}-{fmt_rate(v['events_per_s_max'])}",
                "per cpu-s": fmt_rate(v["events_per_cpu_s"]),
                "orders": v["orders"],
                "fills": v["fills"],
                "CNS/peer": f"{rt['wall']:.2f}x" if rt else "",
            }
        )
    print_table(f"cns bench backtest: same L3 stream + strategy, median of {r['runs']} runs", rows)
    g = r.get("goal")
    if g:
        print(
            f"goal >= {g['target']}x hftbacktest's loop: {g['ratio_vs_best_hftbacktest']:.2f}x -> "
            f"{'met' if g['met'] else 'NOT met'}"
        )
    d = r["default_replay"]
    if "unavailable" in d:
        print(f"default replay figure: unavailable ({d['unavailable']})")
    else:
        print(
            f"default replay ({d['source']}): {d['news_events']:,} news events + {d['book_orders']:,} book orders "
            f"in {d['wall_s']:.2f} s = {fmt_rate(d['events_plus_book_orders_per_s'])} "
            f"(goal {fmt_rate(d['goal'])}: {'met' if d['met'] else 'NOT met'})"
        )


def headline(r: dict[str, Any]) -> list[dict[str, Any]]:
    """README rows (:func:`cns.bench.readme.headline_row`) from a :func:`run` result."""
    from cns.bench.readme import headline_row

    cns = r["engines"].get("cns", {})
    if "events_per_s" not in cns:
        return []
    best = None
    for e in ("hftbacktest", "hftbacktest-roivector"):
        v = r["engines"].get(e, {})
        if "events_per_s" in v and (best is None or v["events_per_s"] > best[1]["events_per_s"]):
            best = (e, v)
    g = r.get("goal")
    rows = [
        headline_row(
            f"backtest replay of one L3 stream ({cns['events']:,} events) with a compiled strategy reading the "
            "book each market update, events/s, wall, median",
            fmt_rate(cns["events_per_s"]),
            peer=f"{best[0]} {best[1]['version']}: {fmt_rate(best[1]['events_per_s'])}" if best else "",
            ratio=f"{g['ratio_vs_best_hftbacktest']:.2f}x CNS/hftbacktest" if g else "",
            goal=f">= {GOAL_RATIO_HBT}x" if g else "",
            met=bool(g["met"]) if g else None,
        )
    ]
    d = r.get("default_replay") or {}
    if "events_plus_book_orders_per_s" in d:
        rows.append(
            headline_row(
                f"default cns run (from {d['source']}): news events + simulated exchange book orders of the fast "
                "world per wall second (measured.wall_s)",
                fmt_rate(d["events_plus_book_orders_per_s"]),
                goal=f">= {fmt_rate(GOAL_REPLAY_RATE)}",
                met=bool(d["met"]),
            )
        )
    nt = r["engines"].get("nautilus", {})
    if "events_per_s" in nt:
        rows.append(
            headline_row(
                "same stream and strategy vs NautilusTrader BacktestEngine (L3 MBO book), events/s, wall, median",
                fmt_rate(cns["events_per_s"]),
                peer=f"NautilusTrader {nt['version']}: {fmt_rate(nt['events_per_s'])}",
                ratio=f"{r['ratios']['nautilus']['wall']:.1f}x CNS/NautilusTrader",
            )
        )
    return rows


def main(args: argparse.Namespace | None = None) -> int:
    """Entry of ``cns bench backtest [--quick] [--json PATH] [--runs N] [--events N] [--nautilus-events N]
    [--timeout S]`` (options: `cns bench backtest --help`)."""
    quick = bool(getattr(args, "quick", False))
    runs = getattr(args, "runs", None) or (2 if quick else 3)
    events = getattr(args, "events", None) or (200_000 if quick else 2_000_000)
    nt = getattr(args, "nautilus_events", None)
    r = run(
        events,
        runs,
        nautilus_events=nt if nt is not None else (50_000 if quick else 100_000),
        timeout_s=getattr(args, "timeout", None) or 600.0,
    )
    r["quick"] = quick
    r["cpu"] = r["machine"].get("cpu")
    r["headline"] = headline(r)
    _report(r)
    path = getattr(args, "json", None)
    if path:
        print(f"wrote {write_json(path, r)}")
    return 0
