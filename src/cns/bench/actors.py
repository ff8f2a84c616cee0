"""``cns bench actors [--quick] [--runs N] [--json PATH]``: the CNS actor runtime against Thespian, asyncio and
Pykka, measured in one invocation.

Workloads (the same for every runtime, sizes in :mod:`cns.bench.actors_peers`): one-way flood to one
actor (msgs/s), ping-pong call (p50/p99/p99.9 ns per call), spawn of N (bare, and linked+supervised
p50 ns), bytes per idle actor (tracemalloc), and time to spawn 1M actors (CNS measured; peers
extrapolated from a smaller N and marked so). CNS-only extras: actor-to-actor flood and ``acall``
ping-pong (p50/p99/p99.9), open-loop latency, and the 1M spawn's CPU time, with the cyclic GC paused,
and inside ``node.bulk_spawn()`` (plus the young collections that scope defers).

Like for like. CNS's ``Node`` delivers on the caller's thread: ``send`` enqueues, the scheduler runs the
handler in the same thread. Thespian's ``simpleSystemBase`` does the same (delivery inside ``tell``/``ask``)
and so does asyncio (a Task draining a Queue on one event loop): **those ratios are the headline**. Pykka's
``ThreadingActor`` runs every actor on its own OS thread, so each message is a hand-off through a
cross-thread queue plus a thread wake-up (and, for ``ask``, a wait on a future from another thread): its
figures measure that hand-off, not the same work, and are reported under their own label.

``--runs N`` (default 5, 3 with ``--quick``) repeats every runtime N times, interleaved (run 1 of each, then
run 2 of each, ...), each run of each runtime in a fresh interpreter; every figure is the median over the
runs, with min–max under ``spread``. Ratios are computed per run (same run, same machine state), then
folded the same way.

Prints a results table and a goals table (met/missed) and, with ``--json PATH``, writes::

    {"cpu", "machine", "quick", "runs", "sizes", "cns": {...}, "pykka": {...}, "thespian": {...},
     "asyncio": {...}, "ratios": {...}, "spread": {...}, "comparability": {...}, "goals": [...],
     "headline": [...]}

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
from cns.bench.readme import headline_row
from cns.bench.runs import fmt_spread, spread

__all__ = ["COMPARABILITY", "GOALS", "main", "run"]

# (key, description, metric in results["cns"] or results["ratios"], comparison, target)
GOALS: tuple[tuple[str, str, str, str, float], ...] = (
    ("send", "one-way >= 3M msgs/s", "cns.send_msgs_per_s", ">=", 3e6),
    ("call_p50", "call p50 <= 1 µs", "cns.call_ns_p50", "<=", 1_000),
    ("call_p99", "call p99 <= 2 µs", "cns.call_ns_p99", "<=", 2_000),
    ("call_p999", "call p99.9 <= 5 µs", "cns.call_ns_p999", "<=", 5_000),
    ("acall_p50", "actor-to-actor acall p50 <= 1 µs", "cns.acall_ns_p50", "<=", 1_000),
    ("acall_p99", "actor-to-actor acall p99 <= 3 µs", "cns.acall_ns_p99", "<=", 3_000),
    ("acall_p999", "actor-to-actor acall p99.9 <= 5 µs", "cns.acall_ns_p999", "<=", 5_000),
    ("spawn_linked", "linked+supervised spawn p50 <= 1 µs", "cns.spawn_linked_ns_p50", "<=", 1_000),
    ("spawn_bare", "bare spawn p50 <= 500 ns", "cns.spawn_ns_p50", "<=", 500),
    ("memory", "<= 1 KiB per idle actor", "cns.bytes_per_idle_actor", "<=", 1024),
    ("spawn_1m", "1M spawned <= 2 s", "cns.spawn_1m_s", "<=", 2.0),
    ("send_vs_thespian", ">= 10x Thespian (one-way, both in-thread)", "ratios.send_vs_thespian", ">=", 10.0),
    ("call_vs_thespian", ">= 10x Thespian (call p50, both in-thread)", "ratios.call_vs_thespian", ">=", 10.0),
    ("send_vs_pykka", ">= 10x Pykka (one-way; Pykka crosses threads)", "ratios.send_vs_pykka", ">=", 10.0),
    ("call_vs_pykka", ">= 10x Pykka (call p50; Pykka crosses threads)", "ratios.call_vs_pykka", ">=", 10.0),
)

COMPARABILITY = {
    "thespian": "like for like: simpleSystemBase delivers on the caller's thread inside tell/ask, as CNS's Node "
    "runs handlers on the caller's thread",
    "asyncio": "like for like: one event loop on the caller's thread; an actor is a Task draining an asyncio.Queue",
    "pykka": "not the same work: a ThreadingActor runs on its own OS thread, so each tell is a put on a "
    "cross-thread queue that wakes that thread, and each ask also waits on a future set from the "
    "other thread; it measures a thread hand-off, which CNS's in-thread delivery does not pay",
}

_PEERS: tuple[tuple[str, Callable[[Sizes], dict[str, Any]]], ...] = (
    ("cns", run_cns),
    ("pykka", run_pykka),
    ("thespian", run_thespian),
    ("asyncio", run_asyncio),
)
_METRICS = (
    "send_msgs_per_s",
    "call_ns_p50",
    "call_ns_p99",
    "call_ns_p999",
    "spawn_ns_p50",
    "spawn_linked_ns_p50",
    "bytes_per_idle_actor",
    "spawn_1m_s",
)
_CNS_EXTRAS = (
    "a2a_send_msgs_per_s",
    "acall_ns_p50",
    "acall_ns_p99",
    "acall_ns_p999",
    "open_loop_ns_p50",
    "open_loop_ns_p99",
    "open_loop_ns_p999",
    "spawn_bulk_gc_off_s",
    "spawn_1m_cpu_s",
    "spawn_1m_bulk_s",
    "spawn_1m_bulk_cpu_s",
    "spawn_1m_bulk_deferred_s",
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
    """CNS/peer ratios of one run (higher = CNS better): one-way rate, call p50 and spawn p50 speed-ups."""
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


def _fold(per_run: list[dict[str, Any]], keys: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last successful run's dict with ``keys`` replaced by their median over the runs, and the spreads."""
    ok = [r for r in per_run if "error" not in r]
    if not ok:
        return dict(per_run[-1]), {}
    out = dict(ok[-1])
    sp = {}
    for k in keys:
        if any(isinstance(r.get(k), (int, float)) for r in ok):
            sp[k] = spread([r.get(k) for r in ok])
            out[k] = sp[k]["median"]
    out["runs_ok"] = len(ok)
    if len(ok) < len(per_run):
        out["errors"] = [r["error"] for r in per_run if "error" in r]
    return out, sp


