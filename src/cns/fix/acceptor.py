"""The FIX acceptor: listens on a TCP port and hands each connection to the session its Logon names.

:class:`FixAcceptor` is a :class:`~cns.otp.GenServer` (its node runs under asyncio). It owns the listening
socket; a new connection's bytes come to it until the first complete frame. That frame must be a Logon
whose ``SenderCompID``/``TargetCompID`` are the (counterparty, us) pair of a configured acceptor-role
:class:`~cns.fix.session.FixSession` that is alive and not connected: the connection (and the bytes read so
far) is then handed to that session (:class:`~cns.fix.session.Attach`), which does the Logon exchange.

Refusals (the connection is dropped, nothing is answered, the log names the peer address but never the
CompIDs): a first frame that is garbled or not a Logon, an unknown CompID pair, a session that is not
running, more than ``max_message_bytes`` before a complete frame, no Logon within ``logon_timeout_s``, more
than ``max_pending_connections`` connections waiting for their Logon. A session that is already
connected refuses the second connection itself.

Binds ``127.0.0.1`` unless ``host`` says otherwise. Calls: ``"port"`` -> the bound port (answered once
listening), ``"stats"`` -> counters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from cns.fix.codec import FixFrameReader, Garbled
from cns.fix.errors import FixConfigError
from cns.fix.session import Attach, FixSessionConfig
from cns.fix.transport import Closed, Connected, FixLink, Rx, running_loop
from cns.otp import NOREPLY, ChildSpec, GenServer
from cns.runtime import From, Node, Pid

__all__ = ["FixAcceptor", "acceptor_child_spec"]

log = logging.getLogger("cns.fix")


class _Listening:
    __slots__ = ("server", "error")

    def __init__(self, server: Any, error: str | None) -> None:
        self.server = server
        self.error = error


class _Sweep:
    pass


_SWEEP = _Sweep()


class _Pending:
    __slots__ = ("link", "reader", "raw", "since")

    def __init__(self, link: FixLink, max_bytes: int) -> None:
        self.link = link
        self.reader = FixFrameReader(max_bytes)
        self.raw: list[bytes] = []
        self.since = time.monotonic()


def _field(frame: bytes, tag: bytes) -> bytes | None:
    k = frame.find(b"\x01" + tag + b"=")
    if k < 0:
        return None
    start = k + len(tag) + 2
    end = frame.find(b"\x01", start)
    return frame[start:end] if end > start else None


class FixAcceptor(GenServer):
    """Listening socket + Logon routing (see the module doc)."""

    @classmethod
    def start_acceptor(
        cls,
        node: Node,
        sessions: Iterable[FixSessionConfig],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str | None = "fix_acceptor",
        link: bool = True,
        logon_timeout_s: float = 10.0,
        max_message_bytes: int = 64 * 1024,
        max_pending_connections: int = 64,
    ) -> Pid:
        """Start the acceptor (linked to the caller when ``link``) listening on ``host:port`` (0 = an ephemeral port) for
        ``sessions``; a connection without a valid Logon within ``logon_timeout_s`` (s) is dropped. Returns its Pid.
        """
        pid = cls.start(
            node,
            list(sessions),
            host,
            port,
            logon_timeout_s,
            max_message_bytes,
            max_pending_connections,
            name=name,
            link=link,
        )
        assert pid is not None
        return pid

    def init(
        self,
        sessions: list[FixSessionConfig],
        host: str,
        port: int,
        logon_timeout_s: float,
        max_message_bytes: int,
        max_pending_connections: int,
    ) -> None:
        self.routes: dict[tuple[bytes, bytes], str] = {}
        for cfg in sessions:
            if not isinstance(cfg, FixSessionConfig) or cfg.role != "acceptor":
                raise FixConfigError(
                    "FixAcceptor: every session must be a FixSessionConfig with role='acceptor'"
                )
            key = (cfg.target_comp_id.encode(), cfg.sender_comp_id.encode())
            if key in self.routes:
                raise FixConfigError(f"FixAcceptor: two sessions with the same CompIDs ({cfg.name!r})")
            self.routes[key] = f"fix:{cfg.name}"
        if not isinstance(port, int) or not 0 <= port < 65536:
            raise FixConfigError("FixAcceptor: port must be 0..65535")
        self.host = host
        self.port = port
        self.logon_timeout_s = logon_timeout_s
        self.max_message_bytes = max_message_bytes
        self.max_pending = max_pending_connections
        self.server: asyncio.AbstractServer | None = None
        self.waiting_port: list[From] = []
        self.pending: dict[int, _Pending] = {}
        self.conn_ids = 0
        self.stats = {"connections": 0, "handed_over": 0, "refused": 0}
        self.error: str | None = None
        self.trap_exit()
        loop = running_loop("FixAcceptor")
        node, me = self.node, self.pid

        def factory() -> FixLink:
            self.conn_ids += 1
            return FixLink(node, me, self.conn_ids, announce=True)

        async def listen() -> None:
            try:
                srv = await loop.create_server(factory, host, port)
            except OSError as e:
                node.send(me, _Listening(None, f"cannot listen on {host}:{port}: {e.strerror or e}"))
                return
            node.send(me, _Listening(srv, None))

        loop.create_task(listen())
        self.sweep = node.send_interval(max(0.05, min(1.0, logon_timeout_s / 4)), me, _SWEEP)

    def handle_call(self, request: Any, from_: From) -> Any:
        if request == "port":
            if self.error is not None:
                return FixConfigError(self.error)
            if self.server is None:
                self.waiting_port.append(from_)
                return NOREPLY
            return self.port
        if request == "stats":
            return dict(self.stats, pending=len(self.pending))
        return FixConfigError(f"unknown request {request!r}")

    def handle_info(self, msg: Any) -> None:
        cls = msg.__class__
        if cls is Rx:
            self._rx(msg)
        elif cls is Connected:
            if len(self.pending) >= self.max_pending or self.server is None:
                msg.link.abort()
                self.stats["refused"] += 1
                return
            self.stats["connections"] += 1
            self.pending[msg.gen] = _Pending(msg.link, self.max_message_bytes)
        elif cls is Closed:
            self.pending.pop(msg.gen, None)
        elif cls is _Listening:
            self._listening(msg)
        elif cls is _Sweep:
            now = time.monotonic()
            for cid, p in list(self.pending.items()):
                if now - p.since > self.logon_timeout_s:
                    self._refuse(cid, "no Logon in time")

    def _listening(self, msg: _Listening) -> None:
        if msg.error is not None:
            self.error = msg.error
            log.error("fix acceptor: %s", msg.error)
            for f in self.waiting_port:
                self.reply(f, FixConfigError(msg.error))
            self.waiting_port.clear()
            return
        self.server = msg.server
        sock = msg.server.sockets[0]
        self.port = sock.getsockname()[1]
        log.info("fix acceptor: listening on %s:%d", self.host, self.port)
        for f in self.waiting_port:
            self.reply(f, self.port)
        self.waiting_port.clear()

    def _rx(self, msg: Rx) -> None:
        cid = msg.gen
        p = self.pending.get(cid)
        if p is None:  # refused already; later reads are dropped
            return
        p.link.consumed()
        p.raw.append(msg.data)
        p.reader.feed(msg.data)
        items = p.reader.frames()
        if not items:
            if len(p.reader.buf) > self.max_message_bytes + 64:
                self._refuse(cid, "no complete frame")
            return
        first = items[0]
        if first.__class__ is Garbled:
            self._refuse(cid, "garbled first frame")
            return
        frame: bytes = first  # type: ignore[assignment]
        if _field(frame, b"35") != b"A":
            self._refuse(cid, "first message is not a Logon")
            return
        key = (_field(frame, b"49") or b"", _field(frame, b"56") or b"")
        name = self.routes.get(key)
        pid = self.node.whereis(name) if name is not None else None
        if pid is None:
            self._refuse(cid, "unknown session or session not running")
            return
        del self.pending[cid]
        p.link.attach(pid, cid)
        self.node.send(pid, Attach(p.link, b"".join(p.raw)))
        self.stats["handed_over"] += 1

    def _refuse(self, cid: int, why: str) -> None:
        p = self.pending.pop(cid, None)
        if p is not None:
            log.warning("fix acceptor: refused connection from %s: %s", p.link.peer, why)
            p.link.abort()
        self.stats["refused"] += 1

    def terminate(self, reason: Any) -> None:
        if getattr(self, "sweep", None) is not None:
            self.node.cancel_timer(self.sweep)
        if self.server is not None:
            self.server.close()
            self.server = None
        for p in self.pending.values():
            p.link.abort()
        self.pending.clear()


def acceptor_child_spec(
    sessions: Iterable[FixSessionConfig],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str = "fix_acceptor",
    **kw: Any,
) -> ChildSpec:
    """A supervisor child running the acceptor (registered as ``name``). Put it *after* the sessions'
    children (:func:`~cns.fix.session.fix_session_child_spec`) so they exist when the first Logon comes."""
    sess = list(sessions)

    def start(node: Node) -> Pid:
        return FixAcceptor.start_acceptor(node, sess, host=host, port=port, name=name, link=True, **kw)

    return ChildSpec(name, start, shutdown=2.0)
