"""Per-feed sequence tracking: in-order release, duplicate drop, gap detection, replay and give-up rules.

Pure logic, no I/O: the feed handler feeds it the DATA messages it decoded and the sequence numbers the
server announces, sends the replay requests it asks for (:meth:`SequenceTracker.take_requests`) and delivers
the pieces it releases, which are always in sequence order with no number twice.

Rules (``next`` is the next sequence number expected, 0 until the feed is synchronised):

- A message covering ``first .. first + count - 1`` entirely below ``next`` is a duplicate: dropped,
  ``count`` added to ``stats.duplicates``. One that overlaps ``next`` is trimmed (the overlap is counted
  as duplicates) and released.
- One starting above ``next`` is *held* and the hole ``next .. first - 1`` is a gap: one replay request is
  sent for it (``stats.gaps_detected``). Held messages are released as soon as the hole is filled
  (``stats.gaps_filled``). A heartbeat announcing a last sequence number >= ``next`` with nothing held
  opens the same kind of gap for the tail.
- A *catch-up* (after (re)connecting, the server's WELCOME announces numbers we have not seen) is
  requested the same way but counted in ``stats.catchups``, not as a gap.
- Give-up: when the server answers that part of the range is older than its replay buffer (truncated
  REPLAY_END), when a replay ends or times out (``replay_timeout_ns``) without filling the hole after
  ``max_attempts`` requests, or when more than ``max_held_records`` sequence numbers are held, the missing
  numbers are skipped: ``stats.gaps_lost`` += 1, ``stats.lost_records`` += their count, and the held
  messages are released. Losing data is reported, never silent.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cns.feeds.handler_types import FeedStats

__all__ = ["Piece", "SequenceTracker"]


@dataclass(slots=True)
class Piece:
    """The decoded content of one DATA message: it covers sequence numbers ``first .. first + count - 1``;
    ``records`` (NEWS_DTYPE, headlines in ``blob``) are its good records, numbered ``seqs`` (uint64, increasing).
    ``recv_ns``: monotonic ns when its bytes were read; ``sent_ns``: the server's wall clock (ns)."""

    first: int
    count: int
    records: np.ndarray
    blob: np.ndarray
    seqs: np.ndarray
    recv_ns: int = 0
    sent_ns: int = 0

    @property
    def end(self) -> int:
        """One past the last sequence number covered."""
        return self.first + self.count


@dataclass(slots=True)
class _Gap:
    start: int
    end: int  # exclusive
    catchup: bool
    attempts: int = 0
    asked_ns: int = 0
    outstanding: int = 0  # replay requests sent for it and not yet answered by a REPLAY_END


