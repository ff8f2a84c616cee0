"""How a supervisor stops its children (OTP ``supervisor.erl``: ``shutdown/1``, ``terminate_dynamic_children``)
and which end reasons it expects. Pure process handling: the supervisor reports what these return."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ..runtime.errors import CallTimeout
from ..runtime.node import Node
from ..runtime.process import KILL, KILLED, NORMAL, SHUTDOWN, Pid
from .supervisor_spec import ChildSpec

__all__ = ["is_shutdown_reason", "shutdown_ok", "stop_child", "stop_children_at_once"]


def is_shutdown_reason(reason: Any) -> bool:
    """``normal``, ``shutdown`` or ``("shutdown", term)``: an end that does not restart a transient child."""
    if reason.__class__ is str:
        return reason in (NORMAL, SHUTDOWN)
    return isinstance(reason, tuple) and len(reason) == 2 and reason[0] == SHUTDOWN


def shutdown_ok(spec: ChildSpec, reason: Any) -> bool:
    """Whether a child stopped by the supervisor ended as expected (OTP ``shutdown/1``): ``shutdown``
    (``killed`` for brutal_kill); for a non-permanent child also ``normal`` and ``{shutdown, _}``."""
    if reason == (KILLED if spec.shutdown == "brutal_kill" else SHUTDOWN):
        return True
    return spec.restart != "permanent" and is_shutdown_reason(reason)


async def stop_child(node: Node, pid: Pid, spec: ChildSpec) -> Any:
    """OTP ``shutdown/1``: stop one child per ``spec.shutdown``; its end reason (at once if it is dead already).

    Monitor and unlink first, so the caller waits for the child's ``Down`` only (a child that unlinks itself
    cannot hang it). Exit ``shutdown``, wait up to ``shutdown`` seconds (forever for ``"infinity"``), then
    exit ``kill``; ``"brutal_kill"`` kills at once."""
    if not pid.is_alive:  # it died before we got to it (its Exit is queued and will be ignored)
        return pid.exit_reason
    ref = node.monitor(pid)
    node.unlink(pid)
    sd = spec.shutdown
    if sd == "brutal_kill":
        node.exit(pid, KILL)
        return (await node.wait_down(ref)).reason
    node.exit(pid, SHUTDOWN)
    try:
        down = await node.wait_down(ref, None if sd == "infinity" else float(sd))  # type: ignore[arg-type]
    except CallTimeout:  # no more patience
        node.exit(pid, KILL)
        down = await node.wait_down(ref)
    return down.reason


async def stop_children_at_once(node: Node, spec: ChildSpec, pids: Iterable[Pid]) -> dict[Any, list[Pid]]:
    """OTP ``terminate_dynamic_children``: signal every child (all started from ``spec``) at once, one timer
    for the shutdown timeout, then kill the ones still alive. The unexpected end reasons, each with its pids."""
    sd = spec.shutdown
    waits: list[tuple[Pid, int]] = []
    errors: dict[Any, list[Pid]] = {}
    for pid in pids:
        if not pid.is_alive:
            if not shutdown_ok(spec, pid.exit_reason):
                errors.setdefault(pid.exit_reason, []).append(pid)
            continue
        ref = node.monitor(pid)
        node.unlink(pid)
        node.exit(pid, KILL if sd == "brutal_kill" else SHUTDOWN)
        waits.append((pid, ref))
    deadline = None if sd in ("brutal_kill", "infinity") else time.monotonic_ns() + int(float(sd) * 1e9)  # type: ignore[arg-type]
    for pid, ref in waits:
        if deadline is None:
            down = await node.wait_down(ref)
        else:
            try:
                down = await node.wait_down(ref, max(0.0, (deadline - time.monotonic_ns()) / 1e9))
            except CallTimeout:  # the one timer fired: kill every child still alive
                deadline = None
                for p, _ in waits:
                    node.exit(p, KILL)
                down = await node.wait_down(ref)
        if not shutdown_ok(spec, down.reason):
            errors.setdefault(down.reason, []).append(pid)
    return errors
