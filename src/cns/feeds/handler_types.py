"""The feed handler's public data: its configuration (:class:`FeedConfig`), live counters (:class:`FeedStats`),
alerts (:class:`FeedAlert`), deliveries (:class:`FeedBatch`) and reconnect delays (:class:`Backoff`).

Importable from :mod:`cns.feeds` and :mod:`cns.feeds.handler` too.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cns.feeds.errors import FeedConfigError
from cns.feeds.protocol import DEFAULT_MAX_PAYLOAD
from cns.news.batch import NewsBatch
from cns.otp.backoff import Backoff  # noqa: F401 (re-exported)
from cns.runtime import Pid

__all__ = [
    "TRANSPORTS",
    "AlertSink",
    "Backoff",
    "Consumer",
    "FeedAlert",
    "FeedBatch",
    "FeedConfig",
    "FeedStats",
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
        if (
            not isinstance(self.feed_id, int)
            or isinstance(self.feed_id, bool)
            or not 0 <= self.feed_id < 2**32
        ):
            raise bad("feed_id", "an int in 0..2**32-1")
        if (
            not isinstance(self.start_seq, int)
            or isinstance(self.start_seq, bool)
            or not 0 <= self.start_seq < 2**63
        ):
            raise bad("start_seq", "an int in 0..2**63-1")
        for name in (
            "batch_max",
            "max_replay_attempts",
            "max_frame_bytes",
            "max_held_records",
            "max_mailbox",
            "quarantine_keep",
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise bad(name, "an int >= 1")
        for name in (
            "stale_after_s",
            "connect_timeout_s",
            "backoff_base_s",
            "backoff_max_s",
            "replay_timeout_s",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1e6:
                raise bad(name, "seconds > 0 (finite)")
        if self.backoff_max_s < self.backoff_base_s:
            raise bad("backoff_max_s", f">= backoff_base_s ({self.backoff_base_s})")
        if (
            isinstance(self.backoff_jitter, bool)
            or not isinstance(self.backoff_jitter, (int, float))
            or not 0 <= self.backoff_jitter <= 1
        ):
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
        """Frames quarantined so far, all reasons together."""
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


Consumer = Pid | str | Callable[[FeedBatch], Any]
AlertSink = Pid | str | Callable[[FeedAlert], Any] | None
