"""Sequence gaps of a FIX session, both ways.

Inbound: a message numbered too high is queued (:func:`queue_early`) behind one ResendRequest
(:func:`request_resend`); the machine takes the queued messages back in order (:func:`next_queued`) as the
gap is filled (:func:`apply_gap_fill`, :func:`apply_sequence_reset`) and :func:`settle_resend` ends the request once
everything it asked for has come. A ResendRequest numbered too high is answered when it arrives and queued for
its number only (:func:`answered_on_arrival`): taken back in order, it is not answered again.

Outbound: :func:`answer_resend_request` sends stored application messages again (PossDupFlag=Y,
OrigSendingTime=their SendingTime, a new SendingTime) and replaces session messages, application messages
older than ``resend_max_age_s`` and numbers never stored by SequenceReset-GapFill messages.
"""

from __future__ import annotations

import logging
import time

from cns.fix import spec as S
from cns.fix.codec import FixMessage, Problem, parse_utc_timestamp, utc_timestamp
from cns.fix.session_data import SessionData, consume_inbound
from cns.fix.session_send import send_admin, send_reject, write

__all__ = [
    "answer_resend_request",
    "answered_on_arrival",
    "apply_gap_fill",
    "apply_sequence_reset",
    "next_queued",
    "queue_early",
    "request_resend",
    "settle_resend",
]

log = logging.getLogger("cns.fix")

# header fields of a stored message that a resend writes anew
_RESEND_SKIP = frozenset(
    (S.SENDER_COMP_ID, S.TARGET_COMP_ID, S.MSG_SEQ_NUM, S.SENDING_TIME, S.POSS_DUP_FLAG, S.ORIG_SENDING_TIME)
)


# ----------------------------------------------------------------------------------------- inbound gaps
def request_resend(d: SessionData, begin: int, until: int) -> None:
    """ResendRequest ``7=begin 16=0`` (to infinity); ``until``: the highest number known missing."""
    d.resend_pending = True
    d.resend_until = until
    d.counters["resend_requests_sent"] += 1
    send_admin(d, S.RESEND_REQUEST, [(S.BEGIN_SEQ_NO, begin), (S.END_SEQ_NO, 0)])
    log.info("fix %s: sequence gap, ResendRequest from %d", d.cfg.name, begin)


def queue_early(d: SessionData, msg: FixMessage, expected: int) -> bool:
    """Hold ``msg`` (numbered above ``expected``) until the gap before it is filled, asking for the gap unless
    a ResendRequest is outstanding already. False when the queue is full (nothing done)."""
    if len(d.queue) >= d.cfg.max_queued_messages:
        return False
    d.queue[msg.seq] = msg
    if not d.resend_pending:
        request_resend(d, expected, msg.seq - 1)
    else:  # covered by the outstanding request (EndSeqNo 0 = infinity)
        d.resend_until = max(d.resend_until, msg.seq - 1)
    return True


def answered_on_arrival(msg: FixMessage) -> bool:
    """Whether ``msg`` is answered as soon as it arrives, even numbered too high: a ResendRequest without a
    problem. Queued behind a gap, it then holds only its number -- taken back in sequence, its number is
    consumed and it is not answered again (QuickFIX's ``nextQueued``)."""
    return msg.problem is None and msg.msg_type == S.RESEND_REQUEST


def next_queued(d: SessionData) -> FixMessage | None:
    """The queued message that is now in sequence, taken off the queue (those a gap fill skipped or that
    came again are dropped); None if the next number is still missing."""
    q = d.queue
    if not q:
        return None
    expected = d.store.next_target_seq
    for s in [s for s in q if s < expected]:
        del q[s]  # covered by a gap fill or already seen
    return q.pop(expected, None)


def settle_resend(d: SessionData) -> None:
    """The outstanding ResendRequest is answered once the queue is empty and the numbers it asked for came."""
    if d.resend_pending and not d.queue and d.store.next_target_seq > d.resend_until:
        d.resend_pending = False


