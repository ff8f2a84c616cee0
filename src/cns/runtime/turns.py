"""A scheduler turn of a :class:`~cns.runtime.node.Node`: one process handles a batch of its mailbox.

The fast path (:meth:`TurnsMixin._turn`) takes the whole mailbox as one batch and calls the handler per message
in a tight loop; a woken parked handler is resumed inline; a batch over ``turn_messages`` is bounded
(:meth:`TurnsMixin._turn_bounded`: the rest stays with the process, ahead of newer messages, and the process
goes to the back of the run queue). While telemetry is on or a ``run_in`` marker is queued, turns take
:meth:`TurnsMixin._turn_slow`, which also serves the markers in mailbox order and emits per-turn telemetry.
"""

from __future__ import annotations

from itertools import islice
from operator import length_hint
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from . import telemetry as _tm
from .calls import _CHECK_EVERY
from .process import PREEMPTED, From, Pid, Stop, _RunIn

__all__ = ["TurnsMixin"]


class TurnsMixin:
    """The turn methods of :class:`~cns.runtime.node.Node` (state: the run queue and the current batch)."""

    turn_messages: int
    _current: Pid | None
    _batch_it: Any
    _batch_owner: Pid | None
    _sysreq: dict[Pid, int]
    _out: int

    if TYPE_CHECKING:

        def _schedule(self, p: Pid) -> None: ...
        def _kill(self, p: Pid, reason: Any) -> None: ...
        def _drive(self, p: Pid, coro: Any, value: Any, exc: BaseException | None) -> None: ...
        def _park(self, p: Pid, coro: Any, w: Any) -> None: ...
        def _serve_run_in(self, p: Pid, c: From) -> None: ...
        def _flush_out(self, p: Pid) -> None: ...

    # ------------------------------------------------------------------ the scheduler
    # A turn returns its *cost* (about the messages it took, at least 1): the run loops read the clock --
    # deadline, due timers -- once the costs add up to _CHECK_EVERY, and right after a preempted turn.
    def _turn(self, p: Pid) -> int:
        if _tm.enabled or self._sysreq:
            return self._turn_slow(p)
        p.scheduled = False
        coro = p.coro
        if coro is not None:  # parked, or preempted with a rest (PREEMPTED): the rest comes first
            if coro is PREEMPTED or p.wait is not None or p.rest is not None:
                return self._turn_resume(p)
            # a parked handler, woken, nothing left of its batch (an acall answered): resume it here -- the
            # common case of _turn_resume + _drive inlined (two frames fewer per call round trip)
            value, exc = p.resume
            p.resume = None
            self._current = p
            try:
                w = coro.send(value) if exc is None else coro.throw(exc)
            except StopIteration:
                p.coro = None
            except Stop as s:
                p.coro = None
                self._kill(p, s.reason)
            except Exception as e:  # noqa: BLE001 - the exception is the exit reason
                p.coro = None
                self._kill(p, e)
            else:
                if w.__class__ is From and w.caller is p:  # parked on its next acall
                    p.wait = w
                else:
                    self._park(p, coro, w)
            finally:
                self._current = None
            if p.coro is not None:
                return 1
        mb = p.mbox
        if not mb:
            return 1
        h = p.handler
        if h is None:  # an Actor's first turn: bind its receive (spawn leaves it unbound)
            h = p.handler = p.actor.receive
        n = len(mb)
        if n == 1:  # one message: no batch copy, no iterator, nothing left over to track
            m = mb.pop()
            self._current = p
            try:
                r = h(m)
                if r is not None and r.__class__ is CoroutineType:
                    self._drive(p, r, None, None)
            except Stop as s:
                self._kill(p, s.reason)
            except Exception as e:  # noqa: BLE001 - the exception is the exit reason
                self._kill(p, e)
            finally:
                self._current = None
            return 1
        batch = mb.copy()
        mb.clear()
        it = iter(batch)
        if n > self.turn_messages:
            return self._turn_bounded(p, it)
        self._current = p
        self._batch_it = it  # drained by _mark_dead if p dies mid-batch, which ends the loop
        self._batch_owner = p
        try:
            for m in it:
                r = h(m)
                if r is not None and r.__class__ is CoroutineType:
                    self._drive(p, r, None, None)
                    if p.coro is not None:  # parked: the rest waits, ahead of newer messages
                        if p.mbox is not None and length_hint(it):
                            p.rest = it
                        break
        except Stop as s:
            self._kill(p, s.reason)
        except Exception as e:  # noqa: BLE001 - the exception is the exit reason
            self._kill(p, e)
        finally:
            self._current = None
            self._batch_owner = None
        return n

    def _turn_resume(self, p: Pid) -> int:
        """The turn of a process that is parked (resume its handler if woken) or preempted: first the
        handler, then the rest of its batch, then (on a later turn) its mailbox."""
        coro = p.coro
        if coro is PREEMPTED:
            p.coro = None
        else:
            if p.wait is not None:
                return 1
            value, exc = p.resume
            p.resume = None
            self._drive(p, coro, value, exc)
            if p.coro is not None or p.mbox is None:
                return 1
        it = p.rest
        if it is not None:
            p.rest = None
            return self._turn_bounded(p, it)
        return self._turn(p)  # nothing left over: an ordinary turn on the mailbox

    def _turn_bounded(self, p: Pid, it: Any) -> int:
        """Handle at most ``turn_messages`` messages of ``it`` (a batch taken from ``p``'s mailbox, or the
        rest of one); what is left becomes ``p.rest`` and ``p`` goes to the back of the run queue
        (preempted, Erlang's reductions), unless it parked (it is queued again when woken)."""
        self._current = p
        self._batch_it = it
        self._batch_owner = p
        h = p.handler
        if h is None:
            h = p.handler = p.actor.receive
        try:
            for m in islice(it, self.turn_messages):
                r = h(m)
                if r is not None and r.__class__ is CoroutineType:
                    self._drive(p, r, None, None)
                    if p.coro is not None:
                        break
        except Stop as s:
            self._kill(p, s.reason)
        except Exception as e:  # noqa: BLE001 - the exception is the exit reason
            self._kill(p, e)
        finally:
            self._current = None
            self._batch_owner = None
        return self._after_bounded(p, it)

    def _after_bounded(self, p: Pid, it: Any) -> int:
        """End of a bounded turn: stash the rest, re-queue ``p`` if it has work and is not parked."""
        if p.mbox is None:
            return self.turn_messages
        if length_hint(it):
            p.rest = it
            if p.coro is None:  # preempted (not parked): back of the run queue
                p.coro = PREEMPTED
                self._schedule(p)
                return _CHECK_EVERY  # make the run loop read the clock now
        elif p.mbox and p.coro is None:
            self._schedule(p)
        return self.turn_messages

    def _turn_slow(self, p: Pid) -> int:
        """:meth:`_turn` while telemetry is on or a ``run_in`` marker is queued somewhere: the same (bounded
        too), plus serving ``run_in`` markers in mailbox order and emitting the per-turn telemetry
        (``mailbox_depth``: messages waiting when the turn starts; ``messages``: messages it handled)."""
        p.scheduled = False
        traced = _tm.enabled
        try:
            coro = p.coro
            if coro is PREEMPTED:
                p.coro = None
            elif coro is not None:
                if p.wait is not None:
                    return 1
                value, exc = p.resume
                p.resume = None
                self._drive(p, coro, value, exc)
                if p.coro is not None or p.mbox is None:
                    return 1
            mb = p.mbox
            it = p.rest
            if it is not None:
                p.rest = None
                if traced:
                    _tm.emit("mailbox_depth", length_hint(it) + len(mb), {"pid": p.id})
            elif not mb:
                return 1
            else:
                if traced:
                    _tm.emit("mailbox_depth", len(mb), {"pid": p.id})
                batch = mb.copy()
                mb.clear()
                it = iter(batch)
            marked = p in self._sysreq
            self._current = p
            self._batch_it = it
            self._batch_owner = p
            h = p.handler
            if h is None:
                h = p.handler = p.actor.receive
            handled = 0
            try:
                for m in islice(it, self.turn_messages):
                    if marked and m.__class__ is _RunIn:
                        self._serve_run_in(p, m)
                        h = p.handler
                        continue
                    handled += 1
                    r = h(m)
                    if r is not None and r.__class__ is CoroutineType:
                        self._drive(p, r, None, None)
                        if p.coro is not None:
                            break
            except Stop as s:
                self._kill(p, s.reason)
            except Exception as e:  # noqa: BLE001 - the exception is the exit reason
                self._kill(p, e)
            finally:
                self._current = None
                self._batch_owner = None
            if traced:
                _tm.emit("messages", handled, {"pid": p.id})
            return self._after_bounded(p, it)
        finally:
            if traced and self._out and _tm.enabled:
                self._flush_out(p)
