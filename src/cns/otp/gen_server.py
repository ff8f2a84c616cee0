"""GenServer behaviour: a process with a call/cast/info protocol, in the manner of OTP's gen_server.

Subclass :class:`GenServer` and override the callbacks; state lives in the instance's attributes.

Return conventions:

- ``init(*args)``: return anything (ignored) to start; return :data:`IGNORE` to not start (``start`` returns
  None); raise :class:`~cns.runtime.Stop` or any exception to fail: the process exits with that reason
  (a linked parent gets the exit signal, as in OTP) and ``start`` raises ``InitFailed``.
- ``handle_call(request, from_)``: the return value is the reply; return :data:`NOREPLY` to answer later with
  ``self.reply(from_, value)`` (from any later message); ``raise Stop(reason, reply=value)`` to reply and stop.
- ``handle_cast(msg)`` / ``handle_info(msg)``: return None; ``raise Stop(reason)`` to stop.
- Any callback may be ``async def`` and ``await self.call(pid, req)`` (see :mod:`cns.runtime`).
- ``terminate(reason)`` runs when a callback stops or raises, and when the parent's exit signal arrives while
  the server traps exits (``self.trap_exit()`` in ``init``); it may be ``async def``.
- ``code_change(old_vsn, state, extra)``: ``state`` is the instance ``__dict__``; return the new dict.
- ``format_status(status)``: shape the dict :func:`cns.otp.sysapi.get_status` returns (e.g. hide secrets).

System messages: a call whose request is a :class:`~cns.otp.sysapi.SysRequest` is answered by the loop
itself, not by ``handle_call`` -- ``stop`` and the :mod:`cns.otp.sysapi` requests (get/replace state,
status, statistics, trace, suspend/resume), as OTP's gen_server hands ``{system, From, Req}`` to ``sys``.
They cost one class test per call; debug options cost nothing while off.
"""

from __future__ import annotations

from types import CoroutineType
from typing import Any, ClassVar

from ..runtime.errors import NotInProcess
from ..runtime.node import Node
from ..runtime.process import NORMAL, Exit, From, Pid, Stop
from .behaviour import IGNORE, Behaviour, Cast, _Sentinel
from .sysapi import SysRequest, handle_system

__all__ = ["IGNORE", "NOREPLY", "Cast", "GenServer", "call", "cast", "stop"]


NOREPLY: Any = _Sentinel("NOREPLY")


