"""Errors raised by the actor runtime.

``ActorError`` is the root; every invalid use of the API raises one of its subclasses with a message that
names the process, name or argument at fault.
"""

from __future__ import annotations

import math
from typing import Any

from cns.errors import CNSError

__all__ = [
    "ActorError",
    "BadArg",
    "CallTimeout",
    "InitFailed",
    "InvalidSpec",
    "MailboxFull",
    "NameTaken",
    "NoProc",
    "NotInProcess",
    "check_seconds",
]


class ActorError(CNSError):
    """Base of every error raised by :mod:`cns.runtime` and :mod:`cns.otp`."""


class BadArg(ActorError, ValueError):
    """An argument is invalid (wrong type, unknown policy, negative timeout, ...)."""


class InvalidSpec(BadArg):
    """A specification (mailbox policy, child spec, ...) is invalid; ``field`` and ``value`` say which."""

    def __init__(self, field: str, value: Any, why: str = "") -> None:
        self.field = field
        self.value = value
        super().__init__(f"invalid {field}: {value!r}" + (f" ({why})" if why else ""))


class NameTaken(BadArg):
    """``register`` of a name that is already registered, or of a process that already has a name."""


class NotInProcess(ActorError):
    """An operation that needs a calling process (``self_pid``, ``monitor``, ``await acall``) ran outside one."""


class NoProc(ActorError):
    """The target process does not exist or exited before replying.

    ``reason`` is ``"noproc"`` when the target was already dead or unknown, otherwise its exit reason.
    """

    def __init__(self, target: Any, reason: Any = "noproc") -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"no process {target!r} (reason: {reason!r})")


class CallTimeout(ActorError, TimeoutError):
    """No reply arrived within the call timeout (seconds)."""

    def __init__(self, target: Any, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        super().__init__(f"call to {target!r} timed out after {timeout} s")


class MailboxFull(ActorError):
    """A bounded mailbox is full and its policy is ``raise`` (or ``block`` timed out)."""

    def __init__(self, target: Any, capacity: int) -> None:
        self.target = target
        self.capacity = capacity
        super().__init__(f"mailbox of {target!r} is full ({capacity} messages)")


class InitFailed(ActorError):
    """A behaviour's ``init`` raised or stopped; ``reason`` is the exception or the stop reason."""

    def __init__(self, behaviour: Any, reason: Any) -> None:
        self.behaviour = behaviour
        self.reason = reason
        super().__init__(f"init of {behaviour!r} failed: {reason!r}")


def check_seconds(value: Any, what: str = "timeout") -> float:
    """Return ``value`` if it is a finite real number of seconds >= 0, else raise :class:`BadArg`.

    Every runtime timeout and delay goes through this check, so none can be ``None``, NaN, infinite,
    negative or a non-number: a wait that could never end (or that would fail later with a ``TypeError``
    or ``OverflowError`` deep inside the scheduler) is refused where it is asked for. ``bool`` is refused
    although it is an ``int``. Large finite values are accepted (a deadline far away is still a deadline).
    """
    if (value.__class__ is not float and value.__class__ is not int) and (
        isinstance(value, bool) or not isinstance(value, (int, float))
    ):
        raise BadArg(f"{what} must be a finite number of seconds >= 0, got {value!r}")
    if not 0 <= value < math.inf:  # False for NaN too
        raise BadArg(f"{what} must be a finite number of seconds >= 0, got {value!r}")
    return value  # type: ignore[no-any-return, unused-ignore]
