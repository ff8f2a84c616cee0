"""``cns bench signals``: compiled SHACL record kernels (BitActor engine) vs pySHACL, measured in one run.

Figures (all from clocks in this run):

* ``validations_per_s`` / ``ns_per_signal`` — wall time of ``NewsValidator.process`` over >= 10M record
  signals (1M with ``--quick``), one core, batches of 4096 records cycling over a pool of distinct batches
  small enough to stay in the last-level cache (a pipeline validates what the parse stage just wrote).
  ``stream_validations_per_s`` is the same over one pass of a large array (records from DRAM).
* ``l2_*`` — the same with one batch re-validated (records resident in L2: the kernel's compute cost).
* ``cycles_per_signal`` (kernel, cycle counter), ``processed_ns_per_signal``, ``zero_tick_ns_per_signal``
  (ingress cost, the only cost of an elided signal), ``zero_tick_ratio`` of the stream (mix in the JSON).
* ``single_event_ns_p50/p99/p999`` — one record validated from Python (``validate_one``), call included.
* ``compile_cold_s`` (codegen + JIT, empty cache, in this process), ``load_cached_s`` (a fresh process
  loading the cached artifact, first kernel run included; its import time is reported separately).
* ``pyshacl_validations_per_s`` — pySHACL on a sample of the same records as an RDF graph (conversion not
  timed), and ``speedup_vs_pyshacl``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from cns.bench.common import fmt_ns, fmt_rate, machine, percentiles_ns, print_table, write_json
from cns.engine import NewsValidator
from cns.resources import shipped_rules
from cns.signals.clock import clock_costs
from cns.signals.synth import DEFAULT_MIX, extended_news_inputs, synth_news

__all__ = ["main", "run"]

SHAPES = shipped_rules("news.ttl")
BATCH = 8192
POOL_BATCHES = 8  # 8 x 8192 x 160 B = 10.5 MB: fits the last-level cache
GOALS = {
    "validations_per_s": (100e6, ">="),
    "zero_tick_ns_per_signal": (1.0, "<="),
    "single_event_ns_p99": (1000.0, "<"),
    "speedup_vs_pyshacl": (10_000.0, ">="),
}

_LOAD_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
from cns.engine import NewsValidator
from cns.signals.synth import extended_news_inputs
t1 = time.perf_counter()
d, t, _ = extended_news_inputs()
v = NewsValidator.load(sys.argv[1], cache_dir=sys.argv[2], dictionaries=d, tables=t)
print(json.dumps({"import_s": t1 - t0, "load_s": v.load_seconds, "cached": v.was_cached}))
"""


