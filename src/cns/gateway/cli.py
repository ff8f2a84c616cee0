"""``cns venue serve``: the venue gateway as a process -- order books behind a FIX 4.4 acceptor, market data
over TCP, an optional seeded market maker (see ``docs/gateway.md``).

Prints one ``key=value`` line when listening (``fix_port``/``md_port`` are the bound ports, useful with
``--port 0``) and one when stopped. SIGINT/SIGTERM stop it gracefully: a Logout to every logged-on client,
BYE to market-data clients, stores closed. Exit codes: 0 stopped cleanly; 2 refused (bad config, port in
use, a CompID variable not set).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import time

from cns.gateway.config import VenueConfig, default_venue_config, load_venue_config


def build_config(args: argparse.Namespace) -> VenueConfig:
    """The venue config of the command line: ``--config`` (else the default one), overridden by the flags
    given explicitly."""
    cfg = load_venue_config(args.config) if args.config else default_venue_config()
    over: dict[str, object] = {}
    if args.port is not None:
        over["port"] = args.port
    if args.md_port is not None:
        over["md_port"] = args.md_port
    if args.host is not None:
        over["host"] = args.host
    if args.store_dir is not None:
        over["store_dir"] = args.store_dir
    if args.no_market_maker:
        over["market_maker"] = dataclasses.replace(cfg.market_maker, enabled=False)
    elif args.seed is not None:
        over["market_maker"] = dataclasses.replace(cfg.market_maker, seed=args.seed)
    return dataclasses.replace(cfg, **over) if over else cfg  # type: ignore[arg-type]


def serve_main(args: argparse.Namespace) -> int:
    """Run the venue until SIGINT/SIGTERM; the options are declared in :mod:`cns.cli`."""
    cfg = build_config(args)
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return asyncio.run(_serve(cfg))


async def _serve(cfg: VenueConfig) -> int:
    from cns.gateway.server import start_venue, stop_venue
    from cns.runtime import Node

    node = Node()
    loop = asyncio.get_running_loop()
    runner = loop.create_task(node.run_async())
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    t0 = time.monotonic()
    try:
        venue = await start_venue(node, cfg)
    except BaseException:
        node.stop()
        await asyncio.wait_for(runner, 2.0)
        raise
    print(
        f"cns venue serve: listening host={cfg.host} fix_port={venue.fix_port}"
        + (f" md_port={venue.md_port}" if venue.md_port is not None else "")
        + f" instruments={len(cfg.instruments)} sessions={len(cfg.sessions)}"
        + f" market_maker={'on' if cfg.market_maker.enabled else 'off'}",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        stats = {}
        with contextlib.suppress(Exception):
            from cns.runtime.aio import loop_call

            stats = await asyncio.wait_for(loop_call(node, "venue_gateway", "stats"), 2.0)
        await stop_venue(venue)
        node.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, 2.0)
    print(
        f"cns venue serve: stopped uptime_s={time.monotonic() - t0:.1f} orders={stats.get('orders', 0)} "
        f"fills={stats.get('fills', 0)} rejects={stats.get('rejects', 0)}",
        flush=True,
    )
    return 0
