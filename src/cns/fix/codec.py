"""FIX 4.4 tag=value codec: framing of a byte stream, parsing with validation, and encoding.

Three layers, each with its failure rule (a counterparty's bytes never raise):

- :class:`FixFrameReader` cuts a TCP byte stream into frames. A frame is ``8=FIX.x.y<SOH>9=<len><SOH>``,
  ``len`` bytes of body, then ``10=<3 digits><SOH>``; the checksum is the byte sum mod 256 of everything
  before ``10=``. Anything else -- junk between frames, a BodyLength that is not 1..7 digits or above
  ``max_message_bytes``, a frame whose ``10=`` is not where BodyLength says (a missing SOH), a wrong
  checksum -- is a :class:`Garbled` item: FIX says a garbled message is ignored (its sequence number is
  not consumed; the gap that follows triggers a ResendRequest). The reader resynchronises on the next
  ``8=FIX``. It never holds more than ``max_message_bytes`` + 32 bytes of an incomplete frame.
- :meth:`FixCodec.parse` turns a frame into a :class:`FixMessage` and validates it: tags are 1..9 digits
  without a leading zero, every field has a value, ``35`` is the third field, the header and the message
  type's required tags (:data:`cns.fix.spec.REQUIRED`) are present, known tags have well-formed values
  (integers, decimals without NaN/Inf/exponents, Y/N, one char, UTC timestamps), known non-group tags
  appear once. The first failure is recorded in :attr:`FixMessage.problem` as a :class:`Problem`
  (SessionRejectReason, RefTagID, text): the session answers with a Reject (``35=3``). A missing or bad
  ``MsgSeqNum`` is ``Problem.fatal`` (the session logs out: it cannot reference the message).
- :meth:`FixCodec.encode` builds any message from ``(tag, value)`` pairs (values: ``bytes``, ``str``,
  ``int``, finite ``float``, ``bool``); it is the admin/report path. Orders go through the template
  encoder of :mod:`cns.fix.orders` (no per-message dict or list).

Costs (Python): framing + parsing a 200-byte message is a few microseconds, dominated by ``bytes.split``
and the checksum (``sum`` over the frame).
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any, Final

from cns.fix import spec as S
from cns.fix.errors import FixConfigError, FixEncodeError

__all__ = [
    "FixCodec",
    "FixFrameReader",
    "FixMessage",
    "Garbled",
    "Problem",
    "checksum",
    "format_decimal",
    "parse_utc_timestamp",
    "redact",
    "utc_timestamp",
]

SOH: Final = 1
_PREFIX: Final = b"8=FIX"
DEFAULT_MAX_MESSAGE_BYTES: Final = 64 * 1024


def checksum(data: bytes | bytearray | memoryview) -> int:
    """FIX CheckSum (tag 10): the sum of the bytes mod 256."""
    return sum(data) & 0xFF


# ----------------------------------------------------------------------------------------- timestamps
_sec_cache: list[Any] = [-1, b""]


def utc_timestamp(ns: int) -> bytes:
    """``YYYYMMDD-HH:MM:SS.sss`` (UTC, milliseconds: FIX 4.4's UTCTimestamp) of ``ns`` since the epoch."""
    s, rem = divmod(int(ns), 1_000_000_000)
    if _sec_cache[0] != s:
        _sec_cache[0] = s
        _sec_cache[1] = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(s)).encode()
    return b"%s.%03d" % (_sec_cache[1], rem // 1_000_000)


def parse_utc_timestamp(value: bytes) -> int:
    """ns since the epoch of a UTCTimestamp (seconds, ms, us or ns precision); ``ValueError`` if malformed."""
    if not S.RE_TIME.match(value):
        raise ValueError("not a UTCTimestamp")
    y, mo, d = int(value[0:4]), int(value[4:6]), int(value[6:8])
    hh, mm, ss = int(value[9:11]), int(value[12:14]), int(value[15:17])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and hh <= 23 and mm <= 59 and ss <= 60):
        raise ValueError("UTCTimestamp out of range")
    frac = value[18:]
    sub = int(frac.ljust(9, b"0")) if frac else 0
    return (calendar.timegm((y, mo, d, hh, mm, min(ss, 59), 0, 0, 0)) * 1_000_000_000) + sub


