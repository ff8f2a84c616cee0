"""Supervisor behaviour with OTP's restart strategies, restart types, intensity and shutdown rules.

A supervisor is a :class:`~cns.otp.gen_server.GenServer` that traps exits, starts its children in order
(linked), and on a child's exit applies the child's restart type and the supervisor's strategy. Each rule
below follows OTP's ``supervisor.erl`` (function names cited are OTP's):

- ``one_for_one``: restart the child; ``one_for_all``: stop all others (reverse start order) and restart all
  (in start order); ``rest_for_one``: stop the children started after it, restart it and them in order;
  ``simple_one_for_one``: one template spec, children added with ``start_child(node, sup, args)``.
- ``permanent`` always restarted; ``transient`` only after an abnormal exit (not ``normal``/``shutdown``/
  ``("shutdown", term)``); ``temporary`` never (and forgotten when it exits or is stopped by a restart)
  (``do_restart``).
- Restart intensity (``add_restart``): every restart -- including each retry of a failed one -- is stamped;
  more than ``intensity`` stamps within ``period`` seconds makes the supervisor report
  ``reached_max_restart_intensity``, stop all children in reverse start order and exit ``shutdown``.
- A failed restart (``restart/2``): the child is marked *restarting* (``which_children`` shows
  ``"restarting"``) and the supervisor sends itself a try-again message, so requests queued meanwhile (a
  shutdown, a ``terminate_child``) are served first; the retry counts as a restart. In a multi-child restart
  (``rest_for_one``/``one_for_all``, ``restart_multiple_children``) the retry is for the child that *failed
  to start*, with the strategy applied again from it: ``rest_for_one`` restarts it and the children after
  it; ``one_for_all`` stops every other child again and restarts all.
- A failed start at supervisor start (``init_children``): the children already started are shut down as
  at any other time -- reverse start order, each per its shutdown spec -- then the supervisor exits with
  ``("shutdown", ("failed_to_start_child", id, reason))`` and ``start``/``start_link`` raises ``InitFailed``
  with that reason (OTP's ``{error, {shutdown, ...}}``). Called from plain Python, ``start`` returns (raises)
  only after that shutdown is over; called from inside a process it cannot block, so it raises at once and
  the shutdown completes asynchronously before the supervisor's exit signal reaches the caller.
- Stopping a child (``shutdown/1``): monitor, unlink, exit ``shutdown``, wait up to ``shutdown`` seconds,
  then exit ``kill``; ``"brutal_kill"`` sends ``kill`` at once; ``"infinity"`` waits forever. The default
  is 5 s for a worker and ``"infinity"`` for a supervisor, as OTP. A child that ends with another reason
  than expected (e.g. ``killed`` after the timeout) is reported as a ``shutdown_error``.
- Dynamic children (``terminate_dynamic_children``): at supervisor exit, all of them get the exit signal at
  once, one timer covers the shutdown timeout, then the ones still alive are killed.
- Automatic shutdown (``auto_shutdown``, OTP 24): with ``SupFlags(auto_shutdown="any_significant")`` the
  supervisor exits ``shutdown`` when a ``significant`` (transient or temporary) child ends without being
  restarted; with ``"all_significant"`` when the last such child has ended. ``terminate_child`` never
  triggers it.

Reports (OTP's SASL supervisor reports) go through :mod:`cns.otp.logger`: ``progress`` (info) per started
child; ``start_error``, ``child_terminated``, ``shutdown_error`` and ``shutdown``
(``reached_max_restart_intensity``) at level error. Nothing is built while no handler listens.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..runtime import telemetry as _tm
from ..runtime.errors import ActorError, CallTimeout, InitFailed, InvalidSpec
from ..runtime.node import Node
from ..runtime.process import KILL, KILLED, NORMAL, SHUTDOWN, Exit, Pid, Stop
from . import logger as _log
from .gen_server import NOREPLY, GenServer

__all__ = [
    "RESTARTING",
    "ChildInfo",
    "ChildSpec",
    "InvalidChildSpec",
    "SupFlags",
    "Supervisor",
    "SupervisorError",
    "count_children",
    "delete_child",
    "get_childspec",
    "restart_child",
    "start_child",
    "terminate_child",
    "wait_exit",
    "which_children",
]

STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one")
RESTARTS = ("permanent", "transient", "temporary")
CHILD_TYPES = ("worker", "supervisor")
AUTO_SHUTDOWN = ("never", "any_significant", "all_significant")
RESTARTING = "restarting"  # ChildInfo.pid of a child whose restart failed and will be retried


class InvalidChildSpec(InvalidSpec):
    """A child spec or supervisor flag is invalid: ``InvalidChildSpec("shutdown", -1)``."""


class SupervisorError(ActorError):
    """A supervisor request failed. ``reason`` is OTP's error term: ``"not_found"``, ``"running"``,
    ``"restarting"``, ``"simple_one_for_one"``, ``"already_present"``, ``("already_started", pid)``, or the
    start failure reason."""

    def __init__(self, message: str, reason: Any = None) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start and treat one child.

    ``start(node, *extra)`` runs inside the supervisor and returns the child's pid (or None to ignore), e.g.
    ``lambda node: Worker.start_link(node, 1)``; a ``(BehaviourClass, args_tuple)`` pair is accepted too (any
class with a ``start_link(node, *args)`` classmethod: GenServer, GenStatem, Supervisor). It
    must link the child to the caller (every ``start_link`` does).
    ``shutdown``: seconds (>= 0), ``"brutal_kill"`` or ``"infinity"``; None (default) means 5 s for a worker
    and ``"infinity"`` for a supervisor, as OTP. ``significant`` (auto shutdown) needs a transient or
    temporary child and a supervisor whose ``auto_shutdown`` is not ``"never"``.
    """

    id: Any
    start: Callable[..., Pid | None] | tuple[type, tuple[Any, ...]]
    restart: str = "permanent"
    shutdown: float | str | None = None
    type: str = "worker"
    significant: bool = False

    def __post_init__(self) -> None:
        s = self.start
        if isinstance(s, tuple):
            if (len(s) != 2 or not isinstance(s[0], type) or not callable(getattr(s[0], "start_link", None))
                    or not isinstance(s[1], tuple)):
                raise InvalidChildSpec("start", s, "a callable or (BehaviourClass, args_tuple)")
        elif not callable(s):
            raise InvalidChildSpec("start", s, "a callable or (BehaviourClass, args_tuple)")
        if self.restart not in RESTARTS:
            raise InvalidChildSpec("restart", self.restart, f"one of {RESTARTS}")
        if self.type not in CHILD_TYPES:
            raise InvalidChildSpec("type", self.type, f"one of {CHILD_TYPES}")
        sd = self.shutdown
        if sd is None:
            object.__setattr__(self, "shutdown", 5.0 if self.type == "worker" else "infinity")
        elif isinstance(sd, str):
            if sd not in ("brutal_kill", "infinity"):
                raise InvalidChildSpec("shutdown", sd, "seconds >= 0, 'brutal_kill' or 'infinity'")
        elif isinstance(sd, bool) or not isinstance(sd, (int, float)) or not sd >= 0:
            raise InvalidChildSpec("shutdown", sd, "seconds >= 0, 'brutal_kill' or 'infinity'")
        if not isinstance(self.significant, bool):
            raise InvalidChildSpec("significant", self.significant, "a bool")
        if self.significant and self.restart == "permanent":
            raise InvalidChildSpec("significant", True, "a permanent child cannot be significant")

    def start_child(self, node: Node, *extra: Any) -> Pid | None:
        s = self.start
        if isinstance(s, tuple):
            return s[0].start_link(node, *s[1], *extra)  # type: ignore[attr-defined, no-any-return]
        return s(node, *extra)


