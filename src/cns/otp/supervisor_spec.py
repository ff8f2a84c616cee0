"""What a supervisor is given and answers: child specs (:class:`ChildSpec`), flags (:class:`SupFlags`), rows
of ``which_children`` (:class:`ChildInfo`), their validation and the supervisor's errors.

Importable from :mod:`cns.otp` and :mod:`cns.otp.supervisor` too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..runtime.errors import ActorError, InvalidSpec
from ..runtime.node import Node
from ..runtime.process import Pid

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
    "SupervisorError",
    "check_children",
    "check_significant",
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
            if (
                len(s) != 2
                or not isinstance(s[0], type)
                or not callable(getattr(s[0], "start_link", None))
                or not isinstance(s[1], tuple)
            ):
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
        """Start the child on ``node`` with ``extra`` args appended; returns its Pid, or None when it is ignored
        (``init`` returned IGNORE).
        """
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


def check_children(flags: SupFlags, specs: Sequence[ChildSpec]) -> None:
    """The arguments of a supervisor's init: a :class:`SupFlags`, ChildSpecs with distinct ids (each
    :func:`check_significant`), exactly one template for ``simple_one_for_one``; else InvalidChildSpec."""
    if not isinstance(flags, SupFlags):
        raise InvalidChildSpec("flags", flags, "a SupFlags")
    ids = set()
    for s in specs:
        if not isinstance(s, ChildSpec):
            raise InvalidChildSpec("child", s, "a ChildSpec")
        if s.id in ids:
            raise InvalidChildSpec("id", s.id, "duplicate child id")
        ids.add(s.id)
        check_significant(flags, s)
    if flags.strategy == "simple_one_for_one" and len(specs) != 1:
        raise InvalidChildSpec("children", len(specs), "simple_one_for_one takes exactly one template spec")


def check_significant(flags: SupFlags, s: ChildSpec) -> None:
    """A significant child needs a supervisor with automatic shutdown (else InvalidChildSpec)."""
    if s.significant and flags.auto_shutdown == "never":
        raise InvalidChildSpec(
            "significant", True, "needs a supervisor with auto_shutdown other than 'never'"
        )
