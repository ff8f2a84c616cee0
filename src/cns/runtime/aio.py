"""Async handlers and the asyncio bridge of a :class:`~cns.runtime.node.Node`.

- An ``async def`` handler returns a coroutine that the scheduler drives itself (``coro.send``, no asyncio):
  :meth:`AsyncMixin._drive` runs it to its next suspension point. Awaiting a :class:`_Wait` (``acall``,
  ``wait_down``, ``sleep``) or an asyncio future *parks* the process -- its other messages wait -- until
  :meth:`AsyncMixin._wake` resolves the token (a reply, a ``Down``, a timer, the future's callback).
- :meth:`AsyncMixin.run_async` runs the node inside a running asyncio loop: the run queue is drained in the
  same tight loop and the node awaits one future only when idle (woken by a send or the next timer).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import BadArg, CallTimeout, check_seconds
from .process import Down, From, Stop

if TYPE_CHECKING:
    from .process import Pid, Timer

__all__ = ["AsyncMixin"]


CALL_TIMEOUT: Any = object()  # _Wait.on_timeout of an acall: the CallTimeout is built if it ever fires


class _Wait:
    """Awaitable that parks the calling process until ``token`` is resolved (or ``timeout`` s pass)."""

    __slots__ = ("token", "timeout", "ready", "value", "on_timeout")

    def __init__(self, token: Any, timeout: float | None, on_timeout: BaseException | None) -> None:
        self.token = token
        self.timeout = timeout
        self.ready = False
        self.value: Any = None
        self.on_timeout = on_timeout

    def __await__(self) -> Any:
        if self.ready:
            return self.value
        return (yield self)


def _resolve_none(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class AsyncMixin:
    """Coroutine driving and asyncio integration of :class:`~cns.runtime.node.Node`."""

    _runq: deque[Pid]
    _timers: list[tuple[int, int, Timer]]
    _waits: dict[int, deque[Timer]]
    _sleeping: bool
    _wake_fut: asyncio.Future[None] | None
    _stop_flag: bool
    _current: Pid | None
    _pending: set[From]

    if TYPE_CHECKING:
        def self_pid(self) -> Pid: ...
        def _schedule(self, p: Pid) -> None: ...
        def _kill(self, p: Pid, reason: Any) -> None: ...
        def _turn(self, p: Pid) -> int: ...
        def _fire_timers(self, now: int) -> None: ...
        def _add_timer(self, delay: float, dest: Any, msg: Any, interval: int, cb: Any = None) -> Timer: ...
        def _take_down(self, p: Pid, ref: int) -> Down | None: ...
        def _add_wait_timer(self, delay: float, cb: Any) -> Timer: ...
        def _next_deadline(self) -> int | None: ...

    # ------------------------------------------------------------------ awaitables for async handlers
    def wait_down(self, ref: int, timeout: float | None = None) -> _Wait:
        """Await the :class:`Down` of monitor ``ref`` (selective receive: one already waiting -- in the
        mailbox or in the unhandled rest of the current batch -- is taken at once).

        ``timeout``: seconds (finite, >= 0) then :class:`CallTimeout`, or None to wait for the ``Down``
        without a limit (OTP's ``infinity``: it comes when the monitored process exits)."""
        me = self.self_pid()
        if timeout is not None:
            check_seconds(timeout)
        w = _Wait(ref, timeout, CallTimeout(ref, timeout or 0.0))
        d = self._take_down(me, ref)
        if d is not None:
            w.ready, w.value = True, d
        return w

    def sleep(self, seconds: float) -> _Wait:
        """Await ``seconds`` (finite, >= 0, else ``BadArg``) inside an async handler (the process is parked,
        the node keeps running)."""
        self.self_pid()
        return _Wait(object(), check_seconds(seconds, "sleep"), None)

    def _wake(self, p: Pid, token: Any, value: Any, exc: BaseException | None) -> None:
        """Resolve the wait of parked ``p`` on ``token`` and schedule it; the wait's timeout timer, if any, is
        cancelled (a finished wait leaves no timer behind to keep :meth:`run` sleeping)."""
        if p.wait is not token or p.mbox is None:
            return
        p.wait = None
        t = p.resume
        if t is not None:  # the wait's timeout: off (O(1), see cns.runtime.timers)
            t.active = False
        p.resume = (value, exc)
        self._schedule(p)

    def _expire(self, p: Pid, token: Any, exc: Any, timeout: float) -> None:
        """The timeout of a parked wait: wake ``p`` with ``exc`` (:data:`CALL_TIMEOUT`: a
        :class:`CallTimeout` for the call ``token``, built only now). A call (``acall``) is withdrawn first:
        marked done, so a late reply is dropped, and forgotten by the node (no record left in ``_pending``)."""
        if token.__class__ is From and not token.done and p.wait is token:
            token.done = True
            self._pending.discard(token)
        if exc is CALL_TIMEOUT:
            exc = CallTimeout(token.target, timeout)
        self._wake(p, token, None, exc)

    def _drive(self, p: Pid, coro: Any, value: Any, exc: BaseException | None) -> None:
        prev, self._current = self._current, p
        try:
            w = coro.send(value) if exc is None else coro.throw(exc)
        except StopIteration:
            p.coro = None
            return
        except Stop as s:
            p.coro = None
            self._kill(p, s.reason)
            return
        except Exception as e:  # noqa: BLE001 - the exception is the exit reason
            p.coro = None
            self._kill(p, e)
            return
        finally:
            self._current = prev
        p.coro = coro
        if w.__class__ is _Wait:
            p.wait = w.token
            if w.timeout is not None:  # kept in p.resume while parked, deactivated by _wake
                tok, err, secs = w.token, w.on_timeout, w.timeout
                p.resume = self._add_wait_timer(secs, lambda: self._expire(p, tok, err, secs))
        elif hasattr(w, "add_done_callback") and hasattr(w, "_asyncio_future_blocking"):
            w._asyncio_future_blocking = False
            p.wait = w
            w.add_done_callback(lambda f: self._wake(p, f, None, None))
        elif w is None:  # asyncio's bare yield (sleep(0)): run again after the others
            p.resume = (None, None)
            self._schedule(p)
        else:
            p.coro = None
            coro.close()
            self._kill(p, BadArg(f"handler of {p!r} awaited {w!r}, which is not a runtime or asyncio awaitable"))

    # ------------------------------------------------------------------ asyncio bridge
    def _wakeup(self) -> None:
        f = self._wake_fut
        if f is not None and not f.done():
            f.set_result(None)

    async def run_async(self, until: Callable[[], bool] | None = None, budget: int = 4096) -> None:
        """Run the node inside the running asyncio loop until :meth:`stop` or ``until()`` is true.

        Runnable work is drained in bursts of about ``budget`` messages (turn costs; each turn is itself
        bounded, see :class:`~cns.runtime.node.Node`) between yields to the loop; when idle the node awaits
        one future, woken by a send (e.g. from a protocol callback) or the next timer.
        Handlers run inside the loop, so actors can open sockets and await asyncio futures.
        """
        loop = asyncio.get_running_loop()
        self._stop_flag = False
        runq = self._runq
        try:
            while not self._stop_flag:
                if self._timers or self._waits:
                    self._fire_timers(time.monotonic_ns())
                n = budget
                while runq and n > 0:
                    n -= self._turn(runq.popleft())
                if self._stop_flag or (until is not None and until()):
                    return
                if runq:
                    await asyncio.sleep(0)
                    continue
                fut = loop.create_future()
                self._wake_fut = fut
                self._sleeping = True
                handle = None
                nxt = self._next_deadline()
                if nxt is not None:
                    delay = max(0.0, (nxt - time.monotonic_ns()) / 1e9)
                    handle = loop.call_later(delay, _resolve_none, fut)
                try:
                    await fut
                finally:
                    self._sleeping = False
                    self._wake_fut = None
                    if handle is not None:
                        handle.cancel()
        finally:
            self._stop_flag = False
