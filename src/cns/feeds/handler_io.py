"""The socket side of a feed handler: asyncio code that only cuts the byte stream into frames and sends
them to the handler actor, one message per socket read (TCP) or WebSocket message.

The actor (:class:`~cns.feeds.handler.FeedHandler`) starts :func:`open_link` as an asyncio task and then gets,
in its mailbox, :class:`Opened` (with the :class:`Link` it writes to), one :class:`Rx` per read and finally
:class:`Closed` -- always, whether the connection failed, ended or was closed by the actor. Every message
carries the connection's generation number ``gen``, so the actor can tell a stale connection's reports.
Reading pauses (flow control) while the actor's mailbox holds more than ``max_mailbox`` messages, until the
actor calls :meth:`Link.resume`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from cns.feeds.handler_types import FeedConfig
from cns.feeds.protocol import (
    HELLO,
    REASON_FRAME_TOO_LARGE,
    REPLAY_REQUEST,
    Frame,
    FrameDecoder,
    encode_frame,
)
from cns.feeds.protocol_json import decode_ws_message, encode_ws_message
from cns.news.batch import Reject
from cns.runtime import Node, Pid

__all__ = ["Closed", "Link", "Opened", "Rx", "open_link"]


def open_link(node: Node, pid: Pid, gen: int, cfg: FeedConfig) -> Coroutine[Any, Any, None]:
    """The coroutine that connects to ``cfg``'s feed over its transport and reports to actor ``pid``."""
    return open_tcp(node, pid, gen, cfg) if cfg.transport == "tcp" else run_ws(node, pid, gen, cfg)


# ------------------------------------------------------------------------------- messages to the actor
class Opened:
    """Connection ``gen`` is up; ``link`` sends requests on it."""

    __slots__ = ("gen", "link")

    def __init__(self, gen: int, link: Link) -> None:
        self.gen, self.link = gen, link


class Rx:
    """Frames cut from one socket read (TCP) or one WebSocket message."""

    __slots__ = ("gen", "mono_ns", "wall_ns", "items", "nbytes")

    def __init__(
        self, gen: int, mono_ns: int, wall_ns: int, items: list[Frame | Reject], nbytes: int
    ) -> None:
        self.gen, self.mono_ns, self.wall_ns, self.items, self.nbytes = gen, mono_ns, wall_ns, items, nbytes


class Closed:
    """Connection ``gen`` closed: ``reason`` a human-readable cause, ``rejects`` frames refused while reading."""

    __slots__ = ("gen", "reason", "rejects")

    def __init__(self, gen: int, reason: str, rejects: list[Reject]) -> None:
        self.gen, self.reason, self.rejects = gen, reason, rejects


# ------------------------------------------------------------------------------- transports
class Link:
    """One open connection as the actor sees it: the requests it may send (encoded as the transport wants),
    flow control and close."""

    binary = True

    def hello(self, feed_id: int) -> None:
        """Send HELLO for ``feed_id``: the server starts streaming live frames."""
        self.send(self.encode(HELLO, feed_id=feed_id))

    def replay(self, feed_id: int, first: int, count: int) -> None:
        """Ask the server to resend ``count`` frames of ``feed_id`` from sequence ``first`` (gap fill)."""
        self.send(self.encode(REPLAY_REQUEST, feed_id=feed_id, seq=first, count=count))

    def encode(self, type: int, *, feed_id: int, seq: int = 0, count: int = 0) -> bytes:
        """Encode a client request (``type``: HELLO or REPLAY_REQUEST) in the transport's wire format."""
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        """Write (or queue) ``data`` on the connection without waiting for it to drain."""
        raise NotImplementedError

    def resume(self) -> None:
        """Resume reading if flow control paused it (the actor has drained its mailbox)."""

    def close(self) -> None:
        """Close the connection at once (unsent data is dropped); the actor then gets :class:`Closed`."""
        raise NotImplementedError


class TcpLink(Link):
    encode = staticmethod(encode_frame)

    def __init__(self, proto: TcpProtocol) -> None:
        self.proto = proto

    def send(self, data: bytes) -> None:
        self.proto.transport.write(data)

    def resume(self) -> None:
        p = self.proto
        if p.paused and not p.transport.is_closing():
            p.paused = False
            p.transport.resume_reading()

    def close(self) -> None:
        self.proto.transport.abort()


