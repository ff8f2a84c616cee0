"""Process-level types: the pid handle, the actor base class, call records, signal messages, timers.

These are plain ``__slots__`` classes so that an idle process costs a few hundred bytes and a spawn a few
hundred nanoseconds; the :class:`~cns.runtime.node.Node` owns all behaviour.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from operator import length_hint
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .node import Node

__all__ = [
    "KILL",
    "KILLED",
    "NOPROC",
    "NO_MAIL",
    "NORMAL",
    "SHUTDOWN",
    "Actor",
    "Down",
    "Exit",
    "From",
    "Pid",
    "Stop",
    "Timer",
]

NO_MAIL: Any = ()  # Pid.mbox of a live process that has had no message yet (compared by identity)

NORMAL = "normal"
KILL = "kill"
KILLED = "killed"
SHUTDOWN = "shutdown"
NOPROC = "noproc"


class Pid:
    """Handle of a lightweight process; compare with ``is``/``==``, print as ``<node.id>``.

    A pid stays a valid handle after its process exits (``is_alive`` turns False and ``exit_reason`` is set);
    messages sent to it are then dropped, as in Erlang. Everything but ``id`` and ``node`` is runtime-private.
    """

    __slots__ = (
        "id",
        "node",
        "mbox",
        "handler",
        "actor",
        "scheduled",
        "links",
        "monitors",
        "trap",
        "name",
        "coro",
        "wait",
        "resume",
        "rest",
        "exit_reason",
    )

    def __init__(self, pid_id: int, node: Node, mbox: Any, handler: Any, actor: Any) -> None:
        self.id = pid_id
        self.node = node
        # the mailbox: () until the first message (an idle process allocates none), then a list (or a
        # BoundedMailbox from the start); None once dead
        self.mbox: Any = mbox  # list[Any] | tuple[()] | None, see above
        self.handler = handler  # called per message; None until an Actor's first turn binds actor.receive
        self.actor = actor
        self.scheduled = False
        self.links: set[Pid] | None = None
        self.monitors: dict[int, Pid] | None = None  # ref -> watcher, for monitors *of* this process
        self.trap = False
        self.name: str | None = None
        self.coro: Any = None  # a parked handler coroutine, or PREEMPTED (a bounded turn left a rest)
        self.wait: Any = None  # the token the parked coroutine waits on
        self.resume: Any = (
            None  # while parked: the wait's timeout entry (a _Wait) or None; once woken: (value, exc)
        )
        # iterator over the unhandled rest of a batch a bounded (preempted) or parked turn left, or None;
        # not None only while coro is not None (PREEMPTED or the parked handler)
        self.rest: Any = None
        self.exit_reason: Any = None

    @property
    def is_alive(self) -> bool:
        """Whether the process has not exited yet."""
        return self.mbox is not None

    @property
    def mailbox_size(self) -> int:
        """Messages waiting (0 once dead): the mailbox plus the unhandled rest of a batch that a bounded
        (preempted) or parked turn left; not the batch of a turn running now."""
        if self.mbox is None:
            return 0
        return len(self.mbox) if self.rest is None else len(self.mbox) + length_hint(self.rest)

    def __repr__(self) -> str:
        return (
            f"<{self.node.node_id}.{self.id}>"
            if self.name is None
            else f"<{self.node.node_id}.{self.id} {self.name}>"
        )


class _Preempted:
    """``Pid.coro`` of a process whose turn was cut by the bound (its unhandled rest is in ``Pid.rest``):
    it makes the scheduler's existing "parked or preempted?" test route that process to the rest, so a
    process without a rest pays nothing for the bound."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PREEMPTED"


PREEMPTED: Any = _Preempted()


class Actor:
    """Base class for process behaviours: override :meth:`receive`.

    ``receive`` is called once per message, in arrival order. It returns ``None``, or -- when defined with
    ``async def`` -- a coroutine that the scheduler drives itself (no asyncio Future per message): inside it the
    process may ``await self.node.acall(...)``, ``await self.node.sleep(...)``, ``await self.node.wait_down(...)``
    or await asyncio futures when the node runs under asyncio. While parked, the process's other messages wait.
    Raise :class:`Stop` to exit with a reason; any other exception exits with that exception as reason.
    ``pid`` and ``node`` are set by ``spawn`` before the first message.
    """

    __slots__ = ("pid", "node", "__dict__")
    pid: Pid  # set by spawn
    node: Node

    def receive(self, msg: Any) -> Any:
        """Handle one message (override): return None, or be ``async def`` (see the class doc)."""
        raise NotImplementedError(f"{type(self).__name__}.receive")


class Stop(Exception):
    """Raise inside a handler to end the process with ``reason`` (a GenServer also sends ``reply`` first)."""

    _NO_REPLY: Any = object()

    def __init__(self, reason: Any = NORMAL, reply: Any = _NO_REPLY) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


class From:
    """One pending call: the request, who waits (``caller``, None for plain Python) and the outcome.

    Handed to the callee (GenServer ``handle_call(request, from_)``); answer it with ``node.reply(from_, v)``,
    now or later from another message. Only the first reply counts.

    It is also what ``node.acall`` returns: awaiting it (only in the calling process) parks the caller until
    ``done`` -- replied, failed (``error``: :class:`NoProc`) or timed out (``error``: :class:`CallTimeout`) --
    and then returns ``value`` or raises ``error``; awaiting a record that is already done returns at once.
    An ``acall`` record is its own timeout entry (``deadline``, monotonic ns; unset for plain ``call``), so a
    call costs one object and no timer.
    """

    __slots__ = ("caller", "target", "request", "done", "value", "error", "deadline")

    def __init__(self, caller: Pid | None, target: Pid, request: Any) -> None:
        self.caller = caller
        self.target = target
        self.request = request
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.deadline: int  # set by acall only

    def __await__(self) -> Generator[From, None, Any]:
        while not self.done:  # the scheduler resumes the caller once done (reply, failure or timeout)
            yield self
        if self.error is not None:
            raise self.error
        return self.value

    def __repr__(self) -> str:
        return f"From(caller={self.caller!r}, target={self.target!r}, done={self.done})"


class _RunIn(From):
    """A ``node.run_in`` request: a marker queued in the mailbox (after the messages already waiting), served
    by the scheduler instead of being handed to the handler; ``request`` is the function to run."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Exit:
    """Exit signal turned into a message for a process that traps exits: ``pid`` exited with ``reason``."""

    pid: Pid
    reason: Any


@dataclass(frozen=True, slots=True)
class Down:
    """Monitor notification: the process ``pid`` watched under ``ref`` exited with ``reason``."""

    ref: int
    pid: Pid | str
    reason: Any


class Timer:
    """Handle of a pending ``send_after``/``send_interval``; pass to ``node.cancel_timer``.

    ``missed`` counts the ticks of an interval timer that were skipped because the node fell more than one
    period behind (a long handler, a stalled machine): such a timer sends one tick, not a burst of
    catch-up ticks, and keeps its phase.
    """

    __slots__ = ("deadline", "dest", "msg", "interval", "active", "callback", "missed")

    def __init__(self, deadline: int, dest: Any, msg: Any, interval: int, callback: Any = None) -> None:
        self.deadline = deadline  # monotonic ns
        self.dest = dest
        self.msg = msg
        self.interval = interval  # ns; 0 = one-shot
        self.active = True
        self.callback = callback
        self.missed = 0

    def __lt__(self, other: Timer) -> bool:
        return self.deadline < other.deadline