def run(sizes: Sizes, *, runs: int = 5, isolate: bool = True) -> dict[str, Any]:
    """Run every runtime ``runs`` times on ``sizes`` (interleaved; each in its own fresh process unless
    ``isolate`` is False) and return the results document (see module doc)."""
    runs = max(1, runs)
    per: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in _PEERS}
    ratio_runs: list[dict[str, float | None]] = []
    for _ in range(runs):
        one = {name: _guarded(name, fn, sizes, isolate) for name, fn in _PEERS}
        for name in per:
            per[name].append(one[name])
        ratio_runs.append(_ratios(one))
    results: dict[str, Any] = {
        "cpu": cpu_model(),
        "machine": machine(),
        "sizes": dataclasses.asdict(sizes),
        "runs": runs,
    }
    spreads: dict[str, Any] = {}
    for name, _ in _PEERS:
        keys = _METRICS + (_CNS_EXTRAS if name == "cns" else ())
        # a runtime that failed in every run shows its error; one that failed in some runs keeps the others
        results[name], spreads[name] = _fold(per[name], keys)
    ratio_keys = tuple(ratio_runs[0])
    spreads["ratios"] = {k: spread([r[k] for r in ratio_runs]) for k in ratio_keys}
    results["ratios"] = {k: spreads["ratios"][k]["median"] for k in ratio_keys}
    results["spread"] = spreads
    results["comparability"] = COMPARABILITY
    results["goals"] = _goals(results)
    results["headline"] = _headline(results)
    return results


def _sp(results: dict[str, Any], name: str, key: str) -> dict[str, Any]:
    return (results["spread"].get(name) or {}).get(key) or {"runs": 0}


def _rx(sp: dict[str, Any]) -> str:
    return fmt_spread(sp, lambda x: f"{x:.1f}x")


def _met(results: dict[str, Any], key: str) -> bool | None:
    return next((g["met"] for g in results["goals"] if g["goal"] == key), None)


