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
If the supervisor gives up (restart intensity exceeded), the router exits with it and calls fail NoProc.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from cns.otp.gen_server import Cast, GenServer, stop
from cns.otp.supervisor import ChildSpec, Supervisor, SupFlags
from cns.runtime import Actor, BadArg, Down, From, Node, NoProc, Pid

__all__ = ["STRATEGIES", "Pool", "PoolStats", "PoolWorker", "start_pool"]

STRATEGIES = ("round_robin", "least_loaded")


class PoolWorker(GenServer):
    """Base class of pool workers: a GenServer that counts the messages it starts (``started``).

    Override ``handle_call``/``handle_cast``/``handle_info`` as usual. Address workers only through the
    pool, so the router's loss accounting (forwarded - started) stays exact.
    """

    started: int = 0

    def receive(self, msg: Any) -> Any:
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
    """Forwards messages to live workers; tracks incarnations to account for losses."""

    def __init__(self, size: int, least_loaded: bool) -> None:
        self.slots: list[_Incarnation | None] = [None] * size
        self.live: list[_Incarnation] = []
        self.by_pid: dict[int, _Incarnation] = {}
        self.least_loaded = least_loaded
        self.rr = 0
        self.parked: deque[Any] = deque()
        self.forwarded = self.lost = self.lost_calls = self.crashed = self.ups = 0

    def receive(self, msg: Any) -> None:
        cls = msg.__class__
        if cls is From and msg.request.__class__ is _Ctl:
            self.node.reply(msg, self._control(msg.request))
        elif cls is _Up:
            self._up(msg)
        elif cls is Down:
            self._down(msg)
        else:
            self._forward(msg)

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
                forwarded=self.forwarded, lost=self.lost, lost_calls=self.lost_calls, crashed=self.crashed,
                restarts=max(0, self.ups - len(self.slots)),
                parked=len(self.parked), live_workers=len(self.live),
                per_worker=tuple(s.forwarded if s is not None else 0 for s in self.slots),
            )
        if ctl.op == "workers":
            return [s.pid if s is not None else None for s in self.slots]
        if ctl.op == "attach":
            self.node.link(ctl.arg)
            return None
        raise BadArg(f"pool router: unknown control {ctl.op!r}")


@dataclass(frozen=True, slots=True)
class Pool:
    """Handle of a running pool (from :func:`start_pool`); methods are for plain Python callers."""

    node: Node
    router: Pid
    supervisor: Pid
    size: int
    strategy: str

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
        """Stop the supervisor (workers shut down per their spec, then the router exits with it)."""
        if self.supervisor.is_alive:
            stop(self.node, self.supervisor, "shutdown", timeout)
        self.node.exit(self.router, "kill")  # normally already gone with its linked supervisor
        self.node.run_until_idle()


def start_pool(node: Node, worker: type[PoolWorker], size: int, *, args: tuple[Any, ...] = (),
               strategy: str = "round_robin", intensity: int = 10, period: float = 5.0,
               shutdown: float | str = 5.0) -> Pool:
    """Start ``size`` supervised ``worker(*args)`` processes behind a router; returns the :class:`Pool`.

    ``strategy``: ``"round_robin"`` or ``"least_loaded"``; ``intensity``/``period``: the supervisor's
    restart limit (more than ``intensity`` restarts in ``period`` s ends the pool). Plain Python only.
    """
    if not (isinstance(worker, type) and issubclass(worker, PoolWorker)):
        raise BadArg(f"start_pool: worker must be a PoolWorker subclass, got {worker!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise BadArg(f"start_pool: size must be an int >= 1, got {size!r}")
    if strategy not in STRATEGIES:
        raise BadArg(f"start_pool: strategy must be one of {STRATEGIES}, got {strategy!r}")
    router = node.spawn(_Router(size, strategy == "least_loaded"))

    def start_worker(n: Node, slot: int) -> Pid | None:
        pid = worker.start_link(n, *args)
        if pid is not None:
            n.send(router, _Up(slot, pid))
        return pid

    specs = [ChildSpec(f"{worker.__name__}#{i}", lambda n, i=i: start_worker(n, i), shutdown=shutdown)
             for i in range(size)]
    sup = Supervisor.start(node, SupFlags("one_for_one", intensity=intensity, period=period), specs)
    if sup is None:  # pragma: no cover - Supervisor.init never returns IGNORE
        raise BadArg("start_pool: supervisor ignored its start")
    node.call(router, _Ctl("attach", sup))
    return Pool(node, router, sup, size, strategy)
