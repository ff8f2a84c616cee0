"""Values a :class:`~cns.otp.gen_statem.GenStatem` callback returns: transitions, actions, event types, errors.

Transition results (OTP's ``state_callback_result()``), returned by a state callback:

- ``NextState(state, data, actions)``: ``{next_state, State, Data, Actions}`` (``data`` omitted: kept). It is
  a *state change* only if ``state`` differs (``!=``) from the current state.
- ``KeepState(data, actions)``: ``{keep_state, Data, Actions}``; ``KeepState()`` or ``None`` is
  ``keep_state_and_data``, ``KeepState(actions=[...])`` is ``{keep_state_and_data, Actions}``.
- ``RepeatState(data, actions)``: ``{repeat_state, ...}``, as ``KeepState`` but the state enter call runs
  again (postponed events are *not* retried).
- ``StopMachine(reason, data, replies)``: ``{stop, Reason, Data}`` / ``{stop_and_reply, ...}``: the replies
  are sent, then ``terminate`` runs, then the process exits with ``reason``.

Actions (OTP's ``action()``), in a result's ``actions`` (one action or a sequence, executed in order; for the
options below the last of a kind wins): :class:`Postpone`, :class:`NextEvent`, :class:`Reply`,
:class:`EventTimeout`, :class:`StateTimeout`, :class:`GenericTimeout`, :class:`CancelTimeout`,
:class:`UpdateTimeout`, :class:`Hibernate`. Only ``Reply`` acts at once; the others are collected and applied
by the state transition (see :mod:`cns.otp.gen_statem`).

Event types (the ``event_type`` argument of a callback): the strings ``"cast"``, ``"info"``, ``"internal"``,
``"timeout"`` (event time-out), ``"state_timeout"``, ``"enter"`` (state enter call; ``content`` is the old
state), the tuple ``("timeout", name)`` (generic time-out ``name``) and :class:`Call` ``(from_)`` for a call.

Times are seconds (float, as everywhere in :mod:`cns.runtime`); ``None`` or ``math.inf`` is OTP's
``infinity``: no timer is started (and one of that kind still running is cancelled).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..runtime.errors import ActorError
from ..runtime.process import NORMAL, From

if TYPE_CHECKING:
    from ..runtime.node import Node
    from ..runtime.process import Pid

__all__ = [
    "Action",
    "BadAction",
    "BadCallbackMode",
    "BadReturn",
    "Call",
    "CancelTimeout",
    "EventTimeout",
    "GenStatemError",
    "GenericTimeout",
    "Hibernate",
    "KeepState",
    "NextEvent",
    "NextState",
    "Postpone",
    "RepeatState",
    "Reply",
    "StateTimeout",
    "StopMachine",
    "UndefStateFunction",
    "UpdateTimeout",
]


# ------------------------------------------------------------------- errors
class GenStatemError(ActorError):
    """Invalid use of :class:`~cns.otp.gen_statem.GenStatem`; the process exits with this exception as reason.

    ``tag`` is OTP's error atom (``"bad_return_from_state_function"``, ...), ``term`` the offending value and
    ``reason`` the OTP-shaped pair ``(tag, term)``.
    """

    def __init__(self, tag: str, term: Any, why: str = "") -> None:
        self.tag = tag
        self.term = term
        super().__init__(f"{tag}: {term!r}" + (f" ({why})" if why else ""))

    @property
    def reason(self) -> tuple[str, Any]:
        """OTP's exit reason pair ``(tag, term)``."""
        return (self.tag, self.term)


class BadReturn(GenStatemError):
    """A callback returned something its contract does not allow. Tags: ``bad_return_from_init``,
    ``bad_return_from_state_function``, ``bad_state_enter_return_from_state_function`` (an enter call
    returned ``NextState`` with another state, or a non-result), ``bad_return_from_code_change``."""


class BadAction(GenStatemError):
    """An invalid action. Tags: ``bad_action_from_state_function`` (not an action, or a bad field),
    ``bad_state_enter_action_from_state_function`` (``Postpone``/``NextEvent`` in an enter call),
    ``bad_reply_action_from_state_function`` (a non-``Reply`` in ``StopMachine.replies``), ``bad_event_type``."""


class UndefStateFunction(GenStatemError):
    """``state_functions`` mode: the state is not a str naming a public method of the class (tag
    ``undef_state_function``); names of :class:`~cns.otp.gen_statem.GenStatem`'s own attributes are reserved."""


class BadCallbackMode(GenStatemError):
    """A class declares an unknown ``callback_mode`` (raised when the class is defined)."""


# ------------------------------------------------------------------- event types
@dataclass(frozen=True, slots=True)
class Call:
    """Event type of a call: answer with the :class:`Reply` action or :func:`~cns.otp.gen_statem.reply`.

    Match it with ``case Call(frm):``; ``from_`` is the runtime's :class:`~cns.runtime.From` record.
    """

    from_: From


