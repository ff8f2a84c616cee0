"""GenStatem behaviour: an event-driven state machine process, in the manner of OTP's gen_statem.

Subclass :class:`GenStatem`, choose a callback mode and return transitions from the state callbacks::

    class Door(GenStatem):
        state_enter = True                             # enter calls on every state change

        def init(self, code):
            return "locked", {"code": code, "typed": ""}

        def locked(self, event_type, content, data):   # callback_mode = "state_functions" (the default)
            match event_type, content:
                case "enter", _:
                    return KeepState(actions=CancelTimeout("state_timeout"))
                case "cast", ("button", digit):
                    typed = data["typed"] + digit
                    if typed == data["code"]:
                        return NextState("open", {**data, "typed": ""})
                    return KeepState({**data, "typed": typed}, EventTimeout(10.0, "clear"))
                case "timeout", "clear":
                    return KeepState({**data, "typed": ""})
                case Call(frm), "status":
                    return KeepState(actions=Reply(frm, "locked"))

        def open(self, event_type, content, data):
            match event_type, content:
                case "enter", _:
                    return KeepState(actions=StateTimeout(5.0, "lock"))
                case "state_timeout", "lock":
                    return NextState("locked")
                case Call(frm), "status":
                    return KeepState(actions=Reply(frm, "open"))
                case "cast", _:
                    return KeepState(actions=Postpone())   # handled again once locked

Callback contracts (types in :mod:`cns.otp.gen_statem_actions`; the reasons are OTP's):

- ``init(*args)`` returns ``(state, data)`` or ``(state, data, actions)``; :data:`~cns.otp.IGNORE` to not start
  (``start`` returns None); ``raise Stop(reason)``, any exception, or a ``StopMachine`` return fails the start
  (:class:`~cns.runtime.InitFailed`, as GenServer). Anything else: ``InitFailed`` with a :class:`BadReturn`
  ``bad_return_from_init``. The first state is entered *after* ``start`` returns, inside the process and before
  any message: the enter call (``old_state`` = the first state), then the init actions (``Postpone`` is
  ignored there: there is no event), then inserted events. An error from then on exits the process.
- ``callback_mode = "state_functions"`` (class attribute, default): the state is a str naming a method,
  called as ``state(event_type, content, data)``; ``"handle_event_function"``: every event goes to
  ``handle_event(event_type, content, state, data)`` and the state may be any value. ``state_enter = True``
  adds an enter call (``event_type == "enter"``, ``content`` = the old state) on every state change and on
  ``RepeatState``. An enter call may not ``Postpone`` nor insert a ``NextEvent`` (:class:`BadAction`
  ``bad_state_enter_action_from_state_function``) and may not change the state.
- A callback returns ``NextState`` / ``KeepState`` / ``RepeatState`` / ``StopMachine`` or None (=
  ``KeepState()``); anything else exits the process with :class:`BadReturn`
  ``bad_return_from_state_function``. ``raise Stop(reason, reply=v)`` works as in GenServer (the reply goes to
  the current call first); any other exception is the exit reason. In every case ``terminate`` runs first.
- ``terminate(reason, state, data)`` on stop, on error and on the parent's exit signal while trapping exits
  (``self.trap_exit()``), as GenServer. ``code_change_state(old_vsn, state, data, extra)`` returns the new
  ``(state, data)`` for hot code loading (:mod:`cns.otp.hotload`). State callbacks, ``handle_event`` and
  ``terminate`` may be ``async def`` (await ``self.call(...)``); the machine handles nothing else meanwhile.

The state transition after each callback (:mod:`cns.otp.gen_statem_transition`), in order (OTP's
``transition_option()`` rules): ``Reply`` actions are sent as they are met; the enter call runs if the state
changed (or ``RepeatState``); the current event is postponed if asked; on a state change the postponed
events go back in front of the queue, oldest first, and a running state time-out is cancelled; inserted
events (``NextEvent``) go in front of those, in action order; time-outs are started, restarted, updated or
cancelled in action order (time 0: the event is queued behind every queued event but before any message not
yet received); then the next queued event is handled, else the next message. Handling *any* event cancels
the event time-out.

Events: calls (``node.call`` / :func:`call`, event type :class:`Call`), casts (:func:`cast`, the same
envelope as GenServer's), other messages (``"info"``), inserted events, and the time-outs. Clients:
:func:`call`, :func:`cast`, :func:`reply` (deferred reply from any later callback), :func:`stop` and
:func:`get_state`. Under a Supervisor: ``ChildSpec(id, lambda node: Door.start_link(node, "1234"))``.
"""

from __future__ import annotations