def _move_target_seq(d: SessionData, new: int) -> None:
    d.store.set_next_target_seq(new)
    d.counters["gap_fills_received"] += 1


def apply_gap_fill(d: SessionData, msg: FixMessage) -> None:
    """An in-sequence SequenceReset-GapFill: the next inbound number becomes NewSeqNo, which must exceed
    the message's own number (else Reject reason 5, the number consumed)."""
    new = msg.get_int(S.NEW_SEQ_NO)
    if new <= msg.seq:
        consume_inbound(d, msg.seq)
        send_reject(d, msg, Problem(S.R_VALUE_INCORRECT, S.NEW_SEQ_NO, "NewSeqNo must exceed MsgSeqNum"))
        return
    _move_target_seq(d, new)


def apply_sequence_reset(d: SessionData, msg: FixMessage) -> bool:
    """A SequenceReset in Reset mode (handled whatever its MsgSeqNum): the next inbound number becomes
    NewSeqNo, never lower (else Reject reason 5 and False)."""
    new = msg.get_int(S.NEW_SEQ_NO)
    if new < d.store.next_target_seq:
        send_reject(
            d, msg, Problem(S.R_VALUE_INCORRECT, S.NEW_SEQ_NO, "NewSeqNo would move the sequence back")
        )
        return False
    _move_target_seq(d, new)
    return True


# ----------------------------------------------------------------------------------------- outbound resend
def answer_resend_request(d: SessionData, msg: FixMessage) -> None:
    """Answer a ResendRequest: stored application messages again (PossDupFlag=Y), gaps as GapFills, all in
    one write."""
    d.counters["resend_requests_received"] += 1
    begin = msg.get_int(S.BEGIN_SEQ_NO)
    end = msg.get_int(S.END_SEQ_NO)
    last = d.store.next_sender_seq - 1
    if end == 0 or end > last:
        end = last
    if begin < 1 or begin > end:
        return
    now_ns = time.time_ns()
    gap_from = begin
    out: list[bytes] = []
    for seq, raw in d.store.get(begin, end):
        m = d.codec.parse(raw)
        orig = m.get(S.SENDING_TIME) or utc_timestamp(now_ns)
        if m.msg_type in S.ADMIN_TYPES or _stale(d, orig, now_ns):
            continue
        if gap_from < seq:
            out.append(_gap_fill(d, gap_from, seq))
        out.append(_poss_dup(d, m, orig, now_ns))
        d.counters["messages_resent"] += 1
        gap_from = seq + 1
    if gap_from <= end:
        out.append(_gap_fill(d, gap_from, end + 1))
    if out:
        write(d, b"".join(out))


def _stale(d: SessionData, orig: bytes, now_ns: int) -> bool:
    """Sent more than ``resend_max_age_s`` ago (or at an unreadable time): gap-filled, not replayed."""
    max_age = d.cfg.resend_max_age_s
    if max_age is None:
        return False
    try:
        return now_ns - parse_utc_timestamp(orig) > max_age * 1e9
    except ValueError:
        return True


def _gap_fill(d: SessionData, seq: int, new: int) -> bytes:
    d.counters["gap_fills_sent"] += 1
    ts = utc_timestamp(time.time_ns())
    return d.codec.encode(
        S.SEQUENCE_RESET, seq, [(S.GAP_FILL_FLAG, True), (S.NEW_SEQ_NO, new)], poss_dup_orig=ts
    )


def _poss_dup(d: SessionData, m: FixMessage, orig: bytes, now_ns: int) -> bytes:
    hdr = [
        (S.SENDER_COMP_ID, d.our_id),
        (S.TARGET_COMP_ID, d.their_id),
        (S.MSG_SEQ_NUM, b"%d" % m.seq),
        (S.POSS_DUP_FLAG, b"Y"),
        (S.ORIG_SENDING_TIME, orig),
        (S.SENDING_TIME, utc_timestamp(now_ns)),
    ]
    return d.codec.reframe(hdr + [(t, v) for t, v in m.fields if t not in _RESEND_SKIP], m.msg_type)
