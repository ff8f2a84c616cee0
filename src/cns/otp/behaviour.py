"""What every OTP behaviour process shares (:class:`~cns.otp.GenServer`, :class:`~cns.otp.GenStatem`): the
synchronous start with OTP's failure rules and the helpers callbacks use to talk to other processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..runtime.errors import InitFailed
from ..runtime.node import Node
from ..runtime.process import NORMAL, Actor, From, Pid, Stop

__all__ = ["Behaviour", "Cast", "IGNORE"]


class _Sentinel:
    """A named marker value (``IGNORE``, ``NOREPLY``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


IGNORE: Any = _Sentinel("IGNORE")  # from init: start nothing (start returns None, the process exits normal)


class Cast:
    """Envelope of a cast (``handle_cast``), distinguishing it from a plain info message."""

    __slots__ = ("msg",)

    def __init__(self, msg: Any) -> None:
        self.msg = msg


class Behaviour(Actor):
    """Base of the behaviour processes: ``_parent`` is the process whose exit signal is a shutdown order
    (the linked starter, or the process itself when started from plain Python)."""

    _parent: Pid | None = None

    @classmethod
    def _start_process(
        cls,
        node: Node,
        inst: Behaviour,
        init: Callable[[], Any],
        name: str | None,
        link: bool,
        spawn_opts: Any,
    ) -> Pid | None:
        """Spawn ``inst`` and run ``init()`` in it synchronously, with OTP's rules: ``link`` links to the
        calling process before ``init``; an ``init`` that raises (or raises ``Stop(reason)``) exits the
        process with that reason and raises :class:`~cns.runtime.InitFailed`; :data:`IGNORE` exits it
        ``normal`` and returns None."""
        parent = node.current
        linked = link and parent is not None
        inst._parent = parent if linked else None
        try:
            pid, r = node._spawn_init(inst, init, name=name, link=linked, **spawn_opts)
        except Stop as s:
            node._kill(inst.pid, s.reason)
            raise InitFailed(cls.__name__, s.reason) from None
        except Exception as e:  # noqa: BLE001 - reported as the init failure reason
            if getattr(inst, "pid", None) is not None:  # else spawn itself refused (name taken, bad options)
                node._kill(inst.pid, e)
            raise InitFailed(cls.__name__, e) from e
        if r is IGNORE:
            node._kill(pid, NORMAL)
            return None
        if not linked:  # as OTP's nolink start: the process is its own parent, so an exit signal sent from
            inst._parent = pid  # plain Python (which arrives as from the target itself) is a shutdown order
        return pid

    @classmethod
    def start(
        cls, node: Node, *args: Any, name: str | None = None, link: bool = False, **spawn_opts: Any
    ) -> Pid | None:
        """Spawn the process and run ``init(*args)`` in it synchronously (see the subclass)."""
        raise NotImplementedError

    @classmethod
    def start_link(cls, node: Node, *args: Any, name: str | None = None, **spawn_opts: Any) -> Pid | None:
        """``start`` linked to the calling process (a Supervisor's child start function uses this; from plain
        Python there is no parent to link)."""
        return cls.start(node, *args, name=name, link=True, **spawn_opts)

    # --------------------------------------------------------------- helpers for callbacks
    def reply(self, from_: From, value: Any) -> None:
        """Answer the call ``from_`` now, from any later callback (OTP's ``reply/2``)."""
        self.node.reply(from_, value)

    def call(self, dest: Pid | str, request: Any, timeout: float = 5.0) -> Any:
        """Awaitable call to another process: ``v = await self.call(pid, req)`` in an ``async`` callback."""
        return self.node.acall(dest, request, timeout)

    def cast(self, dest: Pid | str, msg: Any) -> None:
        """Send ``msg`` to ``dest`` as a cast (``handle_cast`` on a GenServer, a ``"cast"`` event on a
        GenStatem); fire and forget (a dead or unknown ``dest`` is ignored)."""
        self.node.send(dest, Cast(msg))

    def send(self, dest: Pid | str, msg: Any) -> None:
        """Send ``msg`` as a plain message (``handle_info`` / an ``"info"`` event); fire and forget."""
        self.node.send(dest, msg)

    def trap_exit(self, flag: bool = True) -> bool:
        """Set whether exit signals arrive as :class:`~cns.runtime.Exit` messages; returns the previous flag."""
        return bool(self.node.trap_exit(flag, self.pid))
