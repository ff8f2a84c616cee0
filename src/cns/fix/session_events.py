"""What a FIX session tells its application, and the messages other processes send it.

To the application (``app`` of :class:`~cns.fix.session.FixSession`): :class:`FixSessionUp`,
:class:`FixSessionDown`, :class:`FixInbound`, :class:`FixRejectReceived`. To the session: :class:`FixSend`
(a cast), :class:`Attach` (from the acceptor). :func:`deliver` hands an event to the application. :class:`FixSessionStatus` answers
:func:`~cns.fix.session.session_status`. Re-exported by :mod:`cns.fix.session` and :mod:`cns.fix`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cns.fix.codec import FixMessage
from cns.fix.transport import FixLink
from cns.runtime import Node, Pid

__all__ = [
    "Attach",
    "FixInbound",
    "FixRejectReceived",
    "FixSend",
    "FixSessionDown",
    "FixSessionStatus",
    "FixSessionUp",
    "deliver",
]


@dataclass(frozen=True, slots=True)
class FixSessionUp:
    """The session is logged on (``resumed``: the sequence numbers continued from the store)."""

    session: str
    next_sender_seq: int
    next_target_seq: int


@dataclass(frozen=True, slots=True)
class FixSessionDown:
    session: str
    reason: str


@dataclass(frozen=True, slots=True)
class FixInbound:
    """An application message received in sequence (``msg.poss_dup`` for a resent one)."""

    session: str
    msg: FixMessage


@dataclass(frozen=True, slots=True)
class FixRejectReceived:
    """The counterparty rejected our message ``ref_seq`` (Reject 35=3 or BusinessMessageReject 35=j)."""

    session: str
    ref_seq: int
    reason: int
    ref_tag: int
    text: str


@dataclass(frozen=True, slots=True)
class FixSend:
    """Cast from another process: send an application message (errors are logged and counted)."""

    msg_type: str
    fields: tuple[tuple[int, Any], ...]


class Attach:
    """From the acceptor: a connection whose first frame named this session; ``early`` are its bytes so far."""

    __slots__ = ("link", "early")

    def __init__(self, link: FixLink, early: bytes) -> None:
        self.link = link
        self.early = early


@dataclass
class FixSessionStatus:
    """A snapshot of :func:`~cns.fix.session.session_status`."""

    name: str
    state: str
    role: str
    connected: bool
    next_sender_seq: int
    next_target_seq: int
    heartbeat_s: int
    counters: dict[str, int]


def deliver(node: Node, app: Any, event: Any) -> bool:
    """Give ``event`` to ``app``: a callable is called (its exception propagates: it crashes the session),
    a pid or registered name is sent it, None takes nothing. False: an unregistered name, dropped."""
    if app is None:
        return True
    if callable(app) and not isinstance(app, (Pid, str)):
        app(event)
        return True
    try:
        node.send(app, event)
    except Exception:  # noqa: BLE001 - an unregistered app name: drop (the session counts it)
        return False
    return True
