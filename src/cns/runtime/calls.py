"""Calls of a :class:`~cns.runtime.node.Node`: ``call`` (plain Python), ``acall`` (async handlers), ``reply``, and
``run_in`` (run a function inside a process at a safe point in mailbox order, for hot code loading).

A call is a :class:`From` record put in the callee's mailbox; the callee answers with ``reply`` (only the first
reply counts). A plain-Python ``call`` runs the scheduler until the record is done; an ``acall`` returns the
record itself, awaitable: awaiting it parks the calling process until ``reply``/``_fail_call``/the timeout
marks it done and wakes the caller. An ``acall`` record is also its own timeout entry (queued in the node's
per-duration wait queues, see :mod:`.timers`) and the index of calls in flight (a dying process fails the
calls made to it or by it from there): one object per call, no timer, closure, awaitable or set entry.
A ``run_in`` request is a :class:`_RunIn` marker (a ``From`` subclass) queued behind the messages already
waiting and served by the scheduler's slow path.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import telemetry as _tm
from .aio import _RESUMED
from .errors import CallTimeout, NoProc, NotInProcess, check_seconds
from .process import NO_MAIL, NOPROC, Actor, From, Pid, _RunIn

__all__ = ["CallsMixin"]

_new = object.__new__
_CHECK_EVERY = 256  # turn costs (about messages) between clock reads while busy (timers, call deadlines)
_INF = float("inf")
_DEFAULT_TIMEOUT = 5.0  # the default timeout object: known valid, so the hot call path skips the check
_DEFAULT_TIMEOUT_NS = int(_DEFAULT_TIMEOUT * 1e9)


class CallsMixin:
    """Call/reply/run_in methods of :class:`~cns.runtime.node.Node`."""

    _current: Pid | None
    _runq: deque[Pid]
    _timers: list[Any]
    _waits: dict[int, Any]
    _sysreq: dict[Pid, int]
    _sleeping: bool
    _unstamped: bool
    _out: int

    if TYPE_CHECKING:

        def _resolve(self, dest: Any) -> Pid: ...
        def send(self, dest: Pid | str, msg: Any) -> None: ...
        def _schedule(self, p: Pid) -> None: ...
        def _turn(self, p: Pid) -> int: ...
        def _run(self, until: From | None, deadline: int | None, sleep: bool) -> bool: ...
        def _wakeup(self) -> None: ...
        def _new_wait_queue(self, delay_ns: int) -> Any: ...
        def _stamp_waits(self, now: int) -> None: ...

    def call(self, dest: Pid | str, request: Any, timeout: float = _DEFAULT_TIMEOUT) -> Any:
        """Request/reply from plain Python: runs the scheduler until the reply and returns it.

        Raises :class:`NoProc` if ``dest`` is dead/unknown or exits before replying, :class:`CallTimeout`
        after ``timeout`` s (or at once when the node is idle with nothing left that could reply). Inside a
        handler use ``await node.acall(...)`` instead (raises :class:`NotInProcess` here). ``timeout`` must be
        a finite number of seconds >= 0 (``BadArg``): there is no wait without a limit. On timeout the
        call is withdrawn (marked done): a reply that comes later is dropped.
        """
        if timeout is not _DEFAULT_TIMEOUT and (timeout.__class__ is not float or not 0.0 <= timeout < _INF):
            check_seconds(timeout)
        if self._current is not None:
            raise NotInProcess(
                f"node.call from inside {self._current!r}: make the handler async and await acall"
            )
        p = dest if dest.__class__ is Pid else self._resolve(dest)
        mb = p.mbox
        if mb is None:
            raise NoProc(p)
        if mb is NO_MAIL:  # its first message: the mailbox is created now
            mb = p.mbox = []
        c = _new(From)  # From.__init__ inlined (the call hot path): saves the constructor call
        c.caller = None
        c.target = p
        c.request = request
        c.done = False
        c.value = None
        c.error = None
        mb.append(c)
        runq = self._runq
        if not p.scheduled:
            p.scheduled = True
            runq.append(p)
        if not self._timers and not self._waits:  # fast path: no clock read while the reply comes soon
            turn, popleft, n = self._turn, runq.popleft, _CHECK_EVERY
            while runq:
                n -= turn(popleft())
                if c.done or n <= 0:
                    break
            if self._unstamped:  # acalls made during those turns: their timeouts start now
                self._stamp_waits(time.monotonic_ns())
        if not c.done and not self._run(c, time.monotonic_ns() + int(timeout * 1e9), True):
            if p.mbox is None:
                raise NoProc(p, p.exit_reason)
            c.done = True  # withdrawn: a late reply is dropped
            raise CallTimeout(p, timeout)
        if c.error is not None:
            raise c.error
        return c.value

    def acall(self, dest: Pid | str, request: Any, timeout: float = _DEFAULT_TIMEOUT) -> From:
        """Call from inside an ``async`` handler: ``reply = await node.acall(pid, req)``.

        The request is sent at once; the returned :class:`From` is awaitable (in the calling process only):
        it parks the caller until the reply and returns it, or raises :class:`NoProc` (the target exits
        before replying) or :class:`CallTimeout` (``timeout`` s after this call). Awaiting it later -- after
        other awaits -- is fine: a reply that came meanwhile is returned at once. Raises :class:`NoProc` at
        once for a dead or unknown target, ``BadArg`` for a ``timeout`` that is not finite seconds >= 0.
        On timeout the call is withdrawn: marked done (a later reply is dropped) and forgotten by the node.
        """
        if timeout is _DEFAULT_TIMEOUT:
            d = _DEFAULT_TIMEOUT_NS
        else:
            if timeout.__class__ is not float or not 0.0 <= timeout < _INF:
                check_seconds(timeout)
            d = int(timeout * 1e9)
        me = self._current
        if me is None:
            raise NotInProcess("acall outside a process; use node.call")
        p = dest if dest.__class__ is Pid else self._resolve(dest)
        mb = p.mbox
        if mb is None:
            raise NoProc(p, p.exit_reason or NOPROC)
        if mb is NO_MAIL:  # its first message: the mailbox is created now
            mb = p.mbox = []
        c = _new(From)  # From.__init__ inlined, as in call
        c.caller = me
        c.target = p
        c.request = request
        c.done = False
        c.value = None
        c.error = None
        mb.append(c)  # a bounded mailbox may refuse it (MailboxFull) before anything is queued
        c.deadline = 0  # stamped at the scheduler's next clock read: no clock read per call (see .timers)
        self._unstamped = True
        q = self._waits.get(d)
        if q is None:
            q = self._new_wait_queue(d)
        elif q and q[0].done:  # the oldest call of this duration is over: it leaves now, one per call, so
            q.popleft()  # finished records do not pile up (and are not all freed at once) between clock reads
        q.append(c)
        if not p.scheduled:
            p.scheduled = True
            self._runq.append(p)
        if self._sleeping:
            self._wakeup()
        if _tm.enabled:
            self._out += 1  # messages_out, as send counts it
        return c

    def reply(self, from_: From, value: Any) -> None:
        """Answer a call (only the first reply counts; replies to given-up callers are dropped)."""
        if from_.done:
            return
        from_.done = True
        from_.value = value
        p = from_.caller
        if p is not None and p.wait is from_:  # the caller is parked on this call: resume it
            p.wait = None
            p.resume = _RESUMED
            if not p.scheduled:
                p.scheduled = True
                self._runq.append(p)
                if self._sleeping:
                    self._wakeup()

    def _fail_call(self, from_: From, exc: BaseException) -> None:
        """End a call with ``exc`` (:class:`NoProc`, :class:`CallTimeout`) unless it is done already; a
        caller parked on it is resumed and raises ``exc``."""
        if from_.done:
            return
        from_.done = True
        from_.error = exc
        p = from_.caller
        if p is not None and p.wait is from_:
            p.wait = None
            p.resume = _RESUMED
            self._schedule(p)

    def _pending_calls(self) -> list[From]:
        """The ``acall`` records still waiting for an outcome (diagnostics and tests)."""
        return [c for q in self._waits.values() for c in q if c.__class__ is From and not c.done]

    def run_in(self, dest: Pid | str, fn: Callable[[Any], Any], timeout: float = 5.0) -> Any:
        """Run ``fn(actor)`` inside the process at a safe point in mailbox order; return its result.

        The request is queued *behind the messages already in the mailbox*: those are handled by the current
        code, then ``fn`` runs (between two messages, never while a handler is parked), then every later
        message -- including all messages queued while this call waits -- is handled after it. No message is
        skipped or handled twice. For hot code loading: after ``fn`` returns the handler is re-bound
        (``actor.receive``), so ``fn`` may swap ``actor.__class__``; the rest of the same batch already uses the
        new handler. An exception from ``fn`` is raised here; the process keeps running. Raises
        :class:`NoProc` if the process exits first, :class:`CallTimeout` after ``timeout`` s. Called from plain
        Python only (it runs the scheduler like :meth:`call`).
        """
        check_seconds(timeout)
        if self._current is not None:
            raise NotInProcess("run_in from inside a handler")
        p = self._resolve(dest)
        if p.mbox is None:
            raise NoProc(p)
        c = _RunIn(None, p, fn)
        if p.mbox is NO_MAIL:
            p.mbox = []
        list.append(p.mbox, c)  # bypasses a bounded mailbox's limit, like system messages
        self._sysreq[p] = self._sysreq.get(p, 0) + 1
        self._schedule(p)
        if not self._run(c, time.monotonic_ns() + int(timeout * 1e9), True):
            if p.mbox is None:
                raise NoProc(p, p.exit_reason)
            c.done = True  # withdrawn: the marker is skipped when its turn comes, fn never runs
            raise CallTimeout(p, timeout)
        if c.error is not None:
            raise c.error
        return c.value

    def _serve_run_in(self, p: Pid, c: From) -> None:
        n = self._sysreq.get(p, 0) - 1
        if n > 0:
            self._sysreq[p] = n
        else:
            self._sysreq.pop(p, None)
        if c.done:  # the caller timed out and withdrew the request
            return
        try:
            v = c.request(p.actor)
        except Exception as e:  # noqa: BLE001 - handed to the caller
            self._fail_call(c, e)
        else:
            self.reply(c, v)
        if isinstance(p.actor, Actor):
            p.handler = p.actor.receive
