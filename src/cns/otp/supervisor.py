"""Supervisor behaviour with OTP's restart strategies, restart types, intensity and shutdown rules.

A supervisor is a :class:`~cns.otp.gen_server.GenServer` that traps exits, starts its children in order
(linked), and on a child's exit applies the child's restart type and the supervisor's strategy:

- ``one_for_one``: restart the child; ``one_for_all``: stop all others (reverse start order) and restart all
  (in start order); ``rest_for_one``: stop the children started after it, restart it and them in order;
  ``simple_one_for_one``: one template spec, children added with ``start_child(node, sup, *args)``.
- ``permanent`` always restarted; ``transient`` only after an abnormal exit (not ``normal``/``shutdown``/
  ``("shutdown", term)``); ``temporary`` never (and forgotten when it exits or is stopped by a restart).
- More than ``intensity`` restarts within ``period`` seconds: stop all children in reverse order and exit
  with ``shutdown`` (the parent sees it). A restart that fails to start counts as a restart and is retried.
- A failed start is what OTP counts as one: the child's ``init`` raised or stopped (``InitFailed``) or the
  start function itself raised. At supervisor start it makes the supervisor fail: children already started
  are killed in reverse order, the supervisor exits with ``("shutdown", ("failed_to_start_child", id,
  reason))`` and ``start_link`` raises ``InitFailed`` with that reason (OTP's ``{error, {shutdown, ...}}``).
- Stopping a child: monitor, unlink, exit ``shutdown`` and wait up to ``shutdown`` seconds for it, then
  ``kill``; ``"brutal_kill"`` kills at once; ``"infinity"`` waits forever.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..runtime import telemetry as _tm
from ..runtime.errors import ActorError, InitFailed, InvalidSpec
from ..runtime.node import Node
from ..runtime.process import KILL, NORMAL, SHUTDOWN, Exit, Pid, Stop
from .gen_server import GenServer

__all__ = [
    "ChildSpec",
    "ChildInfo",
    "InvalidChildSpec",
    "SupFlags",
    "Supervisor",
    "SupervisorError",
    "count_children",
    "delete_child",
    "restart_child",
    "start_child",
    "terminate_child",
    "which_children",
]

STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one")
RESTARTS = ("permanent", "transient", "temporary")
CHILD_TYPES = ("worker", "supervisor")


class InvalidChildSpec(InvalidSpec):
    """A child spec or supervisor flag is invalid: ``InvalidChildSpec("shutdown", -1)``."""


class SupervisorError(ActorError):
    """A supervisor request failed: unknown child, child running/not running, start failure."""


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start and treat one child.

    ``start(node, *extra)`` runs inside the supervisor and returns the child's pid (or None to ignore), e.g.
    ``lambda node: Worker.start_link(node, 1)``; a ``(GenServerClass, args_tuple)`` pair is accepted too.
    ``shutdown``: seconds (float > 0), ``"brutal_kill"`` or ``"infinity"``.
    """

    id: Any
    start: Callable[..., Pid | None] | tuple[type, tuple[Any, ...]]
    restart: str = "permanent"
    shutdown: float | str = 5.0
    type: str = "worker"

    def __post_init__(self) -> None:
        s = self.start
        if isinstance(s, tuple):
            if len(s) != 2 or not (isinstance(s[0], type) and issubclass(s[0], GenServer)) or not isinstance(s[1], tuple):
                raise InvalidChildSpec("start", s, "a callable or (GenServerClass, args_tuple)")
        elif not callable(s):
            raise InvalidChildSpec("start", s, "a callable or (GenServerClass, args_tuple)")
        if self.restart not in RESTARTS:
            raise InvalidChildSpec("restart", self.restart, f"one of {RESTARTS}")
        sd = self.shutdown
        if isinstance(sd, str):
            if sd not in ("brutal_kill", "infinity"):
                raise InvalidChildSpec("shutdown", sd, "seconds > 0, 'brutal_kill' or 'infinity'")
        elif isinstance(sd, bool) or not isinstance(sd, (int, float)) or not sd > 0:
            raise InvalidChildSpec("shutdown", sd, "seconds > 0, 'brutal_kill' or 'infinity'")
        if self.type not in CHILD_TYPES:
            raise InvalidChildSpec("type", self.type, f"one of {CHILD_TYPES}")

    def start_child(self, node: Node, *extra: Any) -> Pid | None:
        s = self.start
        if isinstance(s, tuple):
            return s[0].start_link(node, *s[1], *extra)  # type: ignore[attr-defined, no-any-return]
        return s(node, *extra)


