"""Shared pieces of the ops tests: Debian tools installed on demand, a serve shard on loopback (real tree, feed
server and in-process venue; a stub validator so no rules compile is needed), bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest

VENUE = (("AAPL", 190.0), ("MSFT", 410.0), ("NVDA", 120.0), ("AMZN", 180.0), ("TSLA", 250.0))
TOKEN = "ops-test-token-7f3a"


def need_tool(tool: str, package: str) -> str:
    """Path of ``tool``; installs Debian ``package`` with apt-get when missing and running as root (bounded);
    skips naming the package when it cannot be had."""
    path = shutil.which(tool)
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=300, check=False)
            subprocess.run(
                ["apt-get", "install", "-y", "--no-install-recommends", package],
                env=env,
                capture_output=True,
                timeout=600,
                check=False,
            )
        path = shutil.which(tool)
        if path:
            return path
    pytest.skip(f"{tool} not available: install the Debian package '{package}'")
    raise AssertionError  # unreachable


async def until(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``pred`` every 20 ms until truthy (returned) or ``timeout`` s pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


class StubValidator:
    """Stands in for the compiled news rules in the serve tree: every record conforms (counts calls)."""

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.calls = 0

    def process(self, recs: np.ndarray, verdict: np.ndarray, code: np.ndarray, handler: Any = None) -> None:
        self.calls += 1
        verdict[: len(recs)] = 0
        code[: len(recs)] = 0


def venue_news(n: int, seconds: float, seed: int = 3) -> Any:
    from cns.market.newsgen import generate_news
    from cns.signals.universe import InstrumentInfo

    inst = (InstrumentInfo("SPX", 5000.0, True), *(InstrumentInfo(s, p) for s, p in VENUE))
    return generate_news(n, seconds, seed, instruments=inst).batch


def serve_config(feed_port: int, shard: str = "ops") -> Any:
    from cns.serve.config import serve_config_from_dict

    return serve_config_from_dict(
        {
            "serve": {
                "shard": shard,
                "connect_timeout_s": 10.0,
                "stop_timeout_s": 2.0,
                "order_sink": "inprocess",
            },
            "feeds": [{"name": "f1", "port": feed_port, "stale_after_s": 2.0}],
            "instruments": [{"symbol": s, "price": p} for s, p in VENUE],
            "signal": {"aggress_bps": 15.0, "hold_ns": 1_000_000_000, "exit_aggress_bps": 20.0},
        }
    )


@contextlib.asynccontextmanager
async def shard(
    *, n_news: int = 20_000, seconds: float = 60.0, speed: float = 1.0, mount: bool = True, **mount_kw: Any
) -> AsyncIterator[tuple[Any, Any, Any]]:
    """A started serve shard fed by a FeedServer on loopback, with :func:`cns.ops.mount_serve` (token
    :data:`TOKEN`) when ``mount``: yields ``(service, ops handle or None, feed server)``."""
    from cns.feeds import FeedServer
    from cns.ops import mount_serve
    from cns.serve.service import Service
    from cns.serve.state import build_state

    srv = FeedServer(venue_news(n_news, seconds), speed=speed, heartbeat_s=0.2, wait_clients=1)
    await srv.start()
    svc = None
    ops = None
    try:
        cfg = serve_config(srv.port)
        state = build_state(cfg)
        state.extra["validator"] = StubValidator()
        svc = Service(cfg, state=state)
        await svc.start()
        if mount:
            mount_kw.setdefault("token", TOKEN)
            ops = mount_serve(svc, **mount_kw)
        yield svc, ops, srv
    finally:
        if ops is not None:
            ops.close()
        if svc is not None:
            await svc.stop()
        await srv.stop()


def run(coro: Any, timeout: float = 90.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def http(
    url: str, body: dict[str, Any] | None = None, token: str | None = None, timeout: float = 5.0
) -> tuple[int, Any]:
    """GET (or POST ``body`` as JSON) -> ``(status, parsed JSON or text)``."""
    import json
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()
