"""The feed server: replays a news file over the CNS feed protocol, the local stand-in for a vendor feed.

:class:`FeedServer` publishes the records of a :class:`~cns.news.batch.NewsBatch` in order, numbered 1..n,
over binary TCP and (optionally) JSON WebSocket, either in real time -- paced by the records' ``receive_ns``
(the time they reached the original wire), ``speed`` times faster -- or as fast as the slowest client reads
(``speed=None``). It sends a heartbeat every ``heartbeat_s`` carrying its last published sequence number,
answers replay requests from its replay buffer (the last ``replay_capacity`` records published) and says BYE
to every client when stopped. Everything runs in one asyncio loop; every client has a bounded send queue.

Failure rules: a client that sends a malformed frame is disconnected (its frames are counted in
``quarantined``); a client whose queue stays full for ``slow_client_timeout_s`` is disconnected (a slow
consumer must not stall the feed for the others for longer than that); an empty news batch or an invalid
option raises :class:`~cns.feeds.errors.FeedConfigError`.

Test hooks (for exercising handlers): :meth:`FeedServer.drop_next_data`, :attr:`FeedServer.heartbeats`,
:meth:`FeedServer.pause` / :meth:`FeedServer.resume`, :attr:`FeedServer.on_frame` (rewrite or drop a live
frame), :meth:`FeedServer.inject` (raw bytes to every client), :meth:`FeedServer.abort` (a crash: sockets
reset, no BYE).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cns.feeds.errors import FeedConfigError
from cns.feeds.protocol import (
    BYE,
    DATA,
    FLAG_REPLAY,
    FLAG_TRUNCATED,
    HEARTBEAT,
    HELLO,
    REPLAY_END,
    REPLAY_REQUEST,
    WELCOME,
    Frame,
    FrameDecoder,
    encode_data_frame,
    encode_dictionaries,
    encode_frame,
)
from cns.feeds.protocol_json import decode_ws_message, encode_ws_message
from cns.news.batch import NewsBatch, Reject
from cns.news.binary import WIRE_DTYPE

__all__ = ["FeedServer", "FeedSource"]

_WIRE_FIELDS = tuple(n for n in WIRE_DTYPE.names if not n.startswith("reserved"))  # type: ignore[union-attr]
_CLIENT_MAX_PAYLOAD = 0  # client messages (HELLO, REPLAY_REQUEST) carry no payload
_HELLO_TIMEOUT_S = 10.0


class FeedSource:
    """A news batch prepared for serving: wire records numbered 1..n with a compact headline blob (headlines
    in record order, so the headlines of records ``a..b`` are one slice), the pacing clock and, on first
    use, each record's JSON text (the JSON Lines schema). Built once; frames are cut from it on demand."""

    def __init__(self, news: NewsBatch) -> None:
        n = len(news)
        if n == 0:
            raise FeedConfigError("FeedSource: the news batch is empty, nothing to serve")
        self.news = news
        r = news.records
        ln = r["headline_len"].astype(np.int64)
        ends = np.cumsum(ln)
        starts = ends - ln
        off = r["headline_off"].astype(np.int64)
        if np.array_equal(off, starts):
            blob = np.ascontiguousarray(news.headlines[: int(ends[-1])])
        else:  # gather the headlines into record order (vectorised)
            idx = np.repeat(off - starts, ln) + np.arange(int(ends[-1]), dtype=np.int64)
            blob = news.headlines[idx]
        wire = np.zeros(n, WIRE_DTYPE)
        for name in _WIRE_FIELDS:
            if name != "headline_off":
                wire[name] = r[name]
        wire["headline_off"] = starts
        self.wire = wire
        self.blob = blob
        self.starts = starts
        self.ends = ends
        self.times = np.maximum.accumulate(r["receive_ns"])  # pacing clock, never backwards
        self.welcome_payload = encode_dictionaries(news.sources, news.tickers, news.data_sources)
        self._json: list[bytes] | None = None

    def __len__(self) -> int:
        return len(self.wire)

    def data_frame(self, a: int, b: int, *, feed_id: int, flags: int = 0, sent_ns: int = 0) -> bytes:
        """The binary DATA frame of records ``a .. b-1`` (0-based; sequence numbers ``a+1 .. b``)."""
        base = int(self.starts[a])
        recs = np.empty(b - a, WIRE_DTYPE)
        recs.view(np.uint8)[:] = self.wire[a:b].view(
            np.uint8
        )  # a byte copy: NumPy copies records field by field
        if base:
            recs["headline_off"] -= np.uint64(base)
        return encode_data_frame(
            recs,
            self.blob[base : int(self.ends[b - 1])],
            feed_id=feed_id,
            seq=a + 1,
            flags=flags,
            sent_ns=sent_ns,
        )

    def json_frame(self, a: int, b: int, *, feed_id: int, flags: int = 0, sent_ns: int = 0) -> bytes:
        """The JSON DATA message of records ``a .. b-1`` (events encoded once, then spliced)."""
        return encode_ws_message(
            DATA, feed_id=feed_id, seq=a + 1, flags=flags, sent_ns=sent_ns, events=self.json_lines()[a:b]
        )

    def json_lines(self) -> list[bytes]:
        """Each record's JSON object (bytes), made on first use with :func:`cns.news.write_jsonl`."""
        if self._json is None:
            from cns.news.jsonl import write_jsonl

            with tempfile.TemporaryDirectory(prefix="cns-feed-") as d:
                path = Path(d) / "feed.jsonl"
                write_jsonl(self.news, path)
                lines = path.read_bytes().split(b"\n")
            self._json = lines[: len(self.wire)]
        return self._json