def _headline(results: dict[str, Any]) -> list[dict[str, Any]]:
    n = results["runs"]
    sz = results["sizes"]
    ratios = results["spread"]["ratios"]

    def send(name: str) -> str:
        return fmt_spread(_sp(results, name, "send_msgs_per_s"), fmt_rate)

    def call(name: str) -> str:
        return fmt_spread(_sp(results, name, "call_ns_p50"), fmt_ns)

    def both_met(a: str, b: str) -> bool | None:
        ma, mb = _met(results, a), _met(results, b)
        return None if ma is None or mb is None else bool(ma and mb)

    return [
        headline_row(
            f"one-way send, {sz['flood']:,} msgs to one actor then a sync call, msgs/s; in-thread "
            f"delivery on both sides (median, min–max of {n} runs)",
            send("cns"),
            peer=f"Thespian simpleSystemBase {send('thespian')}",
            ratio=f"{_rx(ratios['send_vs_thespian'])} CNS/Thespian",
            goal=">= 10x",
            met=_met(results, "send_vs_thespian"),
        ),
        headline_row(
            f"request/reply call p50, {sz['calls']:,} sequential calls from plain Python; in-thread on both "
            f"sides (median, min–max of {n} runs)",
            call("cns"),
            peer=f"Thespian ask {call('thespian')}",
            ratio=f"{_rx(ratios['call_vs_thespian'])} Thespian/CNS time",
            goal=">= 10x",
            met=_met(results, "call_vs_thespian"),
        ),
        headline_row(
            "one-way msgs/s and call p50 vs asyncio (Task + Queue on one event loop: also in-thread)",
            f"{send('cns')}; {call('cns')}",
            peer=f"asyncio {send('asyncio')}; {call('asyncio')}",
            ratio=f"{_rx(ratios['send_vs_asyncio'])} one-way; {_rx(ratios['call_vs_asyncio'])} call",
        ),
        headline_row(
            "vs Pykka ThreadingActor, one-way and call p50: NOT like for like — each Pykka message is a "
            "cross-thread queue hand-off + thread wake-up (ask also waits on a cross-thread future)",
            f"{send('cns')}; {call('cns')}",
            peer=f"Pykka {send('pykka')}; {call('pykka')}",
            ratio=f"{_rx(ratios['send_vs_pykka'])} one-way; {_rx(ratios['call_vs_pykka'])} call",
            goal=">= 10x",
            met=both_met("send_vs_pykka", "call_vs_pykka"),
        ),
        headline_row(
            "CNS call p50 / p99 (node.call from plain Python, handler included)",
            f"{call('cns')} / {fmt_spread(_sp(results, 'cns', 'call_ns_p99'), fmt_ns)}",
            goal="p50 <= 1 µs, p99 <= 2 µs",
            met=both_met("call_p50", "call_p99"),
        ),
        headline_row(
            "CNS actor-to-actor acall p50 / p99 / p99.9 (ping-pong inside the scheduler, handler included)",
            " / ".join(
                fmt_spread(_sp(results, "cns", f"acall_ns_{q}"), fmt_ns) for q in ("p50", "p99", "p999")
            ),
            goal="<= 1 µs / <= 3 µs / <= 5 µs",
            met=None
            if _met(results, "acall_p50") is None
            else bool(
                _met(results, "acall_p50") and _met(results, "acall_p99") and _met(results, "acall_p999")
            ),
        ),
        headline_row(
            "CNS spawn: bare p50 / linked+supervised p50 / 1M spawned (GC on)"
            + (
                ""
                if results["cns"].get("spawn_1m_extrapolated_from") is None
                else f" (1M extrapolated from {results['cns']['spawn_1m_extrapolated_from']:,})"
            ),
            f"{fmt_spread(_sp(results, 'cns', 'spawn_ns_p50'), fmt_ns)} / "
            f"{fmt_spread(_sp(results, 'cns', 'spawn_linked_ns_p50'), fmt_ns)} / "
            f"{fmt_spread(_sp(results, 'cns', 'spawn_1m_s'), lambda x: f'{x:.2f} s')}",
            goal="<= 500 ns / <= 1 µs / <= 2 s",
            met=None
            if _met(results, "spawn_bare") is None
            else bool(
                _met(results, "spawn_bare") and _met(results, "spawn_linked") and _met(results, "spawn_1m")
            ),
        ),
    ]


