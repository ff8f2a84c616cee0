"""Links, monitors and exit signals of a :class:`~cns.runtime.node.Node` (OTP's rules, delivered synchronously).

- A link is symmetric (``Pid.links`` on both sides). When a process dies, each linked process gets an exit
  signal: a trapping one an :class:`Exit` message, otherwise it dies with the same reason unless the reason
  is ``normal``. ``exit(pid, "kill")`` is untrappable and arrives at links as ``killed``.
- A monitor is one-way: the target keeps ``Pid.monitors`` (ref -> watcher), the node keeps ``_monitor_refs``
  (ref -> (watcher, target)) and ``_watching`` (watcher -> its refs). The watcher gets one :class:`Down`
  when the target dies. When the *watcher* dies first, its monitors are removed (as in Erlang), so a
  long-lived target does not accumulate dead watchers.
- Deaths caused by a death are processed through a work list (``_dying``), never by recursion.
- What a death loses is counted: the messages still in the mailbox and the unhandled rest of the batch
  being handled (``Node.info()["lost_on_exit"]``, telemetry ``lost`` with cause ``exit``). Calls among
  them -- in the mailbox or in that rest -- fail at once with :class:`NoProc` instead of waiting for their
  timeout.
- Selective receive of a ``Down`` (``wait_down``, ``demonitor(flush=True)``) looks at the unhandled rest of
  the current batch as well as the mailbox: a ``Down`` that arrived before the turn began is found.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from . import telemetry as _tm
from .errors import NoProc
from .process import KILL, KILLED, NOPROC, NORMAL, PREEMPTED, Down, Exit, From, Pid, _RunIn

__all__ = ["SignalsMixin"]

log = logging.getLogger("cns.runtime")


def _is(reason: Any, atom: str) -> bool:
    return reason.__class__ is str and reason == atom


def _reason_text(reason: Any) -> str:
    return reason if isinstance(reason, str) else type(reason).__name__


class SignalsMixin:
    """Link/monitor/exit methods of :class:`~cns.runtime.node.Node`."""

    _procs: dict[int, Pid]
    _names: dict[str, Pid]
    _refs: Any
    _current: Pid | None
    _batch_it: Any
    _batch_owner: Pid | None
    _waits: dict[int, Any]
    _monitor_refs: dict[int, tuple[Pid, Pid]]
    _watching: dict[Pid, set[int]]
    _sysreq: dict[Pid, int]
    _dying: deque[tuple[Pid, Any]]
    _reaping: bool
    lost_on_exit: int

    if TYPE_CHECKING:

        def self_pid(self) -> Pid: ...
        def _resolve(self, dest: Any) -> Pid: ...
        def _deliver(self, p: Pid, msg: Any) -> None: ...
        def _fail_call(self, from_: From, exc: BaseException) -> None: ...
        def _wake(self, p: Pid, token: Any, value: Any, exc: BaseException | None) -> None: ...

    # ------------------------------------------------------------------ links
    def link(self, pid: Pid) -> None:
        """Link the calling process and ``pid`` (both directions). Linking a dead pid sends the caller an
        exit signal ``noproc`` (as Erlang does for a trapping caller; a non-trapping caller exits)."""
        me = self.self_pid()
        if pid is me:
            return
        if pid.mbox is None:
            self._signal(me, pid, NOPROC, True)
            return
        if me.links is None:
            me.links = set()
        if pid.links is None:
            pid.links = set()
        me.links.add(pid)
        pid.links.add(me)

    def unlink(self, pid: Pid) -> None:
        """Remove the link between the calling process and ``pid`` (both directions; no link: no-op)."""
        me = self.self_pid()
        if me.links:
            me.links.discard(pid)
        if pid.links:
            pid.links.discard(me)

    def trap_exit(self, flag: bool = True, pid: Pid | None = None) -> bool:
        """Set whether exit signals become :class:`Exit` messages (default: the calling process). Returns the
        old value."""
        p = pid if pid is not None else self.self_pid()
        old, p.trap = p.trap, bool(flag)
        return old

    # ------------------------------------------------------------------ monitors
    def monitor(self, pid: Pid | str) -> int:
        """Monitor ``pid`` from the calling process; returns the ref. A :class:`Down` ``(ref, pid, reason)``
        arrives when it exits -- at once with ``noproc`` if it is already dead or unknown. The monitor is
        removed when either side dies (or by :meth:`demonitor`)."""
        me = self.self_pid()
        ref: int = next(self._refs)
        try:
            p = self._resolve(pid)
        except NoProc:
            self._deliver(me, Down(ref, pid, NOPROC))
            return ref
        if p.mbox is None:
            self._deliver(me, Down(ref, p, NOPROC))
            return ref
        if p.monitors is None:
            p.monitors = {}
        p.monitors[ref] = me
        self._monitor_refs[ref] = (me, p)
        refs = self._watching.get(me)
        if refs is None:
            self._watching[me] = {ref}
        else:
            refs.add(ref)
        return ref

    def demonitor(self, ref: int, flush: bool = False) -> None:
        """Cancel a monitor; with ``flush`` also remove a ``Down`` for it already in the mailbox."""
        pair = self._monitor_refs.pop(ref, None)
        if pair is not None:
            if pair[1].monitors:
                pair[1].monitors.pop(ref, None)
            self._forget_ref(pair[0], ref)
        me = self._current
        if flush and me is not None and me.mbox is not None:
            while self._take_down(me, ref) is not None:
                pass

    def _take_down(self, p: Pid, ref: int) -> Down | None:
        """Remove and return the first ``Down`` for ``ref`` waiting for ``p``: in the unhandled rest of the
        batch ``p`` is handling (or that a preempted/parked turn left), else in its mailbox; None if there is
        none (selective receive)."""
        it = self._batch_it if p is self._batch_owner else p.rest
        if it is not None:
            r = it.__reduce__()  # (iter, (batch,), next index) while not exhausted
            if len(r) == 3:
                batch, i = r[1][0], r[2]
                for j in range(i, len(batch)):
                    m = batch[j]
                    if m.__class__ is Down and m.ref == ref:
                        del batch[j]  # at or after the iterator's index: the running loop just skips it
                        return m
        mb = p.mbox
        if mb:
            for j, m in enumerate(mb):
                if m.__class__ is Down and m.ref == ref:
                    del mb[j]
                    return m
        return None

    def _forget_ref(self, watcher: Pid, ref: int) -> None:
        refs = self._watching.get(watcher)
        if refs is not None:
            refs.discard(ref)
            if not refs:
                del self._watching[watcher]

    # ------------------------------------------------------------------ exit signals
    def exit(self, dest: Pid | str, reason: Any) -> None:
        """Send an exit signal (Erlang ``exit/2``): ``kill`` is untrappable (the target exits ``killed``);
        ``normal`` is ignored by a non-trapping target other than the sender; trapping targets get
        :class:`Exit`. Unknown or dead targets are ignored."""
        try:
            p = self._resolve(dest)
        except NoProc:
            return
        sender = self._current
        self._signal(p, sender if sender is not None else p, reason, False, external=sender is None)

    def _signal(self, q: Pid, sender: Pid, reason: Any, linked: bool, external: bool = False) -> None:
        if q.mbox is None:
            return
        if not linked and _is(reason, KILL):
            self._kill(q, KILLED)
        elif q.trap:
            self._deliver(q, Exit(sender, reason))
        elif _is(reason, NORMAL):
            if sender is q and not external:
                self._kill(q, NORMAL)
        else:
            self._kill(q, reason)

    def _kill(self, p: Pid, reason: Any) -> None:
        """Terminate ``p`` with ``reason`` and propagate to links and monitors (iteratively)."""
        if p.mbox is None:
            return
        self._dying.append((p, reason))
        self._mark_dead(p, reason)
        if self._reaping:
            return
        self._reaping = True
        try:
            while self._dying:
                q, r = self._dying.popleft()
                self._propagate(q, r)
        finally:
            self._reaping = False

    def _mark_dead(self, p: Pid, reason: Any) -> None:
        mb = p.mbox
        p.mbox = None
        p.exit_reason = reason
        p.scheduled = True  # never queued again
        del self._procs[p.id]
        if p.name is not None:
            self._names.pop(p.name, None)
        lost = len(mb)
        for m in mb:
            c = m.__class__
            if c is From or c is _RunIn:
                self._fail_call(m, NoProc(p, reason))
        rests = [self._batch_it] if p is self._batch_owner else []  # died mid-batch: its unhandled rest
        if p.rest is not None:  # the rest a preempted or parked turn left
            rests.append(p.rest)
            p.rest = None
        for it in rests:  # draining the running batch's iterator ends the turn's loop
            for m in it:
                lost += 1
                c = m.__class__
                if c is From or c is _RunIn:
                    self._fail_call(m, NoProc(p, reason))
        if lost:
            self.lost_on_exit += lost
            if _tm.enabled:
                _tm.emit("lost", lost, {"pid": p.id, "cause": "exit"})
        if self._sysreq:
            self._sysreq.pop(p, None)
        if self._watching:  # monitors held by p die with it
            refs = self._watching.pop(p, None)
            if refs:
                for ref in refs:
                    pair = self._monitor_refs.pop(ref, None)
                    if pair is not None and pair[1].monitors:
                        pair[1].monitors.pop(ref, None)
        if p.coro is PREEMPTED:
            p.coro = None
        elif p.coro is not None:
            coro, p.coro, p.wait = p.coro, None, None
            t, p.resume = p.resume, None
            if t is not None and t.__class__ is not tuple:  # the parked wait's timeout entry: off
                t.done = True
            if coro.cr_frame is not None:
                try:
                    coro.close()
                except BaseException:  # noqa: BLE001 - a dead process's cleanup must not break the caller
                    log.exception("closing the parked handler of %r", p)
        if self._waits:  # calls in flight to or from p (every acall record is in a timeout queue): failed
            calls = [
                c
                for q in self._waits.values()
                for c in q
                if c.__class__ is From and not c.done and (c.target is p or c.caller is p)
            ]
            for c in calls:
                self._fail_call(c, NoProc(p, reason))
        if isinstance(reason, BaseException):
            log.error(
                "process %r exited: %r", p, reason, exc_info=(type(reason), reason, reason.__traceback__)
            )
        if _tm.enabled:
            _tm.emit("exit", 1, {"pid": p.id, "reason": _reason_text(reason)})

    def _propagate(self, p: Pid, reason: Any) -> None:
        links, p.links = p.links, None
        if links:
            for q in links:
                if q.links is not None:
                    q.links.discard(p)
                self._signal(q, p, reason, True)
        mons, p.monitors = p.monitors, None
        if mons:
            for ref, w in mons.items():
                self._monitor_refs.pop(ref, None)
                if w.mbox is None:
                    continue
                self._forget_ref(w, ref)
                d = Down(ref, p, reason)
                if w.wait == ref and w.wait.__class__ is int:
                    self._wake(w, ref, d, None)
                else:
                    self._deliver(w, d)
