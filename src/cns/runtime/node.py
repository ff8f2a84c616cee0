"""The node: one single-threaded scheduler per OS process, hosting lightweight processes.

Design (what makes it fast and deadlock-free):

- A process is a :class:`Pid` record with a list mailbox. ``send`` appends and, if the process is not queued,
  puts it on a deque run queue. A scheduler *turn* takes the whole mailbox as one batch and calls the handler
  per message in a tight loop -- no asyncio Future, no thread switch, no allocation beyond the message.
- Handlers are plain methods. A handler may be ``async def``: the scheduler drives the coroutine itself with
  ``coro.send()``; when it awaits a reply (``acall``), a monitor (``wait_down``), a sleep or an asyncio future,
  the process is *parked* -- its other messages wait, like Erlang's selective receive of a reply -- and resumed
  when the awaited thing arrives or times out. So calls between processes never deadlock the scheduler.
- Plain Python outside the scheduler uses ``node.call`` / ``node.send`` / ``node.run_until_idle``: ``call`` runs
  the scheduler until the reply, the target's death (``NoProc``) or the timeout (``CallTimeout``).
- Exit signals are delivered synchronously through a work list (no recursion), following the OTP rules.
- ``run_async`` runs the node inside an asyncio loop: the run queue is drained in the same tight loop and the
  node awaits only when idle (woken by a send from an I/O callback or by the next timer).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from types import CoroutineType
from typing import Any

from . import telemetry as _tm
from .errors import BadArg, CallTimeout, InvalidSpec, MailboxFull, NameTaken, NoProc, NotInProcess
from .mailbox import POLICIES, BoundedMailbox
from .process import KILL, KILLED, NOPROC, NORMAL, Actor, Down, Exit, From, Pid, Stop, Timer

__all__ = ["Node", "current_node"]

log = logging.getLogger("cns.runtime")
_node_ids = itertools.count(1)
_current_node: Node | None = None
_CHECK_EVERY = 256  # turns between clock reads while busy (timers, call deadlines)


def current_node() -> Node:
    """The node whose scheduler is running, else the most recently created node."""
    if _current_node is None:
        raise NotInProcess("no Node has been created")
    return _current_node


def _is(reason: Any, atom: str) -> bool:
    return reason.__class__ is str and reason == atom


def _reason_text(reason: Any) -> str:
    return reason if isinstance(reason, str) else type(reason).__name__


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


class Node:
    """A scheduler and its processes. Not thread-safe: use it from one thread (and its asyncio loop).

    All timeouts and delays are in seconds (float); internal clocks are monotonic nanoseconds.
    """

    def __init__(self) -> None:
        global _current_node
        self.node_id = next(_node_ids)
        self._procs: dict[int, Pid] = {}
        self._names: dict[str, Pid] = {}
        self._runq: deque[Pid] = deque()
        self._timers: list[tuple[int, int, Timer]] = []
        self._timer_seq = itertools.count()
        self._ids = itertools.count(1)
        self._refs = itertools.count(1)
        self._current: Pid | None = None
        self._batch: list[Any] = []  # the batch being handled by _batch_owner
        self._batch_owner: Pid | None = None
        self._pending: set[From] = set()  # calls made by parked processes
        self._monitor_refs: dict[int, tuple[Pid, Pid]] = {}  # ref -> (watcher, target)
        self._dying: deque[tuple[Pid, Any]] = deque()
        self._reaping = False
        self._sleeping = False
        self._wake_fut: asyncio.Future[None] | None = None
        self._stop_flag = False
        _current_node = self

    # ------------------------------------------------------------------ processes
    def spawn(
        self,
        target: Actor | Callable[[Any], Any],
        *,
        link: bool = False,
        monitor: bool = False,
        name: str | None = None,
        trap_exit: bool = False,
        mailbox_capacity: int | None = None,
        mailbox_policy: str = "raise",
        block_timeout: float = 5.0,
    ) -> Pid:
        """Start a process whose handler is ``target.receive`` (an :class:`Actor`) or ``target`` (a callable).

        ``link`` links it to the calling process; ``monitor`` is not returned here (use :meth:`monitor`).
        ``mailbox_capacity`` bounds the mailbox with ``mailbox_policy``: ``"raise"`` (:class:`MailboxFull`),
        ``"drop_newest"`` (discard and count in ``mailbox.dropped``) or ``"block"`` (a sender outside the
        scheduler runs it until there is room or ``block_timeout`` s pass, then ``MailboxFull``; a sender
        inside a handler cannot block a single-threaded scheduler and gets ``MailboxFull`` at once).
        """
        if mailbox_capacity is None:
            mbox: list[Any] = []
        else:
            if mailbox_policy not in POLICIES:
                raise InvalidSpec("mailbox_policy", mailbox_policy, f"one of {sorted(POLICIES)}")
            if not isinstance(mailbox_capacity, int) or mailbox_capacity < 1:
                raise InvalidSpec("mailbox_capacity", mailbox_capacity, "a positive int")
            mbox = BoundedMailbox(self, mailbox_capacity, mailbox_policy, block_timeout)
        if isinstance(target, Actor):
            handler = target.receive
        elif callable(target):
            handler = target
        else:
            raise BadArg(f"spawn target must be an Actor or a callable, got {target!r}")
        p = Pid(next(self._ids), self, mbox, handler, target)
        if mbox.__class__ is not list:
            mbox.owner = p  # type: ignore[attr-defined]
        if handler is not target:
            target.pid = p  # type: ignore[union-attr]
            target.node = self  # type: ignore[union-attr]
        self._procs[p.id] = p
        if trap_exit:
            p.trap = True
        if name is not None:
            self.register(name, p)
        if link:
            self.link(p)
        if _tm.enabled:
            _tm.emit("spawn", 1, {"pid": p.id})
        return p

    def spawn_link(self, target: Actor | Callable[[Any], Any], **opts: Any) -> Pid:
        """``spawn(target, link=True, ...)``: the new process is linked to the calling process."""
        return self.spawn(target, link=True, **opts)

    def _spawn_init(self, actor: Actor, init: Callable[[], Any], **opts: Any) -> tuple[Pid, Any]:
        """Spawn ``actor`` and run ``init()`` at once inside it (synchronous start, as OTP's start_link)."""
        p = self.spawn(actor, **opts)
        prev, self._current = self._current, p
        try:
            return p, init()
        finally:
            self._current = prev

    def self_pid(self) -> Pid:
        """The pid of the process whose handler is running (Erlang ``self()``)."""
        if self._current is None:
            raise NotInProcess("self_pid() called outside a process")
        return self._current

    @property
    def current(self) -> Pid | None:
        """The running process, or None in plain Python outside a handler."""
        return self._current

    def processes(self, behaviour: type | None = None) -> list[Pid]:
        """Live processes, optionally only those whose actor is an instance of ``behaviour``."""
        if behaviour is None:
            return list(self._procs.values())
        return [p for p in self._procs.values() if isinstance(p.actor, behaviour)]

    def __len__(self) -> int:
        return len(self._procs)

    # ------------------------------------------------------------------ names
    def register(self, name: str, pid: Pid) -> None:
        """Give a live process a unique name usable wherever a pid is (``send``, ``call``, ``exit``)."""
        if not isinstance(name, str) or not name:
            raise BadArg(f"register: name must be a non-empty str, got {name!r}")
        if name in self._names:
            raise NameTaken(f"register: name {name!r} already taken by {self._names[name]!r}")
        if pid.mbox is None:
            raise NoProc(pid)
        if pid.name is not None:
            raise NameTaken(f"register: {pid!r} already registered as {pid.name!r}")
        self._names[name] = pid
        pid.name = name

    def unregister(self, name: str) -> None:
        p = self._names.pop(name, None)
        if p is None:
            raise BadArg(f"unregister: name {name!r} is not registered")
        p.name = None

    def whereis(self, name: str) -> Pid | None:
        """The live process registered as ``name``, or None."""
        return self._names.get(name)

    def _resolve(self, dest: Any) -> Pid:
        if dest.__class__ is Pid:
            return dest  # type: ignore[no-any-return]
        if isinstance(dest, str):
            p = self._names.get(dest)
            if p is None:
                raise NoProc(dest)
            return p
        raise BadArg(f"not a pid or registered name: {dest!r}")

    # ------------------------------------------------------------------ messages
    def send(self, dest: Pid | str, msg: Any) -> None:
        """Append ``msg`` to ``dest``'s mailbox (by reference, no copy). Never blocks unless ``dest`` has a
        full bounded mailbox (see :meth:`spawn`). Sending to a dead pid drops the message; to an unknown
        name raises :class:`NoProc`."""
        try:
            mb = dest.mbox  # type: ignore[union-attr]
        except AttributeError:
            dest = self._resolve(dest)
            mb = dest.mbox
        if mb is None:
            return
        mb.append(msg)
        if not dest.scheduled:  # type: ignore[union-attr]
            dest.scheduled = True  # type: ignore[union-attr]
            self._runq.append(dest)  # type: ignore[arg-type]
            if self._sleeping:
                self._wakeup()

    def _deliver(self, p: Pid, msg: Any) -> None:
        """System delivery (EXIT/DOWN): bypasses mailbox bounds."""
        list.append(p.mbox, msg)  # type: ignore[arg-type]
        if not p.scheduled:
            p.scheduled = True
            self._runq.append(p)
            if self._sleeping:
                self._wakeup()

    def _schedule(self, p: Pid) -> None:
        if not p.scheduled:
            p.scheduled = True
            self._runq.append(p)
            if self._sleeping:
                self._wakeup()

    def call(self, dest: Pid | str, request: Any, timeout: float = 5.0) -> Any:
        """Request/reply from plain Python: runs the scheduler until the reply and returns it.

        Raises :class:`NoProc` if ``dest`` is dead/unknown or exits before replying, :class:`CallTimeout`
        after ``timeout`` s (or at once when the node is idle with nothing left that could reply). Inside a
        handler use ``await node.acall(...)`` instead (raises :class:`NotInProcess` here).
        """
        if self._current is not None:
            raise NotInProcess(f"node.call from inside {self._current!r}: make the handler async and await acall")
        p = dest if dest.__class__ is Pid else self._resolve(dest)
        mb = p.mbox  # type: ignore[union-attr]
        if mb is None:
            raise NoProc(p)
        c = From(None, p, request)  # type: ignore[arg-type]
        mb.append(c)
        if not p.scheduled:  # type: ignore[union-attr]
            p.scheduled = True  # type: ignore[union-attr]
            self._runq.append(p)  # type: ignore[arg-type]
        runq = self._runq
        if not self._timers:  # fast path: no clock read while the reply comes within a few turns
            turn, popleft, n = self._turn, runq.popleft, _CHECK_EVERY
            while runq and n:
                turn(popleft())
                if c.done:
                    break
                n -= 1
        if not c.done and not self._run(c, time.monotonic_ns() + int(timeout * 1e9), True):
            if p.mbox is None:
                raise NoProc(p, p.exit_reason)
            raise CallTimeout(p, timeout)
        if c.error is not None:
            raise c.error
        return c.value

    def acall(self, dest: Pid | str, request: Any, timeout: float = 5.0) -> _Wait:
        """Awaitable call from inside an ``async`` handler: ``reply = await node.acall(pid, req)``."""
        me = self._current
        if me is None:
            raise NotInProcess("acall outside a process; use node.call")
        p = self._resolve(dest)
        c = From(me, p, request)
        w = _Wait(c, timeout, CallTimeout(p, timeout))
        if p.mbox is None:
            c.done, c.error = True, NoProc(p, p.exit_reason or NOPROC)
        else:
            self._pending.add(c)
            self.send(p, c)
        if c.done:  # an error, or a reply already given synchronously
            w.ready = True
            if c.error is not None:
                raise c.error
            w.value = c.value
        return w

    def reply(self, from_: From, value: Any) -> None:
        """Answer a call (only the first reply counts; replies to given-up callers are dropped)."""
        if from_.done:
            return
        from_.done = True
        from_.value = value
        c = from_.caller
        if c is not None:
            self._pending.discard(from_)
            self._wake(c, from_, value, None)

    def _fail_call(self, from_: From, exc: BaseException) -> None:
        if from_.done:
            return
        from_.done = True
        from_.error = exc
        if from_.caller is not None:
            self._pending.discard(from_)
            self._wake(from_.caller, from_, None, exc)

    def run_in(self, dest: Pid | str, fn: Callable[[Any], Any], timeout: float = 5.0) -> Any:
        """Run ``fn(actor)`` inside the process at a safe point between two messages; return its result.

        For hot code loading: after ``fn`` returns, the handler is re-bound (``actor.receive``), so ``fn`` may
        swap ``actor.__class__``. An exception from ``fn`` is raised here; the process keeps running. Called
        from plain Python only (it runs the scheduler like :meth:`call`).
        """
        if self._current is not None:
            raise NotInProcess("run_in from inside a handler")
        p = self._resolve(dest)
        if p.mbox is None:
            raise NoProc(p)
        c = From(None, p, fn)
        if p.sysq is None:
            p.sysq = []
        p.sysq.append(c)
        self._schedule(p)
        if not self._run(c, time.monotonic_ns() + int(timeout * 1e9), True):
            if p.mbox is None:
                raise NoProc(p, p.exit_reason)
            raise CallTimeout(p, timeout)
        if c.error is not None:
            raise c.error
        return c.value

    def _serve_sys(self, p: Pid) -> None:
        q, p.sysq = p.sysq, None
        prev, self._current = self._current, p
        try:
            for c in q:  # type: ignore[union-attr]
                try:
                    v = c.request(p.actor)
                except Exception as e:  # noqa: BLE001 - handed to the caller
                    self._fail_call(c, e)
                else:
                    self.reply(c, v)
                if isinstance(p.actor, Actor):
                    p.handler = p.actor.receive
        finally:
            self._current = prev

    # ------------------------------------------------------------------ links, monitors, exits
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

    def monitor(self, pid: Pid | str) -> int:
        """Monitor ``pid`` from the calling process; returns the ref. A :class:`Down` ``(ref, pid, reason)``
        arrives when it exits -- at once with ``noproc`` if it is already dead or unknown."""
        me = self.self_pid()
        ref = next(self._refs)
        try:
            p = self._resolve(pid)
        except NoProc:
            self._deliver(me, Down(ref, pid, NOPROC))  # type: ignore[arg-type]
            return ref
        if p.mbox is None:
            self._deliver(me, Down(ref, p, NOPROC))
            return ref
        if p.monitors is None:
            p.monitors = {}
        p.monitors[ref] = me
        self._monitor_refs[ref] = (me, p)
        return ref

    def demonitor(self, ref: int, flush: bool = False) -> None:
        """Cancel a monitor; with ``flush`` also remove a ``Down`` for it already in the mailbox."""
        pair = self._monitor_refs.pop(ref, None)
        if pair is not None and pair[1].monitors:
            pair[1].monitors.pop(ref, None)
        me = self._current
        if flush and me is not None and me.mbox:
            me.mbox[:] = [m for m in me.mbox if not (m.__class__ is Down and m.ref == ref)]

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
        if p is self._batch_owner:
            self._batch.clear()
        p.scheduled = True  # never queued again
        del self._procs[p.id]
        if p.name is not None:
            self._names.pop(p.name, None)
        for m in mb:  # type: ignore[union-attr]
            if m.__class__ is From:
                self._fail_call(m, NoProc(p, reason))
        if p.sysq:
            for c in p.sysq:
                self._fail_call(c, NoProc(p, reason))
            p.sysq = None
        if p.coro is not None:
            coro, p.coro, p.wait = p.coro, None, None
            if coro.cr_frame is not None:
                try:
                    coro.close()
                except BaseException:  # noqa: BLE001 - a dead process's cleanup must not break the caller
                    log.exception("closing the parked handler of %r", p)
        if self._pending:
            for c in [c for c in self._pending if c.target is p or c.caller is p]:
                self._fail_call(c, NoProc(p, reason))
        if isinstance(reason, BaseException):
            log.error("process %r exited: %r", p, reason, exc_info=(type(reason), reason, reason.__traceback__))
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
                d = Down(ref, p, reason)
                if w.wait == ref and w.wait.__class__ is int:
                    self._wake(w, ref, d, None)
                else:
                    self._deliver(w, d)

    # ------------------------------------------------------------------ awaitables for async handlers
    def wait_down(self, ref: int, timeout: float | None = None) -> _Wait:
        """Await the :class:`Down` of monitor ``ref`` (selective receive: one already queued is taken)."""
        me = self.self_pid()
        w = _Wait(ref, timeout, CallTimeout(ref, timeout or 0.0))
        mb = me.mbox
        for i, m in enumerate(mb):  # type: ignore[arg-type]
            if m.__class__ is Down and m.ref == ref:
                del mb[i]  # type: ignore[union-attr]
                w.ready, w.value = True, m
                break
        return w

    def sleep(self, seconds: float) -> _Wait:
        """Await ``seconds`` inside an async handler (the process is parked, the node keeps running)."""
        self.self_pid()
        return _Wait(object(), seconds, None)

    def _wake(self, p: Pid, token: Any, value: Any, exc: BaseException | None) -> None:
        if p.wait is not token or p.mbox is None:
            return
        p.wait = None
        p.resume = (value, exc)
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
        if w.__class__ is _Wait:
            p.wait = w.token
            if w.timeout is not None:
                tok, err = w.token, w.on_timeout
                self._add_timer(w.timeout, None, None, 0, lambda: self._wake(p, tok, None, err))
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

    # ------------------------------------------------------------------ timers
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

    # ------------------------------------------------------------------ the scheduler
    def _turn(self, p: Pid) -> None:
        p.scheduled = False
        if p.coro is not None:
            if p.wait is not None:
                return
            value, exc = p.resume
            p.resume = None
            self._drive(p, p.coro, value, exc)
            if p.coro is not None or p.mbox is None:
                return
        if p.sysq is not None:
            self._serve_sys(p)
        mb = p.mbox
        if not mb:
            return
        batch = mb.copy()
        mb.clear()
        if _tm.enabled:
            _tm.emit("mailbox_depth", len(batch), {"pid": p.id})
            _tm.emit("messages", len(batch), {"pid": p.id})
        self._current = p
        self._batch = batch  # cleared by _mark_dead if p dies mid-batch, which ends the loop
        self._batch_owner = p
        h = p.handler
        it = iter(batch)
        try:
            for m in it:
                r = h(m)
                if r is not None and r.__class__ is CoroutineType:
                    self._drive(p, r, None, None)
                    if p.coro is not None:  # parked: the rest waits, ahead of newer messages
                        if p.mbox is not None:
                            p.mbox[0:0] = list(it)
                        break
        except Stop as s:
            self._kill(p, s.reason)
        except Exception as e:  # noqa: BLE001 - the exception is the exit reason
            self._kill(p, e)
        finally:
            self._current = None
            self._batch_owner = None

    def _run(self, until: From | None, deadline: int | None, sleep: bool) -> bool:
        """Run turns until ``until.done`` (True), or the deadline / idleness (False)."""
        runq = self._runq
        popleft = runq.popleft
        turn = self._turn
        timers = self._timers
        while True:
            if timers:
                self._fire_timers(time.monotonic_ns())
            n = _CHECK_EVERY
            if until is None:
                while runq and n:
                    turn(popleft())
                    n -= 1
            else:
                while runq and n:
                    turn(popleft())
                    if until.done:
                        return True
                    n -= 1
                if until.done:
                    return True
                if until.target.mbox is None:
                    return False
            if self._stop_flag:
                return False
            if runq:
                if deadline is not None and time.monotonic_ns() >= deadline:
                    return False
                continue
            # idle
            if not sleep or not timers:
                return False
            now = time.monotonic_ns()
            if deadline is not None and now >= deadline:
                return False
            wake_at = timers[0][0] if deadline is None else min(timers[0][0], deadline)
            if wake_at > now:
                time.sleep((wake_at - now) / 1e9)

    def run_until_idle(self) -> None:
        """Run every runnable process (and due timers) until nothing is runnable; never sleeps."""
        if self._current is not None:
            raise NotInProcess("run_until_idle from inside a handler")
        self._run(None, None, False)

    def run(self, timeout: float | None = None) -> None:
        """Run until nothing is runnable and no timer is pending (sleeping for timers), or ``timeout`` s."""
        if self._current is not None:
            raise NotInProcess("run from inside a handler")
        self._stop_flag = False
        self._run(None, None if timeout is None else time.monotonic_ns() + int(timeout * 1e9), True)

    def stop(self) -> None:
        """Make a running :meth:`run` / :meth:`run_async` return after the current turn."""
        self._stop_flag = True
        if self._sleeping:
            self._wakeup()

    def _wakeup(self) -> None:
        f = self._wake_fut
        if f is not None and not f.done():
            f.set_result(None)

    async def run_async(self, until: Callable[[], bool] | None = None, budget: int = 4096) -> None:
        """Run the node inside the running asyncio loop until :meth:`stop` or ``until()`` is true.

        Runnable work is drained in bursts of up to ``budget`` turns between yields to the loop; when idle
        the node awaits one future, woken by a send (e.g. from a protocol callback) or the next timer.
        Handlers run inside the loop, so actors can open sockets and await asyncio futures.
        """
        loop = asyncio.get_running_loop()
        self._stop_flag = False
        runq = self._runq
        try:
            while not self._stop_flag:
                if self._timers:
                    self._fire_timers(time.monotonic_ns())
                n = budget
                while runq and n:
                    self._turn(runq.popleft())
                    n -= 1
                if self._stop_flag or (until is not None and until()):
                    return
                if runq:
                    await asyncio.sleep(0)
                    continue
                fut = loop.create_future()
                self._wake_fut = fut
                self._sleeping = True
                handle = None
                if self._timers:
                    delay = max(0.0, (self._timers[0][0] - time.monotonic_ns()) / 1e9)
                    handle = loop.call_later(delay, lambda: fut.done() or fut.set_result(None))
                try:
                    await fut
                finally:
                    self._sleeping = False
                    self._wake_fut = None
                    if handle is not None:
                        handle.cancel()
        finally:
            self._stop_flag = False

    def shutdown(self, reason: Any = KILL) -> None:
        """Kill every live process (default untrappable ``kill``) -- for tests and process exit."""
        for p in list(self._procs.values()):
            self._signal(p, p, reason, False, external=True)

    def info(self) -> dict[str, Any]:
        """Counts for diagnostics: live processes, runnable, names, timers."""
        return {"processes": len(self._procs), "runnable": len(self._runq), "names": len(self._names),
                "timers": sum(1 for _, _, t in self._timers if t.active)}
