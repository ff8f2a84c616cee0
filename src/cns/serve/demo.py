"""``cns demo live``: the live pipeline end to end on loopback, for ``--seconds`` (default 30).

1. Generates a small news file (``--rate`` events/s over the run, on SPX and the venue's five stocks) in a
   temporary directory.
2. Starts ``cns venue serve`` (FIX acceptor + market data + market maker) and ``cns feed serve --speed 1``
   on that file as subprocesses on 127.0.0.1, OS-chosen ports, demo CompIDs/password in their environment.
3. Runs the shard in this process (:func:`cns.serve.cli.run_service`, the code of ``cns serve``) against
   them: news from the feed, quotes from the venue's market data, orders over FIX, fills back.
4. Stops it gracefully (mass cancel, Logout), prints the summary -- events in, decisions, orders, fills,
   P&L, feed stats, latency percentiles -- and always stops the subprocesses and removes the directory.

Exit 0 after a clean run; a CNSError (a peer that did not start, ...) is one line and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cns.serve.config import serve_config_from_dict
from cns.serve.errors import ServeStartError

__all__ = ["VENUE_INSTRUMENTS", "demo_live_main", "run_demo", "start_process"]

VENUE_INSTRUMENTS = (("AAPL", 190.0), ("MSFT", 410.0), ("NVDA", 120.0), ("AMZN", 180.0), ("TSLA", 250.0))
_CREDS = {"CNS_VENUE_COMP_ID": "DEMOVENUE", "CNS_CLIENT_COMP_ID": "DEMOCNS", "CNS_CLIENT_PASSWORD": "demo-pw"}


def start_process(
    args: list[str], env: dict[str, str], timeout_s: float, what: str
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start ``python -m cns <args>`` and wait (at most ``timeout_s``) for its first stdout line, parsed as
    ``key=value`` pairs; :class:`ServeStartError` (the process killed) if it exits or stays silent."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cns", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
    )
    import selectors

    sel = selectors.DefaultSelector()
    assert proc.stdout is not None
    sel.register(proc.stdout, selectors.EVENT_READ)
    line = ""
    if sel.select(timeout_s):
        line = proc.stdout.readline()
    sel.close()
    if "=" not in line:
        stop_process(proc)
        err = proc.stderr.read().strip().splitlines() if proc.stderr else []
        raise ServeStartError(
            f"{what} did not start within {timeout_s:g} s: {(err or [line.strip()])[-1][:200]}"
        )
    return proc, dict(p.split("=", 1) for p in line.split() if "=" in p)


def stop_process(proc: subprocess.Popen[str], timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; always reaps."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)


def write_demo_news(path: Path, n_events: int, seconds: float, seed: int) -> int:
    """Generated news on SPX and :data:`VENUE_INSTRUMENTS` (CNS binary); returns the record count."""
    from cns.market.newsgen import generate_news
    from cns.news.binary import write_binary
    from cns.signals.universe import InstrumentInfo

    inst = (InstrumentInfo("SPX", 5000.0, True), *(InstrumentInfo(s, p) for s, p in VENUE_INSTRUMENTS))
    g = generate_news(n_events, seconds, seed, instruments=inst)
    write_binary(g.batch, path)
    return len(g.batch)


def demo_config(feed_port: int, fix_port: int, md_port: int, *, shard: str = "demo") -> dict[str, Any]:
    """The serve config of the demo (a dict as parsed from TOML)."""
    return {
        "serve": {"shard": shard, "connect_timeout_s": 10.0, "stop_timeout_s": 3.0},
        "feeds": [{"name": "demo-feed", "port": feed_port, "stale_after_s": 3.0}],
        "fix": [
            {
                "name": "venue1",
                "port": fix_port,
                "heartbeat_s": 5,
                "sender_comp_id_env": "CNS_CLIENT_COMP_ID",
                "target_comp_id_env": "CNS_VENUE_COMP_ID",
                "password_env": "CNS_CLIENT_PASSWORD",
            }
        ],
        "market_data": {"port": md_port},
        "instruments": [{"symbol": s, "price": p} for s, p in VENUE_INSTRUMENTS],
        "signal": {"hold_ns": 3_000_000_000, "aggress_bps": 15.0, "exit_aggress_bps": 20.0},
    }


def run_demo(seconds: float = 30.0, *, rate: float = 200.0, seed: int = 7, out: Any = None) -> dict[str, Any]:
    """Run the demo (see the module doc) and return the summary dict; ``out`` receives the printed lines
    (default stdout)."""
    from cns.serve.cli import run_service

    out = out or sys.stdout
    procs: list[subprocess.Popen[str]] = []
    saved = {k: os.environ.get(k) for k in _CREDS}
    with tempfile.TemporaryDirectory(prefix="cns-demo-live-") as tmp:
        try:
            news = Path(tmp) / "news.cnsb"
            n = write_demo_news(news, max(50, int(rate * seconds)), max(1.0, seconds), seed)
            print(
                f"cns demo live: {n} news events over {seconds:g} s in {news.name}; starting the venue and "
                "the feed server on 127.0.0.1",
                file=out,
                flush=True,
            )
            venue, vp = start_process(
                ["venue", "serve", "--port", "0", "--md-port", "0", "--seed", str(seed)],
                _CREDS,
                60.0,
                "cns venue serve",
            )
            procs.append(venue)
            feed, fp = start_process(
                [
                    "feed",
                    "serve",
                    "--news",
                    str(news),
                    "--speed",
                    "1",
                    "--port",
                    "0",
                    "--wait-clients",
                    "1",
                    "--heartbeat",
                    "0.5",
                ],
                {},
                60.0,
                "cns feed serve",
            )
            procs.append(feed)
            os.environ.update(_CREDS)
            cfg = serve_config_from_dict(
                demo_config(int(fp["tcp_port"]), int(vp["fix_port"]), int(vp["md_port"]))
            )
            t0 = time.monotonic()
            code, summary = asyncio.run(run_service(cfg, seconds=seconds, announce=False))
            summary["wall_s"] = time.monotonic() - t0
            summary["exit_code"] = code
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            for p in reversed(procs):
                stop_process(p)
    for line in report_lines(summary):
        print(line, file=out, flush=True)
    return summary


def report_lines(s: dict[str, Any]) -> list[str]:
    """The demo's printed summary."""
    c, d = s["counters"], s.get("desk", {})
    lines = [
        f"cns demo live: ran {s.get('uptime_s', 0):.1f} s (shard {s['shard']})",
        f"  events in {c['events_in']:,} in {c['batches_in']:,} batches; validated {c['validated']:,}, "
        f"violations {c['violations']:,}, zero-tick {c['elided']:,}",
        f"  decisions {c['decisions']:,} (untradable {c['decisions_untradable']:,}, held for a paused feed "
        f"{c['decisions_held']:,}); candidates {c['candidates']:,}, risk rejected {c['risk_rejected']:,}",
        f"  orders sent {c['orders_sent']:,} (exits {c['exit_orders']:,}, cancels {c['cancels_sent']:,}, "
        f"refused {c['orders_refused']:,}); fills {c['fills']:,} ({c['filled_qty']:,} shares)",
        f"  P&L {d.get('pnl_usd', 0.0):,.2f} USD (realized {d.get('realized_usd', 0.0):,.2f}, unrealized "
        f"{d.get('unrealized_usd', 0.0):,.2f}); positions {d.get('positions', {})}",
        f"  quotes: {c['md_records']:,} top-of-book records from the venue's market data",
    ]
    for name, f in s.get("feeds", {}).items():
        lines.append(
            f"  feed {name}: delivered {f['events_delivered']:,} in {f['batches_delivered']:,} batches, "
            f"last seq {f['last_seq']}, gaps {f['gaps_detected']} (lost {f['lost_records']}), duplicates "
            f"{f['duplicates']}, stale trips {f['stale_trips']}, reconnects {f['reconnects']}"
        )
    for what, key in (
        ("news read -> ingest done", "event"),
        ("news read -> NewOrderSingle written", "order"),
    ):
        lat = s["latency_ns"][key]
        if lat["count"]:
            lines.append(
                f"  latency {what}: p50 {lat['p50'] / 1e3:.1f} µs, p99 {lat['p99'] / 1e3:.1f} µs, "
                f"p99.9 {lat['p999'] / 1e3:.1f} µs, max {lat['max'] / 1e3:.1f} µs ({lat['count']:,} samples)"
            )
    stop = s.get("stop", {})
    mc = stop.get("mass_cancel") or {}
    lines.append(
        f"  stop: mass cancel requests {mc.get('requests', 0)}, reports {mc.get('reports', 0)}, open "
        f"orders {mc.get('open_before', '?')} -> {mc.get('open_after', '?')}; logout "
        f"{stop.get('logout', {})}"
    )
    return lines


def demo_live_main(args: argparse.Namespace) -> int:
    """The handler of ``cns demo live``."""
    s = run_demo(
        float(args.seconds), rate=float(getattr(args, "rate", 200.0)), seed=int(getattr(args, "seed", 7))
    )
    return int(s.get("exit_code", 0))
