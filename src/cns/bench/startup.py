"""``cns bench startup``: how fast ``cns run`` gets going, each figure measured in a fresh Python process.

Two workloads, ``runs`` repeats each (default 3), every repeat a new ``python`` subprocess:

* **cold start with cached kernels** — what a second ``cns run`` pays before its first event: the imports
  of the replay (``import``), :func:`cns.replay.driver.prepare` on the cached data (``prepare``: config,
  cached data verified and mapped, credibility, public reports, the rules validator built from the kernel
  cache), the LM lexicon (``lexicon``), the warm-up that loads every kernel (``kernel_load``) and the first
  ingest batch of the real run (``first_batch``: ``batch`` events parsed, validated, corroborated, handed to
  the desk). ``cold_start_s`` = import + kernel load + first batch (the issue's definition);
  ``to_first_event_s`` adds prepare and lexicon; ``process_s`` is the whole child from ``exec`` to exit as
  the parent saw it. A priming child runs first (not counted) so data and kernels are on disk. The warm-up
  is :func:`cns.replay.driver.warm_up` (the run's first records traded on its first seconds of market,
  :mod:`cns.replay.warm`). Every Numba dispatcher compile/load in the child is counted per phase
  (``kernel_loads``): the first batch should load none.
* **data generation + write** — :func:`cns.market.newsgen.cached_world` of the run's world into a new empty
  data directory (mode 0700, removed afterwards): generate (``generate_s``) and write news binary, stories
  and manifest (``write_s``: the data files without fsync, as the cache writes them — the manifest's size +
  CRC check on every load catches a torn entry); ``datagen_write_s`` is both.

Wall times (``time.perf_counter``) and the child's CPU time (``time.process_time``, ``*_cpu_s``: less
sensitive to other load on a shared box, but it does not count waiting for the disk), median and min–max
over the repeats, with the load average before and after: the figures are the machine's at the time.
The goal is judged on the wall median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from cns.bench.common import cpu_model, machine, print_table, write_json
from cns.bench.readme import headline_row
from cns.bench.runs import fmt_spread, spread

__all__ = ["COLD_GOAL_S", "DATA_GOAL_S", "main", "run", "run_child"]

COLD_GOAL_S = 1.0  # issue 9: cold start with cached kernels
DATA_GOAL_S = 3.0  # issue 9: data generation + write of the default world
_QUICK = {"events": 20_000, "seconds": 10.0, "batch": 4096}

# The child starts its clock before the first import, so "import" is the replay's whole import cost.
_CHILD = (
    "import time as _t; _t0 = _t.perf_counter(); _w0 = _t.time(); _c0 = _t.process_time()\n"
    "import {module}\n"
    "_t1 = _t.perf_counter(); _c1 = _t.process_time()\n"
    "from cns.bench.startup import run_child\n"
    "run_child({args!r}, _t0, _t1, _w0, (_c0, _c1))\n"
)


def _s(t0: float, t1: float) -> float:
    return round(t1 - t0, 6)


class _LoadCounter:
    """Counts Numba dispatcher compiles/cache loads (``Dispatcher.compile``) and their wall time, by phase."""

    def __init__(self) -> None:
        from numba.core import dispatcher

        self.phase = "import"
        self.counts: dict[str, dict[str, float]] = {}
        orig = dispatcher.Dispatcher.compile
        counter = self

        def compile(disp: Any, sig: Any) -> Any:
            t = time.perf_counter()
            n = len(disp.overloads)
            try:
                return orig(disp, sig)
            finally:
                c = counter.counts.setdefault(counter.phase, {"calls": 0, "new": 0, "s": 0.0})
                c["calls"] += 1
                c["new"] += len(disp.overloads) - n
                c["s"] += time.perf_counter() - t

        dispatcher.Dispatcher.compile = compile  # type: ignore[method-assign]


class _Clock:
    """Wall (``perf_counter``) and CPU (``process_time``: user + system of the whole process) marks."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def mark(self) -> None:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())


