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

This module is the behaviour; :mod:`cns.otp.supervisor_spec` holds :class:`ChildSpec`, :class:`SupFlags`,
:class:`ChildInfo`, the errors and their validation, :mod:`cns.otp.supervisor_shutdown` the stopping of
children and :mod:`cns.otp.supervisor_api` the client functions. Every public name is importable from here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..runtime import telemetry as _tm
from ..runtime.errors import InitFailed
from ..runtime.node import Node
from ..runtime.process import SHUTDOWN, Exit, Pid, Stop
from . import logger as _log
from .gen_server import NOREPLY, GenServer
from .supervisor_api import (
    Abort,
    count_children,
    delete_child,
    get_childspec,
    restart_child,
    start_child,
    terminate_child,
    wait_exit,
    which_children,
)
from .supervisor_shutdown import is_shutdown_reason, shutdown_ok, stop_child, stop_children_at_once
from .supervisor_spec import (
    AUTO_SHUTDOWN,
    CHILD_TYPES,
    RESTARTING,
    RESTARTS,
    STRATEGIES,
    ChildInfo,
    ChildSpec,
    InvalidChildSpec,
    SupervisorError,
    SupFlags,
    check_children,
    check_significant,
)

__all__ = [
    "AUTO_SHUTDOWN",
    "CHILD_TYPES",
    "RESTARTING",
    "RESTARTS",
    "STRATEGIES",
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

    @property
    def ignored_temporary(self) -> bool:
        """A temporary child whose start returned None: forgotten at once."""
        return self.pid is None and self.spec.restart == "temporary"


class _TryAgain:
    """OTP's ``{try_again_restart, Id}`` self-message: retry a failed restart after the queued requests."""

    __slots__ = ("child",)

    def __init__(self, child: _Child) -> None:
        self.child = child


_aborted: dict[Pid, Any] = {}  # supervisor pid -> exit reason, between its init and its start() returning


def _start_error(e: Exception) -> Any:
    """The reason of a failed start: the child's init failure reason, else the start function's exception."""
    return e.reason if isinstance(e, InitFailed) else e


def _active(kids: Iterable[_Child]) -> int:
    """How many of ``kids`` are running."""
    return sum(1 for c in kids if c.pid is not None and c.pid.is_alive)


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
        check_children(flags, specs)
        self.flags = flags
        self.restarts: deque[int] = deque()
        self.children: list[_Child] = []  # static children, in start order
        self.dynamic: dict[_Child, None] = {}  # simple_one_for_one children, in start order
        self.by_pid: dict[Pid, _Child] = {}  # running children
        self.aborting: Any = None
        self.template = specs[0] if flags.strategy == "simple_one_for_one" else None
        self.trap_exit(True)
        if self.template is None:
            self._start_children(specs)

    def _start_children(self, specs: Sequence[ChildSpec]) -> None:
        """OTP ``start_children``: in order; the first failure aborts the start (an ``Abort`` is queued)."""
        for s in specs:
            c = _Child(s)
            try:
                c.pid = s.start_child(self.node)
            except Exception as e:  # noqa: BLE001 - any failure to start is a failed start (OTP: catch)
                why = _start_error(e)
                self._report("start_error", why, c)
                self.aborting = (SHUTDOWN, ("failed_to_start_child", s.id, why))
                _aborted[self.pid] = self.aborting
                self.send(self.pid, Abort())
                return
            if not c.ignored_temporary:
                self.children.append(c)
                self._adopt(c)

    @property
    def _kids(self) -> Iterable[_Child]:
        """The children in start order: the dynamic ones under simple_one_for_one, else the static ones."""
        return self.dynamic if self.template is not None else self.children

    # --------------------------------------------------------------- reports (cns.otp.logger)
    def _offender(self, c: _Child, pid: Any = None) -> dict[str, Any]:
        s = c.spec
        return {
            "pid": c.pid if pid is None else pid,
            "id": s.id,
            "start": s.start,
            "restart_type": s.restart,
            "significant": s.significant,
            "shutdown": s.shutdown,
            "child_type": s.type,
        }

    def _report(self, ctx: str, reason: Any, c: _Child, pid: Any = None) -> None:
        if _log.threshold >= _log.ERROR:
            self._error(ctx, reason, self._offender(c, pid))

    def _report_dynamic_shutdown_errors(self, errors: dict[Any, list[Pid]]) -> None:
        """One ``shutdown_error`` per unexpected end reason of the dynamic children (their number, no pid)."""
        if not errors or _log.threshold < _log.ERROR:
            return
        assert self.template is not None
        for reason, pids in errors.items():
            offender = self._offender(_Child(self.template))
            offender.pop("pid")
            self._error("shutdown_error", reason, {"nb_children": len(pids), **offender})

    def _error(self, ctx: str, reason: Any, offender: dict[str, Any]) -> None:
        _log.error(
            {
                "label": ("supervisor", ctx),
                "supervisor": self.pid,
                "errorContext": ctx,
                "reason": reason,
                "offender": offender,
            },
            domain=("otp", "sasl"),
            pid=self.pid,
        )

    def _progress(self, c: _Child) -> None:
        if _log.threshold >= _log.INFO:
            _log.info(
                {"label": ("supervisor", "progress"), "supervisor": self.pid, "started": self._offender(c)},
                domain=("otp", "sasl"),
                pid=self.pid,
            )

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

    def _start_for_call(self, c: _Child, what: str) -> SupervisorError | None:
        """Start ``c`` for a client request (not a restart: nothing reported, nothing adopted); the error
        answered to the caller if it failed (``"<what>: <reason>"``), else None."""
        try:
            c.pid = c.spec.start_child(self.node, *c.args)
        except Exception as e:  # noqa: BLE001 - a failed start is the caller's error, not a restart
            why = _start_error(e)
            return SupervisorError(f"{what}: {why!r}", why)
        return None

    # --------------------------------------------------------------- stopping children
    async def _shutdown(self, c: _Child) -> None:
        """OTP ``do_terminate``: stop one running child per its shutdown spec (``c.pid`` -> None); an
        unexpected end reason is reported as ``shutdown_error``."""
        pid = c.pid
        if pid is None:
            return
        c.pid = None
        self.by_pid.pop(pid, None)
        reason = await stop_child(self.node, pid, c.spec)
        if not shutdown_ok(c.spec, reason):
            self._report("shutdown_error", reason, c, pid)

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
        """OTP ``terminate_dynamic_children``: all dynamic children stopped at once, then forgotten."""
        assert self.template is not None
        pids = [c.pid for c in self.dynamic if c.pid is not None]
        errors = await stop_children_at_once(self.node, self.template, pids)
        self.dynamic.clear()
        self.by_pid.clear()
        self._report_dynamic_shutdown_errors(errors)

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
        elif is_shutdown_reason(reason):
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
            if any(k.spec.significant and (k.pid is not None or k.restarting) for k in self._kids):
                return
        raise Stop(SHUTDOWN)

    async def _restart(self, c: _Child, old_pid: Pid | None = None) -> None:
        """OTP ``restart/2``: count the restart, then apply the strategy; exceed -> exit ``shutdown``
        (reported with the child's last pid, or ``"restarting"`` for a retry)."""
        if not self._add_restart():
            self._report(
                "shutdown",
                "reached_max_restart_intensity",
                c,
                old_pid if old_pid is not None else RESTARTING if c.restarting else None,
            )
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
        """Child exits (restart per strategy and intensity) and delayed restart retries; a failed start aborts."""
        if self.aborting is not None:  # a failed start: only the abort matters now
            if msg.__class__ is Abort:
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
        """Stop every child in reverse start order, each within its ``shutdown`` budget."""
        if self.template is not None:
            await self._terminate_dynamic()
        else:
            self.children = await self._terminate_children(self.children)

    def format_status(self, status: dict[str, Any]) -> dict[str, Any]:
        kids = list(self._kids)
        status["supervisor"] = {
            "strategy": self.flags.strategy,
            "intensity": self.flags.intensity,
            "period": self.flags.period,
            "children": len(kids),
            "active": _active(kids),
        }
        return status

    async def handle_call(self, request: Any, from_: Any) -> Any:
        """The supervisor API requests (which_children, count_children, start_child, ...); failures come back as
        a :class:`SupervisorError` value (e.g. ``"badarg"`` for an unknown request), not raised.
        """
        if self.aborting is not None or request.__class__ is Abort:
            return NOREPLY  # the caller gets NoProc when the supervisor exits, as from an OTP init
        if not isinstance(request, tuple) or not request:
            return SupervisorError(f"unknown supervisor request {request!r}", "badarg")
        op, *a = request
        if op == "which_children":
            return [
                ChildInfo(c.id, RESTARTING if c.restarting else c.pid, c.spec.type, c.spec.restart)
                for c in self._kids
            ]
        if op == "count_children":
            return self._call_count_children()
        if op == "start_child":
            if self.template is not None:
                return self._call_start_dynamic(a[0])
            return self._call_start_static(a[0])
        if op == "get_childspec":
            c = self._find(a[0])
            return (
                c.spec if c is not None else SupervisorError(f"get_childspec: no child {a[0]!r}", "not_found")
            )
        if op == "terminate_child":
            return await self._call_terminate_child(a[0])
        if op in ("restart_child", "delete_child"):
            return self._call_restart_or_delete(op, a[0])
        return SupervisorError(f"unknown supervisor request {op!r}", "badarg")

    # --------------------------------------------------------------- client requests
    def _call_count_children(self) -> dict[str, int]:
        """OTP ``count_children``: ``{"specs", "active", "supervisors", "workers"}``."""
        if self.template is not None:
            n = len(self.dynamic)
            sup = self.template.type == "supervisor"
            return {
                "specs": 1,
                "active": sum(1 for c in self.dynamic if c.pid is not None),
                "supervisors": n if sup else 0,
                "workers": 0 if sup else n,
            }
        workers = sum(1 for c in self.children if c.spec.type == "worker")
        return {
            "specs": len(self.children),
            "active": _active(self.children),
            "supervisors": len(self.children) - workers,
            "workers": workers,
        }

    def _call_restart_or_delete(self, op: str, key: Any) -> Any:
        """``restart_child`` / ``delete_child`` of a static child that is not running."""
        if self.template is not None:
            return SupervisorError(f"{op} on a simple_one_for_one supervisor", "simple_one_for_one")
        c = self._find(key)
        if c is None:
            return SupervisorError(f"{op}: no child {key!r} in {self.pid!r}", "not_found")
        if c.restarting:
            return SupervisorError(f"{op}: child {key!r} is restarting", "restarting")
        if c.pid is not None:
            return SupervisorError(f"{op}: child {key!r} is running", "running")
        if op == "delete_child":
            self.children.remove(c)
            return None
        err = self._start_for_call(c, f"restart_child: {key!r} failed to start")
        if err is not None:
            return err
        self._adopt(c)
        return c.pid

    async def _call_terminate_child(self, key: Any) -> Any:
        """OTP ``handle_call({terminate_child, Id})``: ``do_terminate`` then ``del_child``."""
        if self.template is not None and key.__class__ is not Pid:
            return SupervisorError(
                "terminate_child on a simple_one_for_one supervisor takes a pid", "simple_one_for_one"
            )
        c = self._find(key)
        if c is None:
            if self.template is not None and not key.is_alive:
                return None  # OTP: a dead pid under simple_one_for_one is "ok"
            return SupervisorError(f"terminate_child: no child {key!r} in {self.pid!r}", "not_found")
        await self._shutdown(c)
        self._del_child(c)
        return None

    def _call_start_dynamic(self, args: Any) -> Any:
        """``start_child`` under simple_one_for_one: a child from the template with extra start ``args``."""
        assert self.template is not None
        c = _Child(self.template, args=tuple(args), dynamic=True)
        err = self._start_for_call(c, "start_child failed")
        if err is not None:
            return err
        if c.pid is not None:  # an ignoring dynamic child is not kept
            self.dynamic[c] = None
            self._adopt(c)
        return c.pid

    def _call_start_static(self, spec: Any) -> Any:
        """``start_child`` of a new spec (refused if its id is present already)."""
        if not isinstance(spec, ChildSpec):
            return InvalidChildSpec("child", spec, "a ChildSpec")
        try:
            check_significant(self.flags, spec)
        except InvalidChildSpec as e:
            return e
        for x in self.children:
            if x.spec.id == spec.id:
                if x.pid is not None:
                    return SupervisorError(
                        f"start_child: {spec.id!r} already started", ("already_started", x.pid)
                    )
                return SupervisorError(f"start_child: id {spec.id!r} already present", "already_present")
        c = _Child(spec)
        err = self._start_for_call(c, f"start_child {spec.id!r} failed")
        if err is not None:
            return err
        if c.ignored_temporary:
            return None
        self.children.append(c)
        self._adopt(c)
        return c.pid
