"""``cns serve --config serve.toml``: one shard of the live pipeline until SIGTERM/SIGINT (docs/serve.md).

Output: one ``key=value`` line when every peer is up, one summary line when stopped (``--summary PATH``
also writes the whole summary as JSON). Exit codes: 0 stopped gracefully (signal or ``--seconds``);
1 the tree gave up (restart intensity exhausted); 2 refused at start-up -- bad config, unreadable rules, a
peer not up within ``[serve] connect_timeout_s`` -- with one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cns.serve.config import ServeConfig, load_serve_config
from cns.serve.service import Service

__all__ = ["format_summary", "run_service", "serve_main"]


def serve_main(args: argparse.Namespace) -> int:
    """The handler of ``cns serve`` (options declared in :mod:`cns.cli`)."""
    if getattr(args, "verbose", False):
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cfg = load_serve_config(args.config)
    seconds = getattr(args, "seconds", None)
    code, summary = asyncio.run(run_service(cfg, seconds=seconds, ops_port=getattr(args, "ops_port", None)))
    print(format_summary(summary), flush=True)
    path = getattr(args, "summary", None)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    return code


async def run_service(
    cfg: ServeConfig,
    *,
    seconds: float | None = None,
    announce: bool = True,
    started: Callable[[Service], None] | None = None,
    ops_port: int | None = None,
) -> tuple[int, dict[str, Any]]:
    """Start the shard, run until SIGTERM/SIGINT, ``seconds`` or the tree giving up; stop it gracefully.
    Returns ``(exit code, summary)``; start-up refusals raise (a :class:`~cns.serve.errors.ServeError`).
    ``started(service)`` is called once every peer is up (tests, embedding). ``ops_port`` (0 = any free):
    serve the Prometheus metrics and the control API (:func:`cns.ops.mount_serve`) on ``cfg.host`` for the
    life of the shard; its token comes from ``$CNS_OPS_TOKEN`` (required off loopback)."""
    svc = Service(cfg)
    await svc.start()
    ops = None
    if ops_port is not None:
        from cns.ops import mount_serve

        try:
            ops = mount_serve(svc, host=cfg.host, port=ops_port)
        except BaseException:
            await svc.stop()
            raise
        svc.ops_port = ops.port  # type: ignore[attr-defined]
        if announce:
            print(f"cns serve: metrics and control on http://{cfg.host}:{ops.port}/", flush=True)
    if started is not None:
        started(svc)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if announce:
        print(
            f"cns serve: started shard={cfg.shard} feeds={len(cfg.feeds)} fix={len(svc.state.sessions)} "
            f"instruments={len(cfg.instruments)} sink={cfg.order_sink} "
            f"market_data={'on' if cfg.market_data else 'static'}{_recovered(svc.state.extra.get('recovery'))}",
            flush=True,
        )
    waits: list[asyncio.Task[Any]] = [loop.create_task(stop.wait())]
    if svc.failed is not None:
        waits.append(loop.create_task(svc.failed.wait()))
    if seconds is not None:
        waits.append(loop.create_task(asyncio.sleep(seconds)))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    failed = svc.failed is not None and svc.failed.is_set()
    if ops is not None:
        ops.close()
    summary = await svc.stop()
    if failed:
        summary["failure"] = repr(svc.failure)
        print(f"cns serve: the tree gave up: {svc.failure!r}", file=sys.stderr, flush=True)
        return 1, summary
    return 0, summary


def format_summary(s: dict[str, Any]) -> str:
    """The one-line stop summary of ``cns serve``."""
    c = s.get("counters", {})
    d = s.get("desk", {})
    lat = s.get("latency_ns", {}).get("order", {})
    stop = s.get("stop", {})
    mc = stop.get("mass_cancel") or {}
    p50, p99 = lat.get("p50"), lat.get("p99")
    lat_txt = f" order_latency_p50_us={p50 / 1e3:.1f} p99_us={p99 / 1e3:.1f}" if lat.get("count") else ""
    return (
        f"cns serve: stopped shard={s.get('shard')} uptime_s={s.get('uptime_s', 0):.1f} "
        f"events={c.get('events_in', 0)} decisions={c.get('decisions', 0)} orders={c.get('orders_sent', 0)} "
        f"fills={c.get('fills', 0)} pnl_usd={d.get('pnl_usd', 0.0):.2f} "
        f"mass_cancel_requests={mc.get('requests', 0)} mass_cancel_reports={mc.get('reports', 0)} "
        f"open_after={mc.get('open_after', 'n/a')} "
        f"logout={','.join(str(v) for v in stop.get('logout', {}).values()) or 'none'}{lat_txt}"
    )


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return repr(o)


def _recovered(r: Any) -> str:
    """`` recovered=<entries> snapshot=<index|none> replayed=<n> orders=<n> execs=<n> unacked=<n>
    rewound=<sessions> replay_s=<s>`` after a recovery from the journal (orders / execs: replayed after the
    snapshot), else empty."""
    if not r:
        return ""
    rew = sum(1 for v in r.get("fix_rewind", {}).values() if v["journal_next"] < v["store_next"])
    return (
        f" recovered={r['entries']} snapshot={r.get('snapshot') if r.get('snapshot') is not None else 'none'} "
        f"replayed={r.get('replayed', r['entries'])} orders={r['orders']} execs={r['execs']} unacked={r['unacked']} "
        f"rewound={rew} replay_s={r['seconds']}"
    )
