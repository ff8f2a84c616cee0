"""``sys``-style introspection of any :class:`~cns.otp.GenServer` (and so of a Supervisor), as OTP's ``sys``.

Each function sends a *system message* -- a call whose request is a :class:`SysRequest` -- that the
GenServer loop itself answers (``GenServer.receive`` tests one class per call, as it always did for
``stop``); no callback of the server runs, so it works on any server, busy or suspended, in mailbox order::

    from cns.otp import sysapi
    sysapi.get_state(node, pid)                        # {"n": 3, ...}: the instance attributes
    sysapi.replace_state(node, pid, lambda s: {**s, "n": 0})
    sysapi.get_status(node, pid)                       # {"pid", "name", "module", "vsn", "status", ...}
    sysapi.statistics(node, pid, True)                 # start counting; statistics(..., "get") reads
    events = []
    sysapi.trace(node, pid, True, events)              # ("in", ...) / ("out", ...) tuples appended
    sysapi.suspend(node, pid); sysapi.resume(node, pid)

The functions are for plain Python (they run the scheduler like ``node.call``; from inside a handler they
raise :class:`~cns.runtime.NotInProcess`). From a handler, send the same request yourself:
``await self.call(pid, SysRequest("get_state"))`` -- the reply is the value, or a :class:`SysError`
instance to raise.

Semantics and failure rules:

- **State** is the server's instance ``__dict__`` (what ``code_change`` receives), without the runtime's
  and this module's private entries. ``get_state`` returns a shallow copy. ``replace_state(fn)`` calls
  ``fn(copy)`` inside the server; it must return a dict, which becomes the state. If ``fn`` raises or
  returns a non-dict, the state is unchanged, the server keeps running and :class:`SysError` is raised here
  (OTP's ``{callback_failed, ...}``).
- **get_status** returns a dict (``pid``, ``name``, ``module``, ``vsn``, ``status`` ``"running"`` or
  ``"suspended"``, ``parent``, ``trap_exit``, ``mailbox`` = messages queued and not yet taken, ``debug`` =
  the active options, ``state``), passed through the server's ``format_status(status)`` callback.
- **Debug options** (statistics, trace, suspension) cost nothing while off. Turning one on installs, in the
  server instance, a debug ``receive`` (and ``send``/``cast``/``call``/``reply`` helper wrappers) and
  re-binds the process's handler to it; the request then yields once so that every message after it --
  including the rest of the batch it arrived in -- goes through the debug handler. Turning the last one
  off removes them. A hot code upgrade keeps them (the handler is re-bound from ``actor.receive``), unless
  the new ``code_change`` drops the private entries from the state.
- **statistics**: ``True`` starts (and resets) counting, ``False`` stops, ``"get"`` returns
  ``{"start_time", "current_time", "reductions", "messages_in", "messages_out"}`` or None when off, as
  OTP. ``messages_in`` counts every non-system message handled; ``messages_out`` counts replies and
  messages sent through the GenServer helpers (``self.send``/``cast``/``call``/``reply``) -- not a direct
  ``self.node.send`` (the runtime has no per-process send hook). ``reductions`` is the runtime's
  per-process count when it has one (``Pid.reductions``), else None. Times are ``time.time()`` seconds.
- **trace**: ``True`` with a sink (a list to append to, or a callable of one event) emits, per message,
  ``("in", ("call", request, caller))``, ``("in", ("cast", msg))`` or ``("in", msg)`` (info); per reply
  ``("out", value, caller)``; per helper send ``("out", msg, dest)`` (a cast's ``msg`` is
  ``("cast", m)``, a call's ``("call", request)``). ``caller`` is None for a plain-Python caller. A sink
  that raises crashes the server (the sink runs inside it).
- **suspend**: the server handles only system messages (and its parent's exit signal, which stops it as
  usual) until **resume**; other messages -- calls too, whose callers wait or time out -- are kept in
  arrival order and handled at ``resume``, before any message that arrived after the ``resume`` request.
"""

from __future__ import annotations

import time
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from ..runtime.errors import ActorError, BadArg, NotInProcess
from ..runtime.node import Node
from ..runtime.process import Exit, From, Pid, Stop

if TYPE_CHECKING:
    from .gen_server import GenServer

__all__ = [
    "SysError",
    "SysRequest",
    "get_state",
    "get_status",
    "replace_state",
    "resume",
    "statistics",
    "suspend",
    "trace",
]

# Instance entries that are not the server's state: the GenServer's parent, the debug record, the wrappers.
_PRIVATE = frozenset({"_parent", "_sys", "receive", "send", "cast", "call", "reply"})
_WRAPPED = ("receive", "send", "cast", "call", "reply")