@dataclass(frozen=True, slots=True)
class SupFlags:
    """Supervisor flags; OTP defaults: ``one_for_one``, at most 1 restart in 5 s, ``auto_shutdown`` never."""

    strategy: str = "one_for_one"
    intensity: int = 1
    period: float = 5.0
    auto_shutdown: str = "never"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InvalidChildSpec("strategy", self.strategy, f"one of {STRATEGIES}")
        if isinstance(self.intensity, bool) or not isinstance(self.intensity, int) or self.intensity < 0:
            raise InvalidChildSpec("intensity", self.intensity, "an int >= 0")
        if isinstance(self.period, bool) or not isinstance(self.period, (int, float)) or not self.period > 0:
            raise InvalidChildSpec("period", self.period, "seconds > 0")
        if self.auto_shutdown not in AUTO_SHUTDOWN:
            raise InvalidChildSpec("auto_shutdown", self.auto_shutdown, f"one of {AUTO_SHUTDOWN}")


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One row of ``which_children``: ``pid`` is None when the child is not running and
    :data:`RESTARTING` (``"restarting"``) while a failed restart waits for its retry, as OTP."""

    id: Any
    pid: Pid | str | None
    type: str
    restart: str


@dataclass(slots=True, eq=False)
class _Child:
    spec: ChildSpec
    pid: Pid | None = None
    args: tuple[Any, ...] = field(default=())
    dynamic: bool = False  # started from a simple_one_for_one template
    restarting: bool = False  # a restart failed; a _TryAgain is queued

    @property
    def id(self) -> Any:
        return self.pid if self.dynamic else self.spec.id


class _TryAgain:
    """OTP's ``{try_again_restart, Id}`` self-message: retry a failed restart after the queued requests."""

    __slots__ = ("child",)

    def __init__(self, child: _Child) -> None:
        self.child = child


