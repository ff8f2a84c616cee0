"""The node: one single-threaded scheduler per OS process, hosting lightweight processes.

Design (what makes it fast and deadlock-free):

- A process is a :class:`Pid` record with a list mailbox. ``send`` appends and, if the process is not queued,
  puts it on a deque run queue. A scheduler *turn* takes the whole mailbox as one batch and calls the handler
  per message in a tight loop -- no asyncio Future, no thread switch, no allocation beyond the message (a
  one-message turn pops it: no batch copy either). An idle process is one GC-tracked object (its Pid, besides
  the actor): the mailbox list is created by the first message (``NO_MAIL`` until then) and an Actor's
  bound ``receive`` by its first turn; ``send``'s common path tests nothing (names, dead pids and first
  messages take the ``AttributeError`` path).
- A turn is bounded (Erlang's reductions): it handles at most ``turn_messages`` messages. The unhandled rest
  of the batch stays with the process (``Pid.rest``, ahead of anything newer) and the process goes to the
  back of the run queue, so behind a slow consumer with a huge mailbox other processes, timers and
  ``run``/``call`` deadlines keep their place. Per-sender order, exactly-once handling, ``run_in``'s mailbox
  order and selective receive (``wait_down``) see the rest as part of the mailbox; ``mailbox_size`` counts it.
  A batch within the bound takes the unchanged fast loop.
- Handlers are plain methods. A handler may be ``async def``: the scheduler drives the coroutine itself with
  ``coro.send()``; when it awaits a reply (``acall``), a monitor (``wait_down``), a sleep or an asyncio future,
  the process is *parked* -- its other messages wait, like Erlang's selective receive of a reply -- and resumed
  when the awaited thing arrives or times out. So calls between processes never deadlock the scheduler.
  An ``acall`` is one object: its :class:`From` record is the message, the awaitable and the timeout entry;
  ``reply`` resumes the caller and ``_turn`` drives the woken handler inline.
- Plain Python outside the scheduler uses ``node.call`` / ``node.send`` / ``node.run_until_idle``: ``call`` runs
  the scheduler until the reply, the target's death (``NoProc``) or the timeout (``CallTimeout``).
- ``run_in`` queues a marker in the mailbox; the turn that reaches it runs the function between the two
  messages around it (the only per-message check, taken on a separate slow path only while such a marker
  or telemetry is active).

The node's behaviour is split by concern: this module holds processes, names, messages, calls and the
scheduler loop; :mod:`.turns` one process's turn; :mod:`.calls` call/acall/reply/run_in; :mod:`.signals` links, monitors and exit signals; :mod:`.timers` timers; :mod:`.aio` async
handlers and the asyncio bridge (``run_async``). :class:`Node` combines them.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypedDict, Unpack

from . import telemetry as _tm
from .aio import AsyncMixin
from .bulk import bulk_gc
from .calls import _CHECK_EVERY, CallsMixin
from .errors import BadArg, InvalidSpec, NameTaken, NoProc, NotInProcess, check_seconds
from .mailbox import POLICIES, BoundedMailbox
from .process import KILL, NO_MAIL, Actor, Pid
from .signals import SignalsMixin
from .timers import TimersMixin
from .turns import TurnsMixin

__all__ = ["TURN_MESSAGES", "Node", "SpawnOptions", "current_node"]

TURN_MESSAGES = 512  # default bound of a turn (messages): see Node

_node_ids = itertools.count(1)
_MAX_SLEEP_NS = 3_600 * 1_000_000_000  # longest single sleep of an idle node (then it re-checks its timers)
_current_node: Node | None = None
_new = object.__new__


class SpawnOptions(TypedDict, total=False):
    """Keyword options of :meth:`Node.spawn` besides ``link`` (all optional; meanings there)."""

    monitor: bool
    name: str | None
    trap_exit: bool
    mailbox_capacity: int | None
    mailbox_policy: str
    block_timeout: float


def current_node() -> Node:
    """The node whose scheduler is running, else the most recently created node."""
    if _current_node is None:
        raise NotInProcess("no Node has been created")
    return _current_node


class Node(TurnsMixin, CallsMixin, SignalsMixin, TimersMixin, AsyncMixin):
    """A scheduler and its processes. Not thread-safe: use it from one thread (and its asyncio loop).

    All timeouts and delays are in seconds (float); internal clocks are monotonic nanoseconds.
    ``turn_messages`` bounds a scheduler turn: at most that many messages of one process, then the next
    runnable process (an int >= 1, ``BadArg`` otherwise). Lower is fairer (deadlines and timers are late
    by at most one such turn of the slowest handler), higher amortises the per-turn cost over more messages.
    """

    def __init__(self, *, turn_messages: int = TURN_MESSAGES) -> None:
        global _current_node
        if isinstance(turn_messages, bool) or not isinstance(turn_messages, int) or turn_messages < 1:
            raise BadArg(f"turn_messages must be an int >= 1, got {turn_messages!r}")
        self.turn_messages = turn_messages
        self.node_id = next(_node_ids)
        self._procs: dict[int, Pid] = {}
        self._names: dict[str, Pid] = {}
        self._runq: deque[Pid] = deque()
        self._timers: list[tuple[int, int, Any]] = []
        self._timer_seq = itertools.count()
        self._timers_cancelled = 0
        self._unstamped = False  # wait-queue entries with deadline 0 exist (see .timers)
        self._waits: dict[int, Any] = {}  # acall/wait timeouts: delay ns -> FIFO queue (see .timers)
        self._ids = itertools.count(1)
        self._refs = itertools.count(1)
        self._current: Pid | None = None
        self._batch_it: Any = iter(
            ()
        )  # iterator over the batch _batch_owner is handling (its unhandled rest)
        self._batch_owner: Pid | None = None
        self._monitor_refs: dict[int, tuple[Pid, Pid]] = {}  # ref -> (watcher, target)
        self._watching: dict[Pid, set[int]] = {}  # watcher -> refs of its live monitors
        self._sysreq: dict[Pid, int] = {}  # pid -> run_in markers queued in its mailbox
        self._out = 0  # messages sent in the current turn (counted only while telemetry is on)
        self._dying: deque[tuple[Pid, Any]] = deque()
        self._reaping = False
        self._sleeping = False
        self._wake_fut: Any = None
        self._stop_flag = False
        # what the node lost, counted (Erlang drops these silently): see info() and the telemetry "lost"/"dropped"
        self.lost_on_exit = 0  # messages in a process's mailbox (or unhandled batch) when it exited
        self.sent_to_dead = 0  # messages (sends, timer messages) addressed to a dead or unknown process
        self.dropped_full = 0  # messages discarded by full drop_newest mailboxes
        _current_node = self

    # ------------------------------------------------------------------ processes
    def spawn(
        self, target: Actor | Callable[[Any], Any], *, link: bool = False, **opts: Unpack[SpawnOptions]
    ) -> Pid:
        """Start a process whose handler is ``target.receive`` (an :class:`Actor`) or ``target`` (a callable).

        ``link`` links it to the calling process. Other options (keywords, :class:`SpawnOptions`; an unknown
        one raises ``TypeError``): ``monitor`` is not returned here (use :meth:`monitor`);
        ``name`` registers it; ``trap_exit``;
        ``mailbox_capacity`` bounds the mailbox with ``mailbox_policy``: ``"raise"`` (:class:`MailboxFull`),
        ``"drop_newest"`` (discard and count in ``mailbox.dropped``) or ``"block"`` (a sender outside the
        scheduler runs it until there is room or ``block_timeout`` s pass, then ``MailboxFull``; a sender
        inside a handler cannot block a single-threaded scheduler and gets ``MailboxFull`` at once).
        ``block_timeout`` must be a finite number of seconds >= 0 (``BadArg``; default 5).
        An invalid ``name`` (taken, not a str) or option raises before any process is created.

        Cost: an idle process is one GC-tracked object (its :class:`Pid`) besides the actor: the mailbox
        list is created by the first message, an Actor's bound ``receive`` by its first turn. The options
        other than ``link`` are read only when some are given (a keyword-only default costs a dict lookup
        per call, ~100 ns for seven).
        """
        trap_exit = False
        name = mailbox_capacity = None
        mailbox_policy, block_timeout = "raise", 5.0
        if opts:
            v: Any
            for k, v in opts.items():  # one pass, no lookup per option left out
                if k == "trap_exit":
                    trap_exit = v
                elif k == "name":
                    name = v
                elif k == "mailbox_capacity":
                    mailbox_capacity = v
                elif k == "mailbox_policy":
                    mailbox_policy = v
                elif k == "block_timeout":
                    block_timeout = v
                elif k != "monitor":
                    raise TypeError(f"spawn() got an unexpected keyword argument {k!r}")
        handler: Callable[[Any], Any] | None
        if isinstance(target, Actor):
            handler = (
                None  # bound from target.receive at its first turn: an idle process holds no bound method
            )
        elif callable(target):
            handler = target
        else:
            raise BadArg(f"spawn target must be an Actor or a callable, got {target!r}")
        mbox: Any
        if mailbox_capacity is None:
            mbox = (
                NO_MAIL  # no list until the first message: an idle process costs one GC-tracked object less
            )
        else:
            if mailbox_policy not in POLICIES:
                raise InvalidSpec("mailbox_policy", mailbox_policy, f"one of {sorted(POLICIES)}")
            if not isinstance(mailbox_capacity, int) or mailbox_capacity < 1:
                raise InvalidSpec("mailbox_capacity", mailbox_capacity, "a positive int")
            check_seconds(block_timeout, "block_timeout")
            mbox = BoundedMailbox(self, mailbox_capacity, mailbox_policy, block_timeout)
        if name is not None:
            self._check_name(name)
        # Pid.__init__ inlined (the spawn hot path): saves the constructor call
        p = _new(Pid)
        p.id = pid_id = next(self._ids)
        p.node = self
        p.mbox = mbox
        p.handler = handler
        p.actor = target
        p.scheduled = False
        p.links = None
        p.monitors = None
        p.trap = True if trap_exit else False
        p.name = None
        p.coro = None
        p.wait = None
        p.resume = None
        p.rest = None
        p.exit_reason = None
        self._procs[pid_id] = p
        if handler is None:
            target.pid = p  # type: ignore[union-attr]
            target.node = self  # type: ignore[union-attr]
        if mailbox_capacity is not None:
            mbox.owner = p
        if name is not None:
            self._names[name] = p
            p.name = name
        if link:
            self.link(p)
        if _tm.enabled:
            _tm.emit("spawn", 1, {"pid": pid_id})
        return p

    def bulk_spawn(self, *, freeze: bool = False) -> AbstractContextManager[None]:
        """Scope for creating many long-lived processes at once (a start-up): ``with node.bulk_spawn(): ...``.

        CPython's cyclic GC rescans the growing heap O(log N) times while N processes that stay alive are
        created (each is two tracked objects, its Pid and its actor): for a million spawns that costs about
        three times the spawns themselves. Inside the scope the generation-0 threshold is 100 000 instead
        of 700 (the GC still runs); on exit it is restored. ``freeze=True`` also pauses the GC in the scope
        and calls ``gc.freeze()`` on exit, so no later collection rescans the objects alive then -- no later
        full-collection pause proportional to the number of processes -- but the cyclic GC does not reclaim
        them until ``gc.unfreeze()`` (a Pid and its actor refer to each other: a frozen process that exits
        stays in memory until then). Use it for processes that live as long as the node.

        The setting is process-wide, as the GC is (see :mod:`cns.runtime.bulk`); the runtime's semantics do
        not change. Spawning, sending, running the scheduler inside the scope all work as outside it.
        """
        return bulk_gc(freeze)

    def spawn_link(self, target: Actor | Callable[[Any], Any], **opts: Any) -> Pid:
        """``spawn(target, link=True, ...)``: the new process is linked to the calling process."""
        return self.spawn(target, link=True, **opts)

    def _spawn_init(self, actor: Actor, init: Callable[[], Any], **opts: Any) -> tuple[Pid, Any]:
        """Spawn ``actor`` and run ``init()`` at once inside it (synchronous start, as OTP's start_link).

        With ``link=True`` the link to the caller exists before ``init`` runs, as with OTP's ``spawn_link``.
        The process's mailbox is a list (or its bounded mailbox) when this returns."""
        p = self.spawn(actor, **opts)
        if p.mbox is NO_MAIL:  # a real list from the start: a behaviour may queue a first message
            p.mbox = []  # in front of everything (GenStatem's boot step) with list.insert
        prev, self._current = self._current, p
        try:
            return p, init()
        finally:
            self._current = prev
            if _tm.enabled and self._out:
                self._flush_out(p)

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
    def _check_name(self, name: Any) -> None:
        if not isinstance(name, str) or not name:
            raise BadArg(f"register: name must be a non-empty str, got {name!r}")
        if name in self._names:
            raise NameTaken(f"register: name {name!r} already taken by {self._names[name]!r}")

    def register(self, name: str, pid: Pid) -> None:
        """Give a live process a unique name usable wherever a pid is (``send``, ``call``, ``exit``)."""
        self._check_name(name)
        if pid.mbox is None:
            raise NoProc(pid)
        if pid.name is not None:
            raise NameTaken(f"register: {pid!r} already registered as {pid.name!r}")
        self._names[name] = pid
        pid.name = name

    def unregister(self, name: str) -> None:
        """Remove the name ``name`` (the process keeps running); ``BadArg`` if it is not registered."""
        p = self._names.pop(name, None)
        if p is None:
            raise BadArg(f"unregister: name {name!r} is not registered")
        p.name = None

    def whereis(self, name: str) -> Pid | None:
        """The live process registered as ``name``, or None."""
        return self._names.get(name)

    def _resolve(self, dest: Any) -> Pid:
        if dest.__class__ is Pid:
            return dest  # type: ignore[no-any-return, unused-ignore]
        if isinstance(dest, str):
            p = self._names.get(dest)
            if p is None:
                raise NoProc(dest)
            return p
        raise BadArg(f"not a pid or registered name: {dest!r}")

    # ------------------------------------------------------------------ messages
    def send(self, dest: Pid | str, msg: Any) -> None:
        """Append ``msg`` to ``dest``'s mailbox (by reference, no copy). Never blocks unless ``dest`` has a
        full bounded mailbox (see :meth:`spawn`). Sending to a dead pid drops the message, as in Erlang, and
        counts it (``info()["sent_to_dead"]``, telemetry ``lost``); to an unknown name raises :class:`NoProc`."""
        try:
            dest.mbox.append(msg)  # type: ignore[union-attr]
        except AttributeError:  # a name, a dead pid (None) or a process's first message (NO_MAIL): rare
            if not self._send_other(dest, msg):
                raise  # raised by a bounded mailbox itself: not a routing case
            return
        if not dest.scheduled:  # type: ignore[union-attr]
            dest.scheduled = True  # type: ignore[union-attr]
            self._runq.append(dest)  # type: ignore[arg-type]
            if self._sleeping:
                self._wakeup()

    def _send_other(self, dest: Any, msg: Any) -> bool:
        """The cases ``send`` routes through an exception, so that its common case tests nothing: ``dest`` is
        a registered name, a dead pid, or a live pid whose mailbox does not exist yet. False: none of these
        (the AttributeError came from elsewhere and must propagate)."""
        if dest.__class__ is not Pid:
            Node._send_plain(self, self._resolve(dest), msg)  # plain: a counting send has counted it already
            return True
        mb = dest.mbox
        if mb is None:
            self._lost_to_dead(dest)
            return True
        if mb is not NO_MAIL:
            return False
        dest.mbox = [msg]  # the first message of the process: its mailbox is created now
        if not dest.scheduled:
            dest.scheduled = True
            self._runq.append(dest)
            if self._sleeping:
                self._wakeup()
        return True

    _send_plain = send

    def _send_counted(self, dest: Pid | str, msg: Any) -> None:
        """``send`` while telemetry is on: counts ``messages_out`` (see :mod:`cns.runtime.telemetry`)."""
        Node._send_plain(self, dest, msg)
        if self._current is None:
            _tm.emit("messages_out", 1, {"pid": -1})
        else:
            self._out += 1

    def _flush_out(self, p: Pid) -> None:
        n, self._out = self._out, 0
        _tm.emit("messages_out", n, {"pid": p.id})

    def _deliver(self, p: Pid, msg: Any) -> None:
        """System delivery (EXIT/DOWN, timer messages): bypasses mailbox bounds. ``p`` is alive."""
        mb = p.mbox
        if mb is NO_MAIL:
            mb = p.mbox = []
        list.append(mb, msg)
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

    def _run(self, until: Any, deadline: int | None, sleep: bool) -> bool:
        """Run turns until ``until.done`` (True), or the deadline / idleness (False).

        ``until`` is None (run until idle, the deadline or :meth:`stop`) or a waiter with ``done`` and
        ``target`` (a :class:`From` of a call or ``run_in``, a blocked sender's wait for room): False as
        soon as ``target`` is dead. Only a plain run honours :meth:`stop`: a call or a blocked send waits
        for its own outcome. The clock is read -- deadline checked, due timers fired -- every
        ``_CHECK_EVERY`` messages handled and after every preempted turn, however busy the node is; with
        turns bounded to ``turn_messages`` messages, a deadline or timer is late by at most about one
        bounded turn of the slowest handler.
        """
        runq = self._runq
        popleft = runq.popleft
        turn = self._turn
        timers = self._timers
        waits = self._waits
        try:
            while True:
                if timers or waits:
                    self._fire_timers(time.monotonic_ns())
                n = _CHECK_EVERY
                if until is None:
                    while runq and n > 0:
                        n -= turn(popleft())
                else:
                    while runq and n > 0:
                        n -= turn(popleft())
                        if until.done:
                            return True
                    if until.done:
                        return True
                    if until.target.mbox is None:
                        return False
                if until is None and self._stop_flag:
                    return False
                if runq:
                    if deadline is not None and time.monotonic_ns() >= deadline:
                        return False
                    continue
                # idle
                if not sleep:
                    return False
                nxt = self._next_deadline()  # cancelled timers (finished calls' timeouts) are not waited for
                if nxt is None:
                    return False
                now = time.monotonic_ns()
                if deadline is not None and now >= deadline:
                    return False
                wake_at = nxt if deadline is None else min(nxt, deadline)
                if wake_at > now:
                    time.sleep(min(wake_at - now, _MAX_SLEEP_NS) / 1e9)  # far deadlines: sleep in chunks
        finally:
            if self._unstamped:  # calls and waits queued since the last clock read: their timeouts start now
                self._stamp_waits(time.monotonic_ns())

    def run_until_idle(self) -> None:
        """Run every runnable process (and due timers) until nothing is runnable (or :meth:`stop`); never
        sleeps. A process that keeps itself runnable (sends itself a message per message) keeps it running:
        use :meth:`run` with a timeout for such a node."""
        if self._current is not None:
            raise NotInProcess("run_until_idle from inside a handler")
        self._stop_flag = False  # a stop() requested while nothing ran is not for this run
        self._run(None, None, False)

    def run(self, timeout: float | None = None) -> None:
        """Run until nothing is runnable and no timer is pending (sleeping for timers), or ``timeout`` s.

        ``timeout`` is None (no limit) or a finite number of seconds >= 0 (``BadArg`` otherwise); it is
        checked at least every ``_CHECK_EVERY`` turns, so a busy node returns close to it.
        """
        if self._current is not None:
            raise NotInProcess("run from inside a handler")
        deadline = None if timeout is None else time.monotonic_ns() + int(check_seconds(timeout) * 1e9)
        self._stop_flag = False
        self._run(None, deadline, True)

    def stop(self) -> None:
        """Make a running :meth:`run` / :meth:`run_async` return after the current turn."""
        self._stop_flag = True
        if self._sleeping:
            self._wakeup()

    def shutdown(self, reason: Any = KILL) -> None:
        """Kill every live process (default untrappable ``kill``) -- for tests and process exit."""
        for p in list(self._procs.values()):
            self._signal(p, p, reason, False, external=True)

    def info(self) -> dict[str, Any]:
        """Counts for diagnostics: live processes, runnable, names, active timers, and what was lost since the
        node started (message counts): ``lost_on_exit`` (left in the mailbox or unhandled batch of a process
        when it exited), ``sent_to_dead`` (sends and timer messages to a dead or unknown process),
        ``dropped_full`` (discarded by full ``drop_newest`` mailboxes)."""
        return {
            "processes": len(self._procs),
            "runnable": len(self._runq),
            "names": len(self._names),
            "timers": sum(1 for _, _, t in self._timers if t.active)
            + sum(1 for q in self._waits.values() for t in q if not t.done),
            "lost_on_exit": self.lost_on_exit,
            "sent_to_dead": self.sent_to_dead,
            "dropped_full": self.dropped_full,
        }


def _sync_send() -> None:
    """Telemetry toggle hook: a counting ``send`` while telemetry is on, the plain one otherwise."""
    Node.send = Node._send_counted if _tm.enabled else Node._send_plain  # type: ignore[method-assign]


_tm._on_toggle.append(_sync_send)
_sync_send()