def format_decimal(v: float, places: int = 8) -> bytes:
    """A finite float as a FIX decimal (at most ``places`` decimals, no exponent, trailing zeros trimmed);
    :class:`FixEncodeError` for NaN/Inf."""
    if not math.isfinite(v):
        raise FixEncodeError(f"non-finite decimal {v!r}")
    s = b"%.*f" % (places, v)
    if b"." in s:
        s = s.rstrip(b"0").rstrip(b".")
    return s if s not in (b"-0", b"") else b"0"


def redact(raw: bytes | bytearray | memoryview, hidden: frozenset[int] = S.SECRET_TAGS) -> str:
    """A printable copy of a FIX message for logs: SOH shown as ``|`` and the values of CompIDs, sub IDs,
    Username and Password replaced by ``***``. Use this for every message that reaches a log."""
    out = []
    for part in bytes(raw).split(b"\x01"):
        if not part:
            continue
        tag, sep, _ = part.partition(b"=")
        if sep and tag.isdigit() and int(tag) in hidden:
            out.append(tag + b"=***")
        else:
            out.append(part)
    return b"|".join(out).decode("ascii", "replace")


# ----------------------------------------------------------------------------------------- parsed message
class Problem:
    """Why a framed message is refused: ``reason`` (SessionRejectReason 373), ``ref_tag`` (RefTagID 371, 0 if
    none), ``text`` (58); ``fatal`` when the session must log out instead of rejecting (no usable MsgSeqNum,
    a wrong BeginString)."""

    __slots__ = ("reason", "ref_tag", "text", "fatal")

    def __init__(self, reason: int, ref_tag: int, text: str, fatal: bool = False) -> None:
        self.reason = reason
        self.ref_tag = ref_tag
        self.text = text
        self.fatal = fatal

    def __repr__(self) -> str:
        return (
            f"Problem(reason={self.reason}, ref_tag={self.ref_tag}, text={self.text!r}, fatal={self.fatal})"
        )


class Garbled:
    """Bytes the reader could not frame (ignored, as FIX prescribes): ``nbytes`` discarded and why."""

    __slots__ = ("nbytes", "why")

    def __init__(self, nbytes: int, why: str) -> None:
        self.nbytes = nbytes
        self.why = why

    def __repr__(self) -> str:
        return f"Garbled({self.nbytes} bytes: {self.why})"


