"""``cns bench actors``: the CNS actor runtime against Pykka, Thespian and asyncio, measured in one run.

Workloads (the same for every runtime, sizes in :mod:`cns.bench.actors_peers`): one-way flood to one
actor (msgs/s), ping-pong call (p50/p99/p99.9 ns per call), spawn of N (bare, and linked+supervised
p50 ns), bytes per idle actor (tracemalloc), and time to spawn 1M actors (CNS measured; peers
extrapolated from a smaller N and marked so).

Prints a results table and a goals table (met/missed) and, with ``--json PATH``, writes::

    {"cpu", "machine", "quick", "sizes", "cns": {...}, "pykka": {...}, "thespian": {...}, "asyncio": {...},
     "ratios": {...}, "goals": [...]}

A runtime that fails is reported with ``{"error": "..."}`` instead of numbers; the run goes on.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from cns.bench.actors_cns import run_cns
from cns.bench.actors_peers import FULL, QUICK, Sizes, run_asyncio, run_pykka, run_thespian
from cns.bench.common import cpu_model, fmt_ns, fmt_rate, machine, print_table, write_json

__all__ = ["GOALS", "main", "run"]

# (key, description, metric in results["cns"] or results["ratios"], comparison, target)
GOALS: tuple[tuple[str, str, str, str, float], ...] = (
    ("send", "one-way >= 3M msgs/s", "cns.send_msgs_per_s", ">=", 3e6),
    ("call_p50", "call p50 <= 1 µs", "cns.call_ns_p50", "<=", 1_000),
    ("call_p99", "call p99 <= 2 µs", "cns.call_ns_p99", "<=", 2_000),
    ("spawn_linked", "linked+supervised spawn p50 <= 1 µs", "cns.spawn_linked_ns_p50", "<=", 1_000),
    ("spawn_bare", "bare spawn p50 <= 500 ns", "cns.spawn_ns_p50", "<=", 500),
    ("memory", "<= 1 KiB per idle actor", "cns.bytes_per_idle_actor", "<=", 1024),
    ("spawn_1m", "1M spawned <= 2 s", "cns.spawn_1m_s", "<=", 2.0),
    ("send_vs_pykka", ">= 10x Pykka (one-way)", "ratios.send_vs_pykka", ">=", 10.0),
    ("send_vs_thespian", ">= 10x Thespian (one-way)", "ratios.send_vs_thespian", ">=", 10.0),
    ("call_vs_pykka", ">= 10x Pykka (call p50)", "ratios.call_vs_pykka", ">=", 10.0),
    ("call_vs_thespian", ">= 10x Thespian (call p50)", "ratios.call_vs_thespian", ">=", 10.0),
)

_PEERS: tuple[tuple[str, Callable[[Sizes], dict[str, Any]]], ...] = (
    ("cns", run_cns),
    ("pykka", run_pykka),
    ("thespian", run_thespian),
    ("asyncio", run_asyncio),
)


def _guarded(name: str, fn: Callable[[Sizes], dict[str, Any]], sizes: Sizes, isolate: bool) -> dict[str, Any]:
    """Run one runtime's workloads, by default in a fresh interpreter (``spawn``), so no runtime pays for
    another's threads or garbage (the cyclic GC walks every live object: leftovers skew later runs)."""
    t0 = time.perf_counter_ns()
    try:
        if isolate:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as ex:
                out = ex.submit(fn, sizes).result()
        else:
            out = fn(sizes)
    except Exception as exc:  # noqa: BLE001 - a broken peer must not hide the others' numbers
        out = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=4)}
    out["wall_s"] = (time.perf_counter_ns() - t0) / 1e9
    out["isolated_process"] = isolate
    return out


def _ratio(num: Any, den: Any) -> float | None:
    if num is None or den is None or den == 0 or math.isnan(num) or math.isnan(den):
        return None
    return float(num) / float(den)


