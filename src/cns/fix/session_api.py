"""Client API of a running :class:`~cns.fix.session.FixSession`: plain-Python calls from another process
of the node (``node.call`` underneath; an error the session answers with is raised here).

From asyncio code running the node, use ``await loop_call(node, session, request)`` with the same requests
(``("orders", records)``, ``("send", msg_type, fields)``, ``"status"``, ``"logout"``, ``"reconnect"``,
``("inject", what, arg)``) and check the result for an exception. Re-exported by :mod:`cns.fix.session`
and :mod:`cns.fix`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from cns.fix.session_events import FixSessionStatus
from cns.runtime import Node, Pid

__all__ = ["inject", "logout", "reconnect", "send_message", "send_orders", "session_status"]


def _check(r: Any) -> Any:
    if isinstance(r, BaseException):
        raise r
    return r


def send_orders(node: Node, session: Pid | str, orders: np.ndarray, timeout: float = 5.0) -> tuple[int, int]:
    """Send ORDER_DTYPE records (new orders, cancels) through the session's template encoder; returns
    ``(first MsgSeqNum, count)`` once they are persisted and written. Raises
    :class:`~cns.fix.errors.FixNotActive` (not logged on: nothing sent),
    :class:`~cns.fix.errors.FixEncodeError` (a bad record: nothing sent). Plain Python; inside an async
    handler use ``await node.acall(session, ("orders", orders))`` and check for an exception."""
    return _check(node.call(session, ("orders", orders), timeout))  # type: ignore[no-any-return]


def send_message(
    node: Node, session: Pid | str, msg_type: str, fields: Iterable[tuple[int, Any]], timeout: float = 5.0
) -> int:
    """Send one application message (``fields``: body ``(tag, value)`` pairs in order); returns its MsgSeqNum."""
    return _check(node.call(session, ("send", msg_type, tuple(fields)), timeout))  # type: ignore[no-any-return]


def session_status(node: Node, session: Pid | str, timeout: float = 5.0) -> FixSessionStatus:
    """The session's :class:`FixSessionStatus` (state, sequence numbers, counters); ``timeout`` in s."""
    return _check(node.call(session, "status", timeout))  # type: ignore[no-any-return]


def logout(node: Node, session: Pid | str, timeout: float = 5.0) -> str:
    """Log out (no reconnect afterwards until :func:`reconnect`); ``"logged_out"``, ``"timeout"`` or
    ``"not_logged_on"``. Needs the node running under asyncio to get the counterparty's answer: from asyncio
    code use ``await loop_call(node, session, "logout")``."""
    return _check(node.call(session, "logout", timeout))  # type: ignore[no-any-return]


def reconnect(node: Node, session: Pid | str, timeout: float = 5.0) -> str:
    """Allow an initiator to connect again after :func:`logout`."""
    return _check(node.call(session, "reconnect", timeout))  # type: ignore[no-any-return]


def inject(node: Node, session: Pid | str, what: str, arg: Any = None, timeout: float = 5.0) -> Any:
    """Fault injection for tests: ``drop_next_outbound`` (n app messages stored but not written: the
    counterparty sees a gap), ``skip_outbound_seq`` (n sequence numbers skipped, never stored: gap-filled on
    resend), ``send_raw`` (bytes written as they are), ``disconnect`` (drop the TCP connection)."""
    return _check(node.call(session, ("inject", what, arg), timeout))
