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
    from .node import Node
    from .process import Pid, Timer

__all__ = ["AsyncMixin", "loop_call"]


_RESUMED: tuple[None, None] = (None, None)  # Pid.resume of a process woken without a value to send in


class _Wait:
    """Awaitable that parks the calling process until ``token`` is resolved (or ``timeout`` s pass): what
    ``wait_down`` and ``sleep`` return (``acall`` returns its :class:`~cns.runtime.process.From` instead).

    A wait with a timeout is its own entry in the node's wait-timeout queues (``deadline`` monotonic ns,
    ``proc`` the parked process, ``done`` once the wait ended either way): no timer object, no closure.
    """

    __slots__ = ("token", "timeout", "ready", "value", "on_timeout", "deadline", "proc", "done")

    def __init__(self, token: Any, timeout: float | None, on_timeout: BaseException | None) -> None:
        self.token = token
        self.timeout = timeout
        self.ready = False
        self.value: Any = None
        self.on_timeout = on_timeout
        self.done = False
        self.deadline: int  # set when the process parks on it (timeout is not None)
        self.proc: Pid  # idem

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
    _waits: dict[int, Any]
    _sleeping: bool
    _wake_fut: asyncio.Future[None] | None
    _stop_flag: bool
    _current: Pid | None
    _unstamped: bool

    if TYPE_CHECKING:

        def self_pid(self) -> Pid: ...
        def _schedule(self, p: Pid) -> None: ...
        def _kill(self, p: Pid, reason: Any) -> None: ...
        def _turn(self, p: Pid) -> int: ...
        def _fire_timers(self, now: int) -> None: ...
        def _take_down(self, p: Pid, ref: int) -> Down | None: ...
        def _queue_wait(self, entry: Any, delay_ns: int) -> None: ...
        def _stamp_waits(self, now: int) -> None: ...
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
        """Resolve the wait of parked ``p`` on ``token`` and schedule it; the wait's timeout entry, if any, is
        marked done (a finished wait leaves nothing pending to keep :meth:`run` sleeping). Calls are woken
        by ``reply``/``_fail_call`` instead (the outcome is in the :class:`From`)."""
        if p.wait is not token or p.mbox is None:
            return
        p.wait = None
        t = p.resume
        if t is not None:  # the wait's timeout: off (O(1), see cns.runtime.timers)
            t.done = True
        p.resume = _RESUMED if value is None and exc is None else (value, exc)
        self._schedule(p)

    def _expire_wait(self, w: _Wait) -> None:
        """The timeout of a parked ``wait_down``/``sleep`` (already marked done): wake the process with
        ``w.on_timeout`` (a :class:`CallTimeout`; None for ``sleep``, which just returns)."""
        p = w.proc
        if p.wait is w.token and p.mbox is not None:
            p.wait = None
            p.resume = (None, w.on_timeout)
            self._schedule(p)

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
        # await node.acall(...): the record is its own timeout entry
        if w.__class__ is From and w.caller is p:
            p.wait = w
        else:
            self._park(p, coro, w)

    def _park(self, p: Pid, coro: Any, w: Any) -> None:
        """Park ``p`` (whose handler ``coro`` is ``p.coro``) on what the handler awaited, ``w``: an acall's
        :class:`From`, a :class:`_Wait` (queued with its timeout), an asyncio future, or a bare yield (run
        again after the others). Anything else kills ``p`` with ``BadArg``."""
        cls = w.__class__
        if cls is From and w.caller is p:  # await node.acall(...): the record is its own timeout entry
            p.wait = w
        elif cls is _Wait:
            p.wait = w.token
            if w.timeout is not None:  # queued, and kept in p.resume while parked (marked done by _wake)
                w.proc = p
                self._queue_wait(w, int(w.timeout * 1e9))
                p.resume = w
        elif hasattr(w, "add_done_callback") and hasattr(w, "_asyncio_future_blocking"):
            w._asyncio_future_blocking = False
            p.wait = w
            w.add_done_callback(lambda f: self._wake(p, f, None, None))
        elif w is None:  # asyncio's bare yield (sleep(0)): run again after the others
            p.resume = _RESUMED
            self._schedule(p)
        else:
            p.coro = None
            coro.close()
            what = "a call record it did not make" if cls is From else "not a runtime or asyncio awaitable"
            self._kill(p, BadArg(f"handler of {p!r} awaited {w!r}, {what}"))

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
            if self._unstamped:  # calls and waits queued since the last clock read: their timeouts start now
                self._stamp_waits(time.monotonic_ns())


def loop_call(node: Node, dest: Pid | str, request: Any, timeout: float = 5.0) -> asyncio.Future[Any]:
    """``node.call`` for asyncio code (a test, a CLI) while the node runs in the same loop: a helper process
    makes the call with ``acall`` and resolves the returned future (value or exception)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    async def caller(_msg: Any) -> None:
        try:
            v = await node.acall(dest, request, timeout)
        except Exception as e:  # noqa: BLE001 - handed to the awaiting coroutine
            if not fut.done():
                fut.set_exception(e)
        else:
            if not fut.done():
                fut.set_result(v)
        raise Stop("normal")

    pid = node.spawn(caller)
    node.send(pid, None)
    return fut
