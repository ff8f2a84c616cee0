"""What a Prometheus scrape costs a running pipeline: :func:`scrape_bench`.

A serve shard (feed server on loopback -> the real tree -> in-process venue) runs for ``4 * phase_s``
seconds in alternating phases: A (nobody scrapes) and B (a thread GETs ``/metrics`` every
``scrape_interval_s``), A, B. Per phase it reports the pipeline's own latency figures from its probe
(``ingest``: socket read of a batch -> corroborated; ``order``: news read -> order written; µs, p50/p99/max)
and, for B, the scrapes' wall time and the collector's own time. The claim checked: a 1 s scrape does not
move the pipeline's p99 (B's p99 within the A/A spread). ``rules``: ``"stub"`` (every record conforms: no
rules compile needed) or ``"real"`` (the shipped rules, compiled or loaded from the kernel cache).

Run: ``python -m cns.ops.bench [--phase-s 4] [--interval 1.0] [--rate 2000]`` (prints JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import urllib.request
from typing import Any

import numpy as np

from cns.telemetry.stats import summarize

__all__ = ["scrape_bench"]


class _Conform:
    """A stand-in validator: every record conforms."""

    def process(self, recs: np.ndarray, verdict: np.ndarray, code: np.ndarray, handler: Any = None) -> None:
        verdict[: len(recs)] = 0


def _pct(a: np.ndarray) -> dict[str, float]:
    """The one percentile helper (:func:`cns.telemetry.stats.summarize`) in µs, keys suffixed ``_us``."""
    s = summarize(np.asarray(a, dtype=np.float64) / 1e3)
    return {"count": s.pop("count"), **{f"{k}_us": v for k, v in s.items()}}


async def _run(phase_s: float, interval_s: float, rate: float, rules: str) -> dict[str, Any]:
    from cns.feeds import FeedServer
    from cns.market.newsgen import generate_news
    from cns.ops.backend import mount_serve
    from cns.serve.config import serve_config_from_dict
    from cns.serve.service import Service, prepare
    from cns.serve.state import build_state
    from cns.signals.universe import InstrumentInfo

    venue = (("AAPL", 190.0), ("MSFT", 410.0), ("NVDA", 120.0), ("AMZN", 180.0), ("TSLA", 250.0))
    total = 4 * phase_s + 3.0
    inst = (InstrumentInfo("SPX", 5000.0, True), *(InstrumentInfo(s, p) for s, p in venue))
    news = generate_news(int(rate * total), total, 5, instruments=inst).batch
    srv = FeedServer(news, speed=1.0, heartbeat_s=0.2, wait_clients=1)
    await srv.start()
    cfg = serve_config_from_dict(
        {
            "serve": {
                "shard": "bench",
                "connect_timeout_s": 10.0,
                "stop_timeout_s": 2.0,
                "order_sink": "inprocess",
            },
            "feeds": [{"name": "f1", "port": srv.port, "stale_after_s": 2.0}],
            "instruments": [{"symbol": s, "price": p} for s, p in venue],
        }
    )
    if rules == "real":
        state = prepare(cfg)
    else:
        state = build_state(cfg)
        state.extra["validator"] = _Conform()
    svc = Service(cfg, state=state)
    await svc.start()
    ops = mount_serve(svc, token="bench")
    scraping = threading.Event()
    stop = threading.Event()
    scrapes: list[float] = []

    def scraper() -> None:
        nxt = time.monotonic()
        while not stop.is_set():
            if scraping.is_set():
                t0 = time.perf_counter()
                with urllib.request.urlopen(ops.url + "/metrics", timeout=5) as r:
                    r.read()
                scrapes.append(time.perf_counter() - t0)
            nxt += interval_s
            stop.wait(max(0.0, nxt - time.monotonic()))

    th = threading.Thread(target=scraper, daemon=True)
    th.start()
    phases: list[tuple[str, int, int]] = []
    try:
        await asyncio.sleep(1.0)  # warm-up
        for name in ("A1", "B1", "A2", "B2"):
            (scraping.set if name.startswith("B") else scraping.clear)()
            t0 = time.monotonic_ns()
            await asyncio.sleep(phase_s)
            phases.append((name, t0, time.monotonic_ns()))
        scraping.clear()
    finally:
        stop.set()
        th.join(5.0)
        ops.close()
        await svc.stop()
        await srv.stop()
    probe = state.probe
    b = (
        np.frombuffer(probe.batches, np.int64).reshape(-1, 4)
        if not isinstance(probe.batches, list)
        else np.asarray(probe.batches, np.int64).reshape(-1, 4)
    )
    o = (
        np.frombuffer(probe.orders, np.int64).reshape(-1, 3)
        if not isinstance(probe.orders, list)
        else np.asarray(probe.orders, np.int64).reshape(-1, 3)
    )
    out: dict[str, Any] = {
        "phase_s": phase_s,
        "scrape_interval_s": interval_s,
        "rate_events_s": rate,
        "rules": rules,
        "phases": {},
    }
    for name, lo, hi in phases:
        bi = b[(b[:, 3] >= lo) & (b[:, 3] < hi)]
        oi = o[(o[:, 2] >= lo) & (o[:, 2] < hi)]
        out["phases"][name] = {"ingest": _pct(bi[:, 3] - bi[:, 2]), "order": _pct(oi[:, 2] - oi[:, 1])}
    s = np.asarray(scrapes)
    sc = summarize(s * 1e3)
    out["scrapes"] = {"count": sc["count"], "wall_ms_p50": sc["p50"], "wall_ms_max": sc["max"]}
    a = [out["phases"][p]["ingest"].get("p99_us", float("nan")) for p in ("A1", "A2")]
    bb = [out["phases"][p]["ingest"].get("p99_us", float("nan")) for p in ("B1", "B2")]
    out["ingest_p99_us"] = {"unscraped": a, "scraped": bb}
    return out


def scrape_bench(
    *, phase_s: float = 4.0, scrape_interval_s: float = 1.0, rate: float = 2000.0, rules: str = "stub"
) -> dict[str, Any]:
    """Run the A/B/A/B scrape-cost measurement (see the module doc); returns the figures as a dict."""
    return asyncio.run(asyncio.wait_for(_run(phase_s, scrape_interval_s, rate, rules), 4 * phase_s + 60.0))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cns.ops.bench", description=__doc__.splitlines()[0])
    p.add_argument("--phase-s", type=float, default=4.0)
    p.add_argument("--interval", type=float, default=1.0, help="scrape interval, s")
    p.add_argument("--rate", type=float, default=2000.0, help="news events/s offered by the feed server")
    p.add_argument("--rules", choices=("stub", "real"), default="stub")
    a = p.parse_args(argv)
    print(
        json.dumps(
            scrape_bench(phase_s=a.phase_s, scrape_interval_s=a.interval, rate=a.rate, rules=a.rules),
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