class _Client:
    """One connected client: its bounded send queue and writer task. ``live`` once its HELLO was answered."""

    __slots__ = ("kind", "queue", "live", "task", "closer", "peer")

    def __init__(self, kind: str, capacity: int, peer: str) -> None:
        self.kind = kind
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(capacity)
        self.live = False
        self.task: asyncio.Task[None] | None = None
        self.closer: Callable[[], None] | None = None
        self.peer = peer


class FeedServer:
    """Serve one feed (``feed_id``) of ``news`` over binary TCP (``port``; 0 = OS-chosen) and JSON WebSocket
    (``ws_port``; None = off) on ``host`` (loopback by default).

    ``speed``: replay rate relative to the records' ``receive_ns`` clock (1.0 = real time), None = as fast
    as the slowest client reads. ``frame_records``: at most this many records per DATA frame (real time:
    all the records due at one instant, cut at this size). ``wait_clients``: start the playback only when
    this many clients have said HELLO. ``replay_capacity``: how many of the last published records a replay
    may ask for. Use as ``await server.start()`` ... ``await server.stop()`` inside one asyncio loop.
    """

    def __init__(
        self,
        news: NewsBatch | FeedSource,
        *,
        feed_id: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        ws_port: int | None = None,
        speed: float | None = 1.0,
        heartbeat_s: float = 1.0,
        frame_records: int = 256,
        replay_capacity: int = 1 << 20,
        wait_clients: int = 0,
        client_queue: int = 1024,
        slow_client_timeout_s: float = 5.0,
    ) -> None:
        def bad(name: str, value: Any, rule: str) -> FeedConfigError:
            return FeedConfigError(f"FeedServer {name}={value!r}: must be {rule}")

        if speed is not None and (
            isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed < 1e9
        ):
            raise bad("speed", speed, "a number > 0, or None for 'as fast as possible'")
        for name, v, lo in (
            ("frame_records", frame_records, 1),
            ("replay_capacity", replay_capacity, 1),
            ("client_queue", client_queue, 1),
            ("wait_clients", wait_clients, 0),
        ):
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise bad(name, v, f"an int >= {lo}")
        for name, secs in (("heartbeat_s", heartbeat_s), ("slow_client_timeout_s", slow_client_timeout_s)):
            if isinstance(secs, bool) or not isinstance(secs, (int, float)) or not 0 < secs < 1e6:
                raise bad(name, secs, "seconds > 0")
        if not isinstance(feed_id, int) or not 0 < feed_id < 2**32:
            raise bad("feed_id", feed_id, "an int in 1..2**32-1")
        for name, p in (("port", port), ("ws_port", ws_port)):
            if p is not None and (not isinstance(p, int) or not 0 <= p < 65536):
                raise bad(name, p, "a port number (0 = chosen by the OS)")
        self.source = news if isinstance(news, FeedSource) else FeedSource(news)
        if frame_records * self.source.wire.itemsize > (8 << 20):
            raise bad("frame_records", frame_records, "small enough that a frame stays under 8 MiB")
        self.feed_id = feed_id
        self.host = host
        self._port, self._ws_port = port, ws_port
        self.speed = speed
        self.heartbeat_s = float(heartbeat_s)
        self.frame_records = frame_records
        self.replay_capacity = replay_capacity
        self.wait_clients = wait_clients
        self.client_queue = client_queue
        self.slow_client_timeout_s = float(slow_client_timeout_s)
        self.published = 0  # last sequence number published (records 1..published are in the buffer)
        self.frames_sent = 0
        self.clients_dropped = 0
        self.quarantined: dict[str, int] = {}
        self.started_ns = 0
        self.finished_ns = 0
        # test hooks
        self.heartbeats = True
        self.on_frame: Callable[[str, int, bytes], bytes | None] | None = None
        self._drop_data = 0
        self._running = asyncio.Event()  # cleared while paused
        self._running.set()
        # runtime
        self._clients: set[_Client] = set()
        self._tcp: asyncio.Server | None = None
        self._ws: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._done: asyncio.Event | None = None
        self._hello_count = 0
        self._hello_event: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        """The bound TCP port (after :meth:`start`)."""
        return self._port

    @property
    def ws_port(self) -> int | None:
        """The bound WebSocket port (after :meth:`start`), None when WebSocket is off."""
        return self._ws_port

    @property
    def live_clients(self) -> int:
        """Clients whose HELLO has been answered (they receive the live frames)."""
        return sum(1 for c in self._clients if c.live)

    @property
    def finished(self) -> bool:
        """True once every record has been published."""
        return self._done is not None and self._done.is_set()

    async def start(self) -> None:
        """Bind the listeners and start the playback and heartbeat tasks (returns at once)."""
        loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        self._hello_event = asyncio.Event()
        self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self._port)
        self._port = self._tcp.sockets[0].getsockname()[1]
        if self._ws_port is not None:
            from websockets.asyncio.server import serve

            self._ws = await serve(
                self._serve_ws,
                self.host,
                self._ws_port,
                compression=None,
                ping_interval=None,
                max_size=1 << 16,
                close_timeout=1.0,
            )
            self._ws_port = next(iter(self._ws.sockets)).getsockname()[1]
        self._tasks = [loop.create_task(self._publish()), loop.create_task(self._heartbeat())]

    async def wait_finished(self) -> None:
        """Wait until every record has been published."""
        assert self._done is not None, "start() first"
        await self._done.wait()

    async def stop(self) -> None:
        """Graceful stop: stop publishing, send BYE to every client, let the queues drain (<= 1 s), close."""
        await self._shutdown(graceful=True)

    async def abort(self) -> None:
        """A crash, for tests: stop everything and reset every connection at once (no BYE)."""
        await self._shutdown(graceful=False)

    async def _shutdown(self, graceful: bool) -> None:
        for t in self._tasks:
            t.cancel()
        if self._tcp is not None:
            self._tcp.close()
        if self._ws is not None:
            self._ws.close(close_connections=False)
        clients = list(self._clients)
        if graceful:
            bye = {
                "tcp": encode_frame(BYE, feed_id=self.feed_id, seq=self.published),
                "ws": encode_ws_message(BYE, feed_id=self.feed_id, seq=self.published),
            }
            for c in clients:
                for item in (bye[c.kind], None):
                    with contextlib.suppress(asyncio.QueueFull):
                        c.queue.put_nowait(item)
            writers = [c.task for c in clients if c.task is not None]
            if writers:
                await asyncio.wait(writers, timeout=1.0)
        for c in clients:
            self._drop(c)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.wait_closed(), 2.0)
        self._tasks = []

    # ------------------------------------------------------------------ test hooks
    def drop_next_data(self, n: int = 1) -> None:
        """Publish the next ``n`` live DATA frames without sending them (their numbers are consumed and
        replayable): the clients see a sequence gap."""
        self._drop_data += n

    def pause(self) -> None:
        """Suspend the playback, also before :meth:`start` (heartbeats go on unless :attr:`heartbeats` is
        False)."""
        self._running.clear()

    def resume(self) -> None:
        """Resume the playback; in real time, the clock skips the paused time."""
        self._running.set()

    def inject(self, kind: str, raw: bytes) -> int:
        """Queue ``raw`` as it is to every live client of ``kind`` (``"tcp"``: bytes into the stream;
        ``"ws"``: one text message); returns the number of clients."""
        n = 0
        for c in list(self._clients):
            if c.live and c.kind == kind:
                with contextlib.suppress(asyncio.QueueFull):
                    c.queue.put_nowait(raw)
                    n += 1
        return n

    # ------------------------------------------------------------------ playback
    async def _publish(self) -> None:
        src = self.source
        n = len(src)
        assert self._hello_event is not None and self._done is not None
        while self._hello_count < self.wait_clients:
            self._hello_event.clear()
            await self._hello_event.wait()
        times = src.times
        t0 = time.monotonic_ns()
        self.started_ns = t0
        d0 = int(times[0])
        speed = self.speed
        i = 0
        step = 0
        while i < n:
            if not self._running.is_set():
                p0 = time.monotonic_ns()
                await self._running.wait()
                t0 += time.monotonic_ns() - p0
            if speed is None:
                j = min(n, i + self.frame_records)
            else:
                now_data = d0 + (time.monotonic_ns() - t0) * speed
                j = int(np.searchsorted(times, now_data, side="right"))
                if j <= i:
                    due_ns = t0 + (int(times[i]) - d0) / speed
                    await asyncio.sleep(max(0.0, (due_ns - time.monotonic_ns()) / 1e9))
                    continue
                j = min(j, i + self.frame_records)
            self.published = j
            await self._broadcast(i, j)
            i = j
            step += 1
            if speed is None and step % 8 == 0:
                await asyncio.sleep(0)  # let readers and the heartbeat run
        self.finished_ns = time.monotonic_ns()
        self._done.set()

    async def _broadcast(self, a: int, b: int) -> None:
        if self._drop_data:
            self._drop_data -= 1
            return
        frames: dict[str, bytes | None] = {}
        now = time.time_ns()
        for c in list(self._clients):
            if not c.live:
                continue
            if c.kind not in frames:
                f = (
                    self.source.data_frame(a, b, feed_id=self.feed_id, sent_ns=now)
                    if c.kind == "tcp"
                    else self.source.json_frame(a, b, feed_id=self.feed_id, sent_ns=now)
                )
                frames[c.kind] = self.on_frame(c.kind, a + 1, f) if self.on_frame is not None else f
            out = frames[c.kind]
            if out is not None:
                await self._put(c, out)
        self.frames_sent += 1

    async def _put(self, c: _Client, item: bytes) -> None:
        """Queue ``item`` for ``c``; wait at most ``slow_client_timeout_s`` for room, else drop the client."""
        q = c.queue
        try:
            q.put_nowait(item)
        except asyncio.QueueFull:
            try:
                await asyncio.wait_for(q.put(item), self.slow_client_timeout_s)
            except TimeoutError:
                self._drop(c)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            if not self.heartbeats:
                continue
            now = time.time_ns()
            hb = {
                "tcp": encode_frame(HEARTBEAT, feed_id=self.feed_id, seq=self.published, sent_ns=now),
                "ws": encode_ws_message(HEARTBEAT, feed_id=self.feed_id, seq=self.published, sent_ns=now),
            }
            for c in list(self._clients):
                if c.live:
                    with contextlib.suppress(asyncio.QueueFull):
                        c.queue.put_nowait(hb[c.kind])

    # ------------------------------------------------------------------ requests
    async def _on_request(self, c: _Client, f: Frame) -> None:
        if f.type == HELLO:
            if f.feed_id not in (0, self.feed_id):
                self._count("frame_unexpected")
                await self._put(c, self._encode(c, BYE, seq=self.published))
                await self._put_end(c)
                return
            if c.live:
                return
            welcome = (
                encode_frame(
                    WELCOME, feed_id=self.feed_id, seq=self.published, payload=self.source.welcome_payload
                )
                if c.kind == "tcp"
                else encode_ws_message(WELCOME, feed_id=self.feed_id, seq=self.published)
            )
            c.queue.put_nowait(welcome)  # the queue is empty before HELLO: never full here
            c.live = True  # from now on it gets every live frame after sequence number `published`
            self._hello_count += 1
            assert self._hello_event is not None
            self._hello_event.set()
        elif f.type == REPLAY_REQUEST and c.live:
            await self._replay(c, f.seq, f.count)
        else:
            self._count("frame_unexpected")

    async def _replay(self, c: _Client, first: int, count: int) -> None:
        last = self.published
        oldest = max(1, last - self.replay_capacity + 1)
        end = last if count == 0 else min(last, first + count - 1)
        start = max(first, oldest)
        truncated = first < oldest and end >= first
        src, k = self.source, self.frame_records
        replayed = 0
        for a in range(start - 1, end, k):
            b = min(end, a + k)
            f = (
                src.data_frame(a, b, feed_id=self.feed_id, flags=FLAG_REPLAY, sent_ns=time.time_ns())
                if c.kind == "tcp"
                else src.json_frame(a, b, feed_id=self.feed_id, flags=FLAG_REPLAY, sent_ns=time.time_ns())
            )
            await self._put(c, f)
            if c not in self._clients:
                return
            replayed += b - a
        await self._put(
            c,
            self._encode(c, REPLAY_END, seq=start, count=replayed, flags=FLAG_TRUNCATED if truncated else 0),
        )

    def _encode(self, c: _Client, typ: int, *, seq: int = 0, count: int = 0, flags: int = 0) -> bytes:
        if c.kind == "tcp":
            return encode_frame(typ, feed_id=self.feed_id, seq=seq, count=count, flags=flags)
        return encode_ws_message(typ, feed_id=self.feed_id, seq=seq, count=count, flags=flags)

    async def _put_end(self, c: _Client) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            c.queue.put_nowait(None)

    def _count(self, code: str) -> None:
        self.quarantined[code] = self.quarantined.get(code, 0) + 1

    def _drop(self, c: _Client) -> None:
        if c in self._clients:
            self._clients.discard(c)
            if c.live:
                self.clients_dropped += 1
            c.live = False
        if c.closer is not None:
            c.closer()
            c.closer = None
        if c.task is not None and not c.task.done():
            c.task.cancel()

    # ------------------------------------------------------------------ transports
    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        c = _Client("tcp", self.client_queue, peer)
        c.closer = writer.transport.abort
        self._clients.add(c)
        c.task = asyncio.get_running_loop().create_task(self._tcp_writer(c, writer))
        dec = FrameDecoder(_CLIENT_MAX_PAYLOAD)
        try:
            while c in self._clients:
                data = await asyncio.wait_for(reader.read(1 << 16), None if c.live else _HELLO_TIMEOUT_S)
                if not data:
                    break
                bad = False
                for item in dec.feed(data):
                    if isinstance(item, Reject):
                        self._count(item.code)
                        bad = True
                        break
                    await self._on_request(c, item)
                if bad:
                    break
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            self._drop(c)

    async def _tcp_writer(self, c: _Client, writer: asyncio.StreamWriter) -> None:
        q = c.queue
        try:
            while True:
                item = await q.get()
                items = [item]
                while not q.empty() and len(items) < 256:
                    items.append(q.get_nowait())
                stop = None in items
                if stop:
                    items = items[: items.index(None)]
                if items:
                    writer.writelines(items)  # type: ignore[arg-type]
                    await writer.drain()
                if stop:
                    writer.close()
                    return
        except (ConnectionError, OSError):
            pass
        finally:
            if not writer.is_closing():
                writer.transport.abort()
            self._clients.discard(c)

    async def _serve_ws(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        c = _Client("ws", self.client_queue, str(ws.remote_address))
        c.closer = ws.transport.abort
        self._clients.add(c)
        c.task = asyncio.get_running_loop().create_task(self._ws_writer(c, ws))
        try:
            while c in self._clients:
                msg = await asyncio.wait_for(ws.recv(decode=False), None if c.live else _HELLO_TIMEOUT_S)
                f = decode_ws_message(msg, 1 << 16)
                if isinstance(f, Reject):
                    self._count(f.code)
                    break
                await self._on_request(c, f)
        except (TimeoutError, ConnectionClosed, ConnectionError, OSError):
            pass
        finally:
            self._drop(c)

    async def _ws_writer(self, c: _Client, ws: Any) -> None:
        q = c.queue
        try:
            while True:
                item = await q.get()
                if item is None:
                    await ws.close()
                    return
                await ws.send(item, text=True)
        except Exception:  # noqa: BLE001 - any send failure ends this client only
            pass
        finally:
            self._clients.discard(c)
