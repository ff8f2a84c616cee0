"""Shared pieces of the serve tests: a serve config on loopback, an in-process venue gateway and feed
server, bounded waits."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cns.news import NewsBatch

T = TypeVar("T")

VENUE = (("AAPL", 190.0), ("MSFT", 410.0), ("NVDA", 120.0), ("AMZN", 180.0), ("TSLA", 250.0))
CLIENT_ID, VENUE_ID, PASSWORD = "CNSTEST", "VENUETEST", "pw-test"


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    """Run a scenario in a fresh event loop, bounded by ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def until(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``pred`` every 10 ms until truthy (returned) or ``timeout`` s pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


def free_port() -> int:
    """A port nobody listens on (bound by the OS, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def venue_news(n: int = 3000, seconds: float = 30.0, seed: int = 3) -> NewsBatch:
    """Generated news on SPX and the venue's five stocks."""
    from cns.market.newsgen import generate_news
    from cns.signals.universe import InstrumentInfo

    inst = (InstrumentInfo("SPX", 5000.0, True), *(InstrumentInfo(s, p) for s, p in VENUE))
    return generate_news(n, seconds, seed, instruments=inst).batch


def serve_dict(
    feed_port: int,
    *,
    fix_port: int | None = None,
    md_port: int | None = None,
    shard: str = "t",
    connect_timeout_s: float = 10.0,
    **sections: Any,
) -> dict[str, Any]:
    """A serve config (as parsed TOML): one TCP feed, the venue's instruments, FIX when ``fix_port``
    (credentials inline) else the in-process venue."""
    doc: dict[str, Any] = {
        "serve": {
            "shard": shard,
            "connect_timeout_s": connect_timeout_s,
            "stop_timeout_s": 2.0,
            "order_sink": "fix" if fix_port else "inprocess",
        },
        "feeds": [{"name": "f1", "port": feed_port, "stale_after_s": 2.0}],
        "instruments": [{"symbol": s, "price": p} for s, p in VENUE],
        "signal": {"aggress_bps": 15.0, "hold_ns": 1_000_000_000, "exit_aggress_bps": 20.0},
    }
    if fix_port:
        doc["fix"] = [
            {
                "name": "venue1",
                "port": fix_port,
                "sender_comp_id": CLIENT_ID,
                "target_comp_id": VENUE_ID,
                "password": PASSWORD,
                "heartbeat_s": 5,
            }
        ]
    if md_port:
        doc["market_data"] = {"port": md_port}
    doc.update(sections)
    return doc


def venue_config(*, market_maker: bool = True) -> Any:
    """The gateway's config: the five stocks, one session for our CompIDs, OS-chosen ports."""
    from cns.gateway.config import venue_config_from_dict

    return venue_config_from_dict(
        {
            "port": 0,
            "md_port": 0,
            "heartbeat_s": 5,
            "instruments": [{"symbol": s, "price": p} for s, p in VENUE],
            "sessions": [
                {
                    "name": "client1",
                    "owner": 2,
                    "sender_comp_id": VENUE_ID,
                    "target_comp_id": CLIENT_ID,
                    "password": PASSWORD,
                }
            ],
            "market_maker": {"enabled": market_maker, "seed": 5, "interval_s": 0.05, "spread_ticks": 2},
        }
    )