def _ratios(r: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    cns = r["cns"]
    out: dict[str, float | None] = {}
    for peer in ("pykka", "thespian", "asyncio"):
        p = r[peer]
        out[f"send_vs_{peer}"] = _ratio(cns.get("send_msgs_per_s"), p.get("send_msgs_per_s"))
        out[f"call_vs_{peer}"] = _ratio(p.get("call_ns_p50"), cns.get("call_ns_p50"))
        out[f"spawn_vs_{peer}"] = _ratio(p.get("spawn_ns_p50"), cns.get("spawn_ns_p50"))
    return out


def _lookup(results: dict[str, Any], path: str) -> Any:
    a, _, b = path.partition(".")
    return results.get(a, {}).get(b)


def _goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, text, path, op, target in GOALS:
        v = _lookup(results, path)
        met = None if v is None else (v >= target if op == ">=" else v <= target)
        rows.append({"goal": key, "target": text, "measured": v, "met": met})
    return rows


def run(sizes: Sizes, *, isolate: bool = True) -> dict[str, Any]:
    """Run every runtime on ``sizes`` (each in its own fresh process unless ``isolate`` is False) and
    return the results document (see module doc)."""
    results: dict[str, Any] = {"cpu": cpu_model(), "machine": machine(), "sizes": dataclasses.asdict(sizes)}
    for name, fn in _PEERS:
        results[name] = _guarded(name, fn, sizes, isolate)
    results["ratios"] = _ratios(results)
    results["goals"] = _goals(results)
    return results


def _show(results: dict[str, Any]) -> None:
    rows = []
    for name, _ in _PEERS:
        r = results[name]
        if "error" in r:
            rows.append({"runtime": name, "one-way": "ERROR (see below)"})
            continue
        rows.append({
            "runtime": name,
            "one-way": fmt_rate(r.get("send_msgs_per_s")),
            "call p50": fmt_ns(r.get("call_ns_p50")),
            "call p99": fmt_ns(r.get("call_ns_p99")),
            "call p99.9": fmt_ns(r.get("call_ns_p999")),
            "spawn p50": fmt_ns(r.get("spawn_ns_p50")),
            "linked spawn p50": fmt_ns(r.get("spawn_linked_ns_p50")),
            "B/idle actor": None if r.get("bytes_per_idle_actor") is None else round(r["bytes_per_idle_actor"]),
            "1M spawn": "n/a" if r.get("spawn_1m_s") is None else (
                f"{r['spawn_1m_s']:.2f} s" + ("*" if r.get("spawn_1m_extrapolated_from") else "")),
        })
    print_table(f"Actor runtimes on {results['cpu']} (* = extrapolated from a smaller N)", rows)
    print()
    grows = []
    for g in results["goals"]:
        v = g["measured"]
        shown = "n/a" if v is None else (f"{v:.3g}" if isinstance(v, float) and v < 100 else f"{v:,.0f}")
        grows.append({"goal": g["target"], "measured": shown,
                      "status": "n/a" if g["met"] is None else ("met" if g["met"] else "MISSED")})
    print_table("Goals (CNS)", grows)
    c = results["cns"]
    if "error" not in c:
        print()
        print_table("CNS extras", [
            {"figure": "one-way actor->actor (inside the scheduler)", "value": fmt_rate(c.get("a2a_send_msgs_per_s"))},
            {"figure": "acall actor->actor p50 / p99 / p99.9",
             "value": " / ".join(fmt_ns(c.get(f"acall_ns_{q}")) for q in ("p50", "p99", "p999"))},
            {"figure": f"open-loop one-way at {c.get('open_loop_rate_per_s', 0):,.0f} msgs/s, from intended send: "
                       "p50 / p99 / p99.9",
             "value": " / ".join(fmt_ns(c.get(f"open_loop_ns_{q}")) for q in ("p50", "p99", "p999"))},
            {"figure": f"bulk spawn of {c.get('spawn_bulk_n', 0):,} with the cyclic GC paused (diagnostic)",
             "value": f"{c.get('spawn_bulk_gc_off_s', float('nan')):.2f} s"},
        ])
    for name, _ in _PEERS:
        if "error" in results[name]:
            print(f"\n{name} FAILED: {results[name]['error']}")


def main(args: argparse.Namespace) -> int:
    """``cns bench actors [--quick] [--json PATH]``: returns 0 when every runtime ran (goals may be missed)."""
    quick = bool(getattr(args, "quick", False))
    sizes = QUICK if quick else FULL
    results = run(sizes)
    results["quick"] = quick
    _show(results)
    path = getattr(args, "json", None)
    if path:
        print(f"\nwrote {write_json(path, results)}")
    return 1 if any("error" in results[name] for name, _ in _PEERS) else 0