def _measure_cached_load(cache_dir: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_SNIPPET, str(SHAPES), cache_dir],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _throughput(v: NewsValidator, pool: np.ndarray, total: int) -> dict[str, Any]:
    verdict = np.empty(BATCH, np.uint8)
    code = np.empty(BATCH, np.uint16)
    nb = len(pool) // BATCH
    batches = [pool[i * BATCH : (i + 1) * BATCH] for i in range(nb)]
    v.process(batches[0], verdict, code)  # warm
    reps = max(1, -(-total // BATCH))  # at least `total` signals
    acc = np.zeros(6, dtype=np.int64)
    sampled_over = sampled = 0
    t0 = time.perf_counter_ns()
    for r in range(reps):
        s = v.process(batches[r % nb], verdict, code)
        acc += (s.signals, s.processed, s.elided, s.ingress_cycles, s.dispatch_cycles, s.violations)
        sampled += s.sampled
        sampled_over += s.budget_violations
    wall = time.perf_counter_ns() - t0
    n, proc, el, ing, disp, viol = (int(x) for x in acc)
    cpn = v.cycles_per_ns
    return {
        "signals": n,
        "processed": proc,
        "elided": el,
        "violations": viol,
        "wall_ns": wall,
        "validations_per_s": n / wall * 1e9,
        "ns_per_signal": wall / n,
        "cycles_per_signal": (ing + disp) / n,
        "zero_tick_ns_per_signal": ing / n / cpn,
        "zero_tick_cycles_per_signal": ing / n,
        "processed_ns_per_signal": (ing / n + disp / max(1, proc)) / cpn,
        "processed_cycles_per_signal": ing / n + disp / max(1, proc),
        "zero_tick_ratio": el / n,
        "handler_samples": sampled,
        "handler_samples_over_budget": sampled_over,
    }


def _stream(v: NewsValidator, big: np.ndarray) -> dict[str, Any]:
    verdict = np.empty(len(big), np.uint8)
    code = np.empty(len(big), np.uint16)
    v.process(big[:BATCH], verdict, code)
    t0 = time.perf_counter_ns()
    for i in range(0, len(big), BATCH):
        v.process(big[i : i + BATCH], verdict[i : i + BATCH], code[i : i + BATCH])
    wall = time.perf_counter_ns() - t0
    return {"signals": len(big), "validations_per_s": len(big) / wall * 1e9, "ns_per_signal": wall / len(big)}


def _single(v: NewsValidator, pool: np.ndarray, n: int) -> dict[str, float]:
    lat = np.empty(n, dtype=np.int64)
    m = len(pool)
    for i in range(min(n, 2000)):
        v.validate_one(pool, i % m)
    pc = time.perf_counter_ns
    one = v.validate_one
    for i in range(n):
        j = i % m
        t0 = pc()
        one(pool, j)
        lat[i] = pc() - t0
    return percentiles_ns(lat)


def _pyshacl(v: NewsValidator, sample: np.ndarray, dicts: Any, tables: Any) -> dict[str, Any]:
    try:
        import pyshacl
        from rdflib import Graph
    except ImportError as e:  # pragma: no cover - pyshacl is a bench/test dependency
        return {"error": f"pyshacl not installed: {e}"}
    from cns.signals.rdf import records_to_graph

    data = records_to_graph(sample, v.schema, dicts, tables)
    shapes = Graph().parse(SHAPES)
    t0 = time.perf_counter_ns()
    conforms, _, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=False)
    wall = time.perf_counter_ns() - t0
    return {
        "records": len(sample),
        "triples": len(data),
        "wall_ns": wall,
        "conforms": bool(conforms),
        "validations_per_s": len(sample) / wall * 1e9,
    }


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark and return the JSON document (see the module docstring)."""
    total = 1_000_000 if quick else 10_000_000
    dicts, tables, odd = extended_news_inputs()
    with tempfile.TemporaryDirectory(prefix="cns-kernels-") as cache:
        t0 = time.perf_counter_ns()
        v = NewsValidator.load(SHAPES, cache_dir=cache, dictionaries=dicts, tables=tables)
        compile_cold_s = (time.perf_counter_ns() - t0) / 1e9
        cached = _measure_cached_load(cache)
    pool = synth_news(BATCH * POOL_BATCHES, dicts, seed=11, unregistered_source=odd["unregistered"])
    hot = _throughput(v, pool, total)
    l2 = _throughput(v, pool[:BATCH], total // 2)  # one batch re-validated: records resident in L2
    big = synth_news(200_000 if quick else 2_000_000, dicts, seed=12, unregistered_source=odd["unregistered"])
    stream = _stream(v, big)
    single = _single(v, pool, 20_000 if quick else 100_000)
    ps = _pyshacl(v, pool[: 500 if quick else 2000], dicts, tables)
    costs = clock_costs()
    doc: dict[str, Any] = {
        "benchmark": "signals",
        "quick": quick,
        "cpu": machine()["cpu"],
        "machine": machine(),
        "shapes": str(SHAPES.name),
        "stream_mix": {
            **DEFAULT_MIX,
            "note": "fractions of records; invalid = share of news items with a defect",
        },
        "batch_records": BATCH,
        "pool_records": len(pool),
        **{
            k: hot[k]
            for k in (
                "validations_per_s",
                "ns_per_signal",
                "cycles_per_signal",
                "zero_tick_ns_per_signal",
                "zero_tick_cycles_per_signal",
                "processed_ns_per_signal",
                "processed_cycles_per_signal",
                "zero_tick_ratio",
            )
        },
        "signals": hot["signals"],
        "violations": hot["violations"],
        "handler_budget_cycles": v.budget_cycles,
        "handler_samples": hot["handler_samples"],
        "handler_samples_over_budget": hot["handler_samples_over_budget"],
        "l2_validations_per_s": l2["validations_per_s"],
        "l2_cycles_per_signal": l2["cycles_per_signal"],
        "l2_zero_tick_ns_per_signal": l2["zero_tick_ns_per_signal"],
        "l2_processed_ns_per_signal": l2["processed_ns_per_signal"],
        "stream_validations_per_s": stream["validations_per_s"],
        "stream_ns_per_signal": stream["ns_per_signal"],
        "single_event_ns_p50": single["p50"],
        "single_event_ns_p99": single["p99"],
        "single_event_ns_p999": single["p999"],
        "single_event_ns_max": single["max"],
        "compile_cold_s": compile_cold_s,
        "load_cached_s": cached["load_s"],
        "load_cached_import_s": cached["import_s"],
        "load_cached_was_cached": cached["cached"],
        "pyshacl": ps,
        "pyshacl_validations_per_s": ps.get("validations_per_s"),
        "cycles_per_ns": v.cycles_per_ns,
        "clock_read_cycles_ns": costs.read_cycles_ns,
        "clock_monotonic_ns_ns": costs.monotonic_ns_ns,
        "compiler_notes": v.notes,
    }
    pr = doc["pyshacl_validations_per_s"]
    doc["speedup_vs_pyshacl"] = doc["validations_per_s"] / pr if pr else None
    doc["goals"] = {k: _goal(doc.get(k), *g) for k, g in GOALS.items()}
    return doc


def _goal(value: float | None, target: float, op: str) -> dict[str, Any]:
    met = None if value is None else {">=": value >= target, "<=": value <= target, "<": value < target}[op]
    return {"value": value, "target": f"{op} {target:g}", "met": met}


def _print(doc: dict[str, Any]) -> None:
    g = doc["goals"]
    mark = {True: "met", False: "MISSED", None: "n/a"}
    rows = [
        {
            "figure": "validations/s/core (8 batches, in L3)",
            "value": fmt_rate(doc["validations_per_s"]),
            "goal": ">= 100 M/s",
            "status": mark[g["validations_per_s"]["met"]],
        },
        {
            "figure": "validations/s/core (one batch in L2)",
            "value": fmt_rate(doc["l2_validations_per_s"]),
            "goal": "",
            "status": "",
        },
        {
            "figure": "validations/s/core (stream from DRAM)",
            "value": fmt_rate(doc["stream_validations_per_s"]),
            "goal": "",
            "status": "",
        },
        {"figure": "ns / signal (wall)", "value": f"{doc['ns_per_signal']:.2f}", "goal": "", "status": ""},
        {
            "figure": "cycles / signal (kernel)",
            "value": f"{doc['cycles_per_signal']:.1f}",
            "goal": "",
            "status": "",
        },
        {
            "figure": "processed signal",
            "value": f"{doc['processed_ns_per_signal']:.2f} ns "
            f"({doc['processed_cycles_per_signal']:.1f} cyc)",
            "goal": "",
            "status": "",
        },
        {
            "figure": "elided signal, batch in L2",
            "value": f"{doc['l2_zero_tick_ns_per_signal']:.2f} ns",
            "goal": "",
            "status": "",
        },
        {
            "figure": "elided signal (zero-tick)",
            "value": f"{doc['zero_tick_ns_per_signal']:.2f} ns",
            "goal": "<= 1 ns",
            "status": mark[g["zero_tick_ns_per_signal"]["met"]],
        },
        {
            "figure": "zero-tick ratio of the stream",
            "value": f"{doc['zero_tick_ratio']:.3f}",
            "goal": "",
            "status": "",
        },
        {
            "figure": "single event p50 / p99",
            "value": f"{fmt_ns(doc['single_event_ns_p50'])} / {fmt_ns(doc['single_event_ns_p99'])}",
            "goal": "p99 < 1 µs",
            "status": mark[g["single_event_ns_p99"]["met"]],
        },
        {
            "figure": "compile cold / load cached",
            "value": f"{doc['compile_cold_s']:.2f} s / {doc['load_cached_s']:.2f} s",
            "goal": "load <= 1 s",
            "status": mark[doc["load_cached_s"] <= 1.0],
        },
        {
            "figure": "pySHACL validations/s",
            "value": fmt_rate(doc["pyshacl_validations_per_s"]),
            "goal": "",
            "status": "",
        },
        {
            "figure": "speedup vs pySHACL",
            "value": f"{doc['speedup_vs_pyshacl']:,.0f}x" if doc["speedup_vs_pyshacl"] else "n/a",
            "goal": ">= 10,000x",
            "status": mark[g["speedup_vs_pyshacl"]["met"]],
        },
    ]
    print_table(f"cns bench signals ({'quick' if doc['quick'] else 'full'}) on {doc['cpu']}", rows)


def main(args: argparse.Namespace) -> int:
    """Entry point of ``cns bench signals [--quick] [--json PATH]``."""
    doc = run(bool(getattr(args, "quick", False)))
    _print(doc)
    if getattr(args, "json", None):
        write_json(args.json, doc)
    return 0
