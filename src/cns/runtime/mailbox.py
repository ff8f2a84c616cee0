"""Bounded mailboxes: a ``list`` subclass whose ``append`` applies the overflow policy.

Unbounded mailboxes are plain lists, so the bound costs nothing to processes that do not ask for one.
"""

from __future__ import annotations

import time
from operator import length_hint
from typing import TYPE_CHECKING, Any

from . import telemetry as _tm
from .errors import MailboxFull

if TYPE_CHECKING:
    from .node import Node
    from .process import Pid

__all__ = ["POLICIES", "BoundedMailbox"]

POLICIES = frozenset({"raise", "drop_newest", "block"})


class BoundedMailbox(list):  # type: ignore[type-arg]
    """A mailbox holding at most ``capacity`` user messages waiting -- those in the list plus the unhandled
    rest of a batch that a bounded (preempted) turn left with the owner (``Pid.mailbox_size``).

    Policies when full: ``raise`` -> :class:`MailboxFull`; ``drop_newest`` -> the new message is discarded and
    counted (``dropped`` here, ``Node.info()["dropped_full"]`` node-wide, telemetry ``dropped``); ``block`` ->
    a sender outside the scheduler runs the scheduler until there is room or ``block_timeout`` seconds pass
    (then ``MailboxFull``); inside a handler it raises at once, because a turn of a single-threaded scheduler
    cannot wait for another turn. System messages (EXIT, DOWN, timer messages) bypass the bound.

    A blocked sender runs the scheduler exactly as ``node.call`` does (``Node._run``): the clock is read,
    the deadline checked and due timers fired at least every ``_CHECK_EVERY`` turns, so neither a busy node
    (other processes always runnable) nor an owner parked on a timer can make the wait outlast
    ``block_timeout``. If the owner exits meanwhile the send fails with ``MailboxFull`` too.
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
        if len(self) < self.capacity and self._room():
            list.append(self, msg)
            return
        if self.policy == "drop_newest":
            self.dropped += 1
            self.node.dropped_full += 1
            if _tm.enabled:
                _tm.emit("dropped", 1, {"pid": self.owner.id if self.owner else -1})
            return
        if self.policy == "block" and self.node.current is None and self._wait_for_room():
            list.append(self, msg)
            return
        raise MailboxFull(self.owner, self.capacity)

    def _room(self) -> bool:
        """Whether the owner's waiting messages (list + unhandled rest) are below capacity."""
        o = self.owner
        return o is None or o.rest is None or len(self) + length_hint(o.rest) < self.capacity

    def _wait_for_room(self) -> bool:
        owner = self.owner
        if owner is None or owner.mbox is not self:
            return False
        deadline = time.monotonic_ns() + int(self.block_timeout * 1e9)
        return self.node._run(_RoomWait(self, owner), deadline, True) and owner.mbox is self


class _RoomWait:
    """What ``Node._run`` waits for while a sender blocks: room in ``mb`` (``done``), or ``target``'s exit."""

    __slots__ = ("mb", "target")

    def __init__(self, mb: BoundedMailbox, target: Pid) -> None:
        self.mb = mb
        self.target = target

    @property
    def done(self) -> bool:
        mb = self.mb
        return (len(mb) < mb.capacity and mb._room()) or self.target.mbox is not mb