from collections import deque
from types import CoroutineType, FunctionType
from typing import Any, ClassVar, Generic, TypeVar

from ..runtime.errors import NotInProcess
from ..runtime.node import Node
from ..runtime.process import NORMAL, Exit, From, Pid, Stop
from .behaviour import IGNORE, Behaviour, Cast
from .gen_server import call, cast
from .gen_statem_actions import (
    Action,
    BadAction,
    BadCallbackMode,
    BadReturn,
    Call,
    CancelTimeout,
    EventTimeout,
    GenericTimeout,
    GenStatemError,
    Hibernate,
    KeepState,
    NextEvent,
    NextState,
    Postpone,
    RepeatState,
    Reply,
    StateTimeout,
    StopMachine,
    UndefStateFunction,
    UpdateTimeout,
    _Armed,
    _Tick,
)
from .gen_statem_transition import _ENTER, TransitionMixin, _Step, _Trans
from .sysapi import SysError, SysRequest

__all__ = [
    "Action",
    "BadAction",
    "BadCallbackMode",
    "BadReturn",
    "Call",
    "CancelTimeout",
    "EventTimeout",
    "GenStatem",
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
    "call",
    "cast",
    "get_state",
    "reply",
    "stop",
]

S = TypeVar("S")
D = TypeVar("D")

CALLBACK_MODES = ("state_functions", "handle_event_function")

_BOOT: Any = _Step("BOOT")  # first message of a new machine (queued ahead of all): enter the first state


