"""Shared pieces of the FIX tests: a node running under asyncio, an event recorder, bounded waits, and the
QuickFIX (quickfix-ssl) counterparty in a subprocess (:mod:`tests.fix.qf_peer`)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cns.runtime import Node

T = TypeVar("T")

try:
    import quickfix  # noqa: F401

    QF_MISSING: str | None = None
except ImportError as _e:  # pragma: no cover - depends on the environment
    QF_MISSING = f"quickfix-ssl is not installed (pip install quickfix-ssl): {_e}"

requires_quickfix = pytest.mark.skipif(QF_MISSING is not None, reason=QF_MISSING or "")

PEER = Path(__file__).with_name("qf_peer.py")


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    """Run a test scenario in a fresh event loop, bounded by ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def until(pred: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``pred`` every 10 ms until it returns a truthy value (returned) or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


class Recorder:
    """An ``app`` callable recording every session event."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, ev: Any) -> None:
        self.events.append(ev)

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


class NodeRunner:
    """``async with NodeRunner() as node``: a Node driven by ``run_async`` for the block's duration."""

    async def __aenter__(self) -> Node:
        self.node = Node()
        self.task = asyncio.get_running_loop().create_task(self.node.run_async())
        return self.node

    async def __aexit__(self, *exc: Any) -> None:
        for p in list(self.node.processes()):  # sessions close their sockets and stores in terminate
            self.node.exit(p, "shutdown")
        await asyncio.sleep(0.05)
        self.node.stop()
        try:
            await asyncio.wait_for(self.task, 2.0)
        except TimeoutError:  # pragma: no cover
            self.task.cancel()


def free_port() -> int:
    """An OS-chosen free port on 127.0.0.1 (for QuickFIX, which cannot report the port it bound to)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def data_dictionary() -> Path | None:
    """QuickFIX's FIX44.xml as shipped by the quickfix-ssl wheel (``<prefix>/share/quickfix``), if found."""
    for base in (sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(sys.executable))):
        p = Path(base) / "share" / "quickfix" / "FIX44.xml"
        if p.is_file():
            return p
    return None


class QuickFixPeer:
    """The QuickFIX counterparty process. ``role``: ``acceptor`` (listens on ``port``) or ``initiator``
    (connects to ``port``). Its CompIDs are ``sender``/``target`` as *it* sends them."""

    def __init__(
        self,
        workdir: Path,
        role: str,
        sender: str,
        target: str,
        port: int,
        *,
        hb: int = 1,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.role = role
        self.port = port
        self.events: list[dict[str, Any]] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        dd = data_dictionary()
        lines = [
            "[DEFAULT]",
            f"ConnectionType={role}",
            f"FileStorePath={workdir / 'store'}",
            f"FileLogPath={workdir / 'log'}",
            "StartTime=00:00:00",
            "EndTime=00:00:00",
            "ResetOnLogon=N",
            "ResetOnLogout=N",
            "ResetOnDisconnect=N",
            "SocketReuseAddress=Y",
            "ValidateUserDefinedFields=N",
            "LogonTimeout=5",
            "LogoutTimeout=2",
        ]
        lines += (
            ["UseDataDictionary=Y", f"DataDictionary={dd}"] if dd is not None else ["UseDataDictionary=N"]
        )
        if role == "acceptor":
            lines += [f"SocketAcceptPort={port}", "SocketAcceptHost=127.0.0.1"]
        else:
            lines += [
                "SocketConnectHost=127.0.0.1",
                f"SocketConnectPort={port}",
                f"HeartBtInt={hb}",
                "ReconnectInterval=1",
            ]
        lines += [f"{k}={v}" for k, v in (extra or {}).items()]
        lines += ["", "[SESSION]", "BeginString=FIX.4.4", f"SenderCompID={sender}", f"TargetCompID={target}"]
        self.settings = workdir / "quickfix.cfg"
        self.settings.write_text("\n".join(lines) + "\n")
        self.uses_dictionary = dd is not None

    async def start(self, timeout: float = 10.0) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PEER),
            str(self.settings),
            self.role,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=open(self.workdir / "stderr.txt", "ab"),
        )  # noqa: SIM115 - closed with the process
        self._reader = asyncio.get_running_loop().create_task(self._read())
        ev = await self.wait(lambda e: e["ev"] in ("started", "error"), timeout, "QuickFIX start")
        if ev["ev"] == "error":
            raise AssertionError(f"QuickFIX peer failed: {ev['text']}")

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            try:
                self.events.append(json.loads(line))
            except ValueError:  # pragma: no cover
                self.events.append({"ev": "junk", "text": line.decode(errors="replace")})

    async def command(self, **cmd: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()

    async def wait(
        self,
        pred: Callable[[dict[str, Any]], bool],
        timeout: float = 5.0,
        what: str = "event",
        since: int = 0,
    ) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for e in self.events[since:]:
                if pred(e):
                    return e
            return None

        try:
            return await until(find, timeout, f"QuickFIX {what}")  # type: ignore[no-any-return]
        except AssertionError:
            tail = [e.get("ev", "") + ":" + str(e.get("type", "")) for e in self.events[-15:]]
            raise AssertionError(f"timed out waiting for QuickFIX {what}; last events {tail}") from None

    async def got(self, msg_type: str, n: int, timeout: float = 5.0, since: int = 0) -> list[dict[str, Any]]:
        """Wait until QuickFIX reported receiving ``n`` messages of ``msg_type`` (its stdout may lag our socket)."""
        await until(
            lambda: len(self.received(msg_type, since)) >= n, timeout, f"{n} x 35={msg_type} at QuickFIX"
        )
        return self.received(msg_type, since)

    def received(self, msg_type: str, since: int = 0) -> list[dict[str, Any]]:
        return [
            e for e in self.events[since:] if e["ev"] in ("from_app", "from_admin") and e["type"] == msg_type
        ]

    def sent(self, msg_type: str, since: int = 0) -> list[dict[str, Any]]:
        return [e for e in self.events[since:] if e["ev"] in ("to_app", "to_admin") and e["type"] == msg_type]

    async def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            try:
                await self.command(cmd="stop")
                await asyncio.wait_for(self.proc.wait(), timeout)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                self.kill()
                await self.proc.wait()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 2.0)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def hard_kill(self) -> None:
        """SIGKILL: the connection drops without a Logout (a crash)."""
        self.kill()
        if self.proc is not None:
            await self.proc.wait()
            if self._reader is not None:
                await asyncio.wait_for(self._reader, 2.0)
        self.proc = None