class SysError(ActorError):
    """A system request failed: unknown request, bad argument, or a ``replace_state`` function that raised
    (``__cause__``) or returned a non-dict. The server keeps running."""


class SysRequest:
    """A system message: ``op`` with ``arg``. Send it as a call's request; the GenServer loop answers."""

    __slots__ = ("arg", "op")

    def __init__(self, op: str, arg: Any = None) -> None:
        self.op = op
        self.arg = arg

    def __repr__(self) -> str:
        return f"SysRequest({self.op!r})"


class _Yield:
    """Awaitable that yields once to the scheduler: the process re-queues the rest of its batch and resumes
    on a later turn (so a newly bound handler applies from the very next message)."""

    __slots__ = ()

    def __await__(self) -> Any:
        yield None


class _Debug:
    """The debug options of one server (present only while one is on)."""

    __slots__ = (
        "deferred",
        "msgs_in",
        "msgs_out",
        "red0",
        "replied",
        "sink",
        "stats",
        "stats_t0",
        "suspended",
    )

    def __init__(self) -> None:
        self.stats = False
        self.stats_t0 = 0.0
        self.red0: int | None = None
        self.msgs_in = 0
        self.msgs_out = 0
        self.sink: Any = None  # trace sink: list or callable, None when not tracing
        self.suspended = False
        self.deferred: list[Any] = []
        self.replied: From | None = None  # the call whose reply the reply wrapper already traced

    @property
    def active(self) -> bool:
        return self.stats or self.sink is not None or self.suspended or bool(self.deferred)

    def options(self) -> list[str]:
        return [
            n
            for n, on in (
                ("statistics", self.stats),
                ("trace", self.sink is not None),
                ("suspended", self.suspended),
            )
            if on
        ]

    def emit(self, event: tuple[Any, ...]) -> None:
        s = self.sink
        if s.__class__ is list:
            s.append(event)
        else:
            s(event)

    def out(self, msg: Any, dest: Any) -> None:
        if self.stats:
            self.msgs_out += 1
        if self.sink is not None:
            self.emit(("out", msg, dest))


# ------------------------------------------------------------------- inside the server
def state_of(server: GenServer) -> dict[str, Any]:
    """The server's state: a shallow copy of its instance dict without private entries."""
    return {k: v for k, v in server.__dict__.items() if k not in _PRIVATE}


def handle_system(server: GenServer, req: SysRequest, from_: From) -> Any:
    """Answer one system request inside ``server`` (called by ``GenServer.receive``). Returns None, or a
    coroutine the scheduler drives (when the handler binding changed and the batch must be re-read).

    Only ``stop`` ends the server; any other failure (unknown request, malformed argument, a raising
    ``replace_state`` function or ``format_status``) is answered with a :class:`SysError`."""
    if req.op == "stop":
        raise Stop(req.arg, reply="ok")
    try:
        return _dispatch(server, req.op, req.arg, from_)
    except Exception as e:  # noqa: BLE001 - a bad system request never kills the server
        err = (
            e
            if isinstance(e, SysError)
            else SysError(f"system request {req.op!r} to {server.pid!r} failed: {e!r}")
        )
        if err is not e:
            err.__cause__ = e
        server.node.reply(from_, err)
        return None


def _dispatch(server: GenServer, op: str, arg: Any, from_: From) -> Any:
    d: _Debug | None = server.__dict__.get("_sys")
    if op == "get_state":
        r: Any = state_of(server)
    elif op == "replace_state":
        r = _replace_state(server, arg)
    elif op == "get_status":
        r = _status(server, d)
    elif op == "statistics":
        return _statistics(server, d, arg, from_)
    elif op == "trace":
        return _trace(server, d, arg, from_)
    elif op == "suspend":
        d = _install(server, d)
        d.suspended = True
        return _rebound(server, from_, "ok")
    elif op == "resume":
        if d is None or not d.suspended:
            r = "ok"
        else:
            d.suspended = False
            return _resume(server, d, from_)
    else:
        raise SysError(f"unknown system request {op!r} to {server.pid!r}")
    server.node.reply(from_, r)
    return None