class TcpProtocol(asyncio.Protocol):
    """Cuts the TCP byte stream into frames (:class:`FrameDecoder`) and hands them to the actor, one
    message per read. Pauses reading while the actor's mailbox holds more than ``max_mailbox`` messages."""

    def __init__(self, node: Node, pid: Pid, gen: int, max_payload: int, max_mailbox: int) -> None:
        self.node, self.pid, self.gen = node, pid, gen
        self.decoder = FrameDecoder(max_payload)
        self.max_mailbox = max_mailbox
        self.paused = False
        self.transport: asyncio.Transport = None  # type: ignore[assignment]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.node.send(self.pid, Opened(self.gen, TcpLink(self)))

    def data_received(self, data: bytes) -> None:
        mono, wall = time.monotonic_ns(), time.time_ns()
        pid = self.pid
        if not pid.is_alive:
            self.transport.abort()
            return
        items = self.decoder.feed(data)
        if items:
            self.node.send(pid, Rx(self.gen, mono, wall, items, len(data)))
        if self.decoder.fatal is not None:
            self.transport.abort()
        elif pid.mailbox_size > self.max_mailbox and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        tail = self.decoder.close()
        reason = "fatal frame" if self.decoder.fatal is not None else f"connection lost ({exc or 'eof'})"
        self.node.send(self.pid, Closed(self.gen, reason, [tail] if tail is not None else []))


async def open_tcp(node: Node, pid: Pid, gen: int, cfg: FeedConfig) -> None:
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(
            loop.create_connection(
                lambda: TcpProtocol(node, pid, gen, cfg.max_frame_bytes, cfg.max_mailbox), cfg.host, cfg.port
            ),
            cfg.connect_timeout_s,
        )
    except (TimeoutError, OSError) as exc:
        node.send(pid, Closed(gen, f"connect to {cfg.host}:{cfg.port} failed: {exc!r}", []))


class WsLink(Link):
    binary = False
    encode = staticmethod(encode_ws_message)

    def __init__(self, ws: Any, outq: asyncio.Queue[bytes]) -> None:
        self.ws, self.outq = ws, outq
        self.task: asyncio.Task[None] | None = None
        self.readable = asyncio.Event()
        self.readable.set()

    def send(self, data: bytes) -> None:
        self.outq.put_nowait(data)

    def resume(self) -> None:
        self.readable.set()

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def run_ws(node: Node, pid: Pid, gen: int, cfg: FeedConfig) -> None:
    """Connect, then read messages until the connection ends; always reports ``Closed`` to the actor."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    reason, rejects = "closed", []
    outq: asyncio.Queue[bytes] = asyncio.Queue()
    writer: asyncio.Task[None] | None = None
    try:
        async with connect(
            f"ws://{cfg.host}:{cfg.port}/",
            open_timeout=cfg.connect_timeout_s,
            max_size=cfg.max_frame_bytes,
            compression=None,
            ping_interval=None,
            close_timeout=1.0,
            proxy=None,
        ) as ws:
            link = WsLink(ws, outq)
            link.task = asyncio.current_task()
            writer = asyncio.get_running_loop().create_task(_write_ws(ws, outq))
            node.send(pid, Opened(gen, link))
            await _read_ws(node, pid, gen, cfg, link)
    except ConnectionClosed as exc:
        reason = f"connection closed ({exc})"
        if exc.sent is not None and exc.sent.code == 1009:
            rejects.append(
                Reject(0, f"{REASON_FRAME_TOO_LARGE}: message above the bound {cfg.max_frame_bytes}", "")
            )
    except asyncio.CancelledError:
        reason = "closed by the handler"
    except (TimeoutError, OSError, InvalidHandshake, InvalidURI) as exc:
        reason = f"connect to ws://{cfg.host}:{cfg.port}/ failed: {exc!r}"
    finally:
        if writer is not None:
            writer.cancel()
        node.send(pid, Closed(gen, reason, rejects))


async def _write_ws(ws: Any, outq: asyncio.Queue[bytes]) -> None:
    """Send the actor's requests (queued by :class:`WsLink`) as text messages, in order, until cancelled."""
    while True:
        await ws.send(await outq.get(), text=True)


async def _read_ws(node: Node, pid: Pid, gen: int, cfg: FeedConfig, link: WsLink) -> None:
    """Hand every message to the actor until the connection ends (an exception) or the actor is gone;
    wait for :meth:`WsLink.resume` while the actor's mailbox is too full."""
    ws = link.ws
    while True:
        msg = await ws.recv(decode=False)
        mono, wall = time.monotonic_ns(), time.time_ns()
        if not pid.is_alive:
            return
        node.send(pid, Rx(gen, mono, wall, [decode_ws_message(msg, cfg.max_frame_bytes)], len(msg)))
        if pid.mailbox_size > cfg.max_mailbox:
            link.readable.clear()
            await link.readable.wait()