def _show(results: dict[str, Any]) -> None:
    n = results["runs"]
    rows: list[dict[str, Any]] = []
    for name, _ in _PEERS:
        r = results[name]
        if "error" in r:
            rows.append({"runtime": name, "one-way": "ERROR (see below)"})
            continue
        rows.append(
            {
                "runtime": name,
                "one-way": fmt_rate(r.get("send_msgs_per_s")),
                "call p50": fmt_ns(r.get("call_ns_p50")),
                "call p99": fmt_ns(r.get("call_ns_p99")),
                "call p99.9": fmt_ns(r.get("call_ns_p999")),
                "spawn p50": fmt_ns(r.get("spawn_ns_p50")),
                "linked spawn p50": fmt_ns(r.get("spawn_linked_ns_p50")),
                "B/idle actor": None
                if r.get("bytes_per_idle_actor") is None
                else round(r["bytes_per_idle_actor"]),
                "1M spawn": "n/a"
                if r.get("spawn_1m_s") is None
                else (f"{r['spawn_1m_s']:.2f} s" + ("*" if r.get("spawn_1m_extrapolated_from") else "")),
            }
        )
    print_table(
        f"Actor runtimes on {results['cpu']}: median of {n} run(s) (* = extrapolated from a smaller N)", rows
    )
    print()
    ratios = results["spread"]["ratios"]
    sp_rows = []
    for peer in ("thespian", "asyncio", "pykka"):
        sp_rows.append(
            {
                "peer": peer,
                "like for like": "yes (in-thread)" if peer != "pykka" else "NO (cross-thread hand-off)",
                "one-way CNS/peer": _rx(ratios[f"send_vs_{peer}"]),
                "call p50 peer/CNS": _rx(ratios[f"call_vs_{peer}"]),
                f"peer one-way (median, min–max of {n})": fmt_spread(
                    _sp(results, peer, "send_msgs_per_s"), fmt_rate
                ),
                "peer call p50": fmt_spread(_sp(results, peer, "call_ns_p50"), fmt_ns),
            }
        )
    print_table(
        f"Ratios, per run then median (min–max); CNS one-way {fmt_spread(_sp(results, 'cns', 'send_msgs_per_s'), fmt_rate)}, "
        f"call p50 {fmt_spread(_sp(results, 'cns', 'call_ns_p50'), fmt_ns)}",
        sp_rows,
    )
    print(f"Pykka: {COMPARABILITY['pykka']}")
    print()
    grows = []
    for g in results["goals"]:
        v = g["measured"]
        shown = "n/a" if v is None else (f"{v:.3g}" if isinstance(v, float) and v < 100 else f"{v:,.0f}")
        grows.append(
            {
                "goal": g["target"],
                "measured (median)": shown,
                "status": "n/a" if g["met"] is None else ("met" if g["met"] else "MISSED"),
            }
        )
    print_table("Goals (CNS)", grows)
    c = results["cns"]
    if "error" not in c:
        print()
        print_table(
            "CNS extras (median of the runs)",
            [
                {
                    "figure": "one-way actor->actor (inside the scheduler)",
                    "value": fmt_rate(c.get("a2a_send_msgs_per_s")),
                },
                {
                    "figure": "acall actor->actor p50 / p99 / p99.9",
                    "value": " / ".join(fmt_ns(c.get(f"acall_ns_{q}")) for q in ("p50", "p99", "p999")),
                },
                {
                    "figure": f"open-loop one-way at {c.get('open_loop_rate_per_s', 0):,.0f} msgs/s, from intended send: "
                    "p50 / p99 / p99.9",
                    "value": " / ".join(fmt_ns(c.get(f"open_loop_ns_{q}")) for q in ("p50", "p99", "p999")),
                },
                {
                    "figure": f"bulk spawn of {c.get('spawn_bulk_n', 0):,} with the cyclic GC paused (diagnostic)",
                    "value": f"{c.get('spawn_bulk_gc_off_s', float('nan')):.2f} s",
                },
                {
                    "figure": "1M spawned (GC on): CPU time of the same loop (the box's other tenants excluded)",
                    "value": f"{c.get('spawn_1m_cpu_s', float('nan')):.2f} s",
                },
                {
                    "figure": "1M spawned inside node.bulk_spawn() (GC on, gen-0 threshold raised in the scope): "
                    "wall / CPU / deferred young collections after the scope",
                    "value": f"{c.get('spawn_1m_bulk_s', float('nan')):.2f} s / "
                    f"{c.get('spawn_1m_bulk_cpu_s', float('nan')):.2f} s / "
                    f"{c.get('spawn_1m_bulk_deferred_s', float('nan')):.2f} s",
                },
            ],
        )
    for name, _ in _PEERS:
        if "error" in results[name]:
            print(f"\n{name} FAILED: {results[name]['error']}")
        elif results[name].get("errors"):
            print(f"\n{name} failed in {len(results[name]['errors'])} run(s): {results[name]['errors'][0]}")


def main(args: argparse.Namespace) -> int:
    """``cns bench actors [--quick] [--runs N] [--json PATH]``: returns 0 when every runtime ran in every run
    (goals may be missed)."""
    quick = bool(getattr(args, "quick", False))
    sizes = QUICK if quick else FULL
    runs = getattr(args, "runs", None) or (3 if quick else 5)
    results = run(sizes, runs=runs)
    results["quick"] = quick
    _show(results)
    path = getattr(args, "json", None)
    if path:
        print(f"\nwrote {write_json(path, results)}")
    failed = any("error" in results[name] or results[name].get("errors") for name, _ in _PEERS)
    return 1 if failed else 0
