"""The outbound side of a FIX session: every message is numbered, persisted, then written.

Session messages (:func:`send_admin`) consume a sequence number but are not journaled -- a resend gap-fills
them; application messages (:func:`send_app`, :func:`send_order_batch`) are journaled before any byte is
written. Also here: the heartbeat / TestRequest schedule (:func:`keep_alive`) and the outbound fault
injection for tests (:func:`inject_fault`; ``drop_next_outbound`` messages are persisted, never written).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from cns.fix import spec as S
from cns.fix.codec import FixMessage, Problem
from cns.fix.errors import FixConfigError, FixEncodeError, FixSessionError, FixStoreError
from cns.fix.session_data import SessionData
from cns.fix.session_events import FixSend

__all__ = [
    "inject_fault",
    "journal",
    "keep_alive",
    "logon_body",
    "send_admin",
    "send_app",
    "send_cast",
    "send_order_batch",
    "send_reject",
    "write",
]

log = logging.getLogger("cns.fix")


def write(d: SessionData, data: bytes | memoryview) -> None:
    """Write to the connection, if any (a write stamps the heartbeat clock)."""
    if d.link is not None and d.link.write(data):
        d.last_tx = time.monotonic_ns()


def _take_drops(d: SessionData, n: int) -> int:
    """How many of the next ``n`` application messages fault injection swallows."""
    k = min(d.drop_outbound, n)
    d.drop_outbound -= k
    return k


def send_admin(d: SessionData, msg_type: str, body: Iterable[tuple[int, Any]] = ()) -> int:
    """Send a session message: it consumes a sequence number (persisted) but is not journaled (a resend
    gap-fills it)."""
    seq = d.store.next_sender_seq
    raw = d.codec.encode(msg_type, seq, body)
    d.store.set_next_sender_seq(seq + 1)
    write(d, raw)
    d.counters["messages_out"] += 1
    return seq


def journal(d: SessionData, msg_type: str, body: Iterable[tuple[int, Any]]) -> tuple[int, bytes]:
    """Number and persist an application message, unwritten; ``(seq, bytes)``. :class:`FixEncodeError`:
    nothing stored."""
    seq = d.store.next_sender_seq
    raw = d.codec.encode(msg_type, seq, body)
    d.store.save(seq, raw)
    d.counters["messages_out"] += 1
    return seq, raw


def send_app(d: SessionData, msg_type: str, body: Iterable[tuple[int, Any]]) -> int:
    """Journal an application message and write it; its MsgSeqNum."""
    seq, raw = journal(d, msg_type, body)
    if not _take_drops(d, 1):
        write(d, raw)
    return seq


def send_cast(d: SessionData, m: FixSend, active: bool) -> None:
    """A :class:`FixSend` cast: written when ``active``; otherwise journaled for the counterparty's next
    resend (``persist_when_down``) or dropped. Failures are logged and counted, never raised."""
    if not active and not d.cfg.persist_when_down:
        d.counters["send_errors"] += 1
        log.warning("fix %s: FixSend %s dropped: session not active", d.cfg.name, m.msg_type)
        return
    try:
        if active:
            send_app(d, m.msg_type, m.fields)
        else:
            journal(d, m.msg_type, m.fields)
    except (FixEncodeError, FixStoreError) as e:
        d.counters["send_errors"] += 1
        log.warning("fix %s: FixSend %s refused: %s", d.cfg.name, m.msg_type, e)


def send_order_batch(d: SessionData, orders: np.ndarray) -> tuple[int, int]:
    """ORDER_DTYPE records through the template encoder, journaled then written as one write;
    ``(first MsgSeqNum, count)``."""
    if d.encoder is None:
        raise FixConfigError("send_orders needs FixSessionConfig.symbols")
    seq0 = d.store.next_sender_seq
    n = int(orders.shape[0]) if isinstance(orders, np.ndarray) and orders.ndim == 1 else -1
    data, ends = d.encoder.encode(orders, seq0)
    if n == 0:
        return seq0, 0
    ends = ends[:n]
    d.store.save(seq0, data, ends)
    k = _take_drops(d, n)
    if k == 0:
        write(d, data)
    elif k < n:
        write(d, data[int(ends[k - 1]) :])
    d.counters["messages_out"] += n
    return seq0, n


def send_reject(d: SessionData, msg: FixMessage, p: Problem) -> None:
    """Session-level Reject (35=3) of inbound ``msg`` for problem ``p``."""
    body: list[tuple[int, Any]] = [(S.REF_SEQ_NUM, msg.seq)]
    if p.ref_tag:
        body.append((S.REF_TAG_ID, p.ref_tag))
    if msg.msg_type and msg.msg_type.isalnum() and len(msg.msg_type) <= 2:
        body.append((S.REF_MSG_TYPE, msg.msg_type))
    body += [(S.SESSION_REJECT_REASON, p.reason), (S.TEXT, p.text)]
    send_admin(d, S.REJECT, body)
    d.counters["rejects_sent"] += 1
    log.warning(
        "fix %s: rejected inbound seq %d: reason %d tag %d: %s",
        d.cfg.name,
        msg.seq,
        p.reason,
        p.ref_tag,
        p.text,
    )


def logon_body(d: SessionData, reset: bool) -> list[tuple[int, Any]]:
    """Our Logon: HeartBtInt, ResetSeqNumFlag if ``reset``, an initiator's credentials."""
    body: list[tuple[int, Any]] = [(S.ENCRYPT_METHOD, 0), (S.HEART_BT_INT, d.hb)]
    if reset:
        body.append((S.RESET_SEQ_NUM_FLAG, True))
    if d.cfg.role == "initiator":
        if d.cfg.username:
            body.append((S.USERNAME, d.cfg.username))
        if d.cfg.password:
            body.append((S.PASSWORD, d.cfg.password))
    return body


def keep_alive(d: SessionData) -> bool:
    """A Heartbeat after HeartBtInt without output; a TestRequest after 1.5 x HeartBtInt without input.
    True when the TestRequest went unanswered for another HeartBtInt: the counterparty is gone."""
    now = time.monotonic_ns()
    hb_ns = d.hb * 1_000_000_000
    if now - d.last_tx >= hb_ns:
        send_admin(d, S.HEARTBEAT)
    if d.test_req is None:
        # the peer heartbeats every HeartBtInt: half an interval of slack before probing it
        if now - d.last_rx >= hb_ns * 1.5:
            d.test_req_n += 1
            d.test_req = b"TEST%d" % d.test_req_n
            d.test_req_sent = now
            send_admin(d, S.TEST_REQUEST, [(S.TEST_REQ_ID, d.test_req)])
            d.counters["test_requests_sent"] += 1
        return False
    return now - d.test_req_sent >= hb_ns


def inject_fault(d: SessionData, what: str, arg: Any) -> Any:
    """Fault injection for tests (documented in docs/fix.md): ``"ok"`` or the error to answer."""
    if what == "drop_next_outbound":
        d.drop_outbound += int(arg)
    elif what == "skip_outbound_seq":
        d.store.set_next_sender_seq(d.store.next_sender_seq + int(arg))
    elif what == "send_raw":
        write(d, bytes(arg))
    elif what == "disconnect":
        if d.link is not None:
            d.link.abort()  # the Closed event does the rest
    else:
        return FixSessionError(f"unknown injection {what!r}")
    return "ok"
