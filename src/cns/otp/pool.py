"""Worker pools: N supervised workers behind a router process.

:func:`start_pool` starts a *router* process and a :class:`~cns.otp.Supervisor` (``one_for_one``) with
``size`` workers, subclasses of :class:`PoolWorker` (a :class:`~cns.otp.GenServer`). Senders address the
pool, never a worker: :meth:`Pool.cast`, :meth:`Pool.send`, :meth:`Pool.call`. The router forwards each
message to one live worker:

* ``"round_robin"``: live workers in turn;
* ``"least_loaded"``: the live worker with the fewest messages in its mailbox (ties: round robin).

Restarts are invisible to senders: when a worker dies the router stops routing to it at once -- a dead
incarnation is never picked, even before its ``Down`` reaches the router (the router checks liveness at
each pick, so messages queued in the router ahead of the ``Down`` go to live workers) -- and the
supervisor's restart hands the new worker to the router. The only messages lost are those the dead
worker had been given but not started — its mailbox, including the rest of the batch it was handling.
The router counts them exactly (messages forwarded to that worker minus messages it started) in
:attr:`PoolStats.lost`, and pending *calls* among them fail at once with :class:`~cns.runtime.NoProc`
instead of waiting for their timeout; :attr:`PoolStats.lost_calls` counts every one of them, whether the
runtime failed it with the dead mailbox or the router failed it (the call being handled when the worker
died). A worker's death counts in ``crashed``.
While no worker is alive, messages wait in the router (``PoolStats.parked``) and go to the next worker up.
If the supervisor gives up (restart intensity exceeded), the router exits with it (reason ``shutdown``) and
calls fail NoProc; messages parked in the router are lost with it, counted in the node's
``info()["lost_on_exit"]``.

A pool is one process to the outside -- its router: the router starts the workers' supervisor *linked to
itself* (the router is that supervisor's parent) and traps exits. So a pool can be a child of any
:class:`~cns.otp.Supervisor` (:func:`pool_child_spec`, or :func:`start_pool_link` in a start function):

* the pool's failure is the router's exit: when the workers' supervisor gives up, the router exits with its
  reason (``shutdown``), which the parent sees like any child's exit -- a permanent pool is restarted,
  and counts toward the parent's intensity, so repeated pool failures escalate;
* the parent's shutdown order (an exit signal from the parent, or from plain Python to the router itself)
  makes the router stop the workers' supervisor -- workers shut down per their ``shutdown`` spec -- wait
  for it, then exit with the order's reason; ``kill`` kills the router at once and the workers'
  supervisor, seeing its parent's exit, stops the workers itself;
* a restarted pool is a new router (and supervisor, and workers): address a supervised pool by its
  registered ``name`` (:meth:`Pool.of`), which the new router takes over.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from cns.otp.gen_server import Cast, GenServer
from cns.otp.supervisor import ChildSpec, Supervisor, SupFlags
from cns.runtime import SHUTDOWN, Actor, BadArg, Down, Exit, From, InitFailed, Node, NoProc, Pid, Stop

__all__ = [
    "STRATEGIES",
    "Pool",
    "PoolStats",
    "PoolWorker",
    "pool_child_spec",
    "start_pool",
    "start_pool_link",
]

STRATEGIES = ("round_robin", "least_loaded")


class PoolWorker(GenServer):
    """Base class of pool workers: a GenServer that counts the messages it starts (``started``).

    Override ``handle_call``/``handle_cast``/``handle_info`` as usual. Address workers only through the
    pool, so the router's loss accounting (forwarded - started) stays exact.
    """

    started: int = 0

    def receive(self, msg: Any) -> Any:
        """Count the message in ``started``, then dispatch it as :meth:`GenServer.receive` does."""
        self.started += 1
        return GenServer.receive(self, msg)


@dataclass(frozen=True, slots=True)
class PoolStats:
    """Router counters since the pool started (message counts)."""

    forwarded: int  # messages handed to workers
    lost: int  # handed to a worker that died before starting them
    lost_calls: int  # calls that failed with NoProc because their worker died (queued, or being handled)
    crashed: int  # worker deaths (abnormal or not)
    restarts: int  # workers brought up after the initial ones
    parked: int  # messages waiting in the router for a live worker
    live_workers: int
    per_worker: tuple[int, ...]  # messages forwarded to each slot's current incarnation


class _Up:
    __slots__ = ("pid", "slot")

    def __init__(self, slot: int, pid: Pid) -> None:
        self.slot = slot
        self.pid = pid


class _Ctl:
    __slots__ = ("arg", "op")

    def __init__(self, op: str, arg: Any = None) -> None:
        self.op = op
        self.arg = arg


class _Incarnation:
    __slots__ = ("calls", "forwarded", "pid", "slot")

    def __init__(self, slot: int, pid: Pid) -> None:
        self.slot = slot
        self.pid = pid
        self.forwarded = 0
        self.calls: deque[From] = deque()  # forwarded calls, oldest first (answered ones pruned lazily)


class _Router(Actor):
    """Forwards messages to live workers; tracks incarnations to account for losses. Traps exits: it is the
    pool's face to a parent supervisor (see the module doc)."""

    def __init__(self, size: int, least_loaded: bool, parent: Pid | None) -> None:
        self.slots: list[_Incarnation | None] = [None] * size
        self.live: list[_Incarnation] = []
        self.by_pid: dict[int, _Incarnation] = {}
        self.least_loaded = least_loaded
        self.rr = 0
        self.parked: deque[Any] = deque()
        self.forwarded = self.lost = self.lost_calls = self.crashed = self.ups = 0
        self.parent = parent  # the process that started the pool linked (a supervisor), or None
        self.sup: Pid | None = None  # the workers' supervisor, linked, started by the router

    def receive(self, msg: Any) -> Any:
        cls = msg.__class__
        if cls is From and msg.request.__class__ is _Ctl:
            if msg.request.op == "stop":
                return self._stop(msg.request.arg, msg)
            self.node.reply(msg, self._control(msg.request))
        elif cls is _Up:
            self._up(msg)
        elif cls is Down:
            self._down(msg)
        elif cls is Exit:
            return self._exit_signal(msg)
        else:
            self._forward(msg)
        return None

    def _exit_signal(self, msg: Exit) -> Any:
        """A trapped exit signal: the workers' supervisor died (the pool fails with its reason), or a
        shutdown order from the parent (or from plain Python to the router itself)."""
        if msg.pid is self.sup:
            self._exit(msg.reason)
        if msg.pid is self.parent or msg.pid is self.pid:
            return self._stop(msg.reason, None)
        if not (msg.reason.__class__ is str and msg.reason == "normal"):
            self._exit(msg.reason)  # another linked process failed: as a non-trapping process would
        return None

    async def _stop(self, reason: Any, from_: From | None) -> None:
        """Stop the workers' supervisor (it shuts the workers down per their spec), wait for it, answer
        ``from_`` (a ``Pool.stop``), then exit with ``reason``."""
        sup = self.sup
        if sup is not None and sup.is_alive:
            ref = self.node.monitor(sup)
            self.node.exit(sup, SHUTDOWN)  # from its parent: an orderly shutdown
            await self.node.wait_down(ref)
        if from_ is not None:
            self.node.reply(from_, "ok")
        self._exit(reason)

    def _exit(self, reason: Any) -> None:
        """Exit with ``reason``; the messages parked here are lost with the router: counted, calls failed."""
        if self.parked:
            self.node.lost_on_exit += len(self.parked)
            for m in self.parked:
                if m.__class__ is From:
                    self.node._fail_call(m, NoProc(self.pid, reason))
            self.parked.clear()
        raise Stop(reason)

    def _pick(self) -> _Incarnation | None:
        """The live worker for the next message (None if there is none). A worker found dead is retired
        at once (:meth:`_retire`), so no message is ever routed to a dead incarnation -- least-loaded
        would otherwise prefer it: a dead mailbox is always empty."""
        live = self.live
        while live:
            n = len(live)
            self.rr = i = (self.rr + 1) % n
            inc = live[i]
            if not inc.pid.is_alive:
                self._retire(inc, inc.pid.exit_reason)
                continue
            if not self.least_loaded:
                return inc
            best, depth = inc, inc.pid.mailbox_size
            dead: list[_Incarnation] = []
            for k in range(1, n) if depth else ():
                c = live[(i + k) % n]
                if not c.pid.is_alive:
                    dead.append(c)
                    continue
                d = c.pid.mailbox_size
                if d < depth:
                    best, depth = c, d
                    if not d:
                        break
            for c in dead:
                self._retire(c, c.pid.exit_reason)
            return best
        return None

    def _forward(self, msg: Any) -> None:
        inc = self._pick()
        if inc is None:  # no live worker: wait in the router for the next one up
            self.parked.append(msg)
            return
        inc.forwarded += 1
        self.forwarded += 1
        if msg.__class__ is From:
            calls = inc.calls
            while calls and calls[0].done:
                calls.popleft()
            calls.append(msg)
        self.node.send(inc.pid, msg)

    def _up(self, msg: _Up) -> None:
        if not msg.pid.is_alive:
            return  # died before we heard of it; the supervisor will report the next one
        inc = _Incarnation(msg.slot, msg.pid)
        self.ups += 1
        self.slots[msg.slot] = inc
        self.by_pid[msg.pid.id] = inc
        self.live.append(inc)
        self.node.monitor(msg.pid)
        parked, self.parked = self.parked, deque()
        for m in parked:
            self._forward(m)

    def _down(self, msg: Down) -> None:
        pid = msg.pid
        inc = self.by_pid.get(pid.id) if isinstance(pid, Pid) else None
        if inc is not None:  # else already retired by a pick that found it dead
            self._retire(inc, msg.reason)

    def _retire(self, inc: _Incarnation, reason: Any) -> None:
        """Account for a dead worker (once): stop routing to it, count what it lost, fail its calls."""
        pid = inc.pid
        del self.by_pid[pid.id]
        self.crashed += 1
        if self.slots[inc.slot] is inc:
            self.slots[inc.slot] = None
        self.live.remove(inc)
        started = getattr(pid.actor, "started", 0)
        self.lost += max(0, inc.forwarded - started)
        for call in inc.calls:
            if not call.done:  # e.g. the call it was handling when it died
                self.lost_calls += 1
                self.node._fail_call(call, NoProc(pid, reason))  # no public "fail this call" hook yet
            elif call.error.__class__ is NoProc and call.error.target is pid:  # failed by the dead mailbox
                self.lost_calls += 1

    def _control(self, ctl: _Ctl) -> Any:
        if ctl.op == "stats":
            return PoolStats(
                forwarded=self.forwarded,
                lost=self.lost,
                lost_calls=self.lost_calls,
                crashed=self.crashed,
                restarts=max(0, self.ups - len(self.slots)),
                parked=len(self.parked),
                live_workers=len(self.live),
                per_worker=tuple(s.forwarded if s is not None else 0 for s in self.slots),
            )
        if ctl.op == "workers":
            return [s.pid if s is not None else None for s in self.slots]
        if ctl.op == "info":
            return (len(self.slots), "least_loaded" if self.least_loaded else "round_robin", self.sup)
        raise BadArg(f"pool router: unknown control {ctl.op!r}")


