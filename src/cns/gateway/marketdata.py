"""Market data of the venue gateway: top of book, tick by tick, over a documented binary TCP stream.

Wire format (little-endian). Every frame is a 16-byte header then a payload::

    magic   4 bytes  b"CNMD"
    version u16      1
    kind    u16      1 SYMBOLS, 2 SNAPSHOT, 3 UPDATE, 4 HEARTBEAT, 5 BYE
    count   u32      records in the payload (SYMBOLS: payload bytes)
    seq     u32      low 32 bits of the last record's sequence number (0 for SYMBOLS/HEARTBEAT/BYE)

- SYMBOLS (first frame): UTF-8 JSON ``{"<code>": "<symbol>", ...}``.
- SNAPSHOT (second frame): one :data:`TOB_DTYPE` record per instrument, the book as it is now.
- UPDATE: one record per change of an instrument's best bid/ask (price or size) or per trade, in the order
  the book produced them; ``seq`` in the records increases by 1 per record over the whole stream (a
  client detects a gap by a jump; the publisher never skips one on a live connection).
- HEARTBEAT every ``heartbeat_s`` without updates (``count`` 0); BYE (``count`` 0) before a graceful close.

:data:`TOB_DTYPE` (72 bytes, packed): ``seq u8, ts_ns i8`` (venue wall clock, ns since the epoch),
``instrument u4`` (code), ``flags u4`` (bit 0: the record carries a trade), ``bid_px f8, bid_qty i8,
ask_px f8, ask_qty i8`` (USD, shares; NaN/0 for an empty side), ``last_px f8, last_qty i8`` (the trade of
this record, else NaN/0).

Slow subscribers: a client whose unsent output exceeds ``max_client_buffer`` bytes is disconnected (and
counted): the book never waits for market data. :class:`MarketDataClient` is a reader for tests and tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from typing import Any

import numpy as np

from cns.fix.transport import running_loop
from cns.gateway.errors import GatewayConfigError
from cns.otp import NOREPLY, GenServer
from cns.runtime import From, Node, Pid

__all__ = ["MD_HEADER", "MarketDataClient", "MarketDataPublisher", "MdUpdate", "TOB_DTYPE", "decode_frames"]

log = logging.getLogger("cns.gateway")

TOB_DTYPE = np.dtype(
    [
        ("seq", "<u8"),
        ("ts_ns", "<i8"),
        ("instrument", "<u4"),
        ("flags", "<u4"),
        ("bid_px", "<f8"),
        ("bid_qty", "<i8"),
        ("ask_px", "<f8"),
        ("ask_qty", "<i8"),
        ("last_px", "<f8"),
        ("last_qty", "<i8"),
    ]
)
assert TOB_DTYPE.itemsize == 72
MD_HEADER = struct.Struct("<4sHHII")
MAGIC = b"CNMD"
VERSION = 1
K_SYMBOLS, K_SNAPSHOT, K_UPDATE, K_HEARTBEAT, K_BYE = 1, 2, 3, 4, 5
FLAG_TRADE = 1
MAX_FRAME_RECORDS = 1 << 16


def encode_frame(
    kind: int, payload: bytes | np.ndarray = b"", count: int | None = None, seq: int = 0
) -> bytes:
    if isinstance(payload, np.ndarray):
        n = payload.shape[0] if count is None else count
        body = payload.tobytes()
    else:
        body = bytes(payload)
        n = len(body) if count is None else count
    return MD_HEADER.pack(MAGIC, VERSION, kind, n, seq & 0xFFFFFFFF) + body


def decode_frames(buf: bytearray) -> list[tuple[int, Any]]:
    """Consume complete frames from ``buf``: ``(kind, records | symbols dict | None)``; a bad magic or
    version raises ``ValueError`` (the stream cannot be trusted)."""
    out: list[tuple[int, Any]] = []
    pos = 0
    n = len(buf)
    while n - pos >= MD_HEADER.size:
        magic, ver, kind, count, _ = MD_HEADER.unpack_from(buf, pos)
        if magic != MAGIC or ver != VERSION:
            raise ValueError("not a CNS market-data stream")
        if kind == K_SYMBOLS:
            size = count
        elif kind in (K_SNAPSHOT, K_UPDATE):
            if count > MAX_FRAME_RECORDS:
                raise ValueError("frame too large")
            size = count * TOB_DTYPE.itemsize
        else:
            size = 0
        if n - pos - MD_HEADER.size < size:
            break
        start = pos + MD_HEADER.size
        if kind == K_SYMBOLS:
            item: Any = {int(k): v for k, v in json.loads(bytes(buf[start : start + size])).items()}
        elif kind in (K_SNAPSHOT, K_UPDATE):
            item = np.frombuffer(bytes(buf[start : start + size]), TOB_DTYPE)
        else:
            item = None
        out.append((kind, item))
        pos = start + size
    del buf[:pos]
    return out


class MdUpdate:
    """From the gateway: TOB_DTYPE records (``seq`` filled in by the publisher); ``snapshot``: the current
    top of every instrument (replaces the publisher's copy)."""

    __slots__ = ("records", "snapshot")

    def __init__(self, records: np.ndarray, snapshot: np.ndarray) -> None:
        self.records = records
        self.snapshot = snapshot


class _Client(asyncio.Protocol):
    def __init__(self, pub: MarketDataPublisher) -> None:
        self.pub = pub
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.pub.node.send(self.pub.pid, ("md_client", self))

    def data_received(self, data: bytes) -> None:  # clients have nothing to say
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.pub.node.send(self.pub.pid, ("md_gone", self))


class MarketDataPublisher(GenServer):
    """Serves the market-data stream (see the module doc). ``symbols``: index ``k`` = code ``k``. Calls:
    ``"port"`` (answered once listening), ``"stats"``."""

    @classmethod
    def start_publisher(
        cls,
        node: Node,
        symbols: list[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_s: float = 1.0,
        max_client_buffer: int = 4 * 1024 * 1024,
        name: str | None = "venue_md",
        link: bool = True,
    ) -> Pid:
        """Start the top-of-book publisher for ``symbols`` on ``host:port`` (0: ephemeral; ask ``"port"``), heartbeats
        every ``heartbeat_s`` s; a client with more than ``max_client_buffer`` unsent bytes is disconnected. Returns its Pid.
        """
        pid = cls.start(node, symbols, host, port, heartbeat_s, max_client_buffer, name=name, link=link)
        assert pid is not None
        return pid

    def init(
        self, symbols: list[str], host: str, port: int, heartbeat_s: float, max_client_buffer: int
    ) -> None:
        self.symbols_frame = encode_frame(
            K_SYMBOLS, json.dumps({str(k): s for k, s in enumerate(symbols) if k}).encode()
        )
        n1 = len(symbols)
        self.top = np.zeros(n1 - 1, TOB_DTYPE)
        self.top["instrument"] = np.arange(1, n1)
        for f in ("bid_px", "ask_px", "last_px"):
            self.top[f] = np.nan
        self.seq = 0
        self.clients: list[_Client] = []
        self.max_client_buffer = max_client_buffer
        self.server: asyncio.AbstractServer | None = None
        self.port = port
        self.host = host
        self.waiting: list[From] = []
        self.error: str | None = None
        self.stats = {"clients": 0, "dropped_slow": 0, "records": 0, "frames": 0}
        self.quiet = True  # no update since the last heartbeat tick
        self.trap_exit()
        loop = running_loop("MarketDataPublisher")
        node, me = self.node, self.pid

        async def listen() -> None:
            try:
                srv = await loop.create_server(lambda: _Client(self), host, port)
            except OSError as e:
                node.send(me, ("md_listen", None, f"cannot listen on {host}:{port}: {e.strerror or e}"))
                return
            node.send(me, ("md_listen", srv, None))

        loop.create_task(listen())
        if not 0 < heartbeat_s <= 60:
            raise GatewayConfigError("md heartbeat_s must be in (0, 60]")
        self.hb = node.send_interval(heartbeat_s, me, ("md_heartbeat",))

    def handle_call(self, request: Any, from_: From) -> Any:
        if request == "port":
            if self.error is not None:
                return GatewayConfigError(self.error)
            if self.server is None:
                self.waiting.append(from_)
                return NOREPLY
            return self.port
        if request == "stats":
            return dict(self.stats, connected=len(self.clients), seq=self.seq)
        return GatewayConfigError(f"unknown request {request!r}")

    def handle_info(self, msg: Any) -> None:
        if msg.__class__ is MdUpdate:
            self._publish(msg)
            return
        tag = msg[0] if isinstance(msg, tuple) and msg else None
        if tag == "md_client":
            c: _Client = msg[1]
            if c.transport is None or c.transport.is_closing():
                return
            self.clients.append(c)
            self.stats["clients"] += 1
            snap = self.top.copy()
            snap["seq"] = self.seq  # the snapshot includes every update up to this sequence number
            self._write(c, self.symbols_frame + encode_frame(K_SNAPSHOT, snap, seq=self.seq))
        elif tag == "md_gone":
            with contextlib.suppress(ValueError):
                self.clients.remove(msg[1])
        elif tag == "md_heartbeat":
            quiet, self.quiet = self.quiet, True
            if quiet:
                frame = encode_frame(K_HEARTBEAT, b"", 0, self.seq)
                for c in list(self.clients):
                    self._write(c, frame)
        elif tag == "md_listen":
            srv, err = msg[1], msg[2]
            if err is not None:
                self.error = err
                log.error("venue md: %s", err)
                for f in self.waiting:
                    self.reply(f, GatewayConfigError(err))
            else:
                self.server = srv
                self.port = srv.sockets[0].getsockname()[1]
                for f in self.waiting:
                    self.reply(f, self.port)
            self.waiting.clear()

    def _publish(self, u: MdUpdate) -> None:
        r = u.records
        n = r.shape[0]
        if u.snapshot is not None:
            self.top = u.snapshot
        if n == 0:
            return
        r["seq"] = np.arange(self.seq + 1, self.seq + 1 + n, dtype=np.uint64)
        self.seq += n
        self.stats["records"] += n
        self.quiet = False
        if not self.clients:
            return
        frame = encode_frame(K_UPDATE, r, seq=self.seq)
        self.stats["frames"] += 1
        for c in list(self.clients):
            self._write(c, frame)

    def _write(self, c: _Client, data: bytes) -> None:
        t = c.transport
        if t is None or t.is_closing():
            return
        t.write(data)
        if t.get_write_buffer_size() > self.max_client_buffer:
            self.stats["dropped_slow"] += 1
            log.warning("venue md: dropped a slow subscriber")
            t.abort()
            with contextlib.suppress(ValueError):
                self.clients.remove(c)

    def terminate(self, reason: Any) -> None:
        if getattr(self, "hb", None) is not None:
            self.node.cancel_timer(self.hb)
        bye = encode_frame(K_BYE, b"", 0, self.seq)
        for c in self.clients:
            if c.transport is not None and not c.transport.is_closing():
                c.transport.write(bye)
                c.transport.close()
        self.clients.clear()
        if self.server is not None:
            self.server.close()
            self.server = None


class MarketDataClient:
    """Reads the stream: ``await client.connect()``, then ``await client.next()`` -> ``(kind, item)``.
    ``symbols`` and ``top`` (by instrument code) are kept up to date."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.buf = bytearray()
        self.pending: list[tuple[int, Any]] = []
        self.symbols: dict[int, str] = {}
        self.top: dict[int, np.void] = {}
        self.last_seq = 0
        self.gaps = 0

    async def connect(self, timeout: float = 5.0) -> None:
        """Open the TCP connection; raises TimeoutError after ``timeout`` s, OSError if refused."""
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), timeout
        )

    async def next(self, timeout: float = 5.0) -> tuple[int, Any]:
        """The next ``(kind, item)`` from the stream (K_SYMBOLS, K_SNAPSHOT, K_UPDATE, K_HEARTBEAT, K_BYE), updating
        ``symbols``/``top`` and counting sequence ``gaps``; ``(K_BYE, None)`` at EOF; raises TimeoutError after
        ``timeout`` s of silence.
        """
        while not self.pending:
            assert self.reader is not None
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return K_BYE, None
            self.buf += data
            self.pending.extend(decode_frames(self.buf))
        kind, item = self.pending.pop(0)
        if kind == K_SYMBOLS:
            self.symbols = item
        elif kind == K_SNAPSHOT:
            for rec in item:
                self.top[int(rec["instrument"])] = rec
            if item.shape[0]:
                self.last_seq = int(item["seq"][0])
        elif kind == K_UPDATE:
            for rec in item:
                s = int(rec["seq"])
                if s != self.last_seq + 1:
                    self.gaps += 1
                self.last_seq = s
                self.top[int(rec["instrument"])] = rec
        return kind, item

    async def close(self) -> None:
        """Close the connection; idempotent, errors while closing are ignored."""
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
