"""``cns feed serve``: replay a news file (JSON Lines or CNS binary) as a live feed over binary TCP and JSON
WebSocket -- the local stand-in for a vendor feed (see ``docs/feeds.md``).

Prints one ``key=value`` line when listening (``tcp_port``/``ws_port`` are the bound ports, useful with
``--port 0``), one when the playback is done, and one when stopped. SIGINT/SIGTERM stop it gracefully
(BYE to every client). Exit codes: 0 stopped cleanly; 2 refused (unreadable or empty file, bad option, port
taken).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time

from cns.feeds.errors import FeedConfigError, FeedError


def parse_speed(text: str) -> float | None:
    """``"max"`` -> None (as fast as possible); a number > 0 -> that multiple of real time."""
    if text.strip().lower() == "max":
        return None
    try:
        v = float(text)
    except ValueError:
        raise FeedConfigError(f"--speed {text!r}: must be a number > 0 (1 = real time) or 'max'") from None
    if not 0 < v < 1e9:
        raise FeedConfigError(f"--speed {text!r}: must be a number > 0 (1 = real time) or 'max'")
    return v


def serve_main(args: argparse.Namespace) -> int:
    """Run the server until SIGINT/SIGTERM (or the end of the playback with ``--exit-at-end``); the options
    are declared in :mod:`cns.cli`."""
    from cns.news.formats import read_news

    speed = parse_speed(args.speed)
    try:
        news = read_news(args.news, sentiment=True)
    except OSError as exc:
        raise FeedError(f"cannot read --news {args.news}: {exc.strerror or exc}") from None
    if news.rejects:
        print(
            f"cns feed serve: {len(news.rejects)} items of {args.news} quarantined while reading "
            f"({', '.join(f'{k}={v}' for k, v in sorted(news.reject_counts().items()))})",
            flush=True,
        )
    return asyncio.run(_serve(args, news, speed))


async def _serve(args: argparse.Namespace, news: object, speed: float | None) -> int:
    from cns.feeds.server import FeedServer

    server = FeedServer(
        news,
        feed_id=args.feed_id,
        host=args.host,
        port=args.port,  # type: ignore[arg-type]
        ws_port=args.ws_port,
        speed=speed,
        heartbeat_s=args.heartbeat,
        frame_records=args.frame_records,
        replay_capacity=args.replay_capacity,
        wait_clients=args.wait_clients,
    )
    try:
        await server.start()
    except OSError as exc:
        await server.abort()
        raise FeedError(
            f"cannot listen on {args.host} (tcp {args.port}, ws {args.ws_port}): {exc.strerror or exc}"
        ) from None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(
        f"cns feed serve: listening feed={server.feed_id} records={len(server.source)} host={server.host} "
        f"tcp_port={server.port}"
        + (f" ws_port={server.ws_port}" if server.ws_port is not None else "")
        + f" speed={args.speed}",
        flush=True,
    )

    async def announce_end() -> None:
        await server.wait_finished()
        secs = (server.finished_ns - server.started_ns) / 1e9
        print(f"cns feed serve: playback done published={server.published} seconds={secs:.3f}", flush=True)
        if args.exit_at_end:
            await asyncio.sleep(0.2)  # let the writers flush the last frames
            stop.set()

    ender = loop.create_task(announce_end())
    t0 = time.monotonic()
    try:
        await stop.wait()
    finally:
        ender.cancel()
        await server.stop()
    print(
        f"cns feed serve: stopped published={server.published} frames={server.frames_sent} "
        f"uptime_s={time.monotonic() - t0:.1f} clients_dropped={server.clients_dropped}",
        flush=True,
    )
    return 0