@dataclass(frozen=True, slots=True)
class SupFlags:
    """Supervisor flags; OTP defaults: ``one_for_one``, at most 1 restart in 5 s."""

    strategy: str = "one_for_one"
    intensity: int = 1
    period: float = 5.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InvalidChildSpec("strategy", self.strategy, f"one of {STRATEGIES}")
        if isinstance(self.intensity, bool) or not isinstance(self.intensity, int) or self.intensity < 0:
            raise InvalidChildSpec("intensity", self.intensity, "an int >= 0")
        if isinstance(self.period, bool) or not isinstance(self.period, (int, float)) or not self.period > 0:
            raise InvalidChildSpec("period", self.period, "seconds > 0")


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One row of ``which_children``: ``pid`` is None when the child is not running."""

    id: Any
    pid: Pid | None
    type: str
    restart: str


@dataclass(slots=True, eq=False)
class _Child:
    spec: ChildSpec
    pid: Pid | None = None
    args: tuple[Any, ...] = field(default=())
    dynamic: bool = False  # started from a simple_one_for_one template

    @property
    def id(self) -> Any:
        return self.pid if self.dynamic else self.spec.id


class _TryAgain:
    __slots__ = ("child",)

    def __init__(self, child: _Child) -> None:
        self.child = child


def _start_error(e: Exception) -> Any:
    """The reason of a failed start: the child's init failure reason, else the start function's exception."""
    return e.reason if isinstance(e, InitFailed) else e


def _is_shutdown_reason(reason: Any) -> bool:
    if reason.__class__ is str:
        return reason in (NORMAL, SHUTDOWN)
    return isinstance(reason, tuple) and len(reason) == 2 and reason[0] == SHUTDOWN


class Supervisor(GenServer):
    """Start with ``Supervisor.start_link(node, SupFlags(...), [ChildSpec, ...], name=...)``.

    ``clock`` (monotonic ns) times restarts for the intensity rule; a subclass may replace it (tests).
    """

    clock: Callable[[], int] = staticmethod(time.monotonic_ns)

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
        if flags.strategy == "simple_one_for_one" and len(specs) != 1:
            raise InvalidChildSpec("children", len(specs), "simple_one_for_one takes exactly one template spec")
        self.flags = flags
        self.restarts: deque[int] = deque()
        self.children: list[_Child] = []  # in start order
        self.template = specs[0] if flags.strategy == "simple_one_for_one" else None
        self.trap_exit(True)
        if self.template is None:
            for s in specs:
                c = _Child(s)
                try:
                    c.pid = s.start_child(self.node)
                except Exception as e:  # noqa: BLE001 - any failure to start is a failed start (OTP: catch)
                    self._kill_all_now()
                    raise Stop((SHUTDOWN, ("failed_to_start_child", s.id, _start_error(e)))) from None
                self._adopt(c)

    # --------------------------------------------------------------- child bookkeeping
    def _adopt(self, c: _Child) -> None:
        if c.pid is None:
            if c.spec.restart != "temporary" and self.template is None:
                self.children.append(c)  # ignored child: kept with pid None, like OTP
            return
        self.node.link(c.pid)
        self.children.append(c)

    def _find(self, key: Any) -> _Child | None:
        for c in self.children:
            if c.pid is key or (not c.dynamic and c.spec.id == key):
                return c
        return None

    def _kill_all_now(self) -> None:
        for c in reversed(self.children):
            if c.pid is not None:
                self.node.unlink(c.pid)
                self.node.exit(c.pid, KILL)
        self.children.clear()

    async def _shutdown(self, c: _Child) -> None:
        """Stop one running child per its shutdown spec; leaves ``c.pid`` None."""
        pid, c.pid = c.pid, None
        if pid is None or not pid.is_alive:
            return
        node = self.node
        ref = node.monitor(pid)
        node.unlink(pid)
        sd = c.spec.shutdown
        if sd == "brutal_kill":
            node.exit(pid, KILL)
            await node.wait_down(ref)
            return
        node.exit(pid, SHUTDOWN)
        try:
            await node.wait_down(ref, None if sd == "infinity" else float(sd))  # type: ignore[arg-type]
        except ActorError:  # timeout: no more patience
            node.exit(pid, KILL)
            await node.wait_down(ref)

    async def _shutdown_all(self, upto: int = 0) -> None:
        """Stop children ``children[upto:]`` in reverse start order, forgetting temporary ones."""
        for c in reversed(self.children[upto:]):
            await self._shutdown(c)
        self.children[upto:] = [c for c in self.children[upto:] if c.spec.restart != "temporary"
                                and self.template is None]

    def _start(self, c: _Child) -> bool:
        try:
            c.pid = c.spec.start_child(self.node, *c.args)
        except Exception:  # noqa: BLE001 - a failed start (init failed or the start function raised)
            c.pid = None
            return False
        if c.pid is not None:
            self.node.link(c.pid)
        if _tm.enabled:
            _tm.emit("restart", 1, {"supervisor": self.pid.id, "child": str(c.spec.id)})
        return True

    # --------------------------------------------------------------- restart logic
    def _add_restart(self) -> bool:
        """Record a restart now; False if that makes more than ``intensity`` within ``period`` seconds."""
        now = self.clock()
        threshold = now - int(self.flags.period * 1e9)
        r = self.restarts
        while r and r[0] < threshold:
            r.popleft()
        r.append(now)
        return len(r) <= self.flags.intensity

    async def _on_child_exit(self, c: _Child, reason: Any) -> None:
        c.pid = None
        restart = c.spec.restart
        if restart == "temporary" or (restart == "transient" and _is_shutdown_reason(reason)):
            if restart == "temporary" or c.dynamic:
                self.children.remove(c)
            return
        await self._restart(c)

    async def _restart(self, c: _Child) -> None:
        if not self._add_restart():
            await self._shutdown_all()
            raise Stop(SHUTDOWN)
        strategy = self.flags.strategy
        if strategy == "one_for_all":
            await self._restart_one_for_all(c)
        elif strategy == "rest_for_one":
            await self._restart_rest_for_one(c)
        else:
            self._restart_one_for_one(c)

    def _restart_one_for_one(self, c: _Child) -> None:
        if not self._start(c):
            self.send(self.pid, _TryAgain(c))

    async def _restart_one_for_all(self, c: _Child) -> None:
        await self._restart_from(c, 0)

    async def _restart_rest_for_one(self, c: _Child) -> None:
        await self._restart_from(c, self.children.index(c))

    async def _restart_from(self, failed: _Child, i: int) -> None:
        for c in reversed(self.children[i:]):
            if c is not failed:
                await self._shutdown(c)
        self.children[i:] = [c for c in self.children[i:] if c is failed or c.spec.restart != "temporary"]
        for c in self.children[i:]:
            if not self._start(c):
                self.send(self.pid, _TryAgain(failed))
                return

    # --------------------------------------------------------------- GenServer callbacks
    async def handle_info(self, msg: Any) -> None:
        if msg.__class__ is Exit:
            c = self._find(msg.pid)
            if c is not None:
                await self._on_child_exit(c, msg.reason)
        elif msg.__class__ is _TryAgain:
            c = msg.child
            if c in self.children and c.pid is None:
                await self._restart(c)

    async def terminate(self, reason: Any) -> None:
        await self._shutdown_all()

    async def handle_call(self, request: Any, from_: Any) -> Any:
        op, *a = request
        if op == "which_children":
            return [ChildInfo(c.id, c.pid, c.spec.type, c.spec.restart) for c in self.children]
        if op == "count_children":
            workers = sum(1 for c in self.children if c.spec.type == "worker")
            return {"specs": len(self.children) if self.template is None else 1,
                    "active": sum(1 for c in self.children if c.pid is not None),
                    "supervisors": len(self.children) - workers, "workers": workers}
        if op == "start_child":
            return self._call_start_child(a[0])
        if op in ("terminate_child", "restart_child", "delete_child"):
            c = self._find(a[0])
            if c is None:
                return SupervisorError(f"{op}: no child {a[0]!r} in {self.pid!r}")
            if op == "terminate_child":
                await self._shutdown(c)
                if c.spec.restart == "temporary" or self.template is not None:
                    self.children.remove(c)
                return None
            if c.pid is not None:
                return SupervisorError(f"{op}: child {a[0]!r} is running")
            if op == "delete_child":
                self.children.remove(c)
                return None
            return c.pid if self._start(c) else SupervisorError(f"restart_child: {a[0]!r} failed to start")
        return SupervisorError(f"unknown supervisor request {op!r}")

    def _call_start_child(self, arg: Any) -> Any:
        if self.template is not None:
            c = _Child(self.template, args=tuple(arg), dynamic=True)
        else:
            if not isinstance(arg, ChildSpec):
                return InvalidChildSpec("child", arg, "a ChildSpec")
            if any(x.spec.id == arg.id for x in self.children):
                return SupervisorError(f"start_child: id {arg.id!r} already present")
            c = _Child(arg)
        try:
            c.pid = c.spec.start_child(self.node, *c.args)
        except Exception as e:  # noqa: BLE001 - a failed start
            return SupervisorError(f"start_child {c.spec.id!r} failed: {_start_error(e)!r}")
        self._adopt(c)
        return c.pid


# ------------------------------------------------------------------- client API (plain Python)
def _req(node: Node, sup: Pid | str, *request: Any, timeout: float = 60.0) -> Any:
    r = node.call(sup, request, timeout)
    if isinstance(r, Exception):
        raise r
    return r


def which_children(node: Node, sup: Pid | str) -> list[ChildInfo]:
    """Children in start order (dynamic children use their pid as id)."""
    return _req(node, sup, "which_children")  # type: ignore[no-any-return]


def count_children(node: Node, sup: Pid | str) -> dict[str, int]:
    """``{"specs", "active", "supervisors", "workers"}`` as OTP's count_children."""
    return _req(node, sup, "count_children")  # type: ignore[no-any-return]


def start_child(node: Node, sup: Pid | str, spec_or_args: ChildSpec | Sequence[Any] = ()) -> Pid | None:
    """Add and start a child: a ChildSpec, or the extra start args for a simple_one_for_one supervisor."""
    return _req(node, sup, "start_child", spec_or_args)  # type: ignore[no-any-return]


def terminate_child(node: Node, sup: Pid | str, child: Any) -> None:
    """Stop a child (by id, or pid for dynamic children) per its shutdown spec; its spec is kept."""
    _req(node, sup, "terminate_child", child)


def restart_child(node: Node, sup: Pid | str, child_id: Any) -> Pid | None:
    """Start a stopped child again from its spec."""
    return _req(node, sup, "restart_child", child_id)  # type: ignore[no-any-return]


def delete_child(node: Node, sup: Pid | str, child_id: Any) -> None:
    """Forget the spec of a stopped child."""
    _req(node, sup, "delete_child", child_id)
