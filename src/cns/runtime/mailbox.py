"""Bounded mailboxes: a ``list`` subclass whose ``append`` applies the overflow policy.

Unbounded mailboxes are plain lists, so the bound costs nothing to processes that do not ask for one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import telemetry as _tm
from .errors import MailboxFull

if TYPE_CHECKING:
    from .node import Node
    from .process import Pid

__all__ = ["POLICIES", "BoundedMailbox"]

POLICIES = frozenset({"raise", "drop_newest", "block"})


class BoundedMailbox(list):  # type: ignore[type-arg]
    """A mailbox holding at most ``capacity`` user messages.

    Policies when full: ``raise`` -> :class:`MailboxFull`; ``drop_newest`` -> the new message is discarded and
    ``dropped`` counts it; ``block`` -> a sender outside the scheduler runs the scheduler until there is room
    or ``block_timeout`` seconds pass (then ``MailboxFull``); inside a handler it raises at once, because a
    turn of a single-threaded scheduler cannot wait for another turn. System messages (EXIT, DOWN, timer
    messages) bypass the bound.
    """

    __slots__ = ("node", "capacity", "policy", "block_timeout", "dropped", "owner")

    def __init__(self, node: Node, capacity: int, policy: str, block_timeout: float) -> None:
        super().__init__()
        self.node = node
        self.capacity = capacity
        self.policy = policy
        self.block_timeout = block_timeout
        self.dropped = 0
        self.owner: Pid | None = None

    def append(self, msg: Any) -> None:
        if len(self) < self.capacity:
            list.append(self, msg)
            return
        if self.policy == "drop_newest":
            self.dropped += 1
            if _tm.enabled:
                _tm.emit("dropped", 1, {"pid": self.owner.id if self.owner else -1})
            return
        if self.policy == "block" and self.node.current is None and self._wait_for_room():
            list.append(self, msg)
            return
        raise MailboxFull(self.owner, self.capacity)

    def _wait_for_room(self) -> bool:
        node = self.node
        deadline = time.monotonic_ns() + int(self.block_timeout * 1e9)
        runq = node._runq
        while len(self) >= self.capacity:
            if self.owner is None or self.owner.mbox is not self:
                return False
            if runq:
                node._turn(runq.popleft())
                continue
            now = time.monotonic_ns()
            if now >= deadline:
                return False
            if node._timers:
                node._fire_timers(now)
                if not runq:
                    time.sleep(min(max(0, node._timers[0][0] - now), deadline - now) / 1e9 if node._timers else 0)
            else:
                return False
        return True