class FixMessage:
    """One parsed message. ``msg_type`` (str), ``seq`` (MsgSeqNum, 0 if missing/invalid), ``fields``: the
    ``(tag, value bytes)`` pairs after MsgType and before CheckSum in wire order, ``raw``: the frame,
    ``problem``: None when valid. Look values up with :meth:`get` / :meth:`get_str` / :meth:`get_int` /
    :meth:`get_float` (first occurrence)."""

    __slots__ = ("msg_type", "seq", "fields", "index", "raw", "problem", "begin_string")

    def __init__(
        self,
        msg_type: str,
        seq: int,
        fields: list[tuple[int, bytes]],
        index: dict[int, bytes],
        raw: bytes,
        problem: Problem | None,
        begin_string: bytes = S.BEGIN_STRING,
    ) -> None:
        self.msg_type = msg_type
        self.seq = seq
        self.fields = fields
        self.index = index
        self.raw = raw
        self.problem = problem
        self.begin_string = begin_string

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        """Raw value of ``tag`` (first occurrence), or ``default`` when absent."""
        return self.index.get(tag, default)

    def has(self, tag: int) -> bool:
        """True when ``tag`` occurs in the message."""
        return tag in self.index

    def get_str(self, tag: int, default: str = "") -> str:
        """Value of ``tag`` decoded as ASCII (bad bytes replaced), or ``default`` when absent."""
        v = self.index.get(tag)
        return default if v is None else v.decode("ascii", "replace")

    def get_int(self, tag: int, default: int = 0) -> int:
        """Value of ``tag`` as an int, or ``default`` when absent; raises ValueError if it is not an integer."""
        v = self.index.get(tag)
        return default if v is None else int(v)

    def get_float(self, tag: int, default: float = math.nan) -> float:
        """Value of ``tag`` as a float, or ``default`` (NaN) when absent; raises ValueError if it is not a number."""
        v = self.index.get(tag)
        return default if v is None else float(v)

    def flag(self, tag: int) -> bool:
        """True when the Boolean ``tag`` is ``Y`` (absent counts as N)."""
        return self.index.get(tag) == b"Y"

    @property
    def poss_dup(self) -> bool:
        """True when PossDupFlag (43) is ``Y``: a resent message the application may have seen."""
        return self.index.get(S.POSS_DUP_FLAG) == b"Y"

    @property
    def is_admin(self) -> bool:
        """True for a session-level (admin) MsgType: Logon, Heartbeat, TestRequest, ResendRequest, Reject,
        SequenceReset, Logout.
        """
        return self.msg_type in S.ADMIN_TYPES

    def __repr__(self) -> str:
        return f"FixMessage({redact(self.raw)!r})"


