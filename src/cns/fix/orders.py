"""Order entry over FIX: risk-approved ``ORDER_DTYPE`` records -> wire bytes (the hot path), and inbound
ExecutionReports -> ``EXEC_DTYPE`` records.

:class:`OrderEncoder` holds the session's precomputed template (``|49=<sender>|56=<target>|34=``), the
symbol table (instrument code -> bytes) and one preallocated output buffer; :meth:`OrderEncoder.encode`
fills the buffer in place with one Numba call for a whole batch (:mod:`cns.fix.order_kernels`): no dict,
list or bytes object per message. BodyLength and CheckSum are computed over the buffer. The result is a
read-only view of the buffer valid until the next ``encode`` (the session persists and writes it at once).

Mapping (FIX 4.4): ``ORDER_LIMIT`` -> ``40=2, 59=0`` (Day), ``ORDER_IOC`` -> ``40=2, 59=3``,
``ORDER_MARKET`` -> ``40=1, 59=3`` (a market order never rests), ``ORDER_CANCEL`` -> ``35=F`` with
``41=target_id``. ``ClOrdID (11)`` is the decimal ``order_id``; ``TransactTime (60)`` is ``ts_ns`` (or the
sending time when ``ts_ns`` is 0); ``Side`` 1 buy / 2 sell; ``OrderQty`` whole shares.

Failure rule: a batch holding any record that cannot be sent as is (unknown type or side, qty <= 0, a
limit price that is NaN, infinite, <= 0 or >= 1e10, an instrument without a symbol, a cancel without a
target) raises :class:`~cns.fix.errors.FixEncodeError` naming the record index and the rule; nothing of the
batch is encoded and no sequence number is consumed (fail closed: risk approved something malformed).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cns.fix import order_kernels as K
from cns.fix import spec as S
from cns.fix.codec import FixCodec, FixMessage, parse_utc_timestamp
from cns.fix.errors import FixConfigError, FixEncodeError
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_DTYPE,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    ORDER_DTYPE,
    SIDE_BUY,
    SIDE_SELL,
)

__all__ = ["ExecReportDecoder", "OrderEncoder", "SymbolTable"]

MAX_SYMBOL = 32


def _compiled(dispatcher: Any, *args: Any) -> Any:
    """The compiled entry point for ``args``' exact types: calling it skips Numba's per-call dispatch
    (type resolution of a record array costs about a microsecond). Falls back to the dispatcher."""
    try:
        return dispatcher.compile(tuple(dispatcher.typeof_pyval(a) for a in args))
    except Exception:  # pragma: no cover - numba internals
        return dispatcher


class SymbolTable:
    """Instrument code <-> FIX Symbol (55). ``symbols``: a sequence where index ``k`` is code ``k`` (index 0
    unused, may be ``""``) or a mapping ``{code: symbol}``. Symbols are 1..32 printable ASCII characters
    without ``=``/SOH, unique."""

    def __init__(self, symbols: Sequence[str] | Mapping[int, str]) -> None:
        items = dict(symbols) if isinstance(symbols, Mapping) else dict(enumerate(symbols))
        items = {int(k): v for k, v in items.items() if k != 0 or v}
        if not items:
            raise FixConfigError("SymbolTable needs at least one instrument")
        n = max(items) + 1
        if min(items) < 1 or n > 1 << 24:
            raise FixConfigError("instrument codes must be in 1..2**24")
        self.syms = np.zeros((n, MAX_SYMBOL), np.uint8)
        self.sym_len = np.zeros(n, np.int32)
        self.by_symbol: dict[bytes, int] = {}
        for k, s in items.items():
            b = s.encode("ascii", "replace") if isinstance(s, str) else bytes(s)
            if (
                not 1 <= len(b) <= MAX_SYMBOL
                or not b.isascii()
                or b"=" in b
                or b"\x01" in b
                or not b.decode().isprintable()
            ):
                raise FixConfigError(
                    f"symbol of instrument {k}: 1..{MAX_SYMBOL} printable ASCII chars without '='"
                )
            if b in self.by_symbol:
                raise FixConfigError(f"symbol {s!r} listed twice")
            self.syms[k, : len(b)] = np.frombuffer(b, np.uint8)
            self.sym_len[k] = len(b)
            self.by_symbol[b] = k

    def symbol(self, code: int) -> bytes:
        """The FIX Symbol (55) bytes of instrument ``code``; raises FixEncodeError for an unknown code or code 0."""
        if not 0 < code < self.sym_len.shape[0] or self.sym_len[code] == 0:
            raise FixEncodeError(f"instrument {code} has no symbol")
        return bytes(self.syms[code, : self.sym_len[code]])

    def code(self, symbol: bytes) -> int:
        """Instrument code of ``symbol``, 0 if unknown."""
        return self.by_symbol.get(symbol, 0)

    def __len__(self) -> int:
        return len(self.by_symbol)


class OrderEncoder:
    """The hot-path encoder of one session (see the module doc). ``codec`` supplies the CompID template;
    ``capacity``: messages the buffer holds before it grows (doubling)."""

    __slots__ = ("symbols", "tpl", "max_msg", "buf", "ends", "_mv", "_fn")

    def __init__(self, codec: FixCodec, symbols: SymbolTable, capacity: int = 1024) -> None:
        hdr = codec.header_tail
        if len(hdr) > 255:  # pragma: no cover - CompIDs are at most 64 characters each
            raise FixConfigError("CompIDs too long for the order template")
        n1 = symbols.sym_len.shape[0]
        tpl = np.zeros(K.SYM_BASE + n1 * K.SYM_SLOT, np.uint8)
        tpl[0] = len(hdr)
        tpl[1 : 1 + len(hdr)] = np.frombuffer(hdr, np.uint8)
        for k in range(1, n1):
            ln = int(symbols.sym_len[k])
            o = K.SYM_BASE + k * K.SYM_SLOT
            tpl[o] = ln
            tpl[o + 1 : o + 1 + ln] = symbols.syms[k, :ln]
        self.tpl = tpl
        self.symbols = symbols
        self.max_msg = len(hdr) + K.MAX_MSG_OVER_HDR
        self._alloc(max(1, capacity))
        self._fn = _compiled(K.encode_batch, np.zeros(1, ORDER_DTYPE), tpl, 1, 0, self.buf, self.ends)

    def __repr__(self) -> str:
        return f"OrderEncoder(symbols={len(self.symbols)}, capacity={self.ends.shape[0]})"

    def _alloc(self, cap: int) -> None:
        self.buf = np.zeros(cap * self.max_msg, np.uint8)
        self.ends = np.zeros(cap, np.int64)
        self._mv = self.buf.data.toreadonly()

    def encode(
        self, orders: np.ndarray, seq0: int, sending_ns: int | None = None
    ) -> tuple[memoryview, np.ndarray]:
        """Encode every record of ``orders`` (1-D ORDER_DTYPE) as messages ``seq0, seq0+1, ...``.

        Returns ``(data, ends)``: ``data`` the bytes of all messages back to back (a view of the internal
        buffer, valid until the next call) and ``ends[:n]`` the end offset of message ``i`` in ``data``
        (``ends`` is the internal array: read it before the next call). ``sending_ns``: SendingTime (52),
        default now. Raises :class:`FixEncodeError` (nothing encoded)."""
        ts = time.time_ns() if sending_ns is None else sending_ns
        ends = self.ends
        # the compiled entry point trusts its arguments (no dispatch): only a C-contiguous 1-D ORDER_DTYPE
        # array that fits the buffer takes the fast path, anything else goes through _checked
        if (
            orders.__class__ is np.ndarray
            and orders.dtype is ORDER_DTYPE
            and orders.ndim == 1
            and orders.flags.c_contiguous
            and orders.shape[0] <= ends.shape[0]
        ):
            k, end, bad, err = self._fn(orders, self.tpl, seq0, ts, self.buf, ends)
        else:
            orders = self._checked(orders)
            k, end, bad, err = self._fn(orders, self.tpl, seq0, ts, self.buf, self.ends)
        if err:
            raise FixEncodeError(f"order record {bad}: {K.ERROR_NAMES[err]}")
        return self._mv[:end], self.ends

    def _checked(self, orders: Any) -> np.ndarray:
        """The slow path of :meth:`encode`: check the batch, grow the buffer, make it contiguous."""
        if not isinstance(orders, np.ndarray) or orders.dtype != ORDER_DTYPE or orders.ndim != 1:
            raise FixEncodeError("orders must be a 1-D numpy array of cns.venue.dtypes.ORDER_DTYPE")
        n = orders.shape[0]
        if n > self.ends.shape[0]:
            cap = self.ends.shape[0]
            while cap < n:
                cap *= 2
            self._alloc(cap)
        return np.ascontiguousarray(orders, dtype=ORDER_DTYPE)


# ----------------------------------------------------------------------------------------- reports in
_KIND = {
    S.EXEC_NEW: EXEC_ACK,
    S.EXEC_CANCELED: EXEC_CANCELED,
    S.EXEC_REJECTED: EXEC_REJECTED,
    S.EXEC_EXPIRED: EXEC_EXPIRED,
    b"6": EXEC_ACK,
    b"E": EXEC_ACK,
    S.EXEC_REPLACED: EXEC_ACK,
}


class ExecReportDecoder:
    """ExecutionReport (``35=8``) -> one ``EXEC_DTYPE`` record for the trading stack.

    ``order_id``: the decimal ClOrdID (``OrigClOrdID`` for a cancel/expire/reject of a cancel, so CANCELED
    carries the *target's* id as the venue book does); ``kind``: ExecType 0 -> ACK, F/1/2 -> FILL if
    OrdStatus is filled else PARTIAL, 4 -> CANCELED, 8 -> REJECTED, C -> EXPIRED; ``qty`` LastQty,
    ``leaves`` LeavesQty, ``price`` LastPx on a fill else Price (NaN if absent), ``ts_ns`` TransactTime
    (else SendingTime). Returns None for a report it cannot map (non-decimal ClOrdID, unknown ExecType, an
    unknown symbol): the caller keeps the raw message."""

    def __init__(self, symbols: SymbolTable, owner: int = 0) -> None:
        self.symbols = symbols
        self.owner = owner

    def decode(self, msg: FixMessage, out: np.ndarray | None = None) -> np.ndarray | None:
        """Map an ExecutionReport to one EXEC_DTYPE record (written into ``out[0]`` when given, else a new array);
        None for a non-ExecutionReport or a report it cannot map (see the class doc). Times are ns since the epoch.
        """
        if msg.msg_type != S.EXECUTION_REPORT:
            return None
        et = msg.get(S.EXEC_TYPE)
        if et in (S.EXEC_TRADE, S.EXEC_PARTIAL_FILL, S.EXEC_FILL):
            kind = EXEC_FILL if msg.get(S.ORD_STATUS) == S.ST_FILLED else EXEC_PARTIAL
        else:
            kind = _KIND.get(et or b"", -1)
            if kind < 0:
                return None
        ref = (
            msg.get(S.ORIG_CL_ORD_ID)
            if kind in (EXEC_CANCELED, EXEC_EXPIRED) and msg.has(S.ORIG_CL_ORD_ID)
            else msg.get(S.CL_ORD_ID)
        )
        if ref is None or not ref.isdigit() or len(ref) > 20:
            return None
        oid = int(ref)
        if oid >= 1 << 64:
            return None
        code = self.symbols.code(msg.get(S.SYMBOL) or b"")
        if code == 0:
            return None
        r = np.zeros(1, EXEC_DTYPE) if out is None else out
        rec = r[0]
        rec["order_id"] = oid
        rec["owner"] = self.owner
        rec["instrument"] = code
        rec["kind"] = kind
        rec["side"] = SIDE_BUY if msg.get(S.SIDE) == b"1" else SIDE_SELL
        rec["reason"] = 0
        fill = kind in (EXEC_FILL, EXEC_PARTIAL)
        rec["qty"] = int(float(msg.get(S.LAST_QTY) or b"0")) if fill else 0
        rec["leaves"] = int(float(msg.get(S.LEAVES_QTY) or b"0"))
        px = msg.get(S.LAST_PX) if fill else msg.get(S.PRICE)
        rec["price"] = float(px) if px is not None else float("nan")
        t = msg.get(S.TRANSACT_TIME) or msg.get(S.SENDING_TIME) or b""
        try:
            rec["ts_ns"] = parse_utc_timestamp(t)
        except ValueError:
            rec["ts_ns"] = 0
        return r