class _Abort:
    """Self-message of a supervisor whose start failed: shut the started children down, then exit."""

    __slots__ = ()


_aborted: dict[Pid, Any] = {}  # supervisor pid -> exit reason, between its init and its start() returning


def _start_error(e: Exception) -> Any:
    """The reason of a failed start: the child's init failure reason, else the start function's exception."""
    return e.reason if isinstance(e, InitFailed) else e


def _is_shutdown_reason(reason: Any) -> bool:
    if reason.__class__ is str:
        return reason in (NORMAL, SHUTDOWN)
    return isinstance(reason, tuple) and len(reason) == 2 and reason[0] == SHUTDOWN


def _shutdown_ok(spec: ChildSpec, reason: Any) -> bool:
    """Whether a child stopped by the supervisor ended as expected (OTP ``shutdown/1``): ``shutdown``
    (``killed`` for brutal_kill); for a non-permanent child also ``normal`` and ``{shutdown, _}``."""
    if reason == (KILLED if spec.shutdown == "brutal_kill" else SHUTDOWN):
        return True
    return spec.restart != "permanent" and _is_shutdown_reason(reason)


class Supervisor(GenServer):
    """Start with ``Supervisor.start_link(node, SupFlags(...), [ChildSpec, ...], name=...)``.

    ``clock`` (monotonic ns) times restarts for the intensity rule; a subclass may replace it (tests).
    """

    clock: Callable[[], int] = staticmethod(time.monotonic_ns)

    @classmethod
    def start(
        cls, node: Node, *args: Any, name: str | None = None, link: bool = False, **spawn_opts: Any
    ) -> Pid | None:
        """As :meth:`GenServer.start`; if a child fails to start, raises ``InitFailed`` with reason
        ``("shutdown", ("failed_to_start_child", id, reason))`` after (plain Python) or while (inside a
        process) the children already started are shut down. The exception's ``pid`` attribute is the
        failed supervisor (alive until that shutdown ends; see :func:`wait_exit`)."""
        pid = super().start(node, *args, name=name, link=link, **spawn_opts)
        reason = _aborted.pop(pid, None) if pid is not None else None
        if reason is None:
            return pid
        if node.current is None:  # plain Python may run the scheduler until the supervisor is gone
            wait_exit(node, pid)  # type: ignore[arg-type]
        err = InitFailed(cls.__name__, reason)
        err.pid = pid  # type: ignore[attr-defined]
        raise err

    def init(self, flags: SupFlags, specs: Sequence[ChildSpec]) -> None:
        if not isinstance(flags, SupFlags):
            raise InvalidChildSpec("flags", flags, "a SupFlags")
        ids = set()
        for s in specs:
            if not isinstance(s, ChildSpec):
                raise InvalidChildSpec("child", s, "a ChildSpec")
            if s.id in ids:
                raise InvalidChildSpec("id", s.id, "duplicate child id")
            ids.add(s.id)
            self._check_significant(flags, s)
        if flags.strategy == "simple_one_for_one" and len(specs) != 1:
            raise InvalidChildSpec("children", len(specs), "simple_one_for_one takes exactly one template spec")
        self.flags = flags
        self.restarts: deque[int] = deque()
        self.children: list[_Child] = []  # static children, in start order
        self.dynamic: dict[_Child, None] = {}  # simple_one_for_one children, in start order
        self.by_pid: dict[Pid, _Child] = {}  # running children
        self.aborting: Any = None
        self.template = specs[0] if flags.strategy == "simple_one_for_one" else None
        self.trap_exit(True)
        if self.template is not None:
            return
        for s in specs:  # OTP start_children: in order; the first failure aborts
            c = _Child(s)
            try:
                c.pid = s.start_child(self.node)
            except Exception as e:  # noqa: BLE001 - any failure to start is a failed start (OTP: catch)
                why = _start_error(e)
                self._report("start_error", why, c)
                self.aborting = (SHUTDOWN, ("failed_to_start_child", s.id, why))
                _aborted[self.pid] = self.aborting
                self.send(self.pid, _Abort())
                return
            if c.pid is None and s.restart == "temporary":
                continue  # an ignored temporary child is forgotten
            self.children.append(c)
            self._adopt(c)

    @staticmethod
    def _check_significant(flags: SupFlags, s: ChildSpec) -> None:
        if s.significant and flags.auto_shutdown == "never":
            raise InvalidChildSpec("significant", True, "needs a supervisor with auto_shutdown other than 'never'")

    # --------------------------------------------------------------- reports (cns.otp.logger)
    def _offender(self, c: _Child, pid: Any = None) -> dict[str, Any]:
        s = c.spec
        return {"pid": c.pid if pid is None else pid, "id": s.id, "start": s.start, "restart_type": s.restart,
                "significant": s.significant, "shutdown": s.shutdown, "child_type": s.type}

    def _report(self, ctx: str, reason: Any, c: _Child, pid: Any = None) -> None:
        if _log.threshold >= _log.ERROR:
            _log.error({"label": ("supervisor", ctx), "supervisor": self.pid, "errorContext": ctx,
                        "reason": reason, "offender": self._offender(c, pid)},
                       domain=("otp", "sasl"), pid=self.pid)

    def _progress(self, c: _Child) -> None:
        if _log.threshold >= _log.INFO:
            _log.info({"label": ("supervisor", "progress"), "supervisor": self.pid,
                       "started": self._offender(c)}, domain=("otp", "sasl"), pid=self.pid)

    # --------------------------------------------------------------- child bookkeeping
    def _adopt(self, c: _Child) -> None:
        """Register a just-started child (``c.pid`` set by its start function, None if it ignored)."""
        c.restarting = False
        if c.pid is not None:
            self.node.link(c.pid)
            self.by_pid[c.pid] = c
            self._progress(c)

    def _find(self, key: Any) -> _Child | None:
        """A child by id (static) or pid (any)."""
        if key.__class__ is Pid:
            c = self.by_pid.get(key)
            if c is not None:
                return c
        if self.template is None:
            for c in self.children:
                if c.spec.id == key:
                    return c
        return None

    def _del_child(self, c: _Child) -> None:
        """OTP ``del_child``: a dynamic or temporary child is forgotten, another keeps its spec, not running."""
        if c.pid is not None:
            self.by_pid.pop(c.pid, None)
            c.pid = None
        c.restarting = False
        if c.dynamic:
            self.dynamic.pop(c, None)
        elif c.spec.restart == "temporary" and c in self.children:
            self.children.remove(c)

    def _start(self, c: _Child) -> bool:
        """Start (again) from the spec; on failure report ``start_error`` and return False."""
        try:
            c.pid = c.spec.start_child(self.node, *c.args)
        except Exception as e:  # noqa: BLE001 - a failed start (init failed or the start function raised)
            c.pid = None
            self._report("start_error", _start_error(e), c)
            return False
        self._adopt(c)
        if _tm.enabled:
            _tm.emit("restart", 1, {"supervisor": self.pid.id, "child": str(c.spec.id)})
        return True

    async def _shutdown(self, c: _Child) -> None:
        """OTP ``do_terminate``/``shutdown/1``: stop one running child per its shutdown spec; ``c.pid`` -> None.

        Monitor and unlink first, so the supervisor waits for the child's ``Down`` only (a child that
        unlinks itself cannot hang it). An unexpected end reason is reported as ``shutdown_error``."""
        pid = c.pid
        if pid is None:
            return
        c.pid = None
        self.by_pid.pop(pid, None)
        if not pid.is_alive:  # it died before we got to it (its Exit is queued and will be ignored)
            if not _shutdown_ok(c.spec, pid.exit_reason):
                self._report("shutdown_error", pid.exit_reason, c, pid)
            return
        node = self.node
        ref = node.monitor(pid)
        node.unlink(pid)
        sd = c.spec.shutdown
        if sd == "brutal_kill":
            node.exit(pid, KILL)
            down = await node.wait_down(ref)
        else:
            node.exit(pid, SHUTDOWN)
            try:
                down = await node.wait_down(ref, None if sd == "infinity" else float(sd))  # type: ignore[arg-type]
            except CallTimeout:  # no more patience
                node.exit(pid, KILL)
                down = await node.wait_down(ref)
        if not _shutdown_ok(c.spec, down.reason):
            self._report("shutdown_error", down.reason, c, pid)

    async def _terminate_children(self, group: Iterable[_Child]) -> list[_Child]:
        """OTP ``terminate_children``: stop ``group`` (given in start order) in reverse start order; return
        the group without its temporary children, every child not running and not restarting."""
        kept = []
        for c in reversed(list(group)):
            await self._shutdown(c)
            c.restarting = False
            if c.spec.restart != "temporary":
                kept.append(c)
        kept.reverse()
        return kept

    async def _terminate_dynamic(self) -> None:
        """OTP ``terminate_dynamic_children``: signal every dynamic child at once, one timer for the
        shutdown timeout, then kill the ones still alive; unexpected end reasons reported per reason."""
        spec = self.template
        assert spec is not None
        node = self.node
        sd = spec.shutdown
        waits: list[tuple[_Child, Pid, int]] = []
        errors: dict[Any, list[Pid]] = {}
        for c in list(self.dynamic):
            pid = c.pid
            if pid is None:
                continue
            if not pid.is_alive:
                if not _shutdown_ok(spec, pid.exit_reason):
                    errors.setdefault(pid.exit_reason, []).append(pid)
                continue
            ref = node.monitor(pid)
            node.unlink(pid)
            node.exit(pid, KILL if sd == "brutal_kill" else SHUTDOWN)
            waits.append((c, pid, ref))
        deadline = None if sd in ("brutal_kill", "infinity") else time.monotonic_ns() + int(float(sd) * 1e9)  # type: ignore[arg-type]
        for _, pid, ref in waits:
            if deadline is None:
                down = await node.wait_down(ref)
            else:
                try:
                    down = await node.wait_down(ref, max(0.0, (deadline - time.monotonic_ns()) / 1e9))
                except CallTimeout:  # the one timer fired: kill every child still alive
                    deadline = None
                    for _, p, _ in waits:
                        node.exit(p, KILL)
                    down = await node.wait_down(ref)
            if not _shutdown_ok(spec, down.reason):
                errors.setdefault(down.reason, []).append(pid)
        self.dynamic.clear()
        self.by_pid.clear()
        if errors and _log.threshold >= _log.ERROR:
            for reason, pids in errors.items():
                offender = self._offender(_Child(spec))
                offender.pop("pid")
                _log.error({"label": ("supervisor", "shutdown_error"), "supervisor": self.pid,
                            "errorContext": "shutdown_error", "reason": reason,
                            "offender": {"nb_children": len(pids), **offender}},
                           domain=("otp", "sasl"), pid=self.pid)

    # --------------------------------------------------------------- restart logic
    def _add_restart(self) -> bool:
        """OTP ``add_restart``: stamp a restart now; False if that makes more than ``intensity`` stamps
        within ``period`` seconds."""
        now = self.clock()
        threshold = now - int(self.flags.period * 1e9)
        r = self.restarts
        while r and r[0] < threshold:
            r.popleft()
        r.append(now)
        return len(r) <= self.flags.intensity

    async def _on_child_exit(self, c: _Child, reason: Any) -> None:
        """OTP ``do_restart``."""
        pid = c.pid
        self.by_pid.pop(pid, None)  # type: ignore[arg-type]
        c.pid = None
        restart = c.spec.restart
        if restart == "permanent":
            self._report("child_terminated", reason, c, pid)
            await self._restart(c, pid)
        elif _is_shutdown_reason(reason):
            self._del_child(c)
            self._auto_shutdown(c)
        elif restart == "transient":
            self._report("child_terminated", reason, c, pid)
            await self._restart(c, pid)
        else:  # temporary, abnormal
            self._report("child_terminated", reason, c, pid)
            self._del_child(c)
            self._auto_shutdown(c)

    def _auto_shutdown(self, c: _Child) -> None:
        """OTP ``do_auto_shutdown``: exit ``shutdown`` (children stopped by ``terminate``) if the flags say so."""
        how = self.flags.auto_shutdown
        if how == "never" or not c.spec.significant:
            return
        if how == "all_significant":
            kids: Iterable[_Child] = self.dynamic if self.template is not None else self.children
            if any(k.spec.significant and (k.pid is not None or k.restarting) for k in kids):
                return
        raise Stop(SHUTDOWN)

    async def _restart(self, c: _Child, old_pid: Pid | None = None) -> None:
        """OTP ``restart/2``: count the restart, then apply the strategy; exceed -> exit ``shutdown``
        (reported with the child's last pid, or ``"restarting"`` for a retry)."""
        if not self._add_restart():
            self._report("shutdown", "reached_max_restart_intensity", c,
                         old_pid if old_pid is not None else RESTARTING if c.restarting else None)
            self._del_child(c)
            raise Stop(SHUTDOWN)  # terminate() stops the other children in reverse start order
        strategy = self.flags.strategy
        if strategy == "one_for_all":
            await self._restart_multiple(c, 0)
        elif strategy == "rest_for_one":
            await self._restart_multiple(c, self.children.index(c))
        elif not self._start(c):  # one_for_one, simple_one_for_one
            self._try_again(c)

    async def _restart_multiple(self, failed: _Child, i: int) -> None:
        """OTP ``restart_multiple_children``: stop ``children[i:]`` (the failed one is already down) in
        reverse order, start them in order; the first that fails to start is retried later (try again)."""
        failed.restarting = False
        self.children[i:] = await self._terminate_children(self.children[i:])
        for c in self.children[i:]:
            if not self._start(c):
                self._try_again(c)  # the children after it stay down until the retry
                return

    def _try_again(self, c: _Child) -> None:
        c.restarting = True
        self.send(self.pid, _TryAgain(c))

    # --------------------------------------------------------------- GenServer callbacks
    async def handle_info(self, msg: Any) -> None:
        if self.aborting is not None:  # a failed start: only the abort matters now
            if msg.__class__ is _Abort:
                await self._terminate_children(self.children)
                self.children.clear()
                raise Stop(self.aborting)
            return
        if msg.__class__ is Exit:
            c = self.by_pid.get(msg.pid)
            if c is not None:
                await self._on_child_exit(c, msg.reason)
        elif msg.__class__ is _TryAgain:
            c = msg.child
            if c.restarting and (c in self.dynamic if c.dynamic else c in self.children):
                await self._restart(c)

    async def terminate(self, reason: Any) -> None:
        if self.template is not None:
            await self._terminate_dynamic()
        else:
            self.children = await self._terminate_children(self.children)

    def format_status(self, status: dict[str, Any]) -> dict[str, Any]:
        kids = self.dynamic if self.template is not None else self.children
        status["supervisor"] = {"strategy": self.flags.strategy, "intensity": self.flags.intensity,
                                "period": self.flags.period, "children": len(kids),
                                "active": sum(1 for c in kids if c.pid is not None and c.pid.is_alive)}
        return status

    async def handle_call(self, request: Any, from_: Any) -> Any:
        if self.aborting is not None or request.__class__ is _Abort:
            return NOREPLY  # the caller gets NoProc when the supervisor exits, as from an OTP init
        if not isinstance(request, tuple) or not request:
            return SupervisorError(f"unknown supervisor request {request!r}", "badarg")
        op, *a = request
        simple = self.template is not None
        if op == "which_children":
            kids = self.dynamic if simple else self.children
            return [ChildInfo(c.id, RESTARTING if c.restarting else c.pid, c.spec.type, c.spec.restart)
                    for c in kids]
        if op == "count_children":
            if simple:
                n = len(self.dynamic)
                sup = self.template.type == "supervisor"  # type: ignore[union-attr]
                return {"specs": 1, "active": sum(1 for c in self.dynamic if c.pid is not None),
                        "supervisors": n if sup else 0, "workers": 0 if sup else n}
            workers = sum(1 for c in self.children if c.spec.type == "worker")
            return {"specs": len(self.children),
                    "active": sum(1 for c in self.children if c.pid is not None and c.pid.is_alive),
                    "supervisors": len(self.children) - workers, "workers": workers}
        if op == "start_child":
            return self._call_start_child(a[0])
        if op == "get_childspec":
            c = self._find(a[0])
            return c.spec if c is not None else SupervisorError(f"get_childspec: no child {a[0]!r}", "not_found")
        if op == "terminate_child":
            return await self._call_terminate_child(a[0])
        if op in ("restart_child", "delete_child"):
            if simple:
                return SupervisorError(f"{op} on a simple_one_for_one supervisor", "simple_one_for_one")
            c = self._find(a[0])
            if c is None:
                return SupervisorError(f"{op}: no child {a[0]!r} in {self.pid!r}", "not_found")
            if c.restarting:
                return SupervisorError(f"{op}: child {a[0]!r} is restarting", "restarting")
            if c.pid is not None:
                return SupervisorError(f"{op}: child {a[0]!r} is running", "running")
            if op == "delete_child":
                self.children.remove(c)
                return None
            try:
                c.pid = c.spec.start_child(self.node, *c.args)
            except Exception as e:  # noqa: BLE001 - a failed start is the caller's error, not a restart
                why = _start_error(e)
                return SupervisorError(f"restart_child: {a[0]!r} failed to start: {why!r}", why)
            self._adopt(c)
            return c.pid
        return SupervisorError(f"unknown supervisor request {op!r}", "badarg")

    async def _call_terminate_child(self, key: Any) -> Any:
        """OTP ``handle_call({terminate_child, Id})``: ``do_terminate`` then ``del_child``."""
        if self.template is not None and key.__class__ is not Pid:
            return SupervisorError("terminate_child on a simple_one_for_one supervisor takes a pid",
                                   "simple_one_for_one")
        c = self._find(key)
        if c is None:
            if self.template is not None and not key.is_alive:
                return None  # OTP: a dead pid under simple_one_for_one is "ok"
            return SupervisorError(f"terminate_child: no child {key!r} in {self.pid!r}", "not_found")
        await self._shutdown(c)
        self._del_child(c)
        return None

    def _call_start_child(self, arg: Any) -> Any:
        if self.template is not None:
            c = _Child(self.template, args=tuple(arg), dynamic=True)
            try:
                c.pid = c.spec.start_child(self.node, *c.args)
            except Exception as e:  # noqa: BLE001 - a failed start
                why = _start_error(e)
                return SupervisorError(f"start_child failed: {why!r}", why)
            if c.pid is not None:  # an ignoring dynamic child is not kept
                self.dynamic[c] = None
                self._adopt(c)
            return c.pid
        if not isinstance(arg, ChildSpec):
            return InvalidChildSpec("child", arg, "a ChildSpec")
        try:
            self._check_significant(self.flags, arg)
        except InvalidChildSpec as e:
            return e
        for x in self.children:
            if x.spec.id == arg.id:
                if x.pid is not None:
                    return SupervisorError(f"start_child: {arg.id!r} already started", ("already_started", x.pid))
                return SupervisorError(f"start_child: id {arg.id!r} already present", "already_present")
        c = _Child(arg)
        try:
            c.pid = arg.start_child(self.node)
        except Exception as e:  # noqa: BLE001 - a failed start
            why = _start_error(e)
            return SupervisorError(f"start_child {arg.id!r} failed: {why!r}", why)
        if c.pid is None and arg.restart == "temporary":
            return None
        self.children.append(c)
        self._adopt(c)
        return c.pid