def _child_cold(a: dict[str, Any], t0: float, t1: float, cpu: tuple[float, float]) -> dict[str, Any]:
    from cns.news.sentiment import load_lexicon
    from cns.replay import driver
    from cns.replay.warm import warm_world

    loads = _LoadCounter()
    opts = driver.ReplayOptions(
        events=a["events"], seconds=a["seconds"], seed=a["seed"], progress=False, out_dir=a["out"]
    )
    clock = _Clock()
    loads.phase = "prepare"
    clock.mark()
    t2 = time.perf_counter()
    prep = driver.prepare(opts)
    t3 = time.perf_counter()
    clock.mark()
    loads.phase = "lexicon"
    load_lexicon()
    t4 = time.perf_counter()
    clock.mark()
    loads.phase = "kernel_load"
    driver.warm_up(prep)
    t5 = time.perf_counter()
    clock.mark()
    loads.phase = "first_batch"
    n_first = min(a["batch"], prep.news.layout.n_records)
    ing = driver._start_ingest(prep, n_first, opts.sample_every)
    ing.feed(n_first, n_first, progress=False)
    t6 = time.perf_counter()
    clock.mark()
    c = clock.cpu
    cpu_phases = {
        "import_cpu_s": _s(*cpu),
        "prepare_cpu_s": _s(c[0], c[1]),
        "lexicon_cpu_s": _s(c[1], c[2]),
        "kernel_load_cpu_s": _s(c[2], c[3]),
        "first_batch_cpu_s": _s(c[3], c[4]),
    }
    ing.node.shutdown("shutdown")
    phases = {
        "import_s": _s(t0, t1),
        "prepare_s": _s(t2, t3),
        "lexicon_s": _s(t3, t4),
        "kernel_load_s": _s(t4, t5),
        "first_batch_s": _s(t5, t6),
    }
    return {
        **phases,
        **cpu_phases,
        "cold_start_cpu_s": _s(
            0, cpu_phases["import_cpu_s"] + cpu_phases["kernel_load_cpu_s"] + cpu_phases["first_batch_cpu_s"]
        ),
        "prepare_parts_s": {k: round(v, 6) for k, v in prep.timings.items()},
        "data_from_cache": bool(prep.news.from_cache),
        "first_batch_events": n_first,
        "events_ingested": int(ing.totals["events"]),
        "cold_start_s": _s(0, phases["import_s"] + phases["kernel_load_s"] + phases["first_batch_s"]),
        "to_first_event_s": _s(t0, t6) - _s(t1, t2),
        "kernel_loads": loads.counts,
        "warm_span_ns": int(warm_world(prep).desk_cfg.end_ns - prep.desk_cfg.start_ns),
    }


def _child_data(a: dict[str, Any], t0: float, t1: float, cpu: tuple[float, float]) -> dict[str, Any]:
    from cns.market.newsgen import cached_world

    parts: dict[str, float] = {}
    t2, c2 = time.perf_counter(), time.process_time()
    files, made = cached_world(a["events"], a["seconds"], a["seed"], a["cache_dir"], timings=parts)
    t3, c3 = time.perf_counter(), time.process_time()
    return {
        "import_s": _s(t0, t1),
        "import_cpu_s": _s(*cpu),
        "datagen_write_s": _s(t2, t3),
        "datagen_write_cpu_s": _s(c2, c3),
        **{k: round(v, 6) for k, v in parts.items()},
        "generated": made is not None,
        "news_bytes": files.news.stat().st_size,
    }


def run_child(
    args: dict[str, Any], t0: float, t1: float, wall0: float, cpu: tuple[float, float] = (0.0, 0.0)
) -> None:
    """Body of one measuring subprocess (``args["mode"]``: ``cold``, ``data`` or ``prime``); prints one JSON
    line. ``t0``/``t1``: ``perf_counter`` before/after the child's first import; ``wall0``: ``time.time()``
    at its first line (the parent derives the interpreter's start-up from it); ``cpu``: ``process_time``
    at the same two points (s)."""
    mode = args["mode"]
    if mode == "data":
        res = _child_data(args, t0, t1, cpu)
    elif mode in ("cold", "prime"):
        res = _child_cold(args, t0, t1, cpu)
    else:
        raise ValueError(f"unknown child mode {mode!r}")
    print(json.dumps({"mode": mode, "wall0": wall0, **res}), flush=True)


def _spawn(args: dict[str, Any], module: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    code = _CHILD.format(module=module, args=args)
    w = time.time()
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=1800, check=False
    )
    total = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"startup child ({args['mode']}) failed with {p.returncode}:\n{p.stderr[-4000:]}")
    res: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    res["process_s"] = round(total, 6)
    res["interpreter_start_s"] = round(res.pop("wall0") - w, 6)
    return res


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not POSIX
        return []


def _fresh_dir(base: str | None) -> str:
    d = tempfile.mkdtemp(prefix="cns-startup-", dir=base)
    os.chmod(d, 0o700)
    return d


