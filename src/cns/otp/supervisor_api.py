"""The client side of a supervisor, called from plain Python (or any process) with the node and the
supervisor's pid or registered name: :func:`which_children`, :func:`count_children`, :func:`start_child`,
:func:`terminate_child`, :func:`restart_child`, :func:`delete_child`, :func:`get_childspec` and
:func:`wait_exit`. A refused request raises the :class:`~cns.otp.supervisor_spec.SupervisorError` (or
InvalidChildSpec) the supervisor answered.

Importable from :mod:`cns.otp` and :mod:`cns.otp.supervisor` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..runtime.errors import ActorError
from ..runtime.node import Node
from ..runtime.process import Pid
from .supervisor_spec import ChildInfo, ChildSpec

__all__ = [
    "count_children",
    "delete_child",
    "get_childspec",
    "restart_child",
    "start_child",
    "terminate_child",
    "wait_exit",
    "which_children",
]


class Abort:
    """Self-message of a supervisor whose start failed: shut the started children down, then exit. Also the
    request :func:`wait_exit` calls with: a supervisor never answers it, so the call ends when it exits."""

    __slots__ = ()


def wait_exit(node: Node, sup: Pid) -> None:
    """From plain Python: run the scheduler until supervisor ``sup`` has exited -- e.g. one whose start
    failed, while it shuts its children down. Returns at once if it is gone, and also when the node goes
    idle first (a running supervisor, or a child with shutdown ``"infinity"`` that never ends)."""
    if not sup.is_alive:
        return
    try:
        node.call(sup, Abort(), 1e9)  # never answered while aborting: ends (NoProc) when the supervisor exits
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