_PLAIN_TYPES = frozenset({"cast", "info", "internal", "timeout", "state_timeout"})


def valid_event_type(t: Any) -> bool:
    """True for an event type a :class:`NextEvent` may carry (every type but ``"enter"``)."""
    if t.__class__ is str:
        return t in _PLAIN_TYPES
    if t.__class__ is Call:
        return True
    return t.__class__ is tuple and len(t) == 2 and t[0] == "timeout"


# ------------------------------------------------------------------- transition results
class _Same:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<same>"


SAME: Any = _Same()  # "unchanged": the default ``data`` of the results
Action = Any  # one of the action classes below (kept open for typing; validated at run time)
Actions = Any  # an Action or a Sequence of them


@dataclass(frozen=True, slots=True)
class NextState:
    """Go to ``state`` with ``data`` (omitted: unchanged) and run ``actions``."""

    state: Any
    data: Any = SAME
    actions: Actions = ()


@dataclass(frozen=True, slots=True)
class KeepState:
    """Stay in the current state; ``data`` omitted keeps it (``keep_state_and_data``)."""

    data: Any = SAME
    actions: Actions = ()


@dataclass(frozen=True, slots=True)
class RepeatState:
    """Stay in the current state but run the state enter call again (when ``state_enter`` is on)."""

    data: Any = SAME
    actions: Actions = ()


@dataclass(frozen=True, slots=True)
class StopMachine:
    """Stop: send ``replies`` (:class:`Reply` actions), run ``terminate(reason, state, data)``, exit ``reason``."""

    reason: Any = NORMAL
    data: Any = SAME
    replies: Reply | Sequence[Reply] = ()


# ------------------------------------------------------------------- actions
def _check_time(action: Any, t: Any) -> float | None:
    if t is None:
        return None
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not t >= 0:
        raise BadAction(
            "bad_action_from_state_function", action, "time must be seconds >= 0, None or math.inf"
        )
    return None if t == math.inf else float(t)


@dataclass(frozen=True, slots=True)
class Postpone:
    """Postpone the current event: it is retried, in arrival order, after the next *state change*."""

    postpone: bool = True