def fields(raw: str) -> dict[int, str]:
    """``8=..|9=..|`` text -> {tag: first value}."""
    out: dict[int, str] = {}
    for part in raw.split("|"):
        t, _, v = part.partition("=")
        if t.isdigit() and int(t) not in out:
            out[int(t)] = v
    return out


class RawPeer:
    """A hand-driven FIX counterparty over asyncio streams (for rules QuickFIX will not break on purpose)."""

    def __init__(self, sender: str, target: str) -> None:
        from cns.fix.codec import FixCodec, FixFrameReader

        self.codec = FixCodec(sender, target)
        self.reader_ = FixFrameReader()
        self.seq = 1
        self.inbox: list[Any] = []
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def connect(self, port: int) -> RawPeer:
        self.r, self.w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5.0)
        return self

    def attach(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> RawPeer:
        self.r, self.w = r, w
        return self

    async def send(
        self,
        msg_type: str,
        body: list[tuple[int, Any]] | None = None,
        *,
        seq: int | None = None,
        poss_dup_orig: bytes | None = None,
    ) -> int:
        s = self.seq if seq is None else seq
        if seq is None:
            self.seq += 1
        await self.send_raw(self.codec.encode(msg_type, s, body or [], poss_dup_orig=poss_dup_orig))
        return s

    async def send_raw(self, data: bytes) -> None:
        assert self.w is not None
        self.w.write(data)
        await self.w.drain()

    async def recv(self, timeout: float = 5.0) -> Any:
        """The next parsed message; None when the connection closed."""
        assert self.r is not None
        while not self.inbox:
            data = await asyncio.wait_for(self.r.read(65536), timeout)
            if not data:
                return None
            self.reader_.feed(data)
            self.inbox += [self.codec.parse(f) for f in self.reader_.frames() if isinstance(f, bytes)]
        return self.inbox.pop(0)

    async def expect(self, msg_type: str, timeout: float = 5.0) -> Any:
        """Skip other messages (heartbeats) until one of ``msg_type``; AssertionError if the connection closes."""
        deadline = time.monotonic() + timeout
        while True:
            m = await self.recv(max(0.01, deadline - time.monotonic()))
            if m is None:
                raise AssertionError(f"connection closed while waiting for 35={msg_type}")
            if m.msg_type == msg_type:
                return m

    async def drain_until_closed(self, timeout: float = 5.0) -> list[Any]:
        """Read until the counterparty closes the connection; the messages read (TimeoutError if it does
        not close in time)."""
        deadline = time.monotonic() + timeout
        got: list[Any] = []
        while True:
            try:
                m = await self.recv(max(0.01, deadline - time.monotonic()))
            except ConnectionResetError:
                return got
            if m is None:
                return got
            got.append(m)

    async def logon(self, hb: int = 1, extra: list[tuple[int, Any]] | None = None) -> Any:
        await self.send("A", [(98, 0), (108, hb)] + (extra or []))
        return await self.expect("A")

    def close(self) -> None:
        if self.w is not None:
            self.w.close()


class RawServer:
    """Accepts connections on an OS-chosen port; ``await next_peer()`` gives the next as a :class:`RawPeer`."""

    def __init__(self, sender: str, target: str) -> None:
        self.sender, self.target = sender, target
        self.queue: asyncio.Queue[RawPeer] = asyncio.Queue()
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> RawServer:
        async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await self.queue.put(RawPeer(self.sender, self.target).attach(r, w))

        self.server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def next_peer(self, timeout: float = 5.0) -> RawPeer:
        return await asyncio.wait_for(self.queue.get(), timeout)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def sequences_agree(node: Node, session: str, qf: QuickFixPeer, timeout: float = 5.0) -> None:
    """QuickFIX and our session agree on both sequence numbers (asked again while a heartbeat may be in
    flight, up to ``timeout`` s); QuickFIX is logged on."""
    from cns.fix import session_status

    deadline = time.monotonic() + timeout
    while True:
        since = len(qf.events)
        await qf.command(cmd="status")
        ev = await qf.wait(lambda e: e["ev"] == "status", 5.0, "status", since)
        st = session_status(node, session)
        got = (ev["next_sender"], ev["next_target"])
        want = (st.next_target_seq, st.next_sender_seq)
        if ev["logged_on"] and got == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"sequence numbers differ: QuickFIX (sender, target) {got}, ours {want}")
        await asyncio.sleep(0.05)
