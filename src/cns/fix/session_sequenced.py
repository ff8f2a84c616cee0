"""The sequenced processing of a logged-on FIX session: each inbound frame is checked against the expected
MsgSeqNum, then handled in order.

:class:`SequencedInbound` is the part of :class:`~cns.fix.session.FixSession` that handles the frames of the
``active`` and ``logout_sent`` states (the session rules of :mod:`cns.fix.session`): a frame numbered too
high waits behind a ResendRequest (:mod:`cns.fix.session_resend`), one too low logs out unless PossDupFlag=Y,
one in sequence is processed (SequenceReset-GapFill, Logout, TestRequest, ResendRequest, Reject, application
messages to ``app``), then the queued messages that are now in sequence. Each handler returns the state
transition, or None to stay. The header checks of every in-sequence message (:meth:`_fx_header_ok`) are here
too; the Logon handling of :mod:`cns.fix.session` uses them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cns.fix import session_inbound as inbound
from cns.fix import session_resend as gaps
from cns.fix import session_send as outbound
from cns.fix import spec as S
from cns.fix.codec import FixMessage
from cns.fix.session_data import SessionData, consume_inbound
from cns.fix.session_events import FixInbound

if TYPE_CHECKING:
    from cns.otp.gen_statem import NextState

__all__ = ["SequencedInbound"]

log = logging.getLogger("cns.fix")


class SequencedInbound:
    """Mixin of :class:`~cns.fix.session.FixSession` (internal): the sequenced processing of inbound frames.
    The machine provides the application and connection helpers declared below."""

    if TYPE_CHECKING:

        def _fx_emit(self, d: SessionData, event: Any) -> None: ...

        def _fx_disconnect(self, d: SessionData, reason: str, *, abort: bool = False) -> NextState: ...

        def _fx_logout_and_disconnect(self, d: SessionData, text: str) -> NextState: ...

        def _fx_answer_closing(self, d: SessionData, r: Any, value: str) -> Any: ...

    def _fx_header_ok(self, d: SessionData, msg: FixMessage) -> Any:
        """None if the header is acceptable, else the transition (Reject + Logout + disconnect)."""
        p = inbound.header_problem(d, msg)
        if p is None:
            return None
        outbound.send_reject(d, msg, p)
        return self._fx_logout_and_disconnect(d, p.text)

    def _fx_on_frame(self, d: SessionData, frame: bytes, state: str) -> Any:
        msg = inbound.parse_frame(d, frame)
        p = msg.problem
        if p is not None and p.fatal:
            return self._fx_logout_and_disconnect(d, p.text)
        if msg.msg_type == S.SEQUENCE_RESET and p is None and not msg.flag(S.GAP_FILL_FLAG):
            return self._fx_drain(d, "active") if gaps.apply_sequence_reset(d, msg) else None
        expected = d.store.next_target_seq
        if msg.seq > expected:
            return self._fx_too_high(d, msg, expected, state)
        if msg.seq < expected:
            if msg.poss_dup:
                d.counters["duplicates_ignored"] += 1
                return None
            return self._fx_logout_and_disconnect(d, inbound.too_low(expected, msg.seq))
        r = self._fx_process(d, msg, state)
        if r is not None:
            return r
        return self._fx_drain(d, state)

    def _fx_too_high(self, d: SessionData, msg: FixMessage, expected: int, state: str) -> Any:
        """A ResendRequest is answered (once: see :meth:`_fx_drain`) and a Logout handled at once; anything else
        waits for the gap, the ResendRequest too for its number."""
        if gaps.answered_on_arrival(msg):
            bad = self._fx_header_ok(d, msg)  # checked now, as QuickFIX verifies it before answering
            if bad is not None:
                return bad
            gaps.answer_resend_request(d, msg)
        if msg.problem is None and msg.msg_type == S.LOGOUT:
            return self._fx_process(d, msg, state)
        if not gaps.queue_early(d, msg, expected):
            return self._fx_logout_and_disconnect(d, "too many messages queued behind a sequence gap")
        return None

    def _fx_drain(self, d: SessionData, state: str) -> Any:
        """Handle the queued messages that are now in sequence (a ResendRequest answered on arrival only
        consumes its number)."""
        while (m := gaps.next_queued(d)) is not None:
            if gaps.answered_on_arrival(m):
                consume_inbound(d, m.seq)
                continue
            r = self._fx_process(d, m, state)
            if r is not None:
                return r
        gaps.settle_resend(d)
        return None

    def _fx_process(self, d: SessionData, msg: FixMessage, state: str) -> Any:
        """Handle an in-sequence message (``msg.seq`` is the expected number, or a too-high Logout)."""
        p = msg.problem
        if p is not None:
            consume_inbound(d, msg.seq)
            outbound.send_reject(d, msg, p)
            return None
        bad = self._fx_header_ok(d, msg)
        if bad is not None:
            return bad
        mt = msg.msg_type
        if mt == S.SEQUENCE_RESET:  # GapFill (a Reset was handled before the sequence checks)
            gaps.apply_gap_fill(d, msg)
            return None
        if mt == S.LOGOUT:
            return self._fx_logout_received(d, msg, state)
        consume_inbound(d, msg.seq)
        if mt in S.APP_TYPES:
            self._fx_app_message(d, msg)
        elif mt == S.TEST_REQUEST:
            outbound.send_admin(d, S.HEARTBEAT, [(S.TEST_REQ_ID, msg.get(S.TEST_REQ_ID))])
        elif mt == S.RESEND_REQUEST:
            gaps.answer_resend_request(d, msg)
        elif mt == S.REJECT:
            self._fx_reject_received(d, msg)
        elif mt == S.LOGON:
            return self._fx_logout_and_disconnect(d, "Logon received on an active session")
        return None  # a Heartbeat: its arrival was all (inbound.parse_frame stamped it)

    def _fx_logout_received(self, d: SessionData, msg: FixMessage, state: str) -> Any:
        if msg.seq == d.store.next_target_seq:  # a too-high Logout leaves the gap to the next session
            consume_inbound(d, msg.seq)
        if state == "logout_sent":
            return self._fx_answer_closing(d, self._fx_disconnect(d, "logged out"), "logged_out")
        d.want_connect = d.cfg.role == "initiator"  # an initiator tries again later (as QuickFIX)
        outbound.send_admin(d, S.LOGOUT)
        return self._fx_disconnect(d, f"Logout by the counterparty: {msg.get_str(S.TEXT)[:200]}")

    def _fx_app_message(self, d: SessionData, msg: FixMessage) -> None:
        if msg.msg_type == S.BUSINESS_MESSAGE_REJECT:
            self._fx_emit(d, inbound.business_reject_event(d, msg))
        self._fx_emit(d, FixInbound(d.cfg.name, msg))

    def _fx_reject_received(self, d: SessionData, msg: FixMessage) -> None:
        d.counters["rejects_received"] += 1
        log.warning(
            "fix %s: counterparty rejected our seq %d (reason %s): %s",
            d.cfg.name,
            msg.get_int(S.REF_SEQ_NUM),
            msg.get_str(S.SESSION_REJECT_REASON, "?"),
            msg.get_str(S.TEXT)[:200],
        )
        self._fx_emit(d, inbound.session_reject_event(d, msg))
