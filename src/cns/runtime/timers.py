"""Timers of a :class:`~cns.runtime.node.Node`: ``send_after``, ``send_interval``, ``cancel_timer``.

A binary heap of ``(deadline_ns, seq, Timer)``; the scheduler fires due timers between bursts of turns (see
``Node._run``), so a timer message is delivered like any system message (it bypasses mailbox bounds).
Cancelling only flags the timer; the heap entry is skipped when it comes due.

The timeouts of calls and parked waits (``acall``, ``wait_down``, ``sleep``) are not in the heap: they live in
one FIFO queue per duration (``_waits``: delay ns -> :class:`_WaitQueue`), which is in deadline order by
construction (same delay, later start), so adding one is an append and ending one -- every answered call
ends its timeout -- is a flag. The entries are the records themselves: an ``acall``'s
:class:`~cns.runtime.process.From` (``deadline``; ``done`` once replied, failed or timed out) and a
``wait_down``/``sleep`` :class:`~cns.runtime.aio._Wait`; no timer object or closure per call. Finished
entries leave from the front when the clock is read (every few hundred turns, or when idle); a queue whose
front is held by a long wait is compacted once it has doubled, so finished calls behind it are not kept
(with their requests and replies) until that wait ends. Nothing piles up and a finished wait leaves nothing
for :meth:`~cns.runtime.node.Node.run` to sleep for.

Deadlines are stamped lazily, so that a call costs no clock read: an entry is queued with ``deadline == 0``
and gets ``now + delay`` at the next clock read of the scheduler -- every ``_CHECK_EVERY`` turns while busy,
when it goes idle, and when a run (``run``, ``run_until_idle``, ``call``, a blocked send, ``run_async``)
returns. The two readers of deadlines (:meth:`TimersMixin._fire_waits`, :meth:`TimersMixin._next_deadline`)
stamp first, so an entry never times out early; it may time out late by at most one burst of turns, as any
timer of the node. Entries still unstamped always form the tail of their queue (a stamping pass stamps the
whole tail with one ``now``), so each queue stays in deadline order.

Failure rules: delays and periods must be finite numbers of seconds (``BadArg`` otherwise; a period > 0,
at least 1 ns once converted). An interval timer that falls more than one period behind sends one tick and
skips the missed ones, counting them in ``Timer.missed`` -- never a burst of catch-up ticks, which with a
short period and a slow node would grow without end. A timer message for a dead or unknown destination is
dropped and counted in ``Node.info()["sent_to_dead"]`` (telemetry ``lost``, cause ``dead``).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from . import telemetry as _tm
from .errors import BadArg, CallTimeout, NoProc, check_seconds
from .process import From, Pid, Timer

_INF = float("inf")
_COMPACT_MIN = 1024  # a wait queue is compacted when longer than max(this, twice its live length last time)

__all__ = ["TimersMixin"]


class _WaitQueue(deque):  # type: ignore[type-arg]
    """Timeout entries of one duration, in deadline order; ``cap``: the length that triggers a compaction."""

    __slots__ = ("cap",)

    def __init__(self) -> None:
        super().__init__()
        self.cap = _COMPACT_MIN


class TimersMixin:
    """Timer methods of :class:`~cns.runtime.node.Node` (state: ``_timers``, ``_timer_seq``)."""

    _timers: list[tuple[int, int, Timer]]
    _timer_seq: itertools.count[int]
    _timers_cancelled: int  # cancelled entries still in the heap (compacted when they are the majority)
    _waits: dict[int, _WaitQueue]  # timeouts of calls and parked waits: delay ns -> FIFO (= deadline order)
    _sleeping: bool
    _unstamped: bool  # some wait-queue entry still has deadline 0 (see the module doc)
    sent_to_dead: int

    if TYPE_CHECKING:

        def _wakeup(self) -> None: ...
        def _resolve(self, dest: Any) -> Pid: ...
        def _deliver(self, p: Pid, msg: Any) -> None: ...
        def _fail_call(self, from_: From, exc: BaseException) -> None: ...
        def _expire_wait(self, w: Any) -> None: ...

    def _add_timer(self, delay: float, dest: Any, msg: Any, interval: int, cb: Any = None) -> Timer:
        if delay.__class__ is not float or not 0.0 <= delay < _INF:
            check_seconds(delay, "timer delay")
        t = Timer(time.monotonic_ns() + int(delay * 1e9), dest, msg, interval, cb)
        heapq.heappush(self._timers, (t.deadline, next(self._timer_seq), t))
        if self._sleeping:
            self._wakeup()
        return t

    def _new_wait_queue(self, delay_ns: int) -> _WaitQueue:
        """The (new, empty) timeout queue for ``delay_ns``."""
        q = self._waits[delay_ns] = _WaitQueue()
        return q

    def _queue_wait(self, entry: Any, delay_ns: int) -> None:
        """Queue ``entry`` (an acall's ``From`` or a parked ``_Wait``: ``deadline`` and ``done``) to time out
        ``delay_ns`` from now (from the next clock read) unless it is done first. O(1); see the module doc."""
        entry.deadline = 0
        self._unstamped = True
        q = self._waits.get(delay_ns)
        if q is None:
            q = self._new_wait_queue(delay_ns)
        q.append(entry)
        if self._sleeping:
            self._wakeup()

    def send_after(self, delay: float, dest: Pid | str, msg: Any) -> Timer:
        """Send ``msg`` to ``dest`` after ``delay`` seconds (dropped if ``dest`` is then dead/unknown)."""
        return self._add_timer(delay, dest, msg, 0)

    def send_interval(self, period: float, dest: Pid | str, msg: Any) -> Timer:
        """Send ``msg`` to ``dest`` every ``period`` seconds until cancelled or ``dest`` exits.

        The schedule is fixed-rate (tick *k* is due at start + k * period); ticks the node could not send
        in time are skipped and counted in ``timer.missed`` (see the module doc). ``period`` must be a
        finite number > 0 (``BadArg``); below 1 ns it counts as 1 ns.
        """
        check_seconds(period, "send_interval period")
        if not period > 0:
            raise BadArg(f"send_interval period must be > 0 s, got {period}")
        return self._add_timer(period, dest, msg, max(1, int(period * 1e9)))

    def cancel_timer(self, timer: Timer) -> float | None:
        """Cancel ``timer``; returns the seconds it had left, or None if it already fired or was cancelled.

        A cancelled timer no longer counts as pending: :meth:`run` does not sleep for it."""
        if not timer.active:
            return None
        timer.active = False
        self._timers_cancelled += 1
        n = self._timers_cancelled
        if n > 256 and 2 * n > len(self._timers):  # mostly dead entries: rebuild the heap in place
            timers = self._timers
            timers[:] = [e for e in timers if e[2].active]
            heapq.heapify(timers)
            self._timers_cancelled = 0
        return max(0.0, (timer.deadline - time.monotonic_ns()) / 1e9)

    def _stamp_waits(self, now: int) -> None:
        """Give every entry queued since the last clock read its deadline, ``now`` + its queue's delay."""
        for d, q in self._waits.items():
            if q and not q[-1].deadline:
                t = now + d
                for e in reversed(q):
                    if e.deadline:
                        break
                    e.deadline = t
        self._unstamped = False

    def _next_deadline(self) -> int | None:
        """Deadline (monotonic ns) of the next active timer or wait timeout, dropping cancelled ones off the
        fronts; None if nothing is pending."""
        if self._unstamped:
            self._stamp_waits(time.monotonic_ns())
        timers = self._timers
        while timers and not timers[0][2].active:
            heapq.heappop(timers)
            self._timers_cancelled -= 1
        nxt = timers[0][0] if timers else None
        waits = self._waits
        if waits:
            for d, q in list(waits.items()):
                while q and q[0].done:
                    q.popleft()
                if not q:
                    del waits[d]
                elif nxt is None or q[0].deadline < nxt:
                    nxt = q[0].deadline
        return nxt

    def _fire_waits(self, now: int) -> None:
        """Stamp the entries queued since the last clock read, time out the due calls and waits, drop the
        finished entries at the fronts, compact a queue that a long wait at its front has let grow (see the
        module doc). One pass over the queues: this runs every ``_CHECK_EVERY`` turns of a busy node."""
        stamp = self._unstamped
        self._unstamped = False
        waits = self._waits
        emptied = None
        for d, q in waits.items():  # expiring an entry only schedules processes: the dict does not change
            if stamp and q and not q[-1].deadline:
                t = now + d
                for e in reversed(q):
                    if e.deadline:
                        break
                    e.deadline = t
            while q:
                e = q[0]
                if e.done:
                    q.popleft()
                    continue
                if e.deadline > now:
                    break
                q.popleft()
                if e.__class__ is From:  # an acall: withdrawn (done), its caller resumed with CallTimeout
                    self._fail_call(e, CallTimeout(e.target, d / 1e9))
                else:
                    e.done = True
                    self._expire_wait(e)
            if not q:
                if emptied is None:
                    emptied = [d]
                else:
                    emptied.append(d)
            elif len(q) > q.cap:
                live = [e for e in q if not e.done]
                q.clear()
                q.extend(live)
                q.cap = max(_COMPACT_MIN, 2 * len(live))
        if emptied is not None:
            for d in emptied:
                del waits[d]

    def _fire_timers(self, now: int) -> None:
        if self._waits:
            self._fire_waits(now)
        timers = self._timers
        while timers and timers[0][0] <= now:
            t = heapq.heappop(timers)[2]
            if not t.active:
                self._timers_cancelled -= 1
                continue
            if t.callback is not None:
                t.active = False
                t.callback()
                continue
            try:
                dest = self._resolve(t.dest)
            except NoProc:
                dest = None
            if dest is None or dest.mbox is None:
                t.active = False
                self._lost_to_dead(dest if dest is not None else t.dest)
                continue
            if t.interval:
                nxt = t.deadline + t.interval
                if nxt <= now:  # more than one period behind: skip (and count) the missed ticks
                    k = (now - nxt) // t.interval + 1
                    t.missed += k
                    nxt += k * t.interval
                t.deadline = nxt
                heapq.heappush(timers, (nxt, next(self._timer_seq), t))
            else:
                t.active = False
            self._deliver(dest, t.msg)

    def _lost_to_dead(self, dest: Any) -> None:
        """Count one message dropped because its destination is dead or unknown (Erlang drops it too)."""
        self.sent_to_dead += 1
        if _tm.enabled:
            _tm.emit("lost", 1, {"pid": dest.id if isinstance(dest, Pid) else -1, "cause": "dead"})
