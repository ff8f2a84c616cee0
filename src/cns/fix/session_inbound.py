"""Reading what the counterparty sent a FIX session: framing the byte stream, parsing a frame, the header checks every message
passes once it is in sequence, and the events inbound rejects become."""

from __future__ import annotations

import time

from cns.fix import spec as S
from cns.fix.codec import FixMessage, Garbled, Problem, parse_utc_timestamp
from cns.fix.session_data import SessionData
from cns.fix.session_events import FixRejectReceived

__all__ = [
    "business_reject_event",
    "header_problem",
    "parse_frame",
    "read_frames",
    "session_reject_event",
    "too_low",
]


def read_frames(d: SessionData, data: bytes) -> list[bytes | Garbled]:
    """The complete frames (and garbled stretches) that ``data`` ends; none without a connection."""
    if d.reader is None:
        return []
    d.reader.feed(data)
    return d.reader.frames()


def parse_frame(d: SessionData, frame: bytes) -> FixMessage:
    """Parse an inbound frame; any framed input proves the counterparty alive (an outstanding TestRequest
    is answered)."""
    d.last_rx = time.monotonic_ns()
    d.test_req = None
    d.counters["messages_in"] += 1
    return d.codec.parse(frame)


def header_problem(d: SessionData, msg: FixMessage) -> Problem | None:
    """A CompID or SendingTime-accuracy problem of an inbound header (either ends the session)."""
    if msg.get(S.SENDER_COMP_ID) != d.their_id or msg.get(S.TARGET_COMP_ID) != d.our_id:
        return Problem(S.R_COMP_ID, S.SENDER_COMP_ID, "CompID problem")
    if d.cfg.max_latency_s is not None and not msg.poss_dup:
        try:
            sent = parse_utc_timestamp(msg.get(S.SENDING_TIME) or b"")
        except ValueError:
            return None  # reported by the format check
        if abs(time.time_ns() - sent) > d.cfg.max_latency_s * 1e9:
            return Problem(S.R_SENDING_TIME, S.SENDING_TIME, "SendingTime accuracy problem")
    return None


def too_low(expected: int, seq: int) -> str:
    """The Logout text for a MsgSeqNum below the expected one (QuickFIX's wording)."""
    return f"MsgSeqNum too low, expecting {expected} but received {seq}"


def _reject_event(d: SessionData, msg: FixMessage, reason: int, ref_tag: int) -> FixRejectReceived:
    return FixRejectReceived(d.cfg.name, msg.get_int(S.REF_SEQ_NUM), reason, ref_tag, msg.get_str(S.TEXT))


def session_reject_event(d: SessionData, msg: FixMessage) -> FixRejectReceived:
    """The application's view of a session-level Reject (35=3)."""
    return _reject_event(d, msg, msg.get_int(S.SESSION_REJECT_REASON, -1), msg.get_int(S.REF_TAG_ID))


def business_reject_event(d: SessionData, msg: FixMessage) -> FixRejectReceived:
    """The application's view of a BusinessMessageReject (35=j)."""
    return _reject_event(d, msg, msg.get_int(S.BUSINESS_REJECT_REASON), 0)
