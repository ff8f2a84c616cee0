"""``cns bench pipeline [--quick] [--json PATH]``: the news-to-order replay's throughput and per-stage latency.

Runs the same replay as ``cns run`` (no slow baseline, no plots) and, in the same invocation, a named peer on
the same news: a straightforward **per-record Python feed handler** — stdlib ``json.loads`` of each JSON Lines
item, then the zero-tick and news-rule checks as Python conditionals over the dict — i.e. what the ingest path
costs without batches and kernels. The peer runs on a sample (it is slow); rates are per event either way.
The per-stage figures the original "production test" claimed (never produced by any code) are printed next to
the measured ones, labelled as claims.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from cns.bench.common import cpu_model, fmt_ns, fmt_rate, print_table, write_json
from cns.market.newsgen import generate_news
from cns.news.jsonl import write_jsonl
from cns.replay.driver import ReplayOptions, run_replay
from cns.signals.dtypes import KIND_NAMES

CLAIMED_NS = {"parse": 92, "validate": 8, "signal": 48, "risk": 95, "total": 951}
_LIVE_KINDS = frozenset(KIND_NAMES[1:])


def _python_ingest(lines: list[bytes], credibility: dict[str, int]) -> tuple[int, int]:
    """The peer: per-record Python parse + zero-tick + rule checks. Returns (conforming, elided)."""
    ok = elided = 0
    for line in lines:
        item = json.loads(line)
        flags = item.get("flags") or ()
        if item["type"] == "heartbeat" or "test" in flags or item["confidence"] == 0:
            elided += 1
            continue
        good = (
            item["type"] in _LIVE_KINDS
            and credibility.get(item["source"], -1) >= 10
            and item["publish_ns"] <= item["receive_ns"]
            and 0.0 <= item["confidence"] <= 1.0
            and len(item["tickers"]) >= 1
            and (item.get("event_ns") or 0) <= item["publish_ns"]
            and ("statistical" not in flags or bool(item.get("data_source")))
        )
        ok += good
    return ok, elided


def _peer(n: int, seconds: float, seed: int, tmp: Path) -> dict[str, Any]:
    from cns.signals.universe import DEFAULT_SOURCES

    gen = generate_news(n, seconds, seed)
    path = tmp / "peer.jsonl"
    write_jsonl(gen.batch, path)
    lines = path.read_bytes().splitlines()
    cred = {s.domain: s.credibility for s in DEFAULT_SOURCES}
    t0 = time.perf_counter_ns()
    conforming, elided = _python_ingest(lines, cred)
    dt = time.perf_counter_ns() - t0
    return {"name": "per-record Python (stdlib json + dict checks)", "events": len(lines),
            "events_per_s": len(lines) / (dt / 1e9), "ns_per_event": dt / len(lines),
            "conforming": conforming, "elided": elided}


def run(quick: bool, out_dir: str = "out/bench-pipeline") -> dict[str, Any]:
    """Measure the replay (quick: 300k events / 20 s) and the peer (20k events); return the JSON document."""
    events, seconds = (300_000, 20.0) if quick else (4_565_400, 300.0)
    opts = ReplayOptions(events=events, seconds=seconds, out_dir=out_dir, slow_baseline=False, progress=False)
    r = run_replay(opts).report
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    peer = _peer(20_000, 20.0, 11, out)
    ingest_per_s = r["events"] / r["ingest_s"]
    return {
        "cpu": cpu_model(),
        "events": r["events"],
        "simulated_s": seconds,
        "wall_s": r["wall_s"],
        "warmup_s": r["warmup_s"],
        "ingest_s": r["ingest_s"],
        "events_per_s": r["events_per_s"],
        "ingest_events_per_s": ingest_per_s,
        "realtime_factor": r["realtime_factor"],
        "latency_ns": r["latency_ns"],
        "batch_events_per_s": r["batch_events_per_s"],
        "orders": r["orders"],
        "fills": r["fills"],
        "peer": peer,
        "ratios": {"ingest_vs_python_peer": ingest_per_s / peer["events_per_s"]},
        "claimed_ns": CLAIMED_NS,
        "goals": {
            "wall_le_10s_at_4565400": (r["wall_s"] <= 10.0) if not quick else None,
            "events_per_s_ge_450k": r["events_per_s"] >= 450_000,
            "total_p99_lt_1us": r["latency_ns"]["total"]["p99"] < 1_000,
        },
    }


def _print(doc: dict[str, Any]) -> None:
    lat = doc["latency_ns"]
    print_table(
        f"Pipeline replay on {doc['cpu']}: {doc['events']:,} events, {doc['simulated_s']:.0f} simulated s",
        [
            {"figure": "replay wall (ingest + trading desk)", "value": f"{doc['wall_s']:.2f} s"},
            {"figure": "cold start (JIT compile / cache load, excluded)", "value": f"{doc['warmup_s']:.2f} s"},
            {"figure": "events/s, whole replay", "value": fmt_rate(doc["events_per_s"])},
            {"figure": "events/s, ingest (parse+validate+corroborate)", "value": fmt_rate(doc["ingest_events_per_s"])},
            {"figure": f"events/s, peer: {doc['peer']['name']}", "value": fmt_rate(doc["peer"]["events_per_s"])},
            {"figure": "ratio ingest / peer", "value": f"{doc['ratios']['ingest_vs_python_peer']:,.0f}x"},
            {"figure": "x real time", "value": f"{doc['realtime_factor']:.1f}"},
        ],
    )
    rows = []
    for stage in ("parse", "validate", "corroborate", "signal", "risk", "total"):
        s = lat[stage]
        rows.append({"stage": stage, "samples": s["samples"], "p50": fmt_ns(s["p50"]), "p99": fmt_ns(s["p99"]),
                     "p99.9": fmt_ns(s["p999"]), "max": fmt_ns(s["max"]),
                     "claimed (no code)": fmt_ns(CLAIMED_NS[stage]) if stage in CLAIMED_NS else ""})
    print_table("Per-event in-kernel latency (sampled cycle-counter stamps)", rows)
    print_table("Goals", [{"goal": k, "met": {True: "met", False: "MISSED", None: "n/a (quick)"}[v]}
                          for k, v in doc["goals"].items()])


def main(args: argparse.Namespace) -> int:
    """Entry point of ``cns bench pipeline``."""
    doc = run(bool(args.quick))
    _print(doc)
    if args.json:
        write_json(args.json, doc)
    return 0


__all__ = ["CLAIMED_NS", "main", "run"]
