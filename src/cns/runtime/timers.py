"""Timers of a :class:`~cns.runtime.node.Node`: ``send_after``, ``send_interval``, ``cancel_timer``.

A binary heap of ``(deadline_ns, seq, Timer)``; the scheduler fires due timers between bursts of turns (see
``Node._run``), so a timer message is delivered like any system message (it bypasses mailbox bounds).
Cancelling only flags the timer; the heap entry is skipped when it comes due.
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import TYPE_CHECKING, Any

from .errors import BadArg, NoProc
from .process import Timer

if TYPE_CHECKING:
    from .process import Pid

__all__ = ["TimersMixin"]


class TimersMixin:
    """Timer methods of :class:`~cns.runtime.node.Node` (state: ``_timers``, ``_timer_seq``)."""

    _timers: list[tuple[int, int, Timer]]
    _timer_seq: itertools.count[int]
    _sleeping: bool

    if TYPE_CHECKING:
        def _wakeup(self) -> None: ...
        def _resolve(self, dest: Any) -> Pid: ...
        def _deliver(self, p: Pid, msg: Any) -> None: ...

    def _add_timer(self, delay: float, dest: Any, msg: Any, interval: int, cb: Any = None) -> Timer:
        if delay < 0:
            raise BadArg(f"timer delay must be >= 0 s, got {delay}")
        t = Timer(time.monotonic_ns() + int(delay * 1e9), dest, msg, interval, cb)
        heapq.heappush(self._timers, (t.deadline, next(self._timer_seq), t))
        if self._sleeping:
            self._wakeup()
        return t

    def send_after(self, delay: float, dest: Pid | str, msg: Any) -> Timer:
        """Send ``msg`` to ``dest`` after ``delay`` seconds (dropped if ``dest`` is then dead/unknown)."""
        return self._add_timer(delay, dest, msg, 0)

    def send_interval(self, period: float, dest: Pid | str, msg: Any) -> Timer:
        """Send ``msg`` to ``dest`` every ``period`` seconds until cancelled or ``dest`` exits."""
        if period <= 0:
            raise BadArg(f"send_interval period must be > 0 s, got {period}")
        return self._add_timer(period, dest, msg, int(period * 1e9))

    def cancel_timer(self, timer: Timer) -> float | None:
        """Cancel ``timer``; returns the seconds it had left, or None if it already fired or was cancelled."""
        if not timer.active:
            return None
        timer.active = False
        return max(0.0, (timer.deadline - time.monotonic_ns()) / 1e9)

    def _fire_timers(self, now: int) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            t = heapq.heappop(timers)[2]
            if not t.active:
                continue
            if t.callback is not None:
                t.active = False
                t.callback()
                continue
            try:
                dest = self._resolve(t.dest)
            except NoProc:
                t.active = False
                continue
            if dest.mbox is None:
                t.active = False
                continue
            if t.interval:
                t.deadline += t.interval
                heapq.heappush(timers, (t.deadline, next(self._timer_seq), t))
            else:
                t.active = False
            self._deliver(dest, t.msg)
