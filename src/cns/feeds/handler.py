"""Feed handlers: one supervised actor per news feed, turning a server's stream into ordered NEWS_DTYPE batches.

A :class:`FeedHandler` is a :class:`~cns.otp.GenServer` hosted by a :class:`~cns.runtime.Node` that runs under
asyncio (``await node.run_async()``). It owns one connection at a time (binary TCP or WebSocket, see
``docs/feeds.md``); the socket side is an asyncio protocol (TCP) or reader task (WebSocket) that only cuts
the byte stream into frames and sends them to the actor, one message per socket read. The actor does the
rest in the scheduler: validates and decodes records in bulk (parse kernel / msgspec), orders them by
sequence number (:class:`~cns.feeds.sequencer.SequenceTracker`: duplicates dropped, gaps filled by replay),
micro-batches them (flush at ``batch_max`` records or when the socket has been drained, i.e. the actor's
mailbox holds no more frames) and delivers each batch as a :class:`FeedBatch` to a consumer pid or callback.

Failure rules:

- Bad peer input never crashes the handler: a malformed frame or record is quarantined with its reason
  (``FeedStats.quarantined`` by code, the last ``quarantine_keep`` in :attr:`FeedHandler.quarantine`).
  A frame after which the stream cannot be trusted (bad magic, header CRC, version, a length above
  ``max_frame_bytes``) drops the connection.
- A dropped or refused connection is retried after an exponential backoff with jitter (:class:`Backoff`,
  seeded); on reconnect the handler asks the server to replay from its last sequence number, so nothing is
  lost or delivered twice as long as the server's replay buffer still holds it (else the loss is counted
  in ``FeedStats.lost_records`` and announced with a ``gap_lost`` alert).
- Watchdog: no valid frame (data or heartbeat) for ``stale_after_s`` sets ``FeedStats.paused`` and sends a
  ``stale`` alert; the next valid frame clears it (``live`` alert). A handler starts paused: a desk must not
  trade on a feed it has not heard from yet.
- A consumer callback or alert callback that raises crashes the handler (a bug, left to its supervisor);
  the :class:`FeedStats` object given to :meth:`FeedHandler.start_feed` survives the restart, and the new
  handler resumes from its ``last_seq``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cns.feeds.errors import FeedConfigError, FeedError
from cns.feeds.protocol import (
    BYE,
    DATA,
    DEFAULT_MAX_PAYLOAD,
    FATAL_REASONS,
    FLAG_TRUNCATED,
    HEARTBEAT,
    HELLO,
    REASON_FRAME_DICTIONARY,
    REASON_FRAME_TOO_LARGE,
    REASON_FRAME_UNEXPECTED,
    REPLAY_END,
    REPLAY_REQUEST,
    WELCOME,
    CodeMaps,
    Frame,
    FrameDecoder,
    code_maps,
    decode_binary_records,
    decode_dictionaries,
    decode_json_records,
    decode_ws_message,
    encode_frame,
    encode_ws_message,
)
from cns.feeds.sequencer import Piece, SequenceTracker
from cns.news.batch import NewsBatch, Reject, new_dictionaries
from cns.otp import ChildSpec, GenServer
from cns.runtime import From, Node, Pid
from cns.signals.dictionary import Dictionary

__all__ = [
    "Backoff",
    "FeedAlert",
    "FeedBatch",
    "FeedConfig",
    "FeedHandler",
    "FeedStats",
    "feed_child_spec",
]

TRANSPORTS = ("tcp", "ws")


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """How to reach one feed and how to treat it. Times in seconds, sizes in bytes or records.

    ``start_seq``: the first sequence number wanted on the first connection (0 = from the live edge, 1 = from
    the start of the server's replay buffer); afterwards the handler always resumes after its ``last_seq``.
    ``feed_id`` 0 accepts any feed; otherwise frames of another feed are quarantined. ``batch_max``: records
    are delivered as soon as this many are pending, or when the socket has been drained; no batch holds more. ``stamp_receive_ns``:
    overwrite each record's ``receive_ns`` with our wall clock at the socket read (NEWS_DTYPE's meaning of
    the field); False keeps the sender's value. ``sentiment``: recompute the headline polarity per batch.
    ``seed``: seed of the backoff jitter (None: from the OS). Invalid values raise :class:`FeedConfigError`.
    """

    name: str
    port: int
    host: str = "127.0.0.1"
    transport: str = "tcp"
    feed_id: int = 1
    start_seq: int = 0
    batch_max: int = 4096
    stale_after_s: float = 3.0
    connect_timeout_s: float = 2.0
    backoff_base_s: float = 0.05
    backoff_max_s: float = 5.0
    backoff_jitter: float = 0.5
    replay_timeout_s: float = 2.0
    max_replay_attempts: int = 3
    max_frame_bytes: int = DEFAULT_MAX_PAYLOAD
    max_held_records: int = 1 << 20
    max_mailbox: int = 256
    quarantine_keep: int = 1000
    sentiment: bool = True
    stamp_receive_ns: bool = True
    seed: int | None = None

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> FeedConfigError:
            return FeedConfigError(f"FeedConfig.{name}={getattr(self, name)!r}: must be {rule}")

        if not isinstance(self.name, str) or not self.name:
            raise bad("name", "a non-empty str")
        if self.transport not in TRANSPORTS:
            raise bad("transport", f"one of {TRANSPORTS}")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise bad("port", "an int in 1..65535")
        if not isinstance(self.feed_id, int) or isinstance(self.feed_id, bool) or not 0 <= self.feed_id < 2**32:
            raise bad("feed_id", "an int in 0..2**32-1")
        if not isinstance(self.start_seq, int) or isinstance(self.start_seq, bool) or not 0 <= self.start_seq < 2**63:
            raise bad("start_seq", "an int in 0..2**63-1")
        for name in ("batch_max", "max_replay_attempts", "max_frame_bytes", "max_held_records", "max_mailbox",
                     "quarantine_keep"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise bad(name, "an int >= 1")
        for name in ("stale_after_s", "connect_timeout_s", "backoff_base_s", "backoff_max_s", "replay_timeout_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1e6:
                raise bad(name, "seconds > 0 (finite)")
        if self.backoff_max_s < self.backoff_base_s:
            raise bad("backoff_max_s", f">= backoff_base_s ({self.backoff_base_s})")
        if isinstance(self.backoff_jitter, bool) or not isinstance(self.backoff_jitter, (int, float)) \
                or not 0 <= self.backoff_jitter <= 1:
            raise bad("backoff_jitter", "a fraction in 0..1")


@dataclass(slots=True)
class FeedStats:
    """Live counters of one feed, updated in place by its handler (read them from anywhere in the node's
    thread; :meth:`snapshot` for a copy). Sequence numbers are the feed's; times monotonic ns.

    ``last_seq``: last sequence number delivered or given up, in order (0 = none). ``live_seq``: the server's
    last published number as last announced. ``gaps_detected``/``gaps_filled``/``gaps_lost``: holes in the
    stream, those filled by replay, those given up (``lost_records`` numbers in all). ``catchups``: replays
    asked after a (re)connect. ``duplicates``: sequence numbers received again and dropped. ``quarantined``:
    rejected frames and records by reason code. ``paused``: the watchdog's verdict (see the module doc).
    """

    feed: str = ""
    last_seq: int = 0
    live_seq: int = 0
    gaps_detected: int = 0
    gaps_filled: int = 0
    gaps_lost: int = 0
    lost_records: int = 0
    catchups: int = 0
    replay_requests: int = 0
    duplicates: int = 0
    connects: int = 0
    reconnects: int = 0
    frames: int = 0
    bytes_received: int = 0
    events_delivered: int = 0
    batches_delivered: int = 0
    stale_trips: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    paused: bool = True
    connected: bool = False
    last_rx_ns: int = 0

    @property
    def staleness_s(self) -> float:
        """Seconds since the last valid frame (or since the handler started, before any)."""
        return max(0.0, (time.monotonic_ns() - self.last_rx_ns) / 1e9) if self.last_rx_ns else 0.0

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def snapshot(self) -> FeedStats:
        """A copy (its ``quarantined`` dict too) that the handler no longer updates."""
        return dataclasses.replace(self, quarantined=dict(self.quarantined))

    def as_dict(self) -> dict[str, Any]:
        """Every field plus ``staleness_s`` (now), as plain Python values (JSON-ready)."""
        d = dataclasses.asdict(self)
        d["staleness_s"] = self.staleness_s
        return d


@dataclass(frozen=True, slots=True)
class FeedAlert:
    """An event worth a human's attention. ``kind``: ``connected``, ``disconnected``, ``stale`` (watchdog
    tripped, the feed is paused), ``live`` (valid frames again, unpaused), ``gap_lost`` (sequence numbers
    given up). ``at_ns``: monotonic ns."""

    feed: str
    kind: str
    detail: str
    at_ns: int


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """One delivery: ``news`` (NEWS_DTYPE records + headline blob, codes in the handler's dictionaries) in
    sequence order, ``seqs[i]`` the sequence number of ``news.records[i]`` (uint64, increasing, maybe with
    holes where records were quarantined). ``recv_ns``: monotonic ns when the bytes carrying the first
    record were read from the socket; ``sent_ns``: the server's wall clock when it sent that frame."""

    feed: str
    news: NewsBatch
    seqs: np.ndarray
    recv_ns: int
    sent_ns: int

    def __len__(self) -> int:
        return len(self.news)


class Backoff:
    """Reconnect delays: ``min(max_s, base_s * 2**attempt)`` scaled by a random factor in
    ``[1 - jitter, 1]`` (``random.Random(seed)``, so tests are reproducible). :meth:`reset` after success."""

    __slots__ = ("attempt", "base_s", "jitter", "max_s", "rng")

    def __init__(self, base_s: float, max_s: float, jitter: float = 0.5, seed: int | None = None) -> None:
        self.base_s, self.max_s, self.jitter = base_s, max_s, jitter
        self.rng = random.Random(seed)
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay (s) before the next attempt; each call counts one attempt."""
        d = min(self.max_s, self.base_s * 2.0 ** min(self.attempt, 62))
        self.attempt += 1
        return d * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempt = 0


# ------------------------------------------------------------------------------- actor messages
class _Connect:
    __slots__ = ()


class _Tick:
    __slots__ = ()


class _Flush:
    __slots__ = ()


_CONNECT, _TICK, _FLUSH = _Connect(), _Tick(), _Flush()


class _Opened:
    __slots__ = ("gen", "link")

    def __init__(self, gen: int, link: _Link) -> None:
        self.gen, self.link = gen, link


class _Rx:
    """Frames cut from one socket read (TCP) or one WebSocket message."""

    __slots__ = ("gen", "mono_ns", "wall_ns", "items", "nbytes")

    def __init__(self, gen: int, mono_ns: int, wall_ns: int, items: list[Frame | Reject], nbytes: int) -> None:
        self.gen, self.mono_ns, self.wall_ns, self.items, self.nbytes = gen, mono_ns, wall_ns, items, nbytes


class _Closed:
    __slots__ = ("gen", "reason", "rejects")

    def __init__(self, gen: int, reason: str, rejects: list[Reject]) -> None:
        self.gen, self.reason, self.rejects = gen, reason, rejects


# ------------------------------------------------------------------------------- transports
class _Link:
    """One open connection as the actor sees it."""

    binary = True

    def hello(self, feed_id: int) -> None:
        raise NotImplementedError

    def replay(self, feed_id: int, first: int, count: int) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        """Resume reading if flow control paused it (the actor has drained its mailbox)."""

    def close(self) -> None:
        raise NotImplementedError


class _TcpLink(_Link):
    def __init__(self, proto: _TcpProtocol) -> None:
        self.proto = proto

    def hello(self, feed_id: int) -> None:
        self.proto.transport.write(encode_frame(HELLO, feed_id=feed_id))

    def replay(self, feed_id: int, first: int, count: int) -> None:
        self.proto.transport.write(encode_frame(REPLAY_REQUEST, feed_id=feed_id, seq=first, count=count))

    def resume(self) -> None:
        p = self.proto
        if p.paused and not p.transport.is_closing():
            p.paused = False
            p.transport.resume_reading()

    def close(self) -> None:
        self.proto.transport.abort()


class _TcpProtocol(asyncio.Protocol):
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
        self.node.send(self.pid, _Opened(self.gen, _TcpLink(self)))

    def data_received(self, data: bytes) -> None:
        mono, wall = time.monotonic_ns(), time.time_ns()
        pid = self.pid
        if not pid.is_alive:
            self.transport.abort()
            return
        items = self.decoder.feed(data)
        if items:
            self.node.send(pid, _Rx(self.gen, mono, wall, items, len(data)))
        if self.decoder.fatal is not None:
            self.transport.abort()
        elif pid.mailbox_size > self.max_mailbox and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        tail = self.decoder.close()
        reason = "fatal frame" if self.decoder.fatal is not None else f"connection lost ({exc or 'eof'})"
        self.node.send(self.pid, _Closed(self.gen, reason, [tail] if tail is not None else []))


async def _open_tcp(node: Node, pid: Pid, gen: int, cfg: FeedConfig) -> None:
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.create_connection(
            lambda: _TcpProtocol(node, pid, gen, cfg.max_frame_bytes, cfg.max_mailbox), cfg.host, cfg.port),
            cfg.connect_timeout_s)
    except (TimeoutError, OSError) as exc:
        node.send(pid, _Closed(gen, f"connect to {cfg.host}:{cfg.port} failed: {exc!r}", []))


class _WsLink(_Link):
    binary = False

    def __init__(self, ws: Any, outq: asyncio.Queue[bytes]) -> None:
        self.ws, self.outq = ws, outq
        self.task: asyncio.Task[None] | None = None
        self.readable = asyncio.Event()
        self.readable.set()

    def hello(self, feed_id: int) -> None:
        self.outq.put_nowait(encode_ws_message(HELLO, feed_id=feed_id))

    def replay(self, feed_id: int, first: int, count: int) -> None:
        self.outq.put_nowait(encode_ws_message(REPLAY_REQUEST, feed_id=feed_id, seq=first, count=count))

    def resume(self) -> None:
        self.readable.set()

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def _run_ws(node: Node, pid: Pid, gen: int, cfg: FeedConfig) -> None:
    """Connect, then read messages until the connection ends; always reports ``_Closed`` to the actor."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    reason, rejects = "closed", []
    outq: asyncio.Queue[bytes] = asyncio.Queue()
    writer: asyncio.Task[None] | None = None
    try:
        async with connect(f"ws://{cfg.host}:{cfg.port}/", open_timeout=cfg.connect_timeout_s,
                           max_size=cfg.max_frame_bytes, compression=None, ping_interval=None, close_timeout=1.0,
                           proxy=None) as ws:
            link = _WsLink(ws, outq)
            link.task = asyncio.current_task()

            async def write() -> None:
                while True:
                    await ws.send(await outq.get(), text=True)

            writer = asyncio.get_running_loop().create_task(write())
            node.send(pid, _Opened(gen, link))
            while True:
                msg = await ws.recv(decode=False)
                mono, wall = time.monotonic_ns(), time.time_ns()
                if not pid.is_alive:
                    return
                node.send(pid, _Rx(gen, mono, wall, [decode_ws_message(msg, cfg.max_frame_bytes)], len(msg)))
                if pid.mailbox_size > cfg.max_mailbox:
                    link.readable.clear()
                    await link.readable.wait()
    except ConnectionClosed as exc:
        reason = f"connection closed ({exc})"
        if exc.sent is not None and exc.sent.code == 1009:
            rejects.append(Reject(0, f"{REASON_FRAME_TOO_LARGE}: message above the bound {cfg.max_frame_bytes}",
                                  ""))
    except asyncio.CancelledError:
        reason = "closed by the handler"
    except (TimeoutError, OSError, InvalidHandshake, InvalidURI) as exc:
        reason = f"connect to ws://{cfg.host}:{cfg.port}/ failed: {exc!r}"
    finally:
        if writer is not None:
            writer.cancel()
        node.send(pid, _Closed(gen, reason, rejects))


# ------------------------------------------------------------------------------- the actor
Consumer = Pid | str | Callable[[FeedBatch], Any]
AlertSink = Pid | str | Callable[[FeedAlert], Any] | None


class FeedHandler(GenServer):
    """The actor of one feed (see the module docstring). Start it with :meth:`start_feed` or, under a
    supervisor, with :func:`feed_child_spec`; its node must run under asyncio (``Node.run_async``).

    Calls: ``"stats"`` -> a :meth:`FeedStats.snapshot`; ``"quarantine"`` -> the recent :class:`Reject`
    list (``Reject.line`` is the sequence number, 0 for a frame without one).
    """

    cfg: FeedConfig
    stats: FeedStats
    quarantine: deque[Reject]

    @classmethod
    def start_feed(cls, node: Node, config: FeedConfig, consumer: Consumer, *, stats: FeedStats | None = None,
                   on_alert: AlertSink = None,
                   dictionaries: tuple[Dictionary, Dictionary, Dictionary] | None = None,
                   name: str | None = None, link: bool = True) -> Pid:
        """Start a handler (linked to the calling process when ``link``). ``consumer`` gets every
        :class:`FeedBatch` (a pid or registered name: sent; a callable: called in the handler). ``stats``:
        the counters object to update (pass the same one to a restarted handler: it resumes after
        ``stats.last_seq``). ``dictionaries``: (sources, tickers, data sources) to code strings into --
        share them between feeds; default a fresh copy of the canonical ones of :mod:`cns.signals.universe`.
        """
        pid = cls.start(node, config, consumer, stats, on_alert, dictionaries, name=name, link=link)
        assert pid is not None
        return pid

    # ------------------------------------------------------------------ callbacks
    def init(self, config: FeedConfig, consumer: Consumer, stats: FeedStats | None = None,
             on_alert: AlertSink = None, dictionaries: tuple[Dictionary, Dictionary, Dictionary] | None = None
             ) -> None:
        if not isinstance(config, FeedConfig):
            raise FeedConfigError(f"FeedHandler needs a FeedConfig, got {type(config).__name__}")
        self.cfg = cfg = config
        self.consumer = consumer
        self.on_alert = on_alert
        self.stats = stats if stats is not None else FeedStats()
        self.stats.feed = cfg.name
        self.targets = dictionaries if dictionaries is not None else new_dictionaries(None, None, None)
        self.tracker = SequenceTracker(self.stats, max_held_records=cfg.max_held_records,
                                       replay_timeout_ns=int(cfg.replay_timeout_s * 1e9),
                                       max_attempts=cfg.max_replay_attempts)
        self.resume_from = self.stats.last_seq + 1 if self.stats.last_seq else cfg.start_seq
        self.backoff = Backoff(cfg.backoff_base_s, cfg.backoff_max_s, cfg.backoff_jitter, cfg.seed)
        self.quarantine = deque(maxlen=cfg.quarantine_keep)
        self.gen = 0
        self.link: _Link | None = None
        self.connecting = False
        self.maps: CodeMaps | None = None
        self.welcomed = False
        self.pending: list[Piece] = []
        self.pending_n = 0
        self.flush_queued = False
        self.stale_ns = int(cfg.stale_after_s * 1e9)
        self.trap_exit()  # so that a supervisor's shutdown runs terminate (which closes the socket)
        self.stats.paused = True
        self.stats.connected = False
        self.stats.last_rx_ns = time.monotonic_ns()
        self.task: asyncio.Task[None] | None = None
        period = max(0.005, min(cfg.stale_after_s / 4, cfg.replay_timeout_s / 2))
        self.timer = self.node.send_interval(period, self.pid, _TICK)
        self.node.send(self.pid, _CONNECT)

    def handle_call(self, request: Any, from_: From) -> Any:
        if request == "stats":
            return self.stats.snapshot()
        if request == "quarantine":
            return list(self.quarantine)
        raise FeedError(f"FeedHandler {self.cfg.name}: unknown call {request!r}")

    def handle_info(self, msg: Any) -> None:
        cls = msg.__class__
        if cls is _Rx:
            if msg.gen == self.gen:
                self._on_rx(msg)
        elif cls is _Flush:
            self.flush_queued = False
            self._flush()
            if self.link is not None:
                self.link.resume()
        elif cls is _Tick:
            self._on_tick()
        elif cls is _Opened:
            self._on_opened(msg)
        elif cls is _Closed:
            if msg.gen == self.gen:
                self._on_closed(msg)
        elif cls is _Connect:
            self._connect()

    def terminate(self, reason: Any) -> None:
        self.node.cancel_timer(self.timer)
        self.gen += 1  # whatever the transport still reports is stale
        if self.link is not None:
            self.link.close()
            self.link = None
        if self.task is not None:
            self.task.cancel()

    # ------------------------------------------------------------------ connection
    def _connect(self) -> None:
        if self.link is not None or self.connecting:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise FeedError(f"FeedHandler {self.cfg.name}: the node must run under asyncio "
                            "(await node.run_async())") from None
        self.gen += 1
        self.connecting = True
        cfg = self.cfg
        coro = _open_tcp(self.node, self.pid, self.gen, cfg) if cfg.transport == "tcp" \
            else _run_ws(self.node, self.pid, self.gen, cfg)
        self.task = loop.create_task(coro)

    def _on_opened(self, msg: _Opened) -> None:
        if msg.gen != self.gen:
            msg.link.close()
            return
        self.connecting = False
        self.link = msg.link
        st = self.stats
        st.connected = True
        st.connects += 1
        if st.connects > 1:
            st.reconnects += 1
        self.maps = None
        self.welcomed = False
        self._alert("connected", f"{self.cfg.transport}://{self.cfg.host}:{self.cfg.port}")
        msg.link.hello(self.cfg.feed_id)

    def _on_closed(self, msg: _Closed) -> None:
        for rj in msg.rejects:
            self._quarantine(rj)
        was_open = self.link is not None
        self.link = None
        self.connecting = False
        self.stats.connected = False
        self.welcomed = False
        self.tracker.disconnected()
        self._flush()
        if was_open:
            self._alert("disconnected", msg.reason)
        delay = self.backoff.next_delay()
        self.node.send_after(delay, self.pid, _CONNECT)

    # ------------------------------------------------------------------ frames
    def _on_rx(self, msg: _Rx) -> None:
        st = self.stats
        st.bytes_received += msg.nbytes
        for item in msg.items:
            if isinstance(item, Reject):
                self._quarantine(item)
                if item.code in FATAL_REASONS and self.link is not None:
                    self.link.close()
                continue
            f = item
            if self.cfg.feed_id and f.feed_id != self.cfg.feed_id:
                self._quarantine(Reject(f.seq, f"{REASON_FRAME_UNEXPECTED}: feed {f.feed_id}, expected "
                                               f"{self.cfg.feed_id}", ""))
                continue
            st.frames += 1
            typ = f.type
            if typ == DATA:
                self._on_data(f, msg)
            elif typ == HEARTBEAT:
                self._alive(msg.mono_ns)
                if f.seq > st.live_seq:
                    st.live_seq = f.seq
                if self.welcomed:
                    self.tracker.live_edge(f.seq, msg.mono_ns)
            elif typ == WELCOME:
                self._on_welcome(f, msg.mono_ns)
            elif typ == REPLAY_END:
                self._alive(msg.mono_ns)
                self._release(self.tracker.replay_end(f.seq, f.count, bool(f.flags & FLAG_TRUNCATED), msg.mono_ns))
            elif typ == BYE:
                if self.link is not None:
                    self.link.close()
            else:
                self._quarantine(Reject(f.seq, f"{REASON_FRAME_UNEXPECTED}: message type {typ} is client-to-server",
                                        ""))
        self._send_requests()
        if self.pending and not self.flush_queued:
            self.flush_queued = True
            self.node.send(self.pid, _FLUSH)
        if self.link is not None and self.pid.mailbox_size <= self.cfg.max_mailbox // 2:
            self.link.resume()

    def _on_welcome(self, f: Frame, now: int) -> None:
        if self.link is not None and self.link.binary:
            strings = decode_dictionaries(f.payload)
            if isinstance(strings, str):
                self._quarantine(Reject(f.seq, f"{REASON_FRAME_DICTIONARY}: {strings}", f.payload[:96].hex()))
                self.link.close()
                return
            self.maps = code_maps(strings, self.targets)
        self._alive(now)
        self.welcomed = True
        self.stats.live_seq = f.seq
        tr = self.tracker
        if tr.next == 0:
            tr.sync(self.resume_from if self.resume_from else f.seq + 1)
        tr.reconnected(f.seq, now)
        self.backoff.reset()

    def _on_data(self, f: Frame, msg: _Rx) -> None:
        if not self.welcomed or (self.link is not None and self.link.binary and self.maps is None):
            self._quarantine(Reject(f.seq, f"{REASON_FRAME_UNEXPECTED}: DATA before WELCOME", ""))
            return
        self._alive(msg.mono_ns)
        if f.seq + f.count - 1 > self.stats.live_seq:
            self.stats.live_seq = f.seq + f.count - 1
        tr = self.tracker
        if tr.is_duplicate(f.seq, f.count):
            return
        stamp = msg.wall_ns if self.cfg.stamp_receive_ns else 0
        if f.events:
            d = decode_json_records(f, self.targets, receive_ns=stamp)
        else:
            assert self.maps is not None
            d = decode_binary_records(f, self.maps, receive_ns=stamp)
        for rj in d.rejects:
            if rj.line >= tr.next:
                self._quarantine(rj)
        piece = Piece(f.seq, f.count, d.records, d.blob, d.seqs, msg.mono_ns, f.sent_ns)
        self._release(tr.offer(piece, msg.mono_ns))

    def _release(self, pieces: list[Piece]) -> None:
        for p in pieces:
            if len(p.records):
                self.pending.append(p)
                self.pending_n += len(p.records)
        if self.pending_n >= self.cfg.batch_max:
            self._flush()
        for start, end in self.tracker.take_lost():
            self._alert("gap_lost", f"sequence numbers {start}..{end - 1} given up ({end - start})")

    def _send_requests(self) -> None:
        reqs = self.tracker.take_requests()
        if reqs and self.link is not None:
            for first, count in reqs:
                self.link.replay(self.cfg.feed_id, first, count)

    def _alive(self, now: int) -> None:
        st = self.stats
        st.last_rx_ns = now
        if st.paused:
            st.paused = False
            self._alert("live", f"valid frames at sequence {st.last_seq}")

    def _on_tick(self) -> None:
        now = time.monotonic_ns()
        st = self.stats
        if not st.paused and now - st.last_rx_ns > self.stale_ns:
            st.paused = True
            st.stale_trips += 1
            self._alert("stale", f"no data or heartbeat for {(now - st.last_rx_ns) / 1e9:.3f} s")
        self._release(self.tracker.tick(now))
        self._send_requests()
        if self.pending and not self.flush_queued:
            self._flush()

    # ------------------------------------------------------------------ delivery
    def _flush(self) -> None:
        pend = self.pending
        if not pend:
            return
        self.pending = []
        self.pending_n = 0
        if len(pend) == 1:
            p = pend[0]
            records, blob, seqs = p.records, p.blob, p.seqs
        else:
            records = _concat_records([p.records for p in pend])
            seqs = np.concatenate([p.seqs for p in pend])
            blob = np.concatenate([p.blob for p in pend])
            a, base = 0, 0
            offs = records["headline_off"]
            for p in pend:
                n = len(p.records)
                if base:
                    offs[a : a + n] += np.uint64(base)
                a += n
                base += len(p.blob)
        if self.cfg.sentiment:
            from cns.news.sentiment import score_records

            score_records(records, blob)
        src, tick, dsrc = self.targets
        st = self.stats
        c = self.consumer
        call = callable(c) and not isinstance(c, Pid)
        n, bm = len(records), self.cfg.batch_max
        for a in range(0, n, bm):  # at most batch_max records per batch (they share the blob)
            part = records if n <= bm else records[a : a + bm]
            batch = FeedBatch(self.cfg.name, NewsBatch(part, blob, src, tick, dsrc),
                              seqs if n <= bm else seqs[a : a + bm], pend[0].recv_ns, pend[0].sent_ns)
            st.events_delivered += len(part)
            st.batches_delivered += 1
            if call:
                c(batch)  # type: ignore[operator]
            else:
                self.node.send(c, batch)  # type: ignore[arg-type]

    def _quarantine(self, rj: Reject) -> None:
        q = self.stats.quarantined
        code = rj.code
        q[code] = q.get(code, 0) + 1
        self.quarantine.append(rj)

    def _alert(self, kind: str, detail: str) -> None:
        sink = self.on_alert
        if sink is None:
            return
        a = FeedAlert(self.cfg.name, kind, detail, time.monotonic_ns())
        if callable(sink) and not isinstance(sink, Pid):
            sink(a)
        else:
            self.node.send(sink, a)


def _concat_records(parts: list[np.ndarray]) -> np.ndarray:
    """``np.concatenate`` of same-dtype structured arrays as byte copies (NumPy copies structured arrays
    field by field, several times slower)."""
    dt = parts[0].dtype
    out = np.empty(sum(len(p) for p in parts), dt)
    ob = out.view(np.uint8)
    a, isz = 0, dt.itemsize
    for p in parts:
        n = len(p) * isz
        ob[a : a + n] = np.ascontiguousarray(p).view(np.uint8)
        a += n
    return out


def feed_child_spec(config: FeedConfig, consumer: Consumer, *, stats: FeedStats | None = None,
                    on_alert: AlertSink = None, dictionaries: tuple[Dictionary, Dictionary, Dictionary] | None = None,
                    restart: str = "permanent") -> ChildSpec:
    """A supervisor child spec (id ``"feed:<name>"``) starting a linked :class:`FeedHandler`.

    The same ``stats`` object (created here when None) is handed to every restart, so a restarted handler
    resumes after the last sequence number its predecessor delivered; read it for the feed's health."""
    st = stats if stats is not None else FeedStats(feed=config.name)

    def start(node: Node) -> Pid:
        return FeedHandler.start_feed(node, config, consumer, stats=st, on_alert=on_alert,
                                      dictionaries=dictionaries, link=True)

    return ChildSpec(f"feed:{config.name}", start, restart=restart, shutdown=2.0)
