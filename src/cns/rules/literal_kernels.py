"""Numba kernels over the interned terms' bytes: literal attributes (numeric keys, exact values,
well-formedness), unescaped lengths and text, and the byte order of term spans.

Used by :mod:`cns.rules.encode` after parsing (term table: :mod:`cns.rules.term_table`). No Python object is
made per term; what a kernel cannot decide exactly (an unusual datatype, a lexical form NumPy must parse) is
flagged for the caller (``FAST_*``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.rules.term_table import KIND_IRI, KIND_LITERAL

__all__ = [
    "FAST_DECIMAL",
    "FAST_DONE",
    "FAST_DOUBLE",
    "FAST_SLOW",
    "N_DT",
    "gather_padded",
    "literal_attrs",
    "rank_spans",
    "unescape_spans",
    "unescaped_lengths",
]

# datatype classes of :func:`literal_attrs` (codes of the pre-interned datatype IRIs, see cns.rules.encode)
DT_STRING = 0
DT_LANGSTRING = 1
DT_INTEGER = 2
DT_DECIMAL = 3
DT_DOUBLE = 4
DT_FLOAT = 5
DT_BOOLEAN = 6
DT_LONG = 7
DT_INT = 8
DT_SHORT = 9
DT_BYTE = 10
DT_NON_NEGATIVE = 11
DT_POSITIVE = 12
DT_NON_POSITIVE = 13
DT_NEGATIVE = 14
DT_UNSIGNED_LONG = 15
DT_UNSIGNED_INT = 16
DT_UNSIGNED_SHORT = 17
DT_UNSIGNED_BYTE = 18
N_DT = 19

# order categories (cns.rules.xsd.CAT_*)
_CAT_NONE = 0
_CAT_NUMERIC = 1
_CAT_STRING = 2
_CAT_BOOLEAN = 7

# literal_attrs: what the fast path decided
FAST_DONE = 0  # attributes final
FAST_DOUBLE = 1  # well-formed xsd:double/float lexical: float key to be parsed by the caller (NumPy)
FAST_DECIMAL = 2  # well-formed exact decimal: exact (hi, lo) set, float key to be parsed by the caller
FAST_SLOW = 3  # the caller computes this literal's attributes in Python (rdflib), as for any other datatype


@njit(cache=True)
def _unescaped_len(arena, a, b, chars):
    """Characters (``chars``) or UTF-8 bytes of the unescaped text arena[a:b) (N-Triples escapes)."""
    n = 0
    j = a
    while j < b:
        x = arena[j]
        if x == 92 and j + 1 < b:
            y = arena[j + 1]
            if y == 117 or y == 85:
                w = 4 if y == 117 else 8
                if chars:
                    n += 1
                else:
                    cp = 0
                    for k in range(w):
                        d = arena[j + 2 + k]
                        cp = cp * 16 + (d - 48 if d <= 57 else (d - 55 if d <= 70 else d - 87))
                    n += 1 if cp < 0x80 else (2 if cp < 0x800 else (3 if cp < 0x10000 else 4))
                j += 2 + w
            else:
                n += 1
                j += 2
            continue
        if not chars or x & 0xC0 != 0x80:
            n += 1
        j += 1
    return n


@njit(cache=True)
def unescaped_lengths(arena, t_start, t_end, t_kind, t_lex_end, n_terms):
    """``lexlen`` per term: characters of the IRI / the literal's lexical form, -1 for blank nodes."""
    out = np.full(n_terms, -1, np.int32)
    for c in range(n_terms):
        k = t_kind[c]
        if k == KIND_IRI:
            out[c] = _unescaped_len(arena, t_start[c] + 1, t_end[c] - 1, True)
        elif k == KIND_LITERAL:
            out[c] = _unescaped_len(arena, t_start[c] + 1, t_lex_end[c], True)
    return out