class GenServer(Behaviour):
    """Base class of generic servers. ``vsn`` identifies the code version for hot code loading."""

    vsn: ClassVar[Any] = 1

    # --------------------------------------------------------------- callbacks (override)
    def init(self, *args: Any) -> Any:
        """Set up state; runs synchronously inside the new process before ``start`` returns."""
        return None

    def handle_call(self, request: Any, from_: From) -> Any:
        """Answer a call: the return value is the reply; :data:`NOREPLY` to answer later with :meth:`reply`;
        ``raise Stop(reason, reply=value)`` to reply and stop. The default raises NotImplementedError.
        """
        raise NotImplementedError(f"{type(self).__name__}.handle_call({request!r})")

    def handle_cast(self, msg: Any) -> Any:
        """Handle a cast (no reply); return None, ``raise Stop(reason)`` to stop. The default raises NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__}.handle_cast({msg!r})")

    def handle_info(self, msg: Any) -> Any:
        """Handle any other message (exit signals when trapping, timers); return None. The default drops it."""
        return None  # OTP's default logs and drops unexpected messages

    def terminate(self, reason: Any) -> Any:
        """Clean up when the server stops (a callback stopped or raised, or a trapped parent exit); the return
        value is ignored. May be ``async def``.
        """
        return None

    def code_change(self, old_vsn: Any, state: dict[str, Any], extra: Any) -> dict[str, Any]:
        """Hot-loading hook: ``state`` is the instance ``__dict__`` at ``old_vsn``; return the dict for the new code."""
        return state

    def format_status(self, status: dict[str, Any]) -> dict[str, Any]:
        """Return the status dict ``sysapi.get_status`` reports (default: unchanged); runs in the server."""
        return status

    # --------------------------------------------------------------- starting
    @classmethod
    def start(
        cls, node: Node, *args: Any, name: str | None = None, link: bool = False, **spawn_opts: Any
    ) -> Pid | None:
        """Spawn the server and run ``init(*args)`` in it synchronously; return its pid (None on IGNORE).

        ``link`` links it to the calling process (its *parent*) *before* ``init`` runs, as OTP's
        ``start_link`` does; ``spawn_opts`` go to ``Node.spawn`` (mailbox bounds).

        If ``init`` raises (reason: the exception) or raises ``Stop(reason)``, the process exits with that
        reason and :class:`InitFailed` (``.reason``) is raised here -- OTP's ``{error, Reason}``. Because the
        process exits, a linked parent also gets the exit signal, exactly as in OTP: a parent that traps
        exits receives ``Exit(pid, reason)`` (a supervisor ignores it: the pid never became its child); a
        non-trapping parent dies with the reason unless it is ``normal``. On IGNORE the process exits
        ``normal`` and None is returned.
        """
        inst = cls()
        return cls._start_process(node, inst, lambda: inst.init(*args), name, link, spawn_opts)

    # --------------------------------------------------------------- dispatch (runtime entry point)
    def receive(self, msg: Any) -> Any:
        """Runtime entry point: dispatch one mailbox message to the system handler, ``handle_call``,
        ``handle_cast`` or ``handle_info`` and apply the return convention. Do not override.
        """
        cls = msg.__class__
        try:
            if cls is From:
                req = msg.request
                if req.__class__ is SysRequest:
                    return handle_system(self, req, msg)
                r = self.handle_call(req, msg)
                if r is NOREPLY:
                    return None
                if r.__class__ is CoroutineType:
                    return self._async_call(r, msg)
                if msg.caller is None:  # plain-Python caller: the fast path of Node.reply
                    if not msg.done:
                        msg.done = True
                        msg.value = r
                else:
                    self.node.reply(msg, r)
                return None
            if cls is Cast:
                r = self.handle_cast(msg.msg)
            elif cls is Exit and msg.pid is self._parent and self.pid.trap:
                raise Stop(msg.reason)
            else:
                r = self.handle_info(msg)
            if r is not None and r.__class__ is CoroutineType:
                return self._async_other(r)
            return None
        except Stop as s:
            return self._stop(s.reason, s, msg if cls is From else None)
        except Exception as e:  # noqa: BLE001 - terminate, then exit with the exception
            return self._stop(e, e, None)

    async def _async_call(self, coro: Any, from_: From) -> None:
        try:
            r = await coro
        except Stop as s:
            t = self._stop(s.reason, s, from_)
        except Exception as e:  # noqa: BLE001
            t = self._stop(e, e, None)
        else:
            if r is not NOREPLY:
                self.node.reply(from_, r)
            return
        if t is not None:
            await t

    async def _async_other(self, coro: Any) -> None:
        try:
            await coro
        except Stop as s:
            t = self._stop(s.reason, s, None)
        except Exception as e:  # noqa: BLE001
            t = self._stop(e, e, None)
        else:
            return
        if t is not None:
            await t

    def _stop(self, reason: Any, exc: BaseException, from_: From | None) -> Any:
        """Run ``terminate(reason)``, reply if the stop carries a reply, then exit (raise) with ``reason``."""
        t = self.terminate(reason)
        if t is not None and t.__class__ is CoroutineType:
            return self._finish_async_terminate(t, exc, from_)
        self._reply_on_stop(exc, from_)
        raise exc

    async def _finish_async_terminate(self, t: Any, exc: BaseException, from_: From | None) -> None:
        await t
        self._reply_on_stop(exc, from_)
        raise exc

    def _reply_on_stop(self, exc: BaseException, from_: From | None) -> None:
        if from_ is not None and exc.__class__ is Stop and exc.reply is not Stop._NO_REPLY:
            self.node.reply(from_, exc.reply)


# ------------------------------------------------------------------- client API (plain Python or handlers)
def call(node: Node, dest: Pid | str, request: Any, timeout: float = 5.0) -> Any:
    """Synchronous call from plain Python (``node.call``); inside a handler use ``await self.call(...)``."""
    return node.call(dest, request, timeout)


def cast(node: Node, dest: Pid | str, msg: Any) -> None:
    """Asynchronous request handled by ``handle_cast``; works from plain Python and from handlers."""
    node.send(dest, Cast(msg))


def stop(node: Node, dest: Pid | str, reason: Any = NORMAL, timeout: float = 5.0) -> None:
    """Stop the server synchronously with ``reason`` (``terminate`` runs); from plain Python only."""
    if node.current is not None:
        raise NotInProcess("gen_server.stop from inside a handler; use node.exit or await self.call")
    node.call(dest, SysRequest("stop", reason), timeout)