@dataclass(frozen=True, slots=True)
class Pool:
    """Handle of a running pool (from :func:`start_pool` or :meth:`Pool.of`); methods are for plain Python
    callers. ``router`` is the pool's pid or registered name (a name follows a supervised pool across its
    restarts); ``supervisor`` is the workers' supervisor when the handle was made."""

    node: Node
    router: Pid | str
    supervisor: Pid | None
    size: int
    strategy: str

    @classmethod
    def of(cls, node: Node, router: Pid | str, timeout: float = 5.0) -> Pool:
        """A handle to a running pool, by its router's pid or registered name (e.g. a pool started by
        :func:`pool_child_spec` under a supervisor). Raises :class:`NoProc` if there is no such pool."""
        size, strategy, sup = node.call(router, _Ctl("info"), timeout)
        return cls(node, router, sup, size, strategy)

    def cast(self, msg: Any) -> None:
        """Fire-and-forget work: one worker's ``handle_cast(msg)``."""
        self.node.send(self.router, Cast(msg))

    def send(self, msg: Any) -> None:
        """A plain message: one worker's ``handle_info(msg)``."""
        self.node.send(self.router, msg)

    def call(self, request: Any, timeout: float = 5.0) -> Any:
        """Request/reply with one worker's ``handle_call``; :class:`NoProc` if that worker dies first."""
        return self.node.call(self.router, request, timeout)

    def stats(self) -> PoolStats:
        """The router's counters (runs the scheduler until the router answers)."""
        return self.node.call(self.router, _Ctl("stats"))  # type: ignore[no-any-return]

    def workers(self) -> list[Pid | None]:
        """Current worker pid of each slot (None while a slot restarts)."""
        return self.node.call(self.router, _Ctl("workers"))  # type: ignore[no-any-return]

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the pool: the router stops the workers' supervisor (workers shut down per their spec),
        waits for it and exits ``shutdown``. A pool that is already gone is fine. Under a supervisor, stop
        it through the parent instead (``terminate_child``): a permanent pool stopped here is restarted."""
        try:
            self.node.call(self.router, _Ctl("stop", SHUTDOWN), timeout)
        except NoProc:
            pass
        self.node.run_until_idle()


def _check(fn: str, worker: Any, size: Any, strategy: Any) -> None:
    if not (isinstance(worker, type) and issubclass(worker, PoolWorker)):
        raise BadArg(f"{fn}: worker must be a PoolWorker subclass, got {worker!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise BadArg(f"{fn}: size must be an int >= 1, got {size!r}")
    if strategy not in STRATEGIES:
        raise BadArg(f"{fn}: strategy must be one of {STRATEGIES}, got {strategy!r}")


def _start(
    node: Node,
    worker: type[PoolWorker],
    size: int,
    args: tuple[Any, ...],
    strategy: str,
    intensity: int,
    period: float,
    shutdown: float | str,
    name: str | None,
    link: bool,
) -> _Router:
    """Spawn the router (trapping exits; linked to the caller if ``link``) and, inside it, the workers'
    supervisor linked to the router. Raises ``InitFailed`` (the router gone too) if a worker fails to start."""
    parent = node.current if link else None
    router = _Router(size, strategy == "least_loaded", parent)

    def start_worker(n: Node, slot: int) -> Pid | None:
        pid = worker.start_link(n, *args)
        if pid is not None:
            n.send(router.pid, _Up(slot, pid))
        return pid

    specs = [
        ChildSpec(f"{worker.__name__}#{i}", lambda n, i=i: start_worker(n, i), shutdown=shutdown)
        for i in range(size)
    ]
    flags = SupFlags("one_for_one", intensity=intensity, period=period)

    def init() -> None:  # runs inside the router: the supervisor's parent is the router
        router.sup = Supervisor.start_link(node, flags, specs)

    try:
        node._spawn_init(router, init, link=parent is not None, name=name, trap_exit=True)
    except InitFailed as e:
        if getattr(router, "pid", None) is not None:
            node._kill(router.pid, e.reason)
        raise InitFailed("pool", e.reason) from e
    except Exception as e:
        if getattr(router, "pid", None) is not None:  # else spawn itself refused (name taken, ...)
            node._kill(router.pid, e)
            raise InitFailed("pool", e) from e
        raise
    return router


def start_pool(
    node: Node,
    worker: type[PoolWorker],
    size: int,
    *,
    args: tuple[Any, ...] = (),
    strategy: str = "round_robin",
    intensity: int = 10,
    period: float = 5.0,
    shutdown: float | str = 5.0,
    name: str | None = None,
) -> Pool:
    """Start ``size`` supervised ``worker(*args)`` processes behind a router; returns the :class:`Pool`.

    ``strategy``: ``"round_robin"`` or ``"least_loaded"``; ``intensity``/``period``: the workers'
    supervisor's restart limit (more than ``intensity`` restarts in ``period`` s ends the pool);
    ``shutdown``: each worker's shutdown spec; ``name``: register the router. Plain Python only (inside a
    supervisor use :func:`pool_child_spec`). Raises ``BadArg`` for bad arguments, ``InitFailed`` if a
    worker fails to start.
    """
    _check("start_pool", worker, size, strategy)
    if node.current is not None:
        raise BadArg("start_pool from inside a process: use start_pool_link (or pool_child_spec)")
    router = _start(node, worker, size, args, strategy, intensity, period, shutdown, name, link=False)
    node.call(router.pid, _Ctl("info"))  # returns once the router has taken in its workers (_Up queued first)
    return Pool(node, router.pid, router.sup, size, strategy)


def start_pool_link(
    node: Node,
    worker: type[PoolWorker],
    size: int,
    *,
    args: tuple[Any, ...] = (),
    strategy: str = "round_robin",
    intensity: int = 10,
    period: float = 5.0,
    shutdown: float | str = 5.0,
    name: str | None = None,
) -> Pid:
    """Start a pool linked to the calling process (its parent); returns the router's pid, the pool's one
    process as far as the parent is concerned. For a supervisor's child start function (see
    :func:`pool_child_spec`); from plain Python there is no parent and this is :func:`start_pool` without
    the handle. Arguments as :func:`start_pool`.
    """
    _check("start_pool_link", worker, size, strategy)
    return _start(
        node, worker, size, args, strategy, intensity, period, shutdown, name, link=node.current is not None
    ).pid


def pool_child_spec(
    id: Any,
    worker: type[PoolWorker],
    size: int,
    *,
    name: str | None = None,
    args: tuple[Any, ...] = (),
    strategy: str = "round_robin",
    intensity: int = 10,
    period: float = 5.0,
    worker_shutdown: float | str = 5.0,
    restart: str = "permanent",
    shutdown: float | str = "infinity",
) -> ChildSpec:
    """A :class:`~cns.otp.ChildSpec` that runs a worker pool as one child of a supervisor (type
    ``"supervisor"``).

    ``name`` registers the pool's router, so clients reach it across restarts (``Pool.of(node, name)``);
    ``args``/``strategy``/``intensity``/``period`` as :func:`start_pool`; ``worker_shutdown`` is each
    worker's shutdown spec; ``restart`` and ``shutdown`` are the pool's own, as a child of the parent
    (default ``"infinity"``, as OTP recommends for supervisor children: the pool's shutdown is bounded by
    its workers' specs). Arguments are checked here (``BadArg``), not when the parent starts the child.
    """
    _check("pool_child_spec", worker, size, strategy)
    SupFlags("one_for_one", intensity=intensity, period=period)  # validates now (InvalidChildSpec)

    def start(node: Node) -> Pid:
        return start_pool_link(
            node,
            worker,
            size,
            args=args,
            strategy=strategy,
            intensity=intensity,
            period=period,
            shutdown=worker_shutdown,
            name=name,
        )

    return ChildSpec(id, start, restart=restart, shutdown=shutdown, type="supervisor")