@njit(cache=True)
def unescape_spans(arena, starts, ends, out, offsets):
    """Copy each arena[starts[i]:ends[i]) unescaped (UTF-8) into ``out``; ``offsets[i]..offsets[i+1]``."""
    o = 0
    for i in range(starts.shape[0]):
        offsets[i] = o
        j = starts[i]
        b = ends[i]
        while j < b:
            x = arena[j]
            if x == 92 and j + 1 < b:
                y = arena[j + 1]
                if y == 117 or y == 85:
                    w = 4 if y == 117 else 8
                    cp = 0
                    for k in range(w):
                        d = arena[j + 2 + k]
                        cp = cp * 16 + (d - 48 if d <= 57 else (d - 55 if d <= 70 else d - 87))
                    if cp < 0x80:
                        out[o] = cp
                        o += 1
                    elif cp < 0x800:
                        out[o] = 0xC0 | (cp >> 6)
                        out[o + 1] = 0x80 | (cp & 0x3F)
                        o += 2
                    elif cp < 0x10000:
                        out[o] = 0xE0 | (cp >> 12)
                        out[o + 1] = 0x80 | ((cp >> 6) & 0x3F)
                        out[o + 2] = 0x80 | (cp & 0x3F)
                        o += 3
                    else:
                        out[o] = 0xF0 | (cp >> 18)
                        out[o + 1] = 0x80 | ((cp >> 12) & 0x3F)
                        out[o + 2] = 0x80 | ((cp >> 6) & 0x3F)
                        out[o + 3] = 0x80 | (cp & 0x3F)
                        o += 4
                    j += 2 + w
                    continue
                if y == 116:
                    out[o] = 9
                elif y == 98:
                    out[o] = 8
                elif y == 110:
                    out[o] = 10
                elif y == 114:
                    out[o] = 13
                elif y == 102:
                    out[o] = 12
                else:
                    out[o] = y
                o += 1
                j += 2
                continue
            out[o] = x
            o += 1
            j += 1
    offsets[starts.shape[0]] = o
    return o


@njit(cache=True)
def _less(buf, a0, a1, b0, b1) -> int:
    """-1 / 0 / 1: byte-wise comparison of buf[a0:a1) and buf[b0:b1) (UTF-8 order = code point order)."""
    n = min(a1 - a0, b1 - b0)
    for k in range(n):
        x = buf[a0 + k]
        y = buf[b0 + k]
        if x != y:
            return -1 if x < y else 1
    la = a1 - a0
    lb = b1 - b0
    return 0 if la == lb else (-1 if la < lb else 1)


@njit(cache=True)
def rank_spans(buf, offsets):
    """Dense rank of the byte strings buf[offsets[i]:offsets[i+1]) (equal strings share a rank): a bottom-up
    merge sort of indices, O(n log n) comparisons."""
    n = offsets.shape[0] - 1
    idx = np.arange(n)
    tmp = np.empty(n, np.int64)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                a = idx[i]
                b = idx[j]
                if _less(buf, offsets[b], offsets[b + 1], offsets[a], offsets[a + 1]) < 0:
                    tmp[k] = b
                    j += 1
                else:
                    tmp[k] = a
                    i += 1
                k += 1
            while i < mid:
                tmp[k] = idx[i]
                i += 1
                k += 1
            while j < hi:
                tmp[k] = idx[j]
                j += 1
                k += 1
        idx, tmp = tmp, idx
        width *= 2
    rank = np.empty(n, np.int64)
    r = -1
    for k in range(n):
        a = idx[k]
        if (
            k == 0
            or _less(buf, offsets[idx[k - 1]], offsets[idx[k - 1] + 1], offsets[a], offsets[a + 1]) != 0
        ):
            r += 1
        rank[a] = r
    return rank