class SequenceTracker:
    """In-order delivery of one feed's messages (see the module docstring for the rules).

    Counters go to ``stats`` (a :class:`~cns.feeds.handler.FeedStats`); ``stats.last_seq`` is kept equal to
    ``next - 1``. Times are monotonic ns supplied by the caller (``now_ns``), so tests control the clock.
    """

    def __init__(
        self,
        stats: FeedStats,
        *,
        max_held_records: int = 1 << 20,
        replay_timeout_ns: int = 2_000_000_000,
        max_attempts: int = 3,
    ) -> None:
        self.stats = stats
        self.next = 0
        self.max_held_records = max_held_records
        self.replay_timeout_ns = replay_timeout_ns
        self.max_attempts = max_attempts
        self._held: list[tuple[int, int, Piece]] = []
        self._tie = itertools.count()
        self.held_records = 0
        self.gap: _Gap | None = None
        self._requests: list[tuple[int, int]] = []
        self.lost: list[tuple[int, int]] = []  # (start, end) ranges given up since the last take_lost()

    # ------------------------------------------------------------------ inputs
    def sync(self, next_seq: int) -> None:
        """Start expecting ``next_seq`` (>= 1) if not synchronised yet; no effect afterwards."""
        if self.next == 0 and next_seq >= 1:
            self.next = next_seq
            self.stats.last_seq = next_seq - 1

    def is_duplicate(self, first: int, count: int) -> bool:
        """True (and counted) when the message ``first .. first + count - 1`` is entirely below ``next``."""
        if self.next and first + count <= self.next:
            self.stats.duplicates += count
            return True
        return False

    def offer(self, piece: Piece, now_ns: int) -> list[Piece]:
        """Take one decoded message; returns the pieces now releasable, in order (maybe none)."""
        if self.next == 0:
            self.sync(piece.first)
        if piece.end <= self.next:
            self.stats.duplicates += piece.count
            return []
        if piece.first > self.next:
            heapq.heappush(self._held, (piece.first, next(self._tie), piece))
            self.held_records += piece.count
            out: list[Piece] = []
            if self.gap is None:
                self._open(self.next, piece.first, False, now_ns)
            elif self.held_records > self.max_held_records:
                self._give_up(out, now_ns)
            return out
        out = [self._take(piece)]
        self._drain(out, now_ns)
        return out

    def live_edge(self, last_seq: int, now_ns: int, *, catchup: bool = False) -> None:
        """The server says it has published up to ``last_seq``: anything we lack up to it is requested."""
        if self.next and last_seq >= self.next and self.gap is None and not self._held:
            self._open(self.next, last_seq + 1, catchup, now_ns)

    def replay_end(self, first: int, count: int, truncated: bool, now_ns: int) -> list[Piece]:
        """A REPLAY_END (the server replayed ``first .. first + count - 1``); returns releasable pieces."""
        out: list[Piece] = []
        g = self.gap
        if g is None:
            return out
        g.outstanding = max(0, g.outstanding - 1)
        if truncated and first > self.next:  # the start of the hole is gone for good
            self._lose(min(first, g.end), out, now_ns)
            if self.gap is not g:
                return out
        if g.outstanding == 0 and self.gap is g:
            self._retry_or_give_up(out, now_ns)
        return out

    def tick(self, now_ns: int) -> list[Piece]:
        """Periodic check: a replay unanswered for ``replay_timeout_ns`` is retried or given up."""
        out: list[Piece] = []
        g = self.gap
        if g is not None and now_ns - g.asked_ns >= self.replay_timeout_ns:
            self._retry_or_give_up(out, now_ns)
        return out

    def disconnected(self) -> None:
        """The connection dropped: requests in flight are void (the next WELCOME re-requests what is missing).
        Held messages are kept."""
        self.gap = None
        self._requests.clear()

    def reconnected(self, last_seq: int, now_ns: int) -> None:
        """After a WELCOME on a new connection: request what we lack up to ``last_seq`` (a catch-up), or
        re-request the hole before the held messages."""
        if self.gap is not None or not self.next:
            return
        if self._held:
            self._open(self.next, self._held[0][0], False, now_ns)
        elif last_seq >= self.next:
            self._open(self.next, last_seq + 1, True, now_ns)

    def take_requests(self) -> list[tuple[int, int]]:
        """Replay requests ``(first_seq, count)`` to send now (the list is emptied)."""
        r, self._requests = self._requests, []
        return r

    def take_lost(self) -> list[tuple[int, int]]:
        """Ranges ``(start, end)`` (end exclusive) given up since the last call (the list is emptied)."""
        r, self.lost = self.lost, []
        return r

    # ------------------------------------------------------------------ internals
    def _open(self, start: int, end: int, catchup: bool, now_ns: int) -> None:
        self.gap = _Gap(start, end, catchup)
        if catchup:
            self.stats.catchups += 1
        else:
            self.stats.gaps_detected += 1
        self._ask(now_ns)

    def _ask(self, now_ns: int) -> None:
        g = self.gap
        assert g is not None
        g.attempts += 1
        g.asked_ns = now_ns
        g.outstanding += 1
        self.stats.replay_requests += 1
        self._requests.append((self.next, g.end - self.next))

    def _retry_or_give_up(self, out: list[Piece], now_ns: int) -> None:
        g = self.gap
        assert g is not None
        if g.attempts < self.max_attempts:
            self._ask(now_ns)
        else:
            self._give_up(out, now_ns)

    def _give_up(self, out: list[Piece], now_ns: int) -> None:
        g = self.gap
        end = self._held[0][0] if self._held else (g.end if g is not None else self.next)
        self._lose(end, out, now_ns)

    def _lose(self, upto: int, out: list[Piece], now_ns: int) -> None:
        """Skip ``next .. upto - 1`` as lost, then release what that unblocks."""
        if upto > self.next:
            self.lost.append((self.next, upto))
            self.stats.lost_records += upto - self.next
            self.stats.gaps_lost += 1
            self.next = upto
            self.stats.last_seq = upto - 1
        g = self.gap
        if g is not None and self.next >= g.end:
            self.gap = None
        self._drain(out, now_ns)

    def _take(self, piece: Piece) -> Piece:
        """Trim the part of ``piece`` below ``next`` (duplicates) and advance ``next`` past it."""
        if piece.first < self.next:
            self.stats.duplicates += self.next - piece.first
            keep = piece.seqs >= np.uint64(self.next)
            if not keep.all():
                piece.records = piece.records[keep]
                piece.seqs = piece.seqs[keep]
        self.next = piece.end
        self.stats.last_seq = piece.end - 1
        g = self.gap
        if g is not None and self.next >= g.end:
            if not g.catchup:
                self.stats.gaps_filled += 1
            self.gap = None
        return piece

    def _drain(self, out: list[Piece], now_ns: int) -> None:
        held = self._held
        while held and held[0][0] <= self.next:
            _, _, p = heapq.heappop(held)
            self.held_records -= p.count
            if p.end <= self.next:
                self.stats.duplicates += p.count
            else:
                out.append(self._take(p))
        if held and self.gap is None:
            self._open(self.next, held[0][0], False, now_ns)
