"""``cns bench span``: what a news file's span costs the replay — idle gaps should cost nothing.

Each workload is a news file made of clusters of the shipped scenario ``2-earnings-beat.jsonl`` (4 stories in
0.12 s) placed ``gap`` apart, replayed by ``cns run --news FILE --seconds 5 --no-slow-baseline --no-resume``
in a fresh process (``runs`` repeats, default 1) that shares one data cache with the others (the kernels are
cached once by a priming run that is not counted):

* ``one cluster`` — the active time alone (a minute of market before and after the news);
* ``two clusters 3 h apart`` — the case that ran out of memory before the simulator idled through gaps;
* ``two clusters 2 days apart`` and ``11 clusters 3 days apart`` (30 days) — spans the simulator used to
  refuse (8 h at most).

Per run, from the child's ``report.json``: the simulated span the desk covered (``measured.simulated_span_s``),
the replay's wall time and the whole process's (parent's clock around the child), the peak resident set
(``measured.peak_rss_bytes``, the whole process) and the venue's own counters — orders processed, seconds spent
idle, wake-ups. Simulated quantities (orders, idle seconds) are the same on every machine; times and memory
are this host's, median and min–max over the runs, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cns.bench.common import cpu_model, machine, print_table, write_json
from cns.bench.readme import headline_row
from cns.bench.runs import fmt_spread, spread
from cns.resources import shipped_scenario

__all__ = ["WORKLOADS", "main", "run"]

DAY_S = 86_400
# name -> cluster offsets, s
WORKLOADS: dict[str, tuple[int, ...]] = {
    "one cluster": (0,),
    "two clusters 3 h apart": (0, 3 * 3600),
    "two clusters 2 days apart": (0, 2 * DAY_S),
    "11 clusters 3 days apart (30 days)": tuple(range(0, 31 * DAY_S, 3 * DAY_S)),
}


def news_file(path: Path, offsets_s: tuple[int, ...]) -> Path:
    """Write the shipped earnings scenario once per offset (s after the first) as one JSON Lines file."""
    lines = [json.loads(s) for s in shipped_scenario("2-earnings-beat.jsonl").read_text().splitlines() if s]
    out = []
    for k, off in enumerate(offsets_s):
        for d in lines:
            e = dict(d, id=d["id"] + 100_000 * k)
            for f in ("publish_ns", "receive_ns"):
                e[f] = d[f] + off * 1_000_000_000
            out.append(json.dumps(e))
    path.write_text("\n".join(out) + "\n")
    return path


def _replay(news: Path, out: Path, env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "cns", "run", "--news", str(news), "--seconds", "5", "--no-progress"]
    cmd += ["--no-slow-baseline", "--no-resume", "--out", str(out)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout_s)
    process_s = time.perf_counter() - t0
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout)[-2000:], "process_s": process_s}
    rep = json.loads((out / "report.json").read_text())
    m, venue = rep["measured"], rep["trading"]["fast"]["venue"]
    return {
        "simulated_span_s": m["simulated_span_s"],
        "replay_wall_s": m["wall_s"],
        "process_s": process_s,
        "peak_rss_mib": m["peak_rss_bytes"] / 2**20,
        "venue_orders": venue["orders"],
        "idle_s": venue["idle_s"],
        "wakes": venue["wakes"],
    }


def run(
    *, runs: int = 1, workloads: dict[str, tuple[int, ...]] | None = None, timeout_s: float = 900.0
) -> dict[str, Any]:
    """Replay each workload ``runs`` times in fresh processes; the document ``--json`` writes."""
    load0 = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cns-bench-span-") as d:
        root = Path(d)
        os.chmod(root, 0o700)
        env = {**os.environ, "CNS_CACHE_DIR": str(root / "cache")}
        work = workloads or WORKLOADS
        first = next(iter(work.values()))
        _replay(
            news_file(root / "prime.jsonl", first), root / "prime", env, timeout_s
        )  # kernels, not counted
        for k, (name, offsets) in enumerate(work.items()):
            news = news_file(root / f"w{k}.jsonl", offsets)
            reps = [_replay(news, root / f"w{k}-{i}", env, timeout_s) for i in range(runs)]
            ok = [r for r in reps if "error" not in r]
            results[name] = {
                "clusters": len(offsets),
                "errors": [r["error"] for r in reps if "error" in r],
                **(
                    {k2: ok[0][k2] for k2 in ("simulated_span_s", "venue_orders", "idle_s", "wakes")}
                    if ok
                    else {}
                ),
                **{k2: spread([r[k2] for r in ok]) for k2 in ("replay_wall_s", "process_s", "peak_rss_mib")},
            }
    doc: dict[str, Any] = {
        "bench": "span",
        "what": __doc__.splitlines()[0],
        "cpu": cpu_model(),
        "machine": machine(),
        "load_avg_before": load0,
        "load_avg_after": os.getloadavg(),
        "runs": runs,
        "workloads": results,
    }
    doc["headline"] = _headline(results)
    return doc


def _headline(results: dict[str, Any]) -> list[dict[str, Any]]:
    longest = list(results)[-1]
    r, one = results[longest], results[next(iter(results))]
    if "simulated_span_s" not in r or "simulated_span_s" not in one:
        return []
    return [
        headline_row(
            f"`cns run` of a news file spanning {r['simulated_span_s'] / DAY_S:,.0f} days ({r['clusters']} clusters; "
            "replay wall, peak RSS of the process)",
            f"{fmt_spread(r['replay_wall_s'], lambda v: f'{v:.2f} s')}, "
            f"{fmt_spread(r['peak_rss_mib'], lambda v: f'{v:,.0f} MiB')}",
            peer=f"one cluster: {fmt_spread(one['replay_wall_s'], lambda v: f'{v:.2f} s')}, "
            f"{fmt_spread(one['peak_rss_mib'], lambda v: f'{v:,.0f} MiB')}",
            ratio=f"{r['idle_s'] / r['simulated_span_s']:.2%} of the span idle",
            goal="idle gaps cost nothing",
            met=None,
        )
    ]


def _table(doc: dict[str, Any]) -> None:
    rows = []
    for name, r in doc["workloads"].items():
        rows.append(
            {
                "workload": name,
                "simulated span": f"{r.get('simulated_span_s', float('nan')):,.0f} s",
                "idle": f"{r.get('idle_s', float('nan')):,.0f} s",
                "venue orders": f"{r.get('venue_orders', 0):,}",
                "replay wall": fmt_spread(r["replay_wall_s"], lambda v: f"{v:.2f} s"),
                "process": fmt_spread(r["process_s"], lambda v: f"{v:.2f} s"),
                "peak RSS": fmt_spread(r["peak_rss_mib"], lambda v: f"{v:,.0f} MiB"),
                "errors": len(r["errors"]),
            }
        )
    print_table(f"cns bench span — {doc['cpu']}, load {doc['load_avg_before'][0]:.1f}", rows)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    p.add_argument(
        "--runs", type=int, default=1, metavar="N", help="fresh processes per workload (default: 1)"
    )
    p.add_argument("--quick", action="store_true", help="the first two workloads only")


def main(args: argparse.Namespace | None = None) -> int:
    """Entry of ``cns bench span [--json PATH] [--runs N] [--quick]``."""
    if args is None:
        p = argparse.ArgumentParser(prog="python -m cns.bench.span", description=__doc__.splitlines()[0])
        _arguments(p)
        args = p.parse_args()
    work = dict(list(WORKLOADS.items())[:2]) if getattr(args, "quick", False) else None
    doc = run(runs=max(1, int(getattr(args, "runs", None) or 1)), workloads=work)
    _table(doc)
    for r in doc["headline"]:
        print(f"  {r['figure']}: {r['cns']} ({r['ratio']})")
    failed = sum(len(r["errors"]) for r in doc["workloads"].values())
    path = getattr(args, "json", None)
    if path:
        print(f"wrote {write_json(path, doc)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
