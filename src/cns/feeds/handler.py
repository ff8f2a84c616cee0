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

The rest of the handler is in :mod:`cns.feeds.handler_types` (:class:`FeedConfig`, :class:`FeedStats`,
:class:`FeedAlert`, :class:`FeedBatch`, :class:`Backoff`), :mod:`cns.feeds.handler_io` (the asyncio socket
side, TCP and WebSocket) and :mod:`cns.feeds.handler_batch` (micro-batching and delivery). Every public
name is importable from here.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from cns.feeds.errors import FeedConfigError, FeedError
from cns.feeds.handler_batch import PendingBatch, deliver, deliver_pieces
from cns.feeds.handler_io import Closed, Link, Opened, Rx, open_link
from cns.feeds.handler_types import TRANSPORTS as TRANSPORTS
from cns.feeds.handler_types import (
    AlertSink,
    Backoff,
    Consumer,
    FeedAlert,
    FeedBatch,
    FeedConfig,
    FeedStats,
)
from cns.feeds.protocol import (
    BYE,
    DATA,
    FATAL_REASONS,
    FLAG_TRUNCATED,
    HEARTBEAT,
    REASON_FRAME_DICTIONARY,
    REASON_FRAME_UNEXPECTED,
    REPLAY_END,
    WELCOME,
    CodeMaps,
    Frame,
    code_maps,
    decode_binary_records,
    decode_dictionaries,
)
from cns.feeds.protocol_json import decode_json_records
from cns.feeds.sequencer import Piece, SequenceTracker
from cns.news.batch import Reject, new_dictionaries
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


# ------------------------------------------------------------------------------- the actor's own messages
class _Connect:
    __slots__ = ()


class _Tick:
    __slots__ = ()


class _Flush:
    __slots__ = ()


_CONNECT, _TICK, _FLUSH = _Connect(), _Tick(), _Flush()


