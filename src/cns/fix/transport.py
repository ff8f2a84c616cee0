"""Socket side of FIX sessions: an asyncio protocol that only moves bytes between a TCP connection and one
process of a :class:`~cns.runtime.Node` running under asyncio (``await node.run_async()``).

Every message the protocol sends carries the *generation* the owner gave it; the owner ignores messages of
an older generation (a connection it has already dropped). Inbound bytes go out one message per socket
read (:class:`Rx`); reading pauses while more than ``max_pending`` reads are waiting in the owner's mailbox
and resumes when the owner has handled them (:meth:`FixLink.consumed`), so a flooding peer cannot grow the
mailbox without bound. Outbound writes are copied into asyncio's buffer; a connection whose unsent output
exceeds ``max_write_buffer`` bytes (a peer that stopped reading) is aborted.

Also here: :func:`open_connection` (the initiator's connect, bounded by a timeout). :func:`loop_call` (an
awaitable ``node.call`` for plain asyncio code) lives in :mod:`cns.runtime.aio`; importing it from here still
works.
"""

from __future__ import annotations

import asyncio
import contextlib

from cns.fix.errors import FixConfigError
from cns.runtime import Node, Pid
from cns.runtime.aio import loop_call

__all__ = [
    "Closed",
    "ConnectFailed",
    "Connected",
    "FixLink",
    "Rx",
    "loop_call",
    "open_connection",
    "running_loop",
]


class Rx:
    """Mailbox message: ``data`` bytes received on connection ``gen``."""

    __slots__ = ("gen", "data")

    def __init__(self, gen: int, data: bytes) -> None:
        self.gen = gen
        self.data = data


class Connected:
    """Mailbox message: connection ``gen`` is up; ``link`` writes to it."""

    __slots__ = ("gen", "link")

    def __init__(self, gen: int, link: FixLink) -> None:
        self.gen = gen
        self.link = link


class ConnectFailed:
    """Mailbox message: connect attempt ``gen`` failed, ``reason`` a human-readable cause."""

    __slots__ = ("gen", "reason")

    def __init__(self, gen: int, reason: str) -> None:
        self.gen = gen
        self.reason = reason


class Closed:
    """Mailbox message: connection ``gen`` closed, ``reason`` a human-readable cause."""

    __slots__ = ("gen", "reason")

    def __init__(self, gen: int, reason: str) -> None:
        self.gen = gen
        self.reason = reason


def running_loop(what: str) -> asyncio.AbstractEventLoop:
    """The running asyncio loop; raises FixConfigError (naming ``what``) when called outside one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise FixConfigError(f"{what} needs its node to run under asyncio (await node.run_async())") from None


class FixLink(asyncio.Protocol):
    """One TCP connection bound to an owner process (see the module doc). ``owner`` may be re-pointed
    (:meth:`attach`) -- the acceptor hands a connection to the session named by its Logon."""

    def __init__(
        self,
        node: Node,
        owner: Pid | None,
        gen: int,
        *,
        max_pending: int = 64,
        max_write_buffer: int = 16 * 1024 * 1024,
        announce: bool = False,
    ) -> None:
        self.node = node
        self.announce = announce  # send Connected to the owner when the connection is made (acceptor side)
        self.owner = owner
        self.gen = gen
        self.max_pending = max_pending
        self.max_write_buffer = max_write_buffer
        self.transport: asyncio.Transport | None = None
        self.pending = 0
        self.paused = False
        self.closed = False
        self.peer = ""
        self.early: list[bytes] = []  # reads before an owner was attached
        self.bytes_in = 0
        self.bytes_out = 0

    # ------------------------------------------------------------------ asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"
        with contextlib.suppress(Exception):
            import socket

            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.announce and self.owner is not None:
            self.node.send(self.owner, Connected(self.gen, self))

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        owner = self.owner
        if owner is None:
            self.early.append(data)
            return
        if owner.mbox is None:  # the owner died without closing us (killed): drop the connection
            self.abort()
            return
        self.pending += 1
        self.node.send(owner, Rx(self.gen, data))
        if self.pending > self.max_pending and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        owner = self.owner
        if owner is not None:
            self.node.send(
                owner, Closed(self.gen, "connection lost" if exc is None else f"connection lost: {exc!r}")
            )

    # ------------------------------------------------------------------ owner side
    def attach(self, owner: Pid, gen: int) -> None:
        """Make ``owner`` (generation ``gen``) the receiver of this connection's bytes and events."""
        self.owner = owner
        self.gen = gen
        if self.closed:
            self.node.send(owner, Closed(gen, "connection lost"))

    def consumed(self) -> None:
        """The owner handled one :class:`Rx`: resume reading once the backlog is small."""
        self.pending -= 1
        if (
            self.paused
            and self.pending <= self.max_pending // 4
            and self.transport is not None
            and not self.closed
        ):
            self.paused = False
            self.transport.resume_reading()

    def write(self, data: bytes | bytearray | memoryview) -> bool:
        """Queue ``data`` (copied); False when the connection is gone or was aborted for a full buffer."""
        t = self.transport
        if t is None or self.closed or t.is_closing():
            return False
        t.write(bytes(data))
        self.bytes_out += len(data)
        if t.get_write_buffer_size() > self.max_write_buffer:
            self.abort()
            return False
        return True

    def close(self) -> None:
        """Flush what is buffered, then close (a Logout goes out before the FIN)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now (RST), discarding unsent output."""
        if self.transport is not None:
            self.transport.abort()


async def open_connection(node: Node, owner: Pid, gen: int, host: str, port: int, timeout: float) -> None:
    """Connect to ``host:port`` and tell ``owner``: :class:`Connected` (with the link) or
    :class:`ConnectFailed`. Runs as an asyncio task started by the owner."""
    loop = asyncio.get_running_loop()
    try:
        _, link = await asyncio.wait_for(
            loop.create_connection(lambda: FixLink(node, owner, gen), host, port), timeout
        )
    except (OSError, TimeoutError) as exc:
        node.send(owner, ConnectFailed(gen, f"connect failed: {type(exc).__name__}"))
        return
    node.send(owner, Connected(gen, link))