class GenStatem(TransitionMixin, Behaviour, Generic[S, D]):
    """Base class of state machines; see the module doc for the callback contracts.

    Class attributes: ``callback_mode`` (``"state_functions"`` or ``"handle_event_function"``),
    ``state_enter`` (bool) and ``vsn`` (the code version, for hot code loading). In ``state_functions`` mode
    the names of this base class's attributes (``init``, ``terminate``, ``start``, ``state``, ``data``,
    ``reply``, ...) and names starting with ``_`` cannot be states.
    """

    pid: Pid  # set by spawn (Actor slots; annotated here for the type checker)
    node: Node
    callback_mode: ClassVar[str] = "state_functions"
    state_enter: ClassVar[bool] = False
    vsn: ClassVar[Any] = 1
    _hef: ClassVar[bool] = False  # handle_event_function mode
    _sf: ClassVar[dict[str, Any]] = {}  # state name -> function, per class

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        mode = cls.callback_mode
        if mode not in CALLBACK_MODES:
            raise BadCallbackMode("bad_callback_mode", mode, f"{cls.__qualname__}: one of {CALLBACK_MODES}")
        clash = sorted(n for n in vars(cls) if n in _INTERNALS)
        if clash:
            raise BadCallbackMode(
                "bad_callback_mode",
                clash,
                f"{cls.__qualname__} redefines GenStatem internals {clash}; rename them",
            )
        cls._hef = mode == "handle_event_function"
        cls._sf = {}

    # --------------------------------------------------------------- callbacks (override)
    def init(self, *args: Any) -> Any:
        """Return ``(state, data)`` or ``(state, data, actions)``; runs inside the new process during ``start``."""
        raise NotImplementedError(f"{type(self).__name__}.init")

    def handle_event(self, event_type: Any, content: Any, state: S, data: D) -> Any:
        """The state callback of ``handle_event_function`` mode."""
        raise NotImplementedError(
            f"{type(self).__name__}.handle_event({event_type!r}, {content!r}, {state!r})"
        )

    def terminate(self, reason: Any, state: S, data: D) -> Any:
        """Clean up before the process exits with ``reason`` (not called on ``kill`` or an untrapped signal)."""
        return None

    def code_change_state(self, old_vsn: Any, state: S, data: D, extra: Any) -> tuple[Any, Any]:
        """Hot code loading: return the new ``(state, data)``; raise to refuse (the old code stays)."""
        return state, data

    # --------------------------------------------------------------- starting
    @classmethod
    def start(
        cls, node: Node, *args: Any, name: str | None = None, link: bool = False, **spawn_opts: Any
    ) -> Pid | None:
        """Spawn the machine and run ``init(*args)`` in it synchronously; return its pid (None on IGNORE).

        Same contract as :meth:`cns.otp.GenServer.start`: ``link`` links to the calling process before
        ``init``; a failing ``init`` exits the process and raises :class:`~cns.runtime.InitFailed`. The first
        state is entered (enter call, init actions) by the process itself, before any message.
        """
        inst = cls()
        inst._reset()
        pid = cls._start_process(node, inst, lambda: inst._init(args), name, link, spawn_opts)
        if pid is None:
            return None
        mb = pid.mbox
        if mb is not None:  # enter the first state before any message, even those init sent to itself
            list.insert(mb, 0, _BOOT)
            node._schedule(pid)
        return pid

    def _reset(self) -> None:
        self._state: Any = None
        self._data: Any = None
        self._queue: deque[tuple[Any, Any]] = deque()  # inserted and retried postponed events
        self._t0q: deque[_Armed] = deque()  # time-outs of time 0, handled after _queue, before messages
        self._postponed: list[tuple[Any, Any]] = []
        self._timers: dict[Any, _Armed] = {}
        self._ticks: dict[Any, _Tick] = {}
        self._tr: _Trans | None = None
        self._init_actions: Any = ()
        self._parent = None

    def _init(self, args: tuple[Any, ...]) -> Any:
        r = self.init(*args)
        if r is IGNORE:
            return r
        if r.__class__ is StopMachine:
            raise Stop(r.reason)
        if r.__class__ is not tuple or len(r) not in (2, 3):
            raise BadReturn("bad_return_from_init", r, "expected (state, data) or (state, data, actions)")
        self._state, self._data = r[0], r[1]
        self._init_actions = r[2] if len(r) == 3 else ()
        return None

    # --------------------------------------------------------------- helpers for callbacks
    @property
    def state(self) -> S:
        """The current state (read-only; change it by returning ``NextState``)."""
        return self._state  # type: ignore[no-any-return]

    @property
    def data(self) -> D:
        """The current data (read-only; change it by returning a result with ``data``)."""
        return self._data  # type: ignore[no-any-return]

    def code_change(self, old_vsn: Any, state_dict: dict[str, Any], extra: Any) -> dict[str, Any]:
        """The hot-loading hook (:mod:`cns.otp.hotload`): applies :meth:`code_change_state`. Do not override."""
        r = self.code_change_state(old_vsn, state_dict["_state"], state_dict["_data"], extra)
        if r.__class__ is not tuple or len(r) != 2:
            raise BadReturn("bad_return_from_code_change", r, "expected (state, data)")
        state_dict["_state"], state_dict["_data"] = r
        return state_dict

    # --------------------------------------------------------------- dispatch (runtime entry point)
    def receive(self, msg: Any) -> Any:
        """Runtime entry point: turn one mailbox message into an event (call, cast, timeout, info) and run the
        state function; raises GenStatemError on a bad return. Do not override.
        """
        cls = msg.__class__
        if cls is From:
            req = msg.request
            if req.__class__ is SysRequest:
                return self._system(msg, req)
            ev: tuple[Any, Any] = (Call(msg), req)
        elif cls is Cast:
            ev = ("cast", msg.msg)
        elif cls is _Tick:
            ev = self._tick(msg)  # type: ignore[assignment]
            if ev is None:  # stale, cancelled, or early (re-armed)
                return None
        elif msg is _BOOT:
            return self._drive(_BOOT)
        elif cls is Exit and msg.pid is self._parent and self.pid.trap:
            return self._shutdown(msg.reason, None)
        else:
            ev = ("info", msg)
        timers = self._timers
        if timers:  # any event cancels the event time-out
            a = timers.pop("timeout", None)
            if a is not None:
                a.active = False
        return self._drive(ev)

    def _drive(self, step: Any) -> Any:
        """Handle ``step`` and then every queued event; hand over to :meth:`_drive_async` at the first
        coroutine. Stops and errors run ``terminate`` and exit the process."""
        try:
            if step is _BOOT:
                step = self._boot()
            while step is not None:
                r = self._invoke(step)
                if r.__class__ is CoroutineType:
                    return self._drive_async(r, step)
                step = self._apply(step, r)
            return None
        except Stop as s:
            return self._stopping(s, step)
        except Exception as e:  # noqa: BLE001 - terminate, then exit with the exception
            return self._terminate(e, e)

    async def _drive_async(self, r: Any, step: Any) -> None:
        try:
            r = await r
            while True:
                step = self._apply(step, r)
                if step is None:
                    return
                r = self._invoke(step)
                if r.__class__ is CoroutineType:
                    r = await r
        except Stop as s:
            t = self._stopping(s, step)
        except Exception as e:  # noqa: BLE001
            t = self._terminate(e, e)
        if t is not None:
            await t

    def _invoke(self, step: Any) -> Any:
        """Call the state callback for an event ``(type, content)`` or for the pending enter call."""
        if step is _ENTER:
            etype, content = "enter", self._tr.old  # type: ignore[union-attr]
        else:
            etype, content = step
        if self._hef:
            return self.handle_event(etype, content, self._state, self._data)
        state = self._state
        fn = self._sf.get(state) if state.__class__ is str else None
        if fn is None:
            fn = self._state_function(state)
        return fn(self, etype, content, self._data)

    def _state_function(self, state: Any) -> Any:
        cls = type(self)
        fn = None
        if state.__class__ is str and not state.startswith("_") and state not in _RESERVED:
            fn = getattr(cls, state, None)
        if not isinstance(fn, FunctionType):
            raise UndefStateFunction(
                "undef_state_function",
                (cls.__qualname__, state),
                "state_functions mode: the state must name a method of the class",
            )
        cls._sf[state] = fn
        return fn

    # --------------------------------------------------------------- stopping
    def _stopping(self, s: Stop, step: Any) -> Any:
        if s.reply is not Stop._NO_REPLY and step.__class__ is tuple and step[0].__class__ is Call:
            self.node.reply(step[0].from_, s.reply)
        return self._terminate(s.reason, s)

    def _terminate(self, reason: Any, exc: BaseException) -> Any:
        """Run ``terminate(reason, state, data)``, then exit (raise ``exc``)."""
        self._cancel_ticks()
        t = self.terminate(reason, self._state, self._data)
        if t is not None and t.__class__ is CoroutineType:
            return self._terminate_async(t, exc)
        raise exc

    async def _terminate_async(self, t: Any, exc: BaseException) -> None:
        await t
        raise exc

    def _shutdown(self, reason: Any, from_: From | None) -> Any:
        """A stop order (``stop`` or the parent's exit signal): terminate, answer ``stop``, exit ``reason``."""
        self._cancel_ticks()
        t = self.terminate(reason, self._state, self._data)
        if t is not None and t.__class__ is CoroutineType:
            return self._shutdown_async(t, reason, from_)
        if from_ is not None:
            self.node.reply(from_, "ok")
        raise Stop(reason)

    async def _shutdown_async(self, t: Any, reason: Any, from_: From | None) -> None:
        await t
        if from_ is not None:
            self.node.reply(from_, "ok")
        raise Stop(reason)

    def _system(self, from_: From, req: SysRequest) -> Any:
        """The system messages of :mod:`cns.otp.sysapi` for a state machine: ``stop``, ``get_state`` (the
        ``(state, data)`` pair, as OTP's ``sys:get_state``), ``replace_state`` (``fn((state, data))`` returns
        the new pair) and ``get_status``; any other request is answered with a :class:`SysError`."""
        op = req.op
        if op == "stop":
            return self._shutdown(req.arg, from_)
        r: Any
        if op == "get_state":
            r = (self._state, self._data)
        elif op == "replace_state":
            try:
                new = req.arg((self._state, self._data))
                state, data = new
            except Exception as e:  # noqa: BLE001 - a bad system request never kills the machine
                r = SysError(f"replace_state on {self.pid!r} failed: {e!r}")
            else:
                self._state, self._data = state, data
                r = new
        elif op == "get_status":
            r = {
                "pid": self.pid,
                "module": type(self).__qualname__,
                "status": "running",
                "state": self._state,
                "data": self._data,
            }
        else:
            r = SysError(f"system request {op!r} is not supported by a GenStatem ({self.pid!r})")
        self.node.reply(from_, r)
        return None