# ------------------------------------------------------------------------------- the actor
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
    def start_feed(
        cls,
        node: Node,
        config: FeedConfig,
        consumer: Consumer,
        *,
        stats: FeedStats | None = None,
        on_alert: AlertSink = None,
        dictionaries: tuple[Dictionary, Dictionary, Dictionary] | None = None,
        name: str | None = None,
        link: bool = True,
    ) -> Pid:
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
    def init(
        self,
        config: FeedConfig,
        consumer: Consumer,
        stats: FeedStats | None = None,
        on_alert: AlertSink = None,
        dictionaries: tuple[Dictionary, Dictionary, Dictionary] | None = None,
    ) -> None:
        if not isinstance(config, FeedConfig):
            raise FeedConfigError(f"FeedHandler needs a FeedConfig, got {type(config).__name__}")
        self.cfg = cfg = config
        self.consumer = consumer
        self.on_alert = on_alert
        self.stats = stats if stats is not None else FeedStats()
        self.stats.feed = cfg.name
        self.targets = dictionaries if dictionaries is not None else new_dictionaries(None, None, None)
        self.tracker = SequenceTracker(
            self.stats,
            max_held_records=cfg.max_held_records,
            replay_timeout_ns=int(cfg.replay_timeout_s * 1e9),
            max_attempts=cfg.max_replay_attempts,
        )
        self.resume_from = self.stats.last_seq + 1 if self.stats.last_seq else cfg.start_seq
        self.backoff = Backoff(cfg.backoff_base_s, cfg.backoff_max_s, cfg.backoff_jitter, cfg.seed)
        self.quarantine = deque(maxlen=cfg.quarantine_keep)
        self.gen = 0
        self.link: Link | None = None
        self.connecting = False
        self.maps: CodeMaps | None = None
        self.welcomed = False
        self.pending = PendingBatch()
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
        if cls is Rx:
            if msg.gen == self.gen:
                self._on_rx(msg)
        elif cls is _Flush:
            self._on_flush()
        elif cls is _Tick:
            self._on_tick()
        elif cls is Opened:
            self._on_opened(msg)
        elif cls is Closed:
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
            raise FeedError(
                f"FeedHandler {self.cfg.name}: the node must run under asyncio (await node.run_async())"
            ) from None
        self.gen += 1
        self.connecting = True
        self.task = loop.create_task(open_link(self.node, self.pid, self.gen, self.cfg))

    def _on_opened(self, msg: Opened) -> None:
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

    def _on_closed(self, msg: Closed) -> None:
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

    def _close_link(self) -> None:
        if self.link is not None:
            self.link.close()

    # ------------------------------------------------------------------ frames
    def _on_rx(self, msg: Rx) -> None:
        self.stats.bytes_received += msg.nbytes
        for item in msg.items:
            if isinstance(item, Reject):
                self._on_reject(item)
            elif self._of_our_feed(item):
                self._on_frame(item, msg)
        self._send_requests()
        if self.pending and not self.flush_queued:
            self.flush_queued = True
            self.node.send(self.pid, _FLUSH)
        if self.link is not None and self.pid.mailbox_size <= self.cfg.max_mailbox // 2:
            self.link.resume()

    def _on_reject(self, rj: Reject) -> None:
        """A frame the socket side refused: quarantined; a fatal one drops the connection."""
        self._quarantine(rj)
        if rj.code in FATAL_REASONS:
            self._close_link()

    def _of_our_feed(self, f: Frame) -> bool:
        """Whether ``f`` belongs to the configured feed (any, for ``feed_id`` 0); else it is quarantined."""
        want = self.cfg.feed_id
        if want and f.feed_id != want:
            self._quarantine(
                Reject(f.seq, f"{REASON_FRAME_UNEXPECTED}: feed {f.feed_id}, expected {want}", "")
            )
            return False
        return True

    def _on_frame(self, f: Frame, msg: Rx) -> None:
        self.stats.frames += 1
        typ = f.type
        if typ == DATA:
            self._on_data(f, msg)
        elif typ == HEARTBEAT:
            self._on_heartbeat(f, msg.mono_ns)
        elif typ == WELCOME:
            self._on_welcome(f, msg.mono_ns)
        elif typ == REPLAY_END:
            self._alive(msg.mono_ns)
            self._release(
                self.tracker.replay_end(f.seq, f.count, bool(f.flags & FLAG_TRUNCATED), msg.mono_ns)
            )
        elif typ == BYE:
            self._close_link()
        else:
            self._quarantine(
                Reject(f.seq, f"{REASON_FRAME_UNEXPECTED}: message type {typ} is client-to-server", "")
            )

    def _on_heartbeat(self, f: Frame, now: int) -> None:
        self._alive(now)
        self._saw_seq(f.seq)
        if self.welcomed:
            self.tracker.live_edge(f.seq, now)

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

    def _on_data(self, f: Frame, msg: Rx) -> None:
        if not self.welcomed or (self.link is not None and self.link.binary and self.maps is None):
            self._quarantine(Reject(f.seq, f"{REASON_FRAME_UNEXPECTED}: DATA before WELCOME", ""))
            return
        self._alive(msg.mono_ns)
        self._saw_seq(f.seq + f.count - 1)
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

    def _saw_seq(self, seq: int) -> None:
        """The server has published up to ``seq`` at least."""
        if seq > self.stats.live_seq:
            self.stats.live_seq = seq

    def _release(self, pieces: list[Piece]) -> None:
        self.pending.add(pieces)
        if self.pending.records >= self.cfg.batch_max:
            self._flush()
        for start, end in self.tracker.take_lost():
            self._alert("gap_lost", f"sequence numbers {start}..{end - 1} given up ({end - start})")

    def _send_requests(self) -> None:
        reqs = self.tracker.take_requests()
        if reqs and self.link is not None:
            for first, count in reqs:
                self.link.replay(self.cfg.feed_id, first, count)

    # ------------------------------------------------------------------ watchdog
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
    def _on_flush(self) -> None:
        """The socket has been drained (this message queued behind its frames): deliver, read on."""
        self.flush_queued = False
        self._flush()
        if self.link is not None:
            self.link.resume()

    def _flush(self) -> None:
        if self.pending:
            deliver_pieces(self.node, self.consumer, self.stats, self.cfg, self.targets, self.pending.take())

    def _quarantine(self, rj: Reject) -> None:
        q = self.stats.quarantined
        code = rj.code
        q[code] = q.get(code, 0) + 1
        self.quarantine.append(rj)

    def _alert(self, kind: str, detail: str) -> None:
        if self.on_alert is not None:
            deliver(self.node, self.on_alert, FeedAlert(self.cfg.name, kind, detail, time.monotonic_ns()))


def feed_child_spec(
    config: FeedConfig,
    consumer: Consumer,
    *,
    stats: FeedStats | None = None,
    on_alert: AlertSink = None,
    dictionaries: tuple[Dictionary, Dictionary, Dictionary] | None = None,
    restart: str = "permanent",
) -> ChildSpec:
    """A supervisor child spec (id ``"feed:<name>"``) starting a linked :class:`FeedHandler`.

    The same ``stats`` object (created here when None) is handed to every restart, so a restarted handler
    resumes after the last sequence number its predecessor delivered; read it for the feed's health."""
    st = stats if stats is not None else FeedStats(feed=config.name)

    def start(node: Node) -> Pid:
        return FeedHandler.start_feed(
            node, config, consumer, stats=st, on_alert=on_alert, dictionaries=dictionaries, link=True
        )

    return ChildSpec(f"feed:{config.name}", start, restart=restart, shutdown=2.0)