@dataclass(frozen=True, slots=True)
class NextEvent:
    """Insert an event to be handled before every queued event (several: in action order)."""

    event_type: Any
    content: Any = None

    def __post_init__(self) -> None:
        if not valid_event_type(self.event_type):
            raise BadAction(
                "bad_event_type",
                self.event_type,
                "one of cast, info, internal, timeout, state_timeout, ('timeout', name), Call",
            )


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer a call now (the only immediate action); ``from_`` comes from :class:`Call`."""

    from_: From
    value: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.from_, From):
            raise BadAction("bad_action_from_state_function", self, "Reply.from_ must be the From of a Call")


@dataclass(frozen=True, slots=True)
class EventTimeout:
    """Event ``("timeout", content)`` after ``time`` s unless any other event is handled first."""

    time: float | None
    content: Any = None
    kind: ClassVar[str] = "timeout"

    def __post_init__(self) -> None:
        t = self.time
        if t.__class__ is not float or not 0.0 <= t < math.inf:  # normalise ints, infinity; reject the rest
            object.__setattr__(self, "time", _check_time(self, t))


@dataclass(frozen=True, slots=True)
class StateTimeout:
    """Event ``("state_timeout", content)`` after ``time`` s unless the state changes first (restarts a
    running one)."""

    time: float | None
    content: Any = None
    kind: ClassVar[str] = "state_timeout"

    def __post_init__(self) -> None:
        t = self.time
        if t.__class__ is not float or not 0.0 <= t < math.inf:  # normalise ints, infinity; reject the rest
            object.__setattr__(self, "time", _check_time(self, t))


@dataclass(frozen=True, slots=True)
class GenericTimeout:
    """Event ``(("timeout", name), content)`` after ``time`` s; survives events and state changes, cancelled
    only by :class:`CancelTimeout` or a restart with the same ``name``."""

    name: Any
    time: float | None
    content: Any = None

    def __post_init__(self) -> None:
        t = self.time
        if t.__class__ is not float or not 0.0 <= t < math.inf:  # normalise ints, infinity; reject the rest
            object.__setattr__(self, "time", _check_time(self, t))


def _check_timer(action: Any, timer: Any) -> None:
    if not (
        timer in ("timeout", "state_timeout")
        or (timer.__class__ is tuple and len(timer) == 2 and timer[0] == "timeout")
    ):
        raise BadAction(
            "bad_action_from_state_function",
            action,
            "timer must be 'timeout', 'state_timeout' or ('timeout', name)",
        )


@dataclass(frozen=True, slots=True)
class CancelTimeout:
    """Cancel the time-out ``timer``: ``"timeout"``, ``"state_timeout"`` or ``("timeout", name)``."""

    timer: Any

    def __post_init__(self) -> None:
        _check_timer(self, self.timer)


@dataclass(frozen=True, slots=True)
class UpdateTimeout:
    """Replace the content of the running time-out ``timer`` keeping its expiry; if none is running, the
    time-out event is inserted as for time 0 (OTP's ``{Timer, update, Content}``)."""

    timer: Any
    content: Any = None

    def __post_init__(self) -> None:
        _check_timer(self, self.timer)


@dataclass(frozen=True, slots=True)
class Hibernate:
    """Accepted for fidelity and ignored: a process here has no heap to compact."""

    hibernate: bool = True


TIMEOUT_ACTIONS: frozenset[type] = frozenset(
    {EventTimeout, StateTimeout, GenericTimeout, CancelTimeout, UpdateTimeout}
)


# ------------------------------------------------------------------- carrying out the time-out actions
class _Armed:
    """A running time-out whose event type is ``key``, due at ``deadline`` (monotonic ns; 0: time 0, waiting
    in the zero queue). Invariant: an active one is ``_timers[key]``; cancelling deactivates it."""

    __slots__ = ("key", "content", "active", "deadline")

    def __init__(self, key: Any, content: Any, deadline: int) -> None:
        self.key = key
        self.content = content
        self.active = True
        self.deadline = deadline


class _Tick:
    """The message of the one runtime timer a machine keeps per time-out ``key`` (``_ticks[key]``).

    Runtime timers are lazy: cancelling a time-out leaves its tick pending, and restarting one reuses the
    pending tick when that fires no later than the new deadline. A tick that fires early is re-armed for the
    rest. So restarting a time-out on every event costs no timer-heap entry (a heartbeat per message)."""

    __slots__ = ("key", "deadline", "timer")

    def __init__(self, key: Any, deadline: int) -> None:
        self.key = key
        self.deadline = deadline
        self.timer: Any = None


class TimeoutsMixin:
    """The time-outs of a :class:`~cns.otp.gen_statem.GenStatem` (internal): ``_timers`` maps each running
    time-out's event type to its :class:`_Armed`; time 0 ones wait in ``_t0q``; ``_ticks`` holds the one
    runtime timer per event type (see :class:`_Tick`)."""

    node: Node
    pid: Pid
    _timers: dict[Any, _Armed]
    _ticks: dict[Any, _Tick]
    _t0q: deque[_Armed]

    def _set_timeouts(self, actions: list[Any]) -> None:
        timers = self._timers
        for a in actions:
            c = a.__class__
            if c is StateTimeout or c is EventTimeout:
                self._arm(c.kind, a.time, a.content)
            elif c is GenericTimeout:
                self._arm(("timeout", a.name), a.time, a.content)
            elif c is CancelTimeout:
                old = timers.pop(a.timer, None)
                if old is not None:
                    old.active = False
            else:  # UpdateTimeout
                old = timers.get(a.timer)
                if old is not None:
                    old.content = a.content
                else:
                    self._arm(a.timer, 0.0, a.content)

    def _arm(self, key: Any, seconds: float | None, content: Any) -> None:
        """(Re)start the time-out ``key``; ``None`` (infinity) only cancels the running one."""
        timers = self._timers
        old = timers.pop(key, None)
        if old is not None:
            old.active = False
        if seconds is None:
            return
        if seconds == 0.0:
            a = timers[key] = _Armed(key, content, 0)
            self._t0q.append(a)
            return
        now = time.monotonic_ns()
        deadline = now + int(seconds * 1e9)
        timers[key] = _Armed(key, content, deadline)
        t = self._ticks.get(key)
        if t is None or t.deadline > deadline:  # no tick pending, or it would fire too late
            if t is not None:
                self.node.cancel_timer(t.timer)
            self._start_tick(key, deadline, now)

    def _start_tick(self, key: Any, deadline: int, now: int) -> None:
        t = self._ticks[key] = _Tick(key, deadline)
        t.timer = self.node.send_after((deadline - now) / 1e9, self.pid, t)

    def _cancel_ticks(self) -> None:
        """On the way out: no timer of this machine should fire after its exit."""
        for t in self._ticks.values():
            self.node.cancel_timer(t.timer)
        self._ticks.clear()

    def _tick(self, t: _Tick) -> tuple[Any, Any] | None:
        """A runtime timer fired: the time-out event if one is due, else None (re-armed if early)."""
        key = t.key
        if self._ticks.get(key) is not t:  # superseded by a sooner tick
            return None
        del self._ticks[key]
        a = self._timers.get(key)
        if a is None or a.deadline == 0:  # cancelled, or restarted with time 0
            return None
        now = time.monotonic_ns()
        if now < a.deadline:  # restarted since this tick was set: wait for the rest
            self._start_tick(key, a.deadline, now)
            return None
        a.active = False
        del self._timers[key]
        return (key, a.content)
