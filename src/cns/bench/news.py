"""Measured news-path throughput: generator, binary write/parse (+ per-chunk latency), sentiment, JSONL.

``python -m cns.bench.news [--events N] [--seconds S] [--json PATH] [--no-jsonl]`` prints a table and
writes JSON. Every figure comes from ``time.perf_counter_ns`` (wall) and ``time.process_time_ns`` (CPU).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from cns.market.newsgen import generate_news
from cns.news.binary import parse_binary_chunk, read_binary, read_layout, write_binary
from cns.news.jsonl import read_jsonl, write_jsonl
from cns.news.sentiment import load_lexicon, score_records
from cns.signals.dtypes import NEWS_DTYPE
from cns.telemetry.stats import summarize


def _timed(fn, *a, **kw):  # type: ignore[no-untyped-def]
    w0, c0 = time.perf_counter_ns(), time.process_time_ns()
    out = fn(*a, **kw)
    return out, time.perf_counter_ns() - w0, time.process_time_ns() - c0


def run(events: int, seconds: float, jsonl: bool, chunk: int = 4096) -> dict[str, object]:
    """Time every news stage on ``events`` synthetic events spread over ``seconds`` s (``jsonl``: include the JSON
    Lines round trip); returns per-stage items, wall/CPU s and items/s, and per-``chunk`` parse latency in ns.
    """
    warm = generate_news(2_000, 1.0, 1)  # compile / load kernels and the lexicon outside the timings
    with tempfile.TemporaryDirectory() as d:
        write_binary(warm.batch, Path(d) / "w.cnsb")
        read_binary(Path(d) / "w.cnsb", sentiment=True)
    rows: dict[str, dict[str, float]] = {}

    def row(name: str, n: int, wall: int, cpu: int) -> None:
        rows[name] = {"items": n, "wall_s": wall / 1e9, "cpu_s": cpu / 1e9, "items_per_s": n / (wall / 1e9)}

    gen, w, c = _timed(generate_news, events, seconds, 7)
    b = gen.batch
    row("generate_news (incl. sentiment)", len(b), w, c)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "news.cnsb"
        _, w, c = _timed(write_binary, b, p)
        row("write_binary", len(b), w, c)
        raw = np.fromfile(p, np.uint8)
        lay = read_layout(raw)
        out = np.empty(lay.n_records, NEWS_DTYPE)
        status = np.zeros(lay.n_records, np.uint8)
        _, w, c = _timed(parse_binary_chunk, raw, lay, 0, lay.n_records, out, status)
        row("parse kernel (in memory, whole file)", lay.n_records, w, c)
        _, w, c = _timed(read_binary, p)
        row("read_binary (file -> NewsBatch)", lay.n_records, w, c)
        lat = []
        cout = np.empty(chunk, NEWS_DTYPE)
        cst = np.zeros(chunk, np.uint8)
        for start in range(0, lay.n_records, chunk):
            t0 = time.perf_counter_ns()
            parse_binary_chunk(raw, lay, start, chunk, cout, cst)
            lat.append(time.perf_counter_ns() - t0)
        blob = b.headlines
        table = load_lexicon()
        _, w, c = _timed(score_records, out, blob, table)
        row("sentiment kernel", lay.n_records, w, c)
        # per-event parse-stage latency, stamped inside the kernels (parse + sentiment added per record)
        ev_lat = np.zeros(lay.n_records, np.int64)
        for start in range(0, lay.n_records, chunk):
            k = parse_binary_chunk(raw, lay, start, chunk, cout, cst, lat_ns=ev_lat[start : start + chunk])
            score_records(cout[:k], blob, table, lat_ns=ev_lat[start : start + k])
        if jsonl:
            pj = Path(d) / "news.jsonl"
            _, w, c = _timed(write_jsonl, b, pj)
            row("write_jsonl", len(b), w, c)
            jb, w, c = _timed(read_jsonl, pj)
            row("read_jsonl (msgspec, incl. sentiment)", len(jb), w, c)
    chunk_lat = summarize(lat)
    event_lat = summarize(ev_lat)
    return {
        "events": events,
        "seconds": seconds,
        "rows": rows,
        "chunk": chunk,
        "chunk_parse_ns": chunk_lat,
        "event_parse_ns": event_lat,
        "blob_mb": b.headlines.nbytes / 1e6,
        "stories": len(gen.stories),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run, print the table, write the JSON to ``--json``; returns the exit status 0."""
    ap = argparse.ArgumentParser(prog="python -m cns.bench.news", description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=4_565_400)
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--json", default="news-bench.json")
    ap.add_argument("--no-jsonl", action="store_true", help="skip the (slow) JSON Lines write/read")
    a = ap.parse_args(argv)
    res = run(a.events, a.seconds, not a.no_jsonl)
    print(f"{'stage':40s} {'items':>10s} {'wall s':>8s} {'cpu s':>8s} {'items/s':>12s}")
    for name, r in res["rows"].items():  # type: ignore[union-attr]
        print(
            f"{name:40s} {r['items']:>10,d} {r['wall_s']:>8.3f} {r['cpu_s']:>8.3f} {r['items_per_s']:>12,.0f}"
        )
    cl = res["chunk_parse_ns"]
    print(
        f"binary parse per {res['chunk']}-record chunk (us): "
        + ", ".join(f"{k}={v / 1e3:.1f}" for k, v in cl.items())
    )  # type: ignore[union-attr]
    print(
        "per-event parse stage (parse + sentiment, in-kernel stamps, ns): "
        + ", ".join(f"{k}={v:.0f}" for k, v in res["event_parse_ns"].items())
    )  # type: ignore[union-attr]
    Path(a.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