_P18 = 10**18
_INT_BOUNDS = np.array(
    [
        # lo, hi per DT_* class (only integer classes used); int64 range where the type has no tighter one
        [0, 0],
        [0, 0],
        [-(2**63), 2**63 - 1],
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 0],
        [-(2**63), 2**63 - 1],
        [-(2**31), 2**31 - 1],
        [-(2**15), 2**15 - 1],
        [-(2**7), 2**7 - 1],
        [0, 2**63 - 1],
        [1, 2**63 - 1],
        [-(2**63), 0],
        [-(2**63), -1],
        [0, 2**63 - 1],
        [0, 2**32 - 1],
        [0, 2**16 - 1],
        [0, 2**8 - 1],
    ],
    np.int64,
)
_MAXDIGITS = np.frombuffer(b"9223372036854775807", np.uint8)


@njit(cache=True)
def _parse_int(arena, a, b):
    """(ok, value) for ``[+-]?[0-9]+`` within int64 (a 19-digit value is compared digit by digit)."""
    if a >= b:
        return False, 0
    neg = False
    if arena[a] == 43 or arena[a] == 45:
        neg = arena[a] == 45
        a += 1
        if a >= b:
            return False, 0
    while a < b - 1 and arena[a] == 48:
        a += 1
    n = b - a
    for k in range(a, b):
        if not (48 <= arena[k] <= 57):
            return False, 0
    if n > 19:
        return False, 0
    if n == 19:
        for k in range(19):  # compare with int64 max; -2**63 itself takes the slow path
            d = arena[a + k]
            if d != _MAXDIGITS[k]:
                if d > _MAXDIGITS[k]:
                    return False, 0
                break
    v = np.int64(0)
    for k in range(a, b):
        v = v * 10 + (arena[k] - 48)
    return True, -v if neg else v


@njit(cache=True)
def _is_xsd_double(arena, a, b) -> bool:
    """XSD 1.1 double/float lexical space: ``[+-]?(d+(.d*)?|.d+)([Ee][+-]?d+)?|[+-]?INF|NaN``."""
    if b - a == 3 and arena[a] == 78 and arena[a + 1] == 97 and arena[a + 2] == 78:
        return True
    j = a
    if j < b and (arena[j] == 43 or arena[j] == 45):
        j += 1
    if b - j == 3 and arena[j] == 73 and arena[j + 1] == 78 and arena[j + 2] == 70:
        return True
    d = 0
    while j < b and 48 <= arena[j] <= 57:
        j += 1
        d += 1
    if j < b and arena[j] == 46:
        j += 1
        while j < b and 48 <= arena[j] <= 57:
            j += 1
            d += 1
    if d == 0:
        return False
    if j < b and (arena[j] == 69 or arena[j] == 101):
        j += 1
        if j < b and (arena[j] == 43 or arena[j] == 45):
            j += 1
        e = 0
        while j < b and 48 <= arena[j] <= 57:
            j += 1
            e += 1
        if e == 0:
            return False
    return j == b


@njit(cache=True)
def _parse_decimal(arena, a, b):
    """(ok, hi, lo): ``[+-]?(d+(.d*)?|.d+)`` as floor(value) = hi and frac = lo / 10**18, for at most 18
    integer and 18 fraction digits; not ok otherwise."""
    neg = False
    j = a
    if j < b and (arena[j] == 43 or arena[j] == 45):
        neg = arena[j] == 45
        j += 1
    while j < b - 1 and arena[j] == 48 and arena[j + 1] != 46:
        j += 1
    ip = np.int64(0)
    nd = 0
    while j < b and 48 <= arena[j] <= 57:
        ip = ip * 10 + (arena[j] - 48)
        j += 1
        nd += 1
    fp = np.int64(0)
    nf = 0
    if j < b and arena[j] == 46:
        j += 1
        while j < b and 48 <= arena[j] <= 57:
            if nf == 18:
                return False, 0, 0
            fp = fp * 10 + (arena[j] - 48)
            j += 1
            nf += 1
    if j != b or nd + nf == 0 or nd > 18:
        return False, 0, 0
    for _ in range(18 - nf):
        fp *= 10
    if neg and (ip != 0 or fp != 0):
        if fp == 0:
            return True, -ip, 0
        return True, -ip - 1, _P18 - fp
    return True, ip, fp


