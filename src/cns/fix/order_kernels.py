# mypy: disable-error-code="no-untyped-def"
"""Numba kernels of the order-entry hot path: ORDER_DTYPE records -> NewOrderSingle / OrderCancelRequest
bytes, written into a preallocated ``uint8`` buffer (no Python object per message).

One message is laid out as::

    8=FIX.4.4|9=<len>|35=D|49=<sender>|56=<target>|34=<seq>|52=<sending time>|11=<order_id>|55=<symbol>|
    54=<1|2>|60=<transact time>|38=<qty>|40=<1|2>|[44=<price>|]59=<0|3>|10=<checksum>|

(``|`` is SOH). A cancel (``ORDER_CANCEL``) is ``35=F`` with ``41=<target_id>|11=<order_id>|55|54|60|[38|]``.
One ``uint8`` template array ``tpl`` holds the session's constants (few arguments: each array passed to a
compiled function costs an unboxing per call): ``tpl[0]`` the length of the constant header tail
``|49=..|56=..|34=`` stored at ``tpl[1:]``; from offset :data:`SYM_BASE`, slot ``k`` of :data:`SYM_SLOT` bytes
is the symbol of instrument code ``k`` (its length, then up to 32 bytes). The body is written first (at a
guessed offset), then BodyLength, then the body is moved into place if the guess was wrong, then CheckSum is
summed over the buffer. SendingTime is formatted once per batch; a TransactTime in the same second reuses
its date and time of day.

Times are UTC milliseconds (FIX 4.4 UTCTimestamp); prices are printed with at most 8 decimals (rounded half
up at 1e-8, trailing zeros trimmed), so ``100.1`` goes out as ``100.1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.venue.dtypes import ORDER_CANCEL, ORDER_IOC, ORDER_LIMIT, ORDER_MARKET, SIDE_BUY, SIDE_SELL

OK = 0
E_TYPE = 1
E_SIDE = 2
E_QTY = 3
E_PRICE = 4
E_INSTRUMENT = 5
E_TARGET = 6
E_TIME = 7
ERROR_NAMES = (
    "ok",
    "unknown order type",
    "side is not buy/sell",
    "qty <= 0",
    "limit price not finite, <= 0 or >= 1e10",
    "instrument has no symbol",
    "cancel without target_id",
    "negative ts_ns",
)

SYM_BASE = 256
SYM_SLOT = 33
MAX_MSG_OVER_HDR = 260  # bytes of a message beyond the header tail, bound (with slack for the body move)
_GUESS = 16  # bytes reserved before the body: "8=FIX.4.4|9=" (12) + 3 digits + SOH
_PX_SCALE = 100_000_000.0
_MAX_PX = 1e10


@njit(cache=True, inline="always")
def _put(buf, p, src):
    for i in range(src.shape[0]):
        buf[p + i] = src[i]
    return p + src.shape[0]


@njit(cache=True, inline="always")
def _put2(buf, p, a, b):
    buf[p] = a
    buf[p + 1] = b
    return p + 2


@njit(cache=True, inline="always")
def _tag(buf, p, a, b):
    """``<SOH>ab=``"""
    buf[p] = 1
    buf[p + 1] = a
    buf[p + 2] = b
    buf[p + 3] = 61
    return p + 4


@njit(cache=True, inline="always")
def _put_i64(buf, p, v):
    """Decimal digits of int64 ``v >= 0``."""
    if v == 0:
        buf[p] = 48
        return p + 1
    n = 0
    t = v
    while t > 0:
        n += 1
        t //= 10
    q = p + n
    while v > 0:
        q -= 1
        buf[q] = 48 + v % 10
        v //= 10
    return p + n


@njit(cache=True, inline="always")
def _put_u64(buf, p, v):
    """Decimal digits of uint64 ``v`` (uint64 constants: no int64 promotion to float)."""
    ten = np.uint64(10)
    zero = np.uint64(0)
    if v == zero:
        buf[p] = 48
        return p + 1
    n = 0
    t = v
    while t > zero:
        n += 1
        t //= ten
    q = p + n
    while v > zero:
        q -= 1
        buf[q] = np.uint8(48 + (v % ten))
        v //= ten
    return p + n


@njit(cache=True, inline="always")
def _put_fixed(buf, p, v, width):
    q = p + width
    for _ in range(width):
        q -= 1
        buf[q] = 48 + v % 10
        v //= 10
    return p + width


@njit(cache=True)
def put_timestamp(buf, p, ns):
    """``YYYYMMDD-HH:MM:SS.sss`` of ``ns >= 0`` since the epoch (UTC), civil date by Hinnant's algorithm."""
    ms_all = ns // 1_000_000
    ms = ms_all % 1000
    s = ms_all // 1000
    days = s // 86400
    sod = s % 86400
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    p = _put_fixed(buf, p, y, 4)
    p = _put_fixed(buf, p, m, 2)
    p = _put_fixed(buf, p, d, 2)
    buf[p] = 45  # -
    p = _put_fixed(buf, p + 1, sod // 3600, 2)
    buf[p] = 58  # :
    p = _put_fixed(buf, p + 1, (sod // 60) % 60, 2)
    buf[p] = 58
    p = _put_fixed(buf, p + 1, sod % 60, 2)
    buf[p] = 46  # .
    return _put_fixed(buf, p + 1, ms, 3)


@njit(cache=True, inline="always")
def _put_price(buf, p, px):
    scaled = np.int64(np.floor(px * _PX_SCALE + 0.5))
    ip = scaled // 100_000_000
    fp = scaled % 100_000_000
    p = _put_i64(buf, p, ip)
    if fp != 0:
        nd = 8
        while fp % 10 == 0:
            fp //= 10
            nd -= 1
        buf[p] = 46
        p = _put_fixed(buf, p + 1, fp, nd)
    return p


@njit(cache=True)
def check_order(o, tpl, n_sym):
    """0 (OK) or the E_* code of a record that must not go on the wire."""
    t = o.type
    if t != ORDER_LIMIT and t != ORDER_MARKET and t != ORDER_IOC and t != ORDER_CANCEL:
        return E_TYPE
    if o.side != SIDE_BUY and o.side != SIDE_SELL:
        return E_SIDE
    k = np.int64(o.instrument)
    if k <= 0 or k >= n_sym or tpl[SYM_BASE + k * SYM_SLOT] == 0:
        return E_INSTRUMENT
    if o.ts_ns < 0:
        return E_TIME
    if t == ORDER_CANCEL:
        if o.target_id == np.uint64(0):
            return E_TARGET
        return OK
    if o.qty <= 0:
        return E_QTY
    if t != ORDER_MARKET:
        px = o.price
        if not (px > 0.0 and px < _MAX_PX):  # False for NaN
            return E_PRICE
    return OK


@njit(cache=True)
def _memmove(buf, dst, src, n):
    if dst < src:
        for i in range(n):
            buf[dst + i] = buf[src + i]
    elif dst > src:
        for i in range(n - 1, -1, -1):
            buf[dst + i] = buf[src + i]


@njit(cache=True)
def encode_one(o, tpl, seq, sending_ns, buf, pos, ts_pos):
    """Write the message of record ``o`` with MsgSeqNum ``seq`` at ``buf[pos:]``; return the end offset.
    ``ts_pos`` is where the batch's SendingTime text already is in ``buf`` (-1: format it here). The caller
    checked ``o`` (:func:`check_order`) and that the buffer has room for one maximal message."""
    b = pos + _GUESS
    p = b
    buf[p] = 51  # 35=
    buf[p + 1] = 53
    buf[p + 2] = 61
    cancel = o.type == ORDER_CANCEL
    buf[p + 3] = 70 if cancel else 68  # F / D
    p += 4
    hl = np.int64(tpl[0])
    for i in range(hl):
        buf[p + i] = tpl[1 + i]
    p += hl
    p = _put_i64(buf, p, seq)
    p = _tag(buf, p, 53, 50)  # 52
    my_ts = p
    if ts_pos < 0:
        p = put_timestamp(buf, p, sending_ns)
    else:
        for i in range(21):
            buf[p + i] = buf[ts_pos + i]
        p += 21
    if cancel:
        p = _tag(buf, p, 52, 49)  # 41
        p = _put_u64(buf, p, o.target_id)
    p = _tag(buf, p, 49, 49)  # 11
    p = _put_u64(buf, p, o.order_id)
    p = _tag(buf, p, 53, 53)  # 55
    k = np.int64(o.instrument)
    so = SYM_BASE + k * SYM_SLOT
    sl = np.int64(tpl[so])
    for i in range(sl):
        buf[p + i] = tpl[so + 1 + i]
    p += sl
    p = _tag(buf, p, 53, 52)  # 54
    buf[p] = 49 if o.side == SIDE_BUY else 50
    p = _tag(buf, p + 1, 54, 48)  # 60
    ts = o.ts_ns if o.ts_ns > 0 else sending_ns
    if ts // 1_000_000_000 == sending_ns // 1_000_000_000:  # same second: reuse YYYYMMDD-HH:MM:SS.
        for i in range(18):
            buf[p + i] = buf[my_ts + i]
        p = _put_fixed(buf, p + 18, (ts // 1_000_000) % 1000, 3)
    else:
        p = put_timestamp(buf, p, ts)
    if not cancel or o.qty > 0:
        p = _tag(buf, p, 51, 56)  # 38
        p = _put_i64(buf, p, o.qty)
    if not cancel:
        p = _tag(buf, p, 52, 48)  # 40
        buf[p] = 49 if o.type == ORDER_MARKET else 50
        p += 1
        if o.type != ORDER_MARKET:
            p = _tag(buf, p, 52, 52)  # 44
            p = _put_price(buf, p, o.price)
        p = _tag(buf, p, 53, 57)  # 59
        buf[p] = 48 if o.type == ORDER_LIMIT else 51  # Day / IOC (market orders never rest)
        p += 1
    buf[p] = 1
    p += 1
    body_len = p - b
    nd = 1
    t = body_len
    while t >= 10:
        nd += 1
        t //= 10
    plen = 13 + nd
    if plen != _GUESS:
        _memmove(buf, pos + plen, b, body_len)
    # prefix "8=FIX.4.4|9=<len>|"
    q = pos
    buf[q] = 56
    buf[q + 1] = 61
    buf[q + 2] = 70
    buf[q + 3] = 73
    buf[q + 4] = 88
    buf[q + 5] = 46
    buf[q + 6] = 52
    buf[q + 7] = 46
    buf[q + 8] = 52
    buf[q + 9] = 1
    buf[q + 10] = 57
    buf[q + 11] = 61
    q = _put_i64(buf, q + 12, body_len)
    buf[q] = 1
    end = pos + plen + body_len
    ck = 0
    for i in range(pos, end):
        ck += buf[i]
    ck &= 255
    buf[end] = 49  # 10=
    buf[end + 1] = 48
    buf[end + 2] = 61
    buf[end + 3] = 48 + ck // 100
    buf[end + 4] = 48 + (ck // 10) % 10
    buf[end + 5] = 48 + ck % 10
    buf[end + 6] = 1
    return end + 7


@njit(cache=True)
def encode_batch(orders, tpl, seq0, sending_ns, buf, ends):
    """Encode every record of ``orders`` as consecutive messages numbered ``seq0, seq0+1, ...`` from
    ``buf[0]``.

    Returns ``(n, end, bad, err)``: ``n`` messages written, ending at ``end`` (message ``i`` ends at
    ``ends[i]``; fewer than asked only when ``buf`` or ``ends`` is full), or ``n = 0`` with the index ``bad``
    of the first invalid record and its E_* code ``err``: nothing is written when any record of the batch
    is invalid.
    """
    n_sym = (tpl.shape[0] - SYM_BASE) // SYM_SLOT
    m = orders.shape[0]
    for i in range(m):
        e = check_order(orders[i], tpl, n_sym)
        if e != OK:
            return 0, 0, i, e
    max_msg = np.int64(tpl[0]) + MAX_MSG_OVER_HDR
    cap = buf.shape[0]
    pos = 0
    ts_pos = -1
    n = 0
    for i in range(min(m, ends.shape[0])):
        if pos + max_msg > cap:
            break
        new = encode_one(orders[i], tpl, seq0 + n, sending_ns, buf, pos, ts_pos)
        if ts_pos < 0:
            # SendingTime of the first message: after the prefix, "35=X", the header tail, seq and "|52="
            ts_pos = _find_ts(buf, pos)
        pos = new
        ends[n] = pos
        n += 1
    return n, pos, -1, OK


@njit(cache=True, inline="always")
def _find_ts(buf, pos):
    """Offset of the SendingTime value in the message at ``pos`` (after the first "\x0152=")."""
    i = pos
    while not (buf[i] == 1 and buf[i + 1] == 53 and buf[i + 2] == 50 and buf[i + 3] == 61):
        i += 1
    return i + 4