def run(
    *,
    events: int = 4_565_400,
    seconds: float = 300.0,
    seed: int = 7,
    runs: int = 3,
    batch: int = 65_536,
    data: bool = True,
    cold: bool = True,
    tmp_dir: str | None = None,
) -> dict[str, Any]:
    """Measure both workloads (see the module docstring) ``runs`` times each in fresh subprocesses; returns
    the JSON document (per-run results, spreads, headline rows). ``ValueError`` for ``runs`` < 1;
    ``RuntimeError`` (with the child's stderr) when a child fails."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    base = {"events": events, "seconds": seconds, "seed": seed, "batch": batch}
    doc: dict[str, Any] = {
        "bench": "startup",
        "cpu": cpu_model(),
        "machine": machine(),
        "workload": {**base, "runs": runs},
        "loadavg_before": _loadavg(),
    }
    out = _fresh_dir(tmp_dir)
    try:
        if cold:
            doc["prime"] = _spawn({**base, "mode": "prime", "out": out}, "cns.replay.driver")
            cs = [_spawn({**base, "mode": "cold", "out": out}, "cns.replay.driver") for _ in range(runs)]
            doc["cold"] = {"runs": cs, "spread": _spreads(cs)}
        if data:
            rs = []
            for _ in range(runs):
                d = _fresh_dir(tmp_dir)
                try:
                    rs.append(_spawn({**base, "mode": "data", "cache_dir": d}, "cns.market.newsgen"))
                finally:
                    shutil.rmtree(d, ignore_errors=True)
            doc["data"] = {"runs": rs, "spread": _spreads(rs)}
    finally:
        shutil.rmtree(out, ignore_errors=True)
    doc["loadavg_after"] = _loadavg()
    doc["headline"] = _headline(doc)
    return doc


def _spreads(rs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in rs[0].items() if k.endswith("_s") and isinstance(v, (int, float))]
    return {k: spread([r.get(k) for r in rs]) for k in keys}


def _fmt_s(x: float) -> str:
    return f"{x:.2f} s"


def _headline(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    w = doc["workload"]
    world = f"{w['events']:,} events, {w['seconds']:g} s, seed {w['seed']}"
    if "cold" in doc:
        sp = doc["cold"]["spread"]["cold_start_s"]
        cpu = doc["cold"]["spread"].get("cold_start_cpu_s", {})
        rows.append(
            headline_row(
                f"cold start, cached kernels, fresh process (import + kernel load + first "
                f"{w['batch']:,}-event batch; {world})",
                f"{fmt_spread(sp, _fmt_s)} wall; CPU {fmt_spread(cpu, _fmt_s)}",
                goal=f"<= {COLD_GOAL_S:g} s",
                met=sp["median"] is not None and sp["median"] <= COLD_GOAL_S,
            )
        )
    if "data" in doc:
        sp = doc["data"]["spread"]["datagen_write_s"]
        cpu = doc["data"]["spread"].get("datagen_write_cpu_s", {})
        rows.append(
            headline_row(
                f"data generation + write (cache files, no fsync; manifest CRC on load) of the default world into an empty cache, fresh process "
                f"({world})",
                f"{fmt_spread(sp, _fmt_s)} wall; CPU {fmt_spread(cpu, _fmt_s)}",
                goal=f"<= {DATA_GOAL_S:g} s",
                met=sp["median"] is not None and sp["median"] <= DATA_GOAL_S,
            )
        )
    return rows


def _table(doc: dict[str, Any]) -> None:
    rows = []
    cols = (
        "import_s",
        "prepare_s",
        "lexicon_s",
        "kernel_load_s",
        "first_batch_s",
        "cold_start_s",
        "cold_start_cpu_s",
        "to_first_event_s",
        "process_s",
    )
    if "cold" in doc:
        c = doc["cold"]["spread"]
        rows.append({"workload": "cold start", **{k: fmt_spread(c[k], _fmt_s) for k in cols}})
    if "data" in doc:
        sp = doc["data"]["spread"]
        rows.append(
            {
                "workload": "data gen + write",
                "import_s": fmt_spread(sp["import_s"], _fmt_s),
                **{
                    k: fmt_spread(sp[k], _fmt_s)
                    for k in ("generate_s", "write_s", "datagen_write_s", "datagen_write_cpu_s", "process_s")
                    if k in sp
                },
            }
        )
    print_table(
        f"cns bench startup — median (min–max) over fresh processes; {doc['cpu']}; load average "
        f"{doc['loadavg_before']} -> {doc['loadavg_after']}",
        rows,
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``startup`` on a ``cns bench`` subparsers object (sets ``key="bench startup"``)."""
    b: argparse.ArgumentParser = subparsers.add_parser(
        "startup", help="cold start with cached kernels and data generation + write, in fresh processes"
    )
    _arguments(b)
    b.set_defaults(key="bench startup")
    return b


def _arguments(b: argparse.ArgumentParser) -> None:
    b.add_argument("--quick", action="store_true", help="small sizes: checks the benchmark, not the machine")
    b.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    b.add_argument(
        "--runs", type=int, default=3, metavar="N", help="fresh processes per workload (default: 3)"
    )
    b.add_argument("--only", choices=("cold", "data"), help="measure one workload only")


def main(args: argparse.Namespace | None = None) -> int:
    """Entry of ``cns bench startup [--quick] [--json PATH] [--runs N] [--only cold|data]``."""
    if args is None:
        p = argparse.ArgumentParser(prog="python -m cns.bench.startup", description=__doc__.splitlines()[0])
        _arguments(p)
        args = p.parse_args()
    size = _QUICK if getattr(args, "quick", False) else {}
    only = getattr(args, "only", None)
    doc = run(
        **size,
        runs=int(getattr(args, "runs", None) or 3),
        cold=only in (None, "cold"),
        data=only in (None, "data"),
    )
    _table(doc)
    for r in doc["headline"]:
        print(f"  {r['figure']}: {r['cns']} (goal {r['goal']}, {'met' if r['met'] else 'not met'})")
    path = getattr(args, "json", None)
    if path:
        print(f"wrote {write_json(path, doc)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