@njit(cache=True)
def literal_attrs(
    arena,
    t_start,
    t_kind,
    t_dt,
    t_lex_end,
    n_terms,
    dt_class,
    order_cat,
    okey,
    numeric,
    ex_hi,
    ex_lo,
    has_exact,
    ill,
    fast,
):
    """Attributes of the literals whose datatype has a fast path (``dt_class[datatype code]``, -1 none):
    xsd:string (category string), rdf:langString (none), xsd:boolean, xsd:integer and its derived types within
    their value ranges (numeric, exact int64), xsd:decimal (exact ``hi + lo/1e18``), xsd:double/float
    (float key parsed by the caller). ``fast[c]`` says what is left to do (FAST_*); lexical forms outside the
    strict XSD lexical space, other datatypes and out-of-range values are FAST_SLOW, decided in Python."""
    for c in range(n_terms):
        if t_kind[c] != KIND_LITERAL:
            continue
        d = t_dt[c]
        cls = dt_class[d] if d >= 0 and d < dt_class.shape[0] else -1
        a = t_start[c] + 1
        b = t_lex_end[c]
        if cls == DT_STRING:
            order_cat[c] = _CAT_STRING
            fast[c] = FAST_DONE
        elif cls == DT_LANGSTRING:
            fast[c] = FAST_DONE
        elif cls == DT_BOOLEAN:
            if (
                b - a == 4
                and arena[a] == 116
                and arena[a + 1] == 114
                and arena[a + 2] == 117
                and arena[a + 3] == 101
            ):
                okey[c] = 1.0
            elif b - a == 1 and (arena[a] == 49 or arena[a] == 48):
                okey[c] = 1.0 if arena[a] == 49 else 0.0
            elif (
                b - a == 5
                and arena[a] == 102
                and arena[a + 1] == 97
                and arena[a + 2] == 108
                and arena[a + 3] == 115
                and arena[a + 4] == 101
            ):
                okey[c] = 0.0
            else:
                fast[c] = FAST_SLOW
                continue
            order_cat[c] = _CAT_BOOLEAN
            fast[c] = FAST_DONE
        elif cls == DT_DOUBLE or cls == DT_FLOAT:
            if _is_xsd_double(arena, a, b):
                order_cat[c] = _CAT_NUMERIC
                fast[c] = FAST_DOUBLE
            else:
                fast[c] = FAST_SLOW
        elif cls == DT_DECIMAL:
            ok, hi, lo = _parse_decimal(arena, a, b)
            if ok:
                order_cat[c] = _CAT_NUMERIC
                ex_hi[c] = hi
                ex_lo[c] = lo
                has_exact[c] = True
                fast[c] = FAST_DECIMAL
            else:
                fast[c] = FAST_SLOW
        elif cls >= DT_INTEGER:
            ok, v = _parse_int(arena, a, b)
            if ok and _INT_BOUNDS[cls, 0] <= v <= _INT_BOUNDS[cls, 1]:
                order_cat[c] = _CAT_NUMERIC
                okey[c] = float(v)
                numeric[c] = float(v)
                ex_hi[c] = v
                ex_lo[c] = 0
                has_exact[c] = True
                fast[c] = FAST_DONE
            else:
                fast[c] = FAST_SLOW
        else:
            fast[c] = FAST_SLOW
        ill[c] = False


@njit(cache=True)
def gather_padded(arena, starts, ends, width):
    """Row i = arena[starts[i]:ends[i]) padded with NUL to ``width`` bytes (a NumPy ``S<width>`` array)."""
    out = np.zeros((starts.shape[0], width), np.uint8)
    for i in range(starts.shape[0]):
        a = starts[i]
        for k in range(ends[i] - a):
            out[i, k] = arena[a + k]
    return out
