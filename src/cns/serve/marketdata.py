"""The desk's quotes, tick by tick, from the venue gateway's market-data stream (``cns venue serve
--md-port``; wire format in :mod:`cns.gateway.marketdata`).

:class:`MarketDataFeed` (a :class:`~cns.otp.GenServer`, registered ``<shard>:market_data``) keeps one TCP
connection to the publisher. The socket side is an asyncio protocol that only forwards each read to the
actor; the actor cuts frames (:func:`cns.gateway.marketdata.decode_frames`), maps the venue's instrument
codes to the shard's ticker codes by symbol (the SYMBOLS frame), and writes the mid of every SNAPSHOT/UPDATE
record whose bid and ask are both positive and finite into ``state.quotes.mid`` in place. Every frame
(heartbeats included) refreshes ``quotes.last_rx_ns``; ``quotes.connected`` follows the connection, so the
risk gate sees stale quotes (and fails closed) once the stream is silent for ``stale_after_s`` or gone.

Failure rules: a stream that is not the CNS market-data format drops the connection; a lost or refused
connection is retried after an exponential backoff (50 ms doubling to 2 s). Records of a symbol the shard
does not know are ignored.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from cns.gateway.marketdata import K_BYE, K_HEARTBEAT, K_SNAPSHOT, K_SYMBOLS, K_UPDATE, decode_frames
from cns.otp import GenServer
from cns.runtime import Node, Pid
from cns.serve.config import MarketDataSpec
from cns.serve.state import ServeState

__all__ = ["MarketDataFeed"]


class _Opened:
    __slots__ = ("gen", "transport")

    def __init__(self, gen: int, transport: asyncio.Transport) -> None:
        self.gen, self.transport = gen, transport


class _Rx:
    __slots__ = ("gen", "data")

    def __init__(self, gen: int, data: bytes) -> None:
        self.gen, self.data = gen, data


class _Closed:
    __slots__ = ("gen", "reason")

    def __init__(self, gen: int, reason: str) -> None:
        self.gen, self.reason = gen, reason


class _Connect:
    __slots__ = ()


_CONNECT = _Connect()


class _Protocol(asyncio.Protocol):
    def __init__(self, node: Node, pid: Pid, gen: int) -> None:
        self.node, self.pid, self.gen = node, pid, gen
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.node.send(self.pid, _Opened(self.gen, transport))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if not self.pid.is_alive:
            if self.transport is not None:
                self.transport.abort()
            return
        self.node.send(self.pid, _Rx(self.gen, data))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.pid.is_alive:
            self.node.send(self.pid, _Closed(self.gen, f"connection lost ({exc or 'eof'})"))


async def _open(node: Node, pid: Pid, gen: int, host: str, port: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.create_connection(lambda: _Protocol(node, pid, gen), host, port), timeout)
    except (TimeoutError, OSError) as e:
        if pid.is_alive:
            node.send(pid, _Closed(gen, f"connect to {host}:{port} failed: {type(e).__name__}"))


class MarketDataFeed(GenServer):
    """See the module doc. Calls: ``"status"`` -> ``{"connected", "records", "connects", "last_rx_ns"}``."""

    def init(self, state: ServeState, spec: MarketDataSpec, connect_timeout_s: float = 2.0) -> None:
        self.state = state
        self.spec = spec
        self.timeout = connect_timeout_s
        self.gen = 0
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.vmap = np.zeros(1, np.int64)  # venue instrument code -> ticker code (0: unknown)
        self.delay = 0.05
        self.task: asyncio.Task[None] | None = None
        self.trap_exit()  # the supervisor's shutdown runs terminate (closes the socket)
        state.quotes.connected = False
        self.node.send(self.pid, _CONNECT)

    def terminate(self, reason: Any) -> None:
        self.gen += 1
        self.state.quotes.connected = False
        if self.transport is not None:
            self.transport.abort()
            self.transport = None
        if self.task is not None:
            self.task.cancel()

    def handle_call(self, request: Any, from_: Any) -> Any:
        if request == "status":
            q = self.state.quotes
            return {
                "connected": q.connected,
                "records": self.state.counters["md_records"],
                "connects": self.state.counters["md_connects"],
                "last_rx_ns": q.last_rx_ns,
            }
        raise ValueError(f"MarketDataFeed: unknown call {request!r}")

    def handle_info(self, msg: Any) -> None:
        cls = msg.__class__
        if cls is _Rx:
            if msg.gen == self.gen:
                self._on_data(msg.data)
        elif cls is _Opened:
            if msg.gen != self.gen:
                msg.transport.abort()
                return
            self.transport = msg.transport
            self.buf.clear()
            self.state.counters["md_connects"] += 1
            self.delay = 0.05
        elif cls is _Closed:
            if msg.gen == self.gen:
                self._lost()
        elif cls is _Connect:
            self.gen += 1
            loop = asyncio.get_running_loop()
            self.task = loop.create_task(
                _open(self.node, self.pid, self.gen, self.spec.host, self.spec.port, self.timeout)
            )

    def _lost(self) -> None:
        self.state.quotes.connected = False
        if self.transport is not None:
            self.transport.abort()
            self.transport = None
        self.gen += 1
        self.node.send_after(self.delay, self.pid, _CONNECT)
        self.delay = min(2.0, self.delay * 2)

    def _on_data(self, data: bytes) -> None:
        self.buf += data
        try:
            frames = decode_frames(self.buf)
        except ValueError:
            self._lost()
            return
        q = self.state.quotes
        now = time.time_ns()
        for kind, item in frames:
            q.last_rx_ns = now
            if kind == K_SYMBOLS:
                tickers = self.state.dictionaries[1]
                top = max(item) if item else 0
                vmap = np.zeros(top + 1, np.int64)
                for code, sym in item.items():
                    vmap[code] = tickers.code(sym)
                self.vmap = vmap
            elif kind in (K_SNAPSHOT, K_UPDATE):
                q.connected = True
                self._quotes(item)
            elif kind == K_HEARTBEAT:
                q.connected = True
            elif kind == K_BYE:
                self._lost()
                return

    def _quotes(self, recs: np.ndarray) -> None:
        if not len(recs):
            return
        self.state.counters["md_records"] += len(recs)
        v = recs["instrument"].astype(np.int64)
        code = np.where(v < len(self.vmap), self.vmap[np.minimum(v, len(self.vmap) - 1)], 0)
        bid, ask = recs["bid_px"], recs["ask_px"]
        mid = (bid + ask) * 0.5
        ok = (code > 0) & (code < len(self.state.quotes.mid)) & (bid > 0) & (ask > 0) & np.isfinite(mid)
        q = self.state.quotes
        q.mid[code[ok]] = mid[ok]
        q.version += 1