def _replace_state(server: GenServer, fn: Any) -> dict[str, Any]:
    if not callable(fn):
        raise SysError(f"replace_state needs a callable, got {fn!r}")
    try:
        new = fn(state_of(server))
    except Exception as e:  # noqa: BLE001 - OTP: {callback_failed, ...}; the server keeps its state
        raise SysError(f"replace_state function failed in {server.pid!r}: {e!r}") from e
    if not isinstance(new, dict) or not all(isinstance(k, str) for k in new):
        raise SysError(f"replace_state function must return a dict of str keys, got {type(new).__name__}")
    private = {k: v for k, v in server.__dict__.items() if k in _PRIVATE}
    server.__dict__.clear()
    server.__dict__.update(new)
    server.__dict__.update(private)
    return state_of(server)


def _status(server: GenServer, d: _Debug | None) -> dict[str, Any]:
    pid = server.pid
    cls = type(server)
    status = {
        "pid": pid,
        "name": pid.name,
        "module": f"{cls.__module__}.{cls.__qualname__}",
        "vsn": cls.vsn,
        "status": "suspended" if d is not None and d.suspended else "running",
        "parent": server._parent,
        "trap_exit": pid.trap,
        "mailbox": pid.mailbox_size,
        "debug": d.options() if d is not None else [],
        "state": state_of(server),
    }
    r = server.format_status(status)
    if not isinstance(r, dict):
        raise SysError(f"format_status of {cls.__qualname__} must return a dict, got {type(r).__name__}")
    return r


def _statistics(server: GenServer, d: _Debug | None, flag: Any, from_: From) -> Any:
    if flag == "get":
        if d is None or not d.stats:
            server.node.reply(from_, None)
            return None
        red = getattr(server.pid, "reductions", None)
        server.node.reply(
            from_,
            {
                "start_time": d.stats_t0,
                "current_time": time.time(),
                "reductions": None if red is None or d.red0 is None else red - d.red0,
                "messages_in": d.msgs_in,
                "messages_out": d.msgs_out,
            },
        )
        return None
    if flag is True:
        d = _install(server, d)
        d.stats, d.stats_t0, d.msgs_in, d.msgs_out = True, time.time(), 0, 0
        d.red0 = getattr(server.pid, "reductions", None)
        return _rebound(server, from_, "ok")
    if flag is False:
        if d is not None:
            d.stats = False
            _uninstall_if_idle(server, d)
        server.node.reply(from_, "ok")
        return None
    server.node.reply(from_, SysError(f"statistics flag must be True, False or 'get', got {flag!r}"))
    return None


def _trace(server: GenServer, d: _Debug | None, arg: Any, from_: From) -> Any:
    flag, sink = arg
    if flag:
        if not (sink.__class__ is list or callable(sink)):
            server.node.reply(from_, SysError(f"trace sink must be a list or a callable, got {sink!r}"))
            return None
        d = _install(server, d)
        d.sink = sink
        return _rebound(server, from_, "ok")
    if d is not None:
        d.sink = None
        _uninstall_if_idle(server, d)
    server.node.reply(from_, "ok")
    return None


def _install(server: GenServer, d: _Debug | None) -> _Debug:
    """Put the debug record and wrappers in the instance dict (instance attributes shadow the class's
    methods) and re-bind the process's handler to the debug ``receive``."""
    if d is not None:
        return d
    d = _Debug()
    sd = server.__dict__
    sd["_sys"] = d

    def receive(msg: Any) -> Any:
        return _debug_receive(server, d, msg)

    def send(dest: Any, msg: Any) -> None:
        d.out(msg, dest)
        type(server).send(server, dest, msg)

    def cast(dest: Any, msg: Any) -> None:
        d.out(("cast", msg), dest)
        type(server).cast(server, dest, msg)

    def call(dest: Any, request: Any, timeout: float = 5.0) -> Any:
        d.out(("call", request), dest)
        return type(server).call(server, dest, request, timeout)

    def reply(from_: From, value: Any) -> None:
        if not from_.done:
            d.replied = from_
            d.out(value, from_.caller)
        type(server).reply(server, from_, value)

    sd.update(receive=receive, send=send, cast=cast, call=call, reply=reply)
    server.pid.handler = receive  # the runtime calls pid.handler per message (as run_in re-binds it)
    return d


def _uninstall_if_idle(server: GenServer, d: _Debug) -> None:
    if d.active:
        return
    sd = server.__dict__
    sd.pop("_sys", None)
    for k in _WRAPPED:
        sd.pop(k, None)
    server.pid.handler = server.receive  # the class's receive again (the debug one delegates meanwhile)


async def _rebound(server: GenServer, from_: From, value: Any) -> None:
    server.node.reply(from_, value)
    await _Yield()  # the rest of this batch goes back to the mailbox and is re-read with the new handler