# ----------------------------------------------------------------------------------------- framing
class FixFrameReader:
    """Cuts a byte stream into FIX frames (see the module doc for the rules). ``feed(data)`` then iterate
    :meth:`frames`: each item is a frame (``bytes``) or a :class:`Garbled` notice."""

    __slots__ = ("buf", "max_message_bytes", "garbled_bytes")

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        if not 64 <= max_message_bytes <= 16 * 1024 * 1024:
            raise FixConfigError(f"max_message_bytes must be in 64..16Mi, got {max_message_bytes!r}")
        self.buf = bytearray()
        self.max_message_bytes = max_message_bytes
        self.garbled_bytes = 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes to the buffer; no parsing happens until :meth:`frames`."""
        self.buf += data

    def frames(self) -> list[bytes | Garbled]:
        """Every complete frame (and garbled notice) in the buffer; an incomplete frame stays buffered."""
        out: list[bytes | Garbled] = []
        buf = self.buf
        pos = 0
        n = len(buf)
        while pos < n:
            if not buf.startswith(_PREFIX, pos):
                if n - pos < len(_PREFIX) and _PREFIX.startswith(bytes(buf[pos:])):
                    break  # the start of a prefix: wait for more
                k = buf.find(_PREFIX, pos + 1)
                end = k if k >= 0 else max(pos, n - len(_PREFIX) + 1)
                if end > pos:
                    out.append(self._garbled(end - pos, "bytes outside a frame"))
                pos = end
                if k < 0:
                    break
                continue
            r = self._frame_at(buf, pos, n)
            if r is None:
                break  # incomplete
            end, item = r
            if item is not None:
                out.append(item)
            pos = end
        if pos:
            del buf[:pos]
        return out

    def _garbled(self, nbytes: int, why: str) -> Garbled:
        self.garbled_bytes += nbytes
        return Garbled(nbytes, why)

    def _frame_at(self, buf: bytearray, pos: int, n: int) -> tuple[int, bytes | Garbled | None] | None:
        """``(end, item)`` of the frame at ``pos``; None when more bytes are needed."""
        soh1 = buf.find(b"\x01", pos, min(n, pos + 24))
        if soh1 < 0:
            if n - pos < 24:
                return None
            return self._skip(buf, pos, n, "BeginString without SOH")
        if not buf.startswith(b"9=", soh1 + 1):
            if n - soh1 - 1 < 2:
                return None
            return self._skip(buf, pos, n, "BodyLength is not the second field")
        start_len = soh1 + 3
        soh2 = buf.find(b"\x01", start_len, min(n, start_len + 8))
        if soh2 < 0:
            if n - start_len < 8:
                return None
            return self._skip(buf, pos, n, "BodyLength too long or without SOH")
        digits = bytes(buf[start_len:soh2])
        if not digits.isdigit() or not 1 <= len(digits) <= 7:
            return self._skip(buf, pos, n, "BodyLength is not 1..7 digits")
        body_len = int(digits)
        if body_len > self.max_message_bytes or body_len < 5:
            return self._skip(buf, pos, n, f"BodyLength {body_len} outside 5..{self.max_message_bytes}")
        body_end = soh2 + 1 + body_len
        end = body_end + 7
        if n < end:
            return None
        if not (buf.startswith(b"10=", body_end) and buf[end - 1] == SOH and buf[body_end - 1] == SOH):
            return self._skip(buf, pos, n, "CheckSum not where BodyLength says")
        ck = bytes(buf[body_end + 3 : end - 1])
        if not ck.isdigit():
            return self._skip(buf, pos, n, "CheckSum is not 3 digits")
        frame = bytes(buf[pos:end])
        if (sum(frame[: body_end - pos]) & 0xFF) != int(ck):
            return end, self._garbled(end - pos, "CheckSum mismatch")
        return end, frame

    def _skip(self, buf: bytearray, pos: int, n: int, why: str) -> tuple[int, Garbled]:
        k = buf.find(_PREFIX, pos + 1)
        end = k if k >= 0 else n
        return end, self._garbled(end - pos, why)


# ----------------------------------------------------------------------------------------- codec
def _check_format(tag: int, fmt: int, v: bytes) -> Problem | None:
    if fmt == S.F_SEQ:
        if not S.RE_INT.match(v) or int(v) < 1:
            return Problem(
                S.R_BAD_FORMAT if not S.RE_INT.match(v) else S.R_VALUE_INCORRECT,
                tag,
                f"tag {tag}: a sequence number must be an int >= 1",
            )
    elif fmt == S.F_INT:
        if not S.RE_INT.match(v):
            return Problem(S.R_BAD_FORMAT, tag, f"tag {tag}: not an int")
    elif fmt == S.F_QTY:
        if not S.RE_DECIMAL.match(v):
            return Problem(S.R_BAD_FORMAT, tag, f"tag {tag}: not a decimal quantity")
        if v.startswith(b"-"):
            return Problem(S.R_VALUE_INCORRECT, tag, f"tag {tag}: negative quantity")
    elif fmt == S.F_PRICE:
        if not S.RE_DECIMAL.match(v):
            return Problem(S.R_BAD_FORMAT, tag, f"tag {tag}: not a finite decimal price")
    elif fmt == S.F_BOOL:
        if v != b"Y" and v != b"N":
            return Problem(S.R_BAD_FORMAT, tag, f"tag {tag}: not Y/N")
    elif fmt == S.F_CHAR:
        if len(v) != 1:
            return Problem(S.R_BAD_FORMAT, tag, f"tag {tag}: not a single char")
    elif fmt == S.F_TIME:
        try:
            parse_utc_timestamp(v)
        except ValueError:
            return Problem(S.R_BAD_FORMAT, tag, f"tag {tag}: not a UTCTimestamp")
    return None


_FORMATS = S.FORMATS
_GROUP = S.GROUP_TAGS


class FixCodec:
    """Parse and encode FIX 4.4 messages for one session.

    ``sender_comp_id`` / ``target_comp_id``: *our* identities as they go out in 49/56 (inbound messages carry
    them swapped; the session checks that, the codec does not). ``max_message_bytes`` bounds a frame's body.
    Credentials are kept in the codec and never appear in its reprs or errors.
    """

    __slots__ = ("_hdr", "max_message_bytes", "begin_string")

    def __init__(
        self, sender_comp_id: str, target_comp_id: str, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> None:
        for name, v in (("sender_comp_id", sender_comp_id), ("target_comp_id", target_comp_id)):
            if not isinstance(v, str) or not v or not v.isprintable() or "=" in v or len(v) > 64:
                raise FixConfigError(f"{name} must be 1..64 printable characters without '='")
        self._hdr = b"\x0149=" + sender_comp_id.encode() + b"\x0156=" + target_comp_id.encode() + b"\x0134="
        self.max_message_bytes = max_message_bytes
        self.begin_string = S.BEGIN_STRING

    def __repr__(self) -> str:
        return "FixCodec(<credentials hidden>)"

    @property
    def header_tail(self) -> bytes:
        """``<SOH>49=<sender><SOH>56=<target><SOH>34=``: the constant header after ``35=<type>``."""
        return self._hdr

    # ------------------------------------------------------------------ parse
    def parse(self, frame: bytes) -> FixMessage:
        """Parse a frame from :class:`FixFrameReader` (checksum and BodyLength already checked). Never
        raises for bad content: the first problem found is in ``problem``."""
        parts = frame.split(b"\x01")
        # parts: 8=..., 9=..., 35=..., ..., 10=..., b""
        begin = parts[0][2:]
        last = len(parts) - 2  # index of 10=
        fields: list[tuple[int, bytes]] = []
        index: dict[int, bytes] = {}
        problem: Problem | None = None
        msg_type = ""
        mt = parts[2] if last > 2 else b""
        if mt.startswith(b"35=") and len(mt) > 3:
            msg_type = mt[3:].decode("ascii", "replace")
        else:
            problem = Problem(
                S.R_OUT_OF_ORDER if b"35=" in frame else S.R_REQUIRED_MISSING,
                S.MSG_TYPE,
                "MsgType must be the third field",
            )
        for i in range(3 if msg_type else 2, last):
            part = parts[i]
            t, sep, v = part.partition(b"=")
            if not sep or not t.isdigit() or len(t) > 9 or t[0] == 48:
                if problem is None:
                    problem = Problem(S.R_INVALID_TAG, 0, f"invalid tag number at field {i + 1}")
                continue
            tag = int(t)
            if not v:
                if problem is None:
                    problem = Problem(S.R_NO_VALUE, tag, f"tag {tag} has no value")
                continue
            fields.append((tag, v))
            if tag in index:
                if problem is None and tag not in _GROUP:
                    problem = Problem(S.R_REPEATED_TAG, tag, f"tag {tag} appears more than once")
                continue
            index[tag] = v
        seq = 0
        sv = index.get(S.MSG_SEQ_NUM)
        if sv is not None and S.RE_INT.match(sv) and int(sv) >= 1:
            seq = int(sv)
        if begin != self.begin_string:
            return FixMessage(
                msg_type,
                seq,
                fields,
                index,
                frame,
                Problem(S.R_VALUE_INCORRECT, S.BEGIN_STRING_TAG, "BeginString is not FIX.4.4", fatal=True),
                begin,
            )
        if seq == 0:
            return FixMessage(
                msg_type,
                0,
                fields,
                index,
                frame,
                Problem(
                    S.R_REQUIRED_MISSING if sv is None else S.R_BAD_FORMAT,
                    S.MSG_SEQ_NUM,
                    "MsgSeqNum missing or invalid",
                    fatal=True,
                ),
            )
        if problem is None:
            problem = self._validate(msg_type, index)
        return FixMessage(msg_type, seq, fields, index, frame, problem)

    def _validate(self, msg_type: str, index: dict[int, bytes]) -> Problem | None:
        for tag in S.HEADER_REQUIRED:
            if tag not in index:
                return Problem(S.R_REQUIRED_MISSING, tag, f"required tag {tag} missing")
        req = S.REQUIRED.get(msg_type)
        if req is None:
            return Problem(S.R_INVALID_MSG_TYPE, S.MSG_TYPE, "unsupported MsgType")
        for tag in req:
            if tag not in index:
                return Problem(S.R_REQUIRED_MISSING, tag, f"required tag {tag} missing")
        for tag, v in index.items():
            fmt = _FORMATS.get(tag)
            if fmt is not None:
                p = _check_format(tag, fmt, v)
                if p is not None:
                    return p
        if msg_type in (S.NEW_ORDER_SINGLE, S.ORDER_CANCEL_REPLACE_REQUEST):
            if index.get(S.ORD_TYPE) in (b"2", b"4") and S.PRICE not in index:
                return Problem(S.R_REQUIRED_MISSING, S.PRICE, "Price required for a limit order")
        if msg_type == S.LOGON:
            hb = int(index[S.HEART_BT_INT])
            if not 0 <= hb <= S.MAX_HEART_BT_INT:
                return Problem(
                    S.R_VALUE_INCORRECT, S.HEART_BT_INT, f"HeartBtInt outside 0..{S.MAX_HEART_BT_INT}"
                )
        if (
            index.get(S.POSS_DUP_FLAG) == b"Y"
            and S.ORIG_SENDING_TIME not in index
            and msg_type != S.SEQUENCE_RESET
        ):
            return Problem(
                S.R_REQUIRED_MISSING, S.ORIG_SENDING_TIME, "OrigSendingTime required with PossDupFlag"
            )
        return None

    # ------------------------------------------------------------------ encode
    def encode(
        self,
        msg_type: str,
        seq: int,
        body: Iterable[tuple[int, Any]] = (),
        *,
        sending_ns: int | None = None,
        poss_dup_orig: bytes | None = None,
    ) -> bytes:
        """One complete message: header (8, 9, 35, 49, 56, 34, [43=Y, 122], 52), ``body`` in order, 10.

        ``poss_dup_orig``: the OrigSendingTime of a resent message (adds PossDupFlag=Y). Raises
        :class:`FixEncodeError` for a value that cannot go on the wire (SOH or empty, non-finite float)."""
        ts = utc_timestamp(time.time_ns() if sending_ns is None else sending_ns)
        parts = [b"35=", msg_type.encode(), self._hdr, b"%d" % seq]
        if poss_dup_orig is not None:
            parts += (b"\x0143=Y\x01122=", poss_dup_orig)
        parts += (b"\x0152=", ts, b"\x01")
        for tag, v in body:
            parts += (b"%d=" % tag, _value(tag, v), b"\x01")
        return _frame(b"".join(parts))

    def reframe(self, fields: Sequence[tuple[int, bytes]], msg_type: str) -> bytes:
        """A message from an already encoded field list (``35`` excluded; header fields included in
        order): used to rebuild stored messages for a resend."""
        parts = [b"35=", msg_type.encode(), b"\x01"]
        for tag, v in fields:
            parts += (b"%d=" % tag, v, b"\x01")
        return _frame(b"".join(parts))


def _value(tag: int, v: Any) -> bytes:
    b: bytes
    c = v.__class__
    if c is bytes:
        b = v
    elif c is str:
        b = v.encode()
    elif c is bool:
        b = b"Y" if v else b"N"
    elif c is int:
        b = b"%d" % v
    elif c is float:
        b = format_decimal(v)
    elif isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
    else:
        try:
            import numpy as np

            if isinstance(v, np.integer):
                return b"%d" % int(v)
            if isinstance(v, np.floating):
                return format_decimal(float(v))
        except ImportError:  # pragma: no cover
            pass
        raise FixEncodeError(f"tag {tag}: unsupported value type {type(v).__name__}")
    if not b or b"\x01" in b:
        raise FixEncodeError(f"tag {tag}: empty value or value holding SOH")
    return b


def _frame(body: bytes) -> bytes:
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    msg = head + body
    return msg + b"10=%03d\x01" % (sum(msg) & 0xFF)
