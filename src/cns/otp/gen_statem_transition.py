"""The state transition of a :class:`~cns.otp.gen_statem.GenStatem` (internal): apply a callback's result,
collect its actions and queue the events that follow.

:class:`TransitionMixin` carries out OTP's ``transition_option()`` rules described in
:mod:`cns.otp.gen_statem`: ``Reply`` actions are sent as they are met, the other actions are collected into
a :class:`_Trans` and applied by :meth:`TransitionMixin._finish` (postpone, retry postponed events on a
state change, insert events, set the time-outs); :meth:`TransitionMixin._next` picks the next event: queued
events first, then time-outs of time 0. The machine's callback dispatch (which callback runs an event) and
its stopping stay in :mod:`cns.otp.gen_statem`; the time-outs themselves are
:class:`~cns.otp.gen_statem_actions.TimeoutsMixin`.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar, NoReturn

from ..runtime.process import Stop
from .gen_statem_actions import (
    SAME,
    TIMEOUT_ACTIONS,
    BadAction,
    BadReturn,
    Hibernate,
    KeepState,
    NextEvent,
    NextState,
    Postpone,
    RepeatState,
    Reply,
    StopMachine,
    TimeoutsMixin,
)

__all__ = ["TransitionMixin"]


class _Step:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_ENTER: Any = _Step("ENTER")  # the next step is a state enter call
_IN_EVENT, _IN_ENTER, _IN_INIT = 0, 1, 2  # where actions come from


class _Trans:
    """A transition in progress: the event, the state before it and the collected transition options."""

    __slots__ = ("event", "old", "changed", "postpone", "events", "timeouts")

    def __init__(self, event: Any, old: Any, changed: bool) -> None:
        self.event = event
        self.old = old
        self.changed = changed
        self.postpone = False
        self.events: list[tuple[Any, Any]] | None = None
        self.timeouts: list[Any] | None = None


def _listify(actions: Any) -> Any:
    return actions if isinstance(actions, (list, tuple)) else (actions,)


class TransitionMixin(TimeoutsMixin):
    """The state transition of a :class:`~cns.otp.gen_statem.GenStatem` (internal): ``_queue`` holds inserted
    and retried postponed events, ``_postponed`` the events postponed in the current state, ``_tr`` the
    transition in progress (between a callback's result and the end of its enter call)."""

    state_enter: ClassVar[bool]
    _state: Any
    _data: Any
    _queue: deque[tuple[Any, Any]]
    _postponed: list[tuple[Any, Any]]
    _tr: _Trans | None
    _init_actions: Any

    def _boot(self) -> Any:
        tr = self._tr = _Trans(None, self._state, False)
        actions, self._init_actions = self._init_actions, ()
        if actions:
            self._actions(actions, tr, _IN_INIT)
        return _ENTER if self.state_enter else self._finish()

    def _apply(self, step: Any, r: Any) -> Any:
        """Apply a callback's result; return the next step (``_ENTER``, an event) or None when idle."""
        if step is _ENTER:
            return self._apply_enter(r)
        cls = r.__class__
        if r is None:
            return self._next()
        if cls is KeepState and not r.actions:  # the common case: nothing but the data changes
            if r.data is not SAME:
                self._data = r.data
            return self._next()
        old = self._state
        if cls is NextState:
            new = r.state
            changed = not (new is old or new == old)
            enter = changed and self.state_enter
        elif cls is KeepState:
            new, changed, enter = old, False, False
        elif cls is RepeatState:
            new, changed, enter = old, False, self.state_enter
        elif cls is StopMachine:
            self._stop_with(r)
        else:
            raise BadReturn(
                "bad_return_from_state_function",
                r,
                "expected NextState, KeepState, RepeatState, StopMachine or None",
            )
        self._state = new
        if r.data is not SAME:
            self._data = r.data
        tr = self._tr = _Trans(step, old, changed)
        if r.actions:
            self._actions(r.actions, tr, _IN_EVENT)
        return _ENTER if enter else self._finish()

    def _apply_enter(self, r: Any) -> Any:
        cls = r.__class__
        if r is None:
            return self._finish()
        if cls is NextState:
            if not (r.state is self._state or r.state == self._state):
                raise BadReturn(
                    "bad_state_enter_return_from_state_function",
                    r,
                    "a state enter call cannot change the state",
                )
        elif cls is StopMachine:
            self._stop_with(r)
        elif cls is not KeepState and cls is not RepeatState:
            raise BadReturn(
                "bad_state_enter_return_from_state_function",
                r,
                "expected NextState (same state), KeepState, RepeatState, StopMachine or None",
            )
        if r.data is not SAME:
            self._data = r.data
        if r.actions:
            self._actions(r.actions, self._tr, _IN_ENTER)  # type: ignore[arg-type]
        return _ENTER if cls is RepeatState else self._finish()

    def _actions(self, actions: Any, tr: _Trans, where: int) -> None:
        """Execute replies now; collect the other transition options into ``tr`` (in action order)."""
        for a in _listify(actions):
            c = a.__class__
            if c is Reply:
                self.node.reply(a.from_, a.value)
            elif c in TIMEOUT_ACTIONS:
                if tr.timeouts is None:
                    tr.timeouts = []
                tr.timeouts.append(a)
            elif c is NextEvent or c is Postpone:
                if where == _IN_ENTER:
                    raise BadAction(
                        "bad_state_enter_action_from_state_function",
                        a,
                        "a state enter call may not postpone nor insert events",
                    )
                if c is NextEvent:
                    if tr.events is None:
                        tr.events = []
                    tr.events.append((a.event_type, a.content))
                elif where == _IN_EVENT:  # in init there is no event: postpone is forced false (OTP)
                    tr.postpone = a.postpone
            elif c is not Hibernate:
                raise BadAction(
                    "bad_state_enter_action_from_state_function"
                    if where == _IN_ENTER
                    else "bad_action_from_state_function",
                    a,
                    "not an action",
                )

    def _finish(self) -> Any:
        """End the transition: postpone, retry postponed events on a state change, insert events, set the
        time-outs; return the next event to handle (or None)."""
        tr, self._tr = self._tr, None
        q = self._queue
        if tr.postpone:  # type: ignore[union-attr]
            self._postponed.append(tr.event)  # type: ignore[union-attr]
        if tr.changed:  # type: ignore[union-attr]
            if self._postponed:
                q.extendleft(reversed(self._postponed))
                self._postponed = []
            a = self._timers.pop("state_timeout", None)
            if a is not None:
                a.active = False
        if tr.events:  # type: ignore[union-attr]
            q.extendleft(reversed(tr.events))  # type: ignore[union-attr]
        if tr.timeouts:  # type: ignore[union-attr]
            self._set_timeouts(tr.timeouts)  # type: ignore[union-attr]
        return self._next()

    def _next(self) -> Any:
        """The next event: queued events first, then time-outs of time 0; cancels the event time-out."""
        if self._queue:
            ev = self._queue.popleft()
        else:
            t0q = self._t0q
            while True:
                if not t0q:
                    return None
                a = t0q.popleft()
                if a.active:
                    break
            a.active = False
            del self._timers[a.key]
            ev = (a.key, a.content)
        timers = self._timers
        if timers:
            et = timers.pop("timeout", None)
            if et is not None:
                et.active = False
        return ev

    def _stop_with(self, r: StopMachine) -> NoReturn:
        if r.data is not SAME:
            self._data = r.data
        for a in _listify(r.replies):
            if a.__class__ is not Reply:
                raise BadAction(
                    "bad_reply_action_from_state_function", a, "StopMachine.replies takes Reply actions"
                )
            self.node.reply(a.from_, a.value)
        raise Stop(r.reason)