async def _resume(server: GenServer, d: _Debug, from_: From) -> None:
    server.node.reply(from_, "ok")
    while d.deferred:  # they arrived before the resume request: handle them before anything later
        m = d.deferred.pop(0)
        r = _debug_receive(server, d, m)
        if r is not None and r.__class__ is CoroutineType:
            await r
    _uninstall_if_idle(server, d)


def _debug_receive(server: GenServer, d: _Debug, msg: Any) -> Any:
    """The handler while a debug option is on: system messages pass, suspension defers, statistics count,
    trace records; then the class's own ``receive`` handles the message."""
    mc = msg.__class__
    if mc is From and msg.request.__class__ is SysRequest:
        return type(server).receive(server, msg)
    if d.suspended:
        if mc is Exit and msg.pid is server._parent and server.pid.trap:
            return type(server).receive(server, msg)  # sys.erl: the parent's EXIT is handled when suspended
        d.deferred.append(msg)
        return None
    if d.stats:
        d.msgs_in += 1
    if d.sink is not None:
        d.emit(_in_event(msg, mc))
    if mc is not From or (d.sink is None and not d.stats):
        return type(server).receive(server, msg)
    d.replied = None
    r = type(server).receive(server, msg)
    if r is not None and r.__class__ is CoroutineType:
        return _after_call(server, d, r, msg)
    _traced_reply(d, msg)
    return r


def _in_event(msg: Any, mc: type) -> tuple[Any, ...]:
    from .gen_server import Cast

    if mc is From:
        return ("in", ("call", msg.request, msg.caller))
    if mc is Cast:
        return ("in", ("cast", msg.msg))
    return ("in", msg)


def _traced_reply(d: _Debug, from_: From) -> None:
    if from_.done and from_.error is None and d.replied is not from_:
        d.out(from_.value, from_.caller)


async def _after_call(server: GenServer, d: _Debug, coro: Any, from_: From) -> None:
    await coro
    _traced_reply(d, from_)


# ------------------------------------------------------------------- client API (plain Python)
def _sys(node: Node, dest: Pid | str, op: str, arg: Any = None, timeout: float = 5.0) -> Any:
    if node.current is not None:
        raise NotInProcess(
            f"sysapi.{op} from inside a handler; await self.call(pid, SysRequest({op!r}, ...))"
        )
    r = node.call(dest, SysRequest(op, arg), timeout)
    if isinstance(r, SysError):
        raise r
    return r


def get_state(node: Node, dest: Pid | str, timeout: float = 5.0) -> dict[str, Any]:
    """A shallow copy of the server's state (its instance attributes)."""
    return _sys(node, dest, "get_state", None, timeout)  # type: ignore[no-any-return]


def replace_state(node: Node, dest: Pid | str, fn: Any, timeout: float = 5.0) -> dict[str, Any]:
    """Replace the state with ``fn(state)`` (run inside the server); returns the new state. Raises
    :class:`SysError` (state unchanged) if ``fn`` raises or does not return a dict."""
    return _sys(node, dest, "replace_state", fn, timeout)  # type: ignore[no-any-return]


def get_status(node: Node, dest: Pid | str, timeout: float = 5.0) -> dict[str, Any]:
    """The server's status dict (see the module doc), after its ``format_status``."""
    return _sys(node, dest, "get_status", None, timeout)  # type: ignore[no-any-return]


def statistics(node: Node, dest: Pid | str, flag: bool | str = "get", timeout: float = 5.0) -> Any:
    """``True``: start (reset) counting; ``False``: stop; ``"get"``: the counters dict, or None if off."""
    if flag not in (True, False, "get"):
        raise BadArg(f"statistics flag must be True, False or 'get', got {flag!r}")
    return _sys(node, dest, "statistics", flag, timeout)


def trace(node: Node, dest: Pid | str, flag: bool, sink: Any = None, timeout: float = 5.0) -> None:
    """Turn message tracing on (events to ``sink``: a list or a callable) or off."""
    if flag and not (isinstance(sink, list) or callable(sink)):
        raise BadArg(f"trace sink must be a list or a callable, got {sink!r}")
    _sys(node, dest, "trace", (bool(flag), sink if flag else None), timeout)


def suspend(node: Node, dest: Pid | str, timeout: float = 5.0) -> None:
    """Make the server handle only system messages until :func:`resume`."""
    _sys(node, dest, "suspend", None, timeout)


def resume(node: Node, dest: Pid | str, timeout: float = 5.0) -> None:
    """Resume a suspended server; the messages kept meanwhile are handled first, in arrival order."""
    _sys(node, dest, "resume", None, timeout)