_RESERVED = frozenset(dir(GenStatem))
# private machinery of the behaviour (and of the runtime's Actor) that a subclass must not shadow by accident
_INTERNALS = frozenset(
    n
    for c in GenStatem.__mro__[:-1]
    for n in vars(c)
    if n.startswith("_") and not (n.startswith("__") and n.endswith("__"))
)


# ------------------------------------------------------------------- client API
def reply(from_: From, value: Any) -> None:
    """Answer a call from any callback, now or in a later event (OTP's ``gen_statem:reply/2``); only the
    first reply counts."""
    from_.target.node.reply(from_, value)


def stop(node: Node, dest: Pid | str, reason: Any = NORMAL, timeout: float = 5.0) -> None:
    """Stop the machine synchronously with ``reason`` (``terminate`` runs first); from plain Python only."""
    if node.current is not None:
        raise NotInProcess("gen_statem.stop from inside a handler; use node.exit")
    node.call(dest, SysRequest("stop", reason), timeout)


def get_state(node: Node, dest: Pid | str, timeout: float = 5.0) -> tuple[Any, Any]:
    """``(state, data)`` of a running machine, between two events (OTP's ``sys:get_state``); plain Python."""
    return node.call(dest, SysRequest("get_state", None), timeout)  # type: ignore[no-any-return]