# ------------------------------------------------------------------- client API (plain Python)
def wait_exit(node: Node, sup: Pid) -> None:
    """From plain Python: run the scheduler until supervisor ``sup`` has exited -- e.g. one whose start
    failed, while it shuts its children down. Returns at once if it is gone, and also when the node goes
    idle first (a running supervisor, or a child with shutdown ``"infinity"`` that never ends)."""
    if not sup.is_alive:
        return
    try:
        node.call(sup, _Abort(), 1e9)  # never answered while aborting: ends (NoProc) when the supervisor exits
    except ActorError:
        pass


def _req(node: Node, sup: Pid | str, *request: Any, timeout: float = 60.0) -> Any:
    r = node.call(sup, request, timeout)
    if isinstance(r, Exception):
        raise r
    return r


def which_children(node: Node, sup: Pid | str) -> list[ChildInfo]:
    """Children in start order (dynamic children use their pid as id; ``pid`` is ``"restarting"`` while a
    failed restart waits for its retry)."""
    return _req(node, sup, "which_children")  # type: ignore[no-any-return]


def count_children(node: Node, sup: Pid | str) -> dict[str, int]:
    """``{"specs", "active", "supervisors", "workers"}`` as OTP's count_children."""
    return _req(node, sup, "count_children")  # type: ignore[no-any-return]


def start_child(node: Node, sup: Pid | str, spec_or_args: ChildSpec | Sequence[Any] = ()) -> Pid | None:
    """Add and start a child: a ChildSpec, or the extra start args for a simple_one_for_one supervisor."""
    return _req(node, sup, "start_child", spec_or_args)  # type: ignore[no-any-return]


def terminate_child(node: Node, sup: Pid | str, child: Any) -> None:
    """Stop a child (by id, or pid for dynamic children) per its shutdown spec; its spec is kept unless it
    is temporary or dynamic."""
    _req(node, sup, "terminate_child", child)


def restart_child(node: Node, sup: Pid | str, child_id: Any) -> Pid | None:
    """Start a stopped child again from its spec."""
    return _req(node, sup, "restart_child", child_id)  # type: ignore[no-any-return]


def delete_child(node: Node, sup: Pid | str, child_id: Any) -> None:
    """Forget the spec of a stopped child."""
    _req(node, sup, "delete_child", child_id)


def get_childspec(node: Node, sup: Pid | str, child: Any) -> ChildSpec:
    """The spec of a child (by id, or pid for dynamic children)."""
    return _req(node, sup, "get_childspec", child)  # type: ignore[no-any-return]
