"""Numba kernels that turn N-Triples bytes into dictionary-encoded triples, and term bytes into term attributes.

Used by :mod:`cns.rules.encode` (see its doc for the layout and the contract). No Python object is made per
triple or per term here: a chunk of N-Triples text is scanned once, every term's bytes are hashed (FNV-1a,
64 bit) and interned in an open-addressing table whose keys live in one byte *arena*, and each triple becomes
three ``int32`` codes.

Term keys are the terms' canonical N-Triples forms (``<iri>``, ``_:label``, ``"lexical"`` with ``@lang`` or
``^^<datatype>``; ``xsd:string`` literals without a datatype), so two terms are the same RDF term iff their
keys are the same bytes. Input comes in two modes:

* trusted (``strict=False``): the output of pyoxigraph's N-Triples serializer, canonical by construction;
* strict (``strict=True``): a user's N-Triples file. Whatever the kernel cannot prove canonical (``\\u``
  escapes, raw control characters, upper-case language tags, an explicit ``^^xsd:string``, a relative or
  suspicious IRI, invalid UTF-8, ...) or does not parse ends the scan with :data:`ST_FALLBACK`; the caller
  then canonicalises the file with pyoxigraph (which also produces the syntax error message, if any).

Every kernel that may run out of room stops *before* the line that would overflow and returns
:data:`ST_GROW`; the caller grows the arrays and resumes at the returned position.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "ST_OK",
    "ST_GROW",
    "ST_FALLBACK",
    "ST_ERROR",
    "encode_lines",
    "rehash",
    "rehash_langs",
    "lookup",
    "intern_keys",
    "literal_attrs",
    "unescaped_lengths",
    "gather_padded",
    "unescape_spans",
    "rank_spans",
    "encode_turtle",
    "lang_tag_end",
]

ST_OK = 0
ST_GROW = 1
ST_FALLBACK = 2
ST_ERROR = 3

KIND_IRI = 0
KIND_BNODE = 1
KIND_LITERAL = 2

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)

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
def _fnv(buf: np.ndarray, a: int, b: int, seed: int) -> np.uint64:
    """64-bit hash of buf[a:b): eight bytes per multiply (little-endian words, FNV-style mixing, a final
    avalanche), then the tail byte by byte. ``seed`` is random per encoding (``meta[3]``), so hostile data
    cannot be crafted offline to collide in the table (hash flooding)."""
    h = _FNV_OFFSET ^ np.uint64(seed) ^ np.uint64(b - a)
    i = a
    while i + 8 <= b:
        w = (
            np.uint64(buf[i])
            | (np.uint64(buf[i + 1]) << np.uint64(8))
            | (np.uint64(buf[i + 2]) << np.uint64(16))
            | (np.uint64(buf[i + 3]) << np.uint64(24))
            | (np.uint64(buf[i + 4]) << np.uint64(32))
            | (np.uint64(buf[i + 5]) << np.uint64(40))
            | (np.uint64(buf[i + 6]) << np.uint64(48))
            | (np.uint64(buf[i + 7]) << np.uint64(56))
        )
        h = (h ^ w) * _FNV_PRIME
        h ^= h >> np.uint64(29)
        i += 8
    while i < b:
        h = (h ^ np.uint64(buf[i])) * _FNV_PRIME
        i += 1
    h ^= h >> np.uint64(33)  # murmur3 fmix64: every input bit reaches the low (slot) and high (tag) bits
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


_LEN_BITS = 20
_LEN_MAX = (1 << _LEN_BITS) - 1


@njit(cache=True)
def _find(buf, a, b, h, arena, t_start, t_end, table):
    """(slot, code): the code of key buf[a:b) (code -1 and its free slot when absent).

    ``table`` holds two int64 words per slot: ``(h >> 33) << 32 | code`` (-1 empty) and
    ``start << 20 | min(length, 2**20 - 1)`` of the key in the arena, so a probe reads one cache line and
    touches the key bytes only when 31 hash bits and the length agree."""
    mask = (table.shape[0] >> 1) - 1
    slot = np.int64(h & np.uint64(mask))
    tag = np.int64(h >> np.uint64(33))
    n = b - a
    while True:
        v = table[2 * slot]
        if v < 0:
            return slot, -1
        if (v >> 32) == tag:
            w = table[2 * slot + 1]
            ln = w & _LEN_MAX
            c = v & 0xFFFFFFFF
            if ln == _LEN_MAX:
                ln = t_end[c] - t_start[c]
            if ln == n:
                s = w >> _LEN_BITS
                same = True
                for k in range(n):
                    if arena[s + k] != buf[a + k]:
                        same = False
                        break
                if same:
                    return slot, c
        slot = (slot + 1) & mask


@njit(cache=True, inline="always")
def _set_slot(table, slot, h, c, start, n) -> None:
    table[2 * slot] = (np.int64(h >> np.uint64(33)) << 32) | c
    table[2 * slot + 1] = (np.int64(start) << _LEN_BITS) | min(n, _LEN_MAX)


@njit(cache=True)
def _intern(buf, a, b, kind, arena, meta, t_start, t_end, t_hash, t_kind, table):
    """Code of key buf[a:b), added (bytes copied to the arena) when new. Capacity is checked by the caller.
    ``meta`` = [n_terms, arena_len, n_triples, hash seed]."""
    h = _fnv(buf, a, b, meta[3])
    slot, c = _find(buf, a, b, h, arena, t_start, t_end, table)
    if c >= 0:
        return c
    c = meta[0]
    pos = meta[1]
    for k in range(b - a):
        arena[pos + k] = buf[a + k]
    t_start[c] = pos
    t_end[c] = pos + (b - a)
    t_hash[c] = h
    t_kind[c] = kind
    _set_slot(table, slot, h, c, pos, b - a)
    meta[0] = c + 1
    meta[1] = pos + (b - a)
    return c


@njit(cache=True)
def rehash(
    t_hash: np.ndarray, t_start: np.ndarray, t_end: np.ndarray, n_terms: int, table: np.ndarray
) -> None:
    """Refill ``table`` (all -1; two words per slot, see :func:`_find`) with codes 0..n_terms-1."""
    mask = (table.shape[0] >> 1) - 1
    for c in range(n_terms):
        h = t_hash[c]
        slot = np.int64(h & np.uint64(mask))
        while table[2 * slot] >= 0:
            slot = (slot + 1) & mask
        _set_slot(table, slot, h, c, t_start[c], t_end[c] - t_start[c])


@njit(cache=True)
def rehash_langs(l_hash: np.ndarray, n_langs: int, l_table: np.ndarray) -> None:
    """Refill the language table (int32 ids, -1 empty) with ids 0..n_langs-1."""
    mask = l_table.shape[0] - 1
    for c in range(n_langs):
        slot = np.int64(l_hash[c] & np.uint64(mask))
        while l_table[slot] >= 0:
            slot = (slot + 1) & mask
        l_table[slot] = c


@njit(cache=True)
def lookup(key: np.ndarray, arena, t_start, t_end, table, meta) -> int:
    """Code of the term whose canonical key is ``key`` (uint8), -1 if absent."""
    h = _fnv(key, 0, key.shape[0], meta[3])
    _, c = _find(key, 0, key.shape[0], h, arena, t_start, t_end, table)
    return c


@njit(cache=True, inline="always")
def _is_ws(x) -> bool:
    return x == 32 or x == 9


@njit(cache=True)
def _utf8_len(buf, i, end) -> int:
    """Length of the valid UTF-8 sequence starting at buf[i] (>= 0x80), 0 if invalid."""
    x = buf[i]
    if 0xC2 <= x <= 0xDF:
        n = 2
    elif 0xE0 <= x <= 0xEF:
        n = 3
    elif 0xF0 <= x <= 0xF4:
        n = 4
    else:
        return 0
    if i + n > end:
        return 0
    for k in range(1, n):
        if buf[i + k] & 0xC0 != 0x80:
            return 0
    y = buf[i + 1]
    if (
        (x == 0xE0 and y < 0xA0)
        or (x == 0xED and y > 0x9F)
        or (x == 0xF0 and y < 0x90)
        or (x == 0xF4 and y > 0x8F)
    ):
        return 0  # overlong, surrogate or beyond U+10FFFF
    return n


@njit(cache=True)
def _iri(buf, i, end, strict):
    """buf[i] == '<': index just past the closing '>', -1 syntax error, -2 fallback (strict)."""
    j = i + 1
    if strict:  # scheme ":" first: N-Triples IRIs are absolute
        if j >= end or not ((65 <= buf[j] <= 90) or (97 <= buf[j] <= 122)):
            return -2
        j += 1
        while j < end and (
            (65 <= buf[j] <= 90)
            or (97 <= buf[j] <= 122)
            or (48 <= buf[j] <= 57)
            or buf[j] == 43
            or buf[j] == 45
            or buf[j] == 46
        ):
            j += 1
        if j >= end or buf[j] != 58:
            return -2
    while j < end:
        x = buf[j]
        if x == 62:  # '>'
            return j + 1
        if x == 10 or x == 13:
            return -1
        if strict:
            if (
                x <= 32
                or x == 60
                or x == 34
                or x == 123
                or x == 125
                or x == 124
                or x == 94
                or x == 96
                or x == 92
            ):
                return -2
            if x == 37:  # '%' HEX HEX
                if j + 2 >= end:
                    return -2
                for k in (1, 2):
                    y = buf[j + k]
                    if not ((48 <= y <= 57) or (65 <= y <= 70) or (97 <= y <= 102)):
                        return -2
            if x >= 0x80:
                n = _utf8_len(buf, j, end)
                if n == 0:
                    return -2
                j += n
                continue
        j += 1
    return -1


@njit(cache=True)
def _bnode(buf, i, end, strict):
    """buf[i:i+2] == '_:': index just past the label, -1 syntax error, -2 fallback (strict)."""
    j = i + 2
    start = j
    while j < end:
        x = buf[j]
        if (48 <= x <= 57) or (65 <= x <= 90) or (97 <= x <= 122) or x == 95 or x == 45 or x == 46:
            j += 1
        elif x >= 0x80:
            if strict:
                n = _utf8_len(buf, j, end)
                if n == 0:
                    return -2
                j += n
            else:
                j += 1
        else:
            break
    while j > start and buf[j - 1] == 46:  # a label does not end with '.': that is the triple's end
        j -= 1
    if j == start:
        return -1
    if strict and (buf[start] == 45 or buf[start] == 46):
        return -2
    return j


_XSD_STRING = np.frombuffer(b"<http://www.w3.org/2001/XMLSchema#string>", np.uint8)
_RDF_LANGSTRING = np.frombuffer(b"<http://www.w3.org/1999/02/22-rdf-syntax-ns#langString>", np.uint8)


@njit(cache=True)
def _same(buf, a0, a1, b0, b1) -> bool:
    if a1 - a0 != b1 - b0:
        return False
    for k in range(a1 - a0):
        if buf[a0 + k] != buf[b0 + k]:
            return False
    return True


@njit(cache=True)
def _span_is(buf, a, b, key) -> bool:
    if b - a != key.shape[0]:
        return False
    for k in range(b - a):
        if buf[a + k] != key[k]:
            return False
    return True


@njit(cache=True)
def _literal(buf, i, end, strict, out):
    """buf[i] == '"': parse a literal. ``out`` = [quote_end, lang_start, lang_end, dt_start, dt_end]
    (-1 when absent). Returns the index past the literal, -1 syntax error, -2 fallback."""
    j = i + 1
    while True:
        if j >= end:
            return -1
        x = buf[j]
        if x == 34:
            break
        if x == 92:  # backslash
            if j + 1 >= end:
                return -1
            y = buf[j + 1]
            if y == 116 or y == 98 or y == 110 or y == 114 or y == 102 or y == 34 or y == 92:  # t b n r f " \
                j += 2
                continue
            if strict:
                return -2  # \u, \U, \' : not canonical (or an error): pyoxigraph decides
            if y == 117:
                j += 6
                continue
            if y == 85:
                j += 10
                continue
            return -1
        if x == 10 or x == 13:
            return -1
        if strict:
            if x < 32 or x == 127:
                return -2
            if x >= 0x80:
                n = _utf8_len(buf, j, end)
                if n == 0:
                    return -2
                j += n
                continue
        j += 1
    out[0] = j
    out[1] = -1
    out[2] = -1
    out[3] = -1
    out[4] = -1
    j += 1
    if j < end and buf[j] == 64 and strict:  # '@' language tag: a conservative, lower-case BCP 47 subset
        j += 1
        e = lang_tag_end(buf, j, end)
        if e < 0:
            return -2
        for k in range(j, e):
            if 65 <= buf[k] <= 90:
                return -2  # canonical tags are lower case
        out[1] = j
        out[2] = e
        j = e
    elif j < end and buf[j] == 64:  # '@' language tag [a-zA-Z]+ ('-' [a-zA-Z0-9]+)*
        j += 1
        out[1] = j
        n = 0
        while j < end and ((97 <= buf[j] <= 122) or (65 <= buf[j] <= 90)):
            if strict and buf[j] <= 90:
                return -2  # canonical tags are lower case
            j += 1
            n += 1
        if n == 0:
            return -1
        while j < end and buf[j] == 45:
            j += 1
            n = 0
            while j < end and ((97 <= buf[j] <= 122) or (65 <= buf[j] <= 90) or (48 <= buf[j] <= 57)):
                if strict and 65 <= buf[j] <= 90:
                    return -2
                j += 1
                n += 1
            if n == 0:
                return -1
        out[2] = j
    elif j + 1 < end and buf[j] == 94 and buf[j + 1] == 94:  # '^^' IRI
        j += 2
        if j >= end or buf[j] != 60:
            return -1
        k = _iri(buf, j, end, strict)
        if k < 0:
            return k
        if strict and (_span_is(buf, j, k, _XSD_STRING) or _span_is(buf, j, k, _RDF_LANGSTRING)):
            return -2
        out[3] = j
        out[4] = k
        j = k
    return j


@njit(cache=True)
def _term(buf, i, end, strict, lit):
    """(end index, kind) of the subject/object term at buf[i] (-1 error / -2 fallback as end)."""
    x = buf[i]
    if x == 60:
        return _iri(buf, i, end, strict), KIND_IRI
    if x == 95 and i + 1 < end and buf[i + 1] == 58:
        return _bnode(buf, i, end, strict), KIND_BNODE
    if x == 34:
        return _literal(buf, i, end, strict, lit), KIND_LITERAL
    return -1, -1


_CACHE = 64


@njit(cache=True)
def _cache_slot(buf, a, b) -> int:
    """Slot of the span buf[a:b) in a small direct-mapped cache of recent IRIs (predicates, classes: few
    distinct values that repeat on every line), so a hit costs one short compare instead of a hash probe."""
    n = b - a
    return (n * 31 + np.int64(buf[b - 1]) * 7 + np.int64(buf[a + (n >> 1)])) & (_CACHE - 1)


@njit(cache=True)
def _cache_get(buf, a, b, cc, ca, cb) -> int:
    k = _cache_slot(buf, a, b)
    c = cc[k]
    if c >= 0 and _same(buf, a, b, ca[k], cb[k]):
        return c
    return -1


@njit(cache=True)
def _cache_put(buf, a, b, c, cc, ca, cb) -> None:
    k = _cache_slot(buf, a, b)
    cc[k] = c
    ca[k] = a
    cb[k] = b


@njit(cache=True)
def _intern_object(
    buf,
    o0,
    o1,
    ok,
    lit,
    str_code,
    lang_code,
    arena,
    meta,
    t_start,
    t_end,
    t_hash,
    t_kind,
    t_dt,
    t_lang,
    t_lex_end,
    table,
    l_start,
    l_end,
    l_hash,
    l_table,
    lmeta,
):
    """Intern the term buf[o0:o1) of kind ``ok``; a new literal (``lit`` from :func:`_literal`) also gets its
    lexical end, datatype code (interned) and language id. Capacity is the caller's."""
    n_before = meta[0]
    o = _intern(buf, o0, o1, ok, arena, meta, t_start, t_end, t_hash, t_kind, table)
    if o == n_before and ok == KIND_LITERAL:
        base = t_start[o] - o0  # arena offset = buffer offset + base
        t_lex_end[o] = lit[0] + base
        if lit[1] >= 0:
            t_dt[o] = lang_code
            la = lit[1] + base
            lb = lit[2] + base
            h = _fnv(arena, la, lb, meta[3])
            lmask = l_table.shape[0] - 1
            slot = np.int64(h & np.uint64(lmask))
            lid = -1
            while True:
                c = l_table[slot]
                if c < 0:
                    break
                if l_hash[c] == h and l_end[c] - l_start[c] == lb - la:
                    same = True
                    for k in range(lb - la):
                        if arena[l_start[c] + k] != arena[la + k]:
                            same = False
                            break
                    if same:
                        lid = c
                        break
                slot = (slot + 1) & lmask
            if lid < 0:
                lid = lmeta[0]
                l_start[lid] = la
                l_end[lid] = lb
                l_hash[lid] = h
                l_table[slot] = lid
                lmeta[0] = lid + 1
            t_lang[o] = lid
        elif lit[3] >= 0:
            t_dt[o] = _intern(
                buf, lit[3], lit[4], KIND_IRI, arena, meta, t_start, t_end, t_hash, t_kind, table
            )
        else:
            t_dt[o] = str_code
    return o


@njit(cache=True)
def intern_keys(
    buf,
    ends,
    str_code,
    lang_code,
    arena,
    meta,
    t_start,
    t_end,
    t_hash,
    t_kind,
    t_dt,
    t_lang,
    t_lex_end,
    table,
    l_start,
    l_end,
    l_hash,
    l_table,
    lmeta,
    out,
):
    """Intern the canonical keys ``buf[ends[i-1]:ends[i])`` (trusted: pyoxigraph's term forms) and write
    their codes to ``out``; -1 for a key that does not parse as one term. Used for the pre-interned datatype
    IRIs and the shapes' constants. Capacity is the caller's (room for 2 terms and 1 language per key)."""
    lit = np.empty(5, np.int64)
    a = 0
    for i in range(ends.shape[0]):
        b = ends[i]
        out[i] = -1
        if b > a:
            e, k = _term(buf, a, b, False, lit)
            if e == b:
                out[i] = _intern_object(
                    buf,
                    a,
                    b,
                    k,
                    lit,
                    str_code,
                    lang_code,
                    arena,
                    meta,
                    t_start,
                    t_end,
                    t_hash,
                    t_kind,
                    t_dt,
                    t_lang,
                    t_lex_end,
                    table,
                    l_start,
                    l_end,
                    l_hash,
                    l_table,
                    lmeta,
                )
        a = b


@njit(cache=True)
def encode_lines(
    buf,
    pos,
    end,
    final,
    strict,
    str_code,
    lang_code,
    arena,
    meta,
    t_start,
    t_end,
    t_hash,
    t_kind,
    t_dt,
    t_lang,
    t_lex_end,
    table,
    l_start,
    l_end,
    l_hash,
    l_table,
    lmeta,
    triples,
):
    """Encode the N-Triples lines of ``buf[pos:end)``.

    ``meta`` = [n_terms, arena_len, n_triples]; ``lmeta`` = [n_langs]. ``final``: the chunk ends the
    document (a last line without a newline is a line). Returns ``(status, position)``: ST_OK with the start
    of the first incomplete line (``end`` when all were consumed), ST_GROW / ST_FALLBACK with the start of the
    line that needs room / canonicalisation, ST_ERROR with the offending position.
    """
    lit = np.empty(5, np.int64)
    last_s, last_s0, last_s1 = -1, 0, 0
    cc = np.full(_CACHE, -1, np.int64)  # recent IRIs (predicates, classes) by their bytes in this chunk
    ca = np.zeros(_CACHE, np.int64)
    cb = np.zeros(_CACHE, np.int64)
    i = pos
    while i < end:
        line = i
        while i < end and _is_ws(buf[i]):
            i += 1
        if i >= end:
            return (ST_OK, end) if final else (ST_OK, line)
        x = buf[i]
        if x == 10 or x == 13:
            i += 1
            continue
        if x == 35:  # comment line
            while i < end and buf[i] != 10 and buf[i] != 13:
                i += 1
            if i >= end and not final:
                return ST_OK, line
            continue
        # locate the end of the line first: an incomplete last line waits for the next chunk
        e = i
        while e < end and buf[e] != 10 and buf[e] != 13:
            e += 1
        if e >= end and not final:
            return ST_OK, line
        # subject
        s0 = i
        s1, sk = _term(buf, i, e, strict, lit)
        if s1 == -2:
            return ST_FALLBACK, line
        if s1 < 0 or sk == KIND_LITERAL:
            return (ST_FALLBACK if strict else ST_ERROR), (line if strict else i)
        i = s1
        while i < e and _is_ws(buf[i]):
            i += 1
        p0 = i
        if i >= e or buf[i] != 60:
            return (ST_FALLBACK if strict else ST_ERROR), (line if strict else i)
        p1 = _iri(buf, i, e, strict)
        if p1 == -2:
            return ST_FALLBACK, line
        if p1 < 0:
            return (ST_FALLBACK if strict else ST_ERROR), (line if strict else i)
        i = p1
        while i < e and _is_ws(buf[i]):
            i += 1
        o0 = i
        if i >= e:
            return (ST_FALLBACK if strict else ST_ERROR), (line if strict else i)
        o1, ok = _term(buf, i, e, strict, lit)
        if o1 == -2:
            return ST_FALLBACK, line
        if o1 < 0:
            return (ST_FALLBACK if strict else ST_ERROR), (line if strict else i)
        i = o1
        while i < e and _is_ws(buf[i]):
            i += 1
        if i >= e or buf[i] != 46:
            return (ST_FALLBACK if strict else ST_ERROR), (line if strict else i)
        i += 1
        while i < e and _is_ws(buf[i]):
            i += 1
        if i < e and buf[i] != 35:
            return (ST_FALLBACK if strict else ST_ERROR), (line if strict else i)
        # room for 4 new terms (s, p, o, datatype), their bytes, one triple, one language
        need = (s1 - s0) + (p1 - p0) + 2 * (o1 - o0)  # a literal's datatype IRI is a key of its own
        if (
            meta[0] + 4 > t_start.shape[0]
            or meta[1] + need > arena.shape[0]
            or 4 * (meta[0] + 4) > table.shape[0]
            or meta[2] + 1 > triples.shape[0]
            or 2 * (lmeta[0] + 1) > l_table.shape[0]
            or lmeta[0] + 1 > l_start.shape[0]
        ):
            return ST_GROW, line
        # t_dt / t_lang are allocated as -1 by the caller: only new literals get values. Consecutive lines
        # usually share the subject (and often the predicate): compared with the previous line's first
        if last_s >= 0 and _same(buf, s0, s1, last_s0, last_s1):
            s = last_s
        else:
            s = _intern(buf, s0, s1, sk, arena, meta, t_start, t_end, t_hash, t_kind, table)
            last_s, last_s0, last_s1 = s, s0, s1
        p = _cache_get(buf, p0, p1, cc, ca, cb)
        if p < 0:
            p = _intern(buf, p0, p1, KIND_IRI, arena, meta, t_start, t_end, t_hash, t_kind, table)
            _cache_put(buf, p0, p1, p, cc, ca, cb)
        o = _cache_get(buf, o0, o1, cc, ca, cb) if ok == KIND_IRI else -1
        if o < 0:
            o = _intern_object(
                buf,
                o0,
                o1,
                ok,
                lit,
                str_code,
                lang_code,
                arena,
                meta,
                t_start,
                t_end,
                t_hash,
                t_kind,
                t_dt,
                t_lang,
                t_lex_end,
                table,
                l_start,
                l_end,
                l_hash,
                l_table,
                lmeta,
            )
            if ok == KIND_IRI:
                _cache_put(buf, o0, o1, o, cc, ca, cb)
        m = meta[2]
        triples[m, 0] = s
        triples[m, 1] = p
        triples[m, 2] = o
        meta[2] = m + 1
        i = e
    return ST_OK, end


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


# ---- Turtle (a common subset; everything else falls back to pyoxigraph) ----------------------------------------
_RDF_TYPE = np.frombuffer(b"<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", np.uint8)
_XSD_NS = np.frombuffer(b"http://www.w3.org/2001/XMLSchema#", np.uint8)
_W_INTEGER = np.frombuffer(b"integer", np.uint8)
_W_DECIMAL = np.frombuffer(b"decimal", np.uint8)
_W_DOUBLE = np.frombuffer(b"double", np.uint8)
_W_BOOLEAN = np.frombuffer(b"boolean", np.uint8)
_FALLBACK = -2
_MAX_PREFIXES = 256  # more -> pyoxigraph (prefixes are looked up by a linear scan)


@njit(cache=True, inline="always")
def _alpha(x) -> bool:
    return (65 <= x <= 90) or (97 <= x <= 122)


@njit(cache=True, inline="always")
def _digit(x) -> bool:
    return 48 <= x <= 57


@njit(cache=True)
def lang_tag_end(buf, i, end):
    """End of a language tag starting at buf[i] (after '@') in the conservative form
    ``lang(2-3 letters) [-script(4 letters)] [-region(2 letters | 3 digits)]``; -2 for anything else (the
    caller falls back to pyoxigraph, which validates full BCP 47)."""
    j = i
    while j < end and _alpha(buf[j]):
        j += 1
    if not (2 <= j - i <= 3):
        return _FALLBACK
    stage = 0  # 0 after language, 1 after script, 2 after region
    while j < end and buf[j] == 45:
        k = j + 1
        m = k
        letters = True
        digits = True
        while m < end and (_alpha(buf[m]) or _digit(buf[m])):
            if _alpha(buf[m]):
                digits = False
            else:
                letters = False
            m += 1
        n = m - k
        if stage == 0 and n == 4 and letters:
            stage = 1
        elif stage <= 1 and ((n == 2 and letters) or (n == 3 and digits)):
            stage = 2
        else:
            return _FALLBACK
        j = m
    return j


@njit(cache=True, inline="always")
def _put(scratch, o, x) -> int:
    if o >= scratch.shape[0]:
        return -1
    scratch[o] = x
    return o + 1


@njit(cache=True)
def _copy(scratch, o, src, a, b) -> int:
    if o < 0 or o + (b - a) > scratch.shape[0]:
        return -1
    for k in range(b - a):
        scratch[o + k] = src[a + k]
    return o + (b - a)


@njit(cache=True)
def _skip(buf, i, end):
    """Skip white space and comments."""
    while i < end:
        x = buf[i]
        if x == 32 or x == 9 or x == 10 or x == 13:
            i += 1
        elif x == 35:
            while i < end and buf[i] != 10 and buf[i] != 13:
                i += 1
        else:
            break
    return i


@njit(cache=True, inline="always")
def _pn_char(x) -> bool:
    return _alpha(x) or _digit(x) or x == 95 or x == 45


@njit(cache=True)
def _pname(buf, i, end):
    """(colon, end) of an ASCII prefixed name ``prefix:local`` at buf[i]; (-2, -2) when it is not one this
    subset reads (non-ASCII, escapes, a name ending in '.', ...)."""
    j = i
    if j < end and _alpha(buf[j]):
        j += 1
        while j < end and (_pn_char(buf[j]) or buf[j] == 46):
            j += 1
        if buf[j - 1] == 46:
            return _FALLBACK, _FALLBACK
    if j >= end or buf[j] != 58:
        return _FALLBACK, _FALLBACK
    colon = j
    j += 1
    if j < end and (_pn_char(buf[j]) or buf[j] == 58) and buf[j] != 45:
        j += 1
        while j < end:
            x = buf[j]
            if _pn_char(x) or x == 58 or x == 46:
                j += 1
            elif x == 37:
                if j + 2 >= end:
                    return _FALLBACK, _FALLBACK
                for k in (1, 2):
                    y = buf[j + k]
                    if not (_digit(y) or (65 <= y <= 70) or (97 <= y <= 102)):
                        return _FALLBACK, _FALLBACK
                j += 3
            elif x == 92 or x >= 0x80:
                return _FALLBACK, _FALLBACK
            else:
                break
        while buf[j - 1] == 46:  # a local name does not end with '.': that ends the statement
            j -= 1
    elif j < end and (buf[j] == 92 or buf[j] >= 0x80 or buf[j] == 37):
        return _FALLBACK, _FALLBACK
    return colon, j


@njit(cache=True)
def _prefix_iri(buf, a, b, pbuf, pmeta, p_name, p_iri):
    """(start, end) in ``pbuf`` of the IRI of prefix buf[a:b) (the last definition), (-1, -1) if undeclared."""
    for k in range(pmeta[0] - 1, -1, -1):
        s, e = p_name[k, 0], p_name[k, 1]
        if e - s == b - a:
            same = True
            for m in range(b - a):
                if pbuf[s + m] != buf[a + m]:
                    same = False
                    break
            if same:
                return p_iri[k, 0], p_iri[k, 1]
    return -1, -1


@njit(cache=True)
def _iri_token_end(buf, i, end) -> int:
    """End of the IRIREF or prefixed name at buf[i] as written (for the IRI cache), ``i`` if none."""
    if buf[i] == 60:
        j = i + 1
        while j < end and buf[j] != 62 and buf[j] != 10:
            j += 1
        return j + 1 if j < end and buf[j] == 62 else i
    colon, j = _pname(buf, i, end)
    return j if colon >= 0 else i


@njit(cache=True)
def _iri_key(buf, i, end, scratch, o, pbuf, pmeta, p_name, p_iri):
    """Write the canonical key ``<iri>`` of the IRI (IRIREF or prefixed name) at buf[i] to scratch[o:].
    Returns (next index, new o); next index -2 means fall back."""
    if buf[i] == 60:
        j = _iri(buf, i, end, True)
        if j < 0:
            return _FALLBACK, o
        return j, _copy(scratch, o, buf, i, j)
    colon, j = _pname(buf, i, end)
    if colon < 0:
        return _FALLBACK, o
    a, b = _prefix_iri(buf, i, colon, pbuf, pmeta, p_name, p_iri)
    if a < 0:
        return _FALLBACK, o  # undeclared prefix: pyoxigraph reports it
    o = _put(scratch, o, 60)
    o = _copy(scratch, o, pbuf, a, b)
    o = _copy(scratch, o, buf, colon + 1, j)
    if o < 0:
        return _FALLBACK, o
    o = _put(scratch, o, 62)
    return j, o


@njit(cache=True)
def _number_key(buf, i, end, scratch, lit):
    """A Turtle numeric literal at buf[i] as ``"lex"^^<xsd:integer|decimal|double>`` in scratch, with ``lit``
    as :func:`_literal` fills it. Returns (next index, key length); next -2: not a number this subset reads."""
    j = i
    if j < end and (buf[j] == 43 or buf[j] == 45):
        j += 1
    d0 = j
    while j < end and _digit(buf[j]):
        j += 1
    nint = j - d0
    nfrac = 0
    kind = 0  # 0 integer, 1 decimal, 2 double
    if j + 1 < end and buf[j] == 46 and _digit(buf[j + 1]):
        j += 1
        f0 = j
        while j < end and _digit(buf[j]):
            j += 1
        nfrac = j - f0
        kind = 1
    elif j < end and buf[j] == 46 and nint > 0 and j + 1 < end and (buf[j + 1] == 101 or buf[j + 1] == 69):
        j += 1  # "1.e5"
        kind = 1
    if nint + nfrac == 0:
        return _FALLBACK, 0
    if j < end and (buf[j] == 101 or buf[j] == 69):
        j += 1
        if j < end and (buf[j] == 43 or buf[j] == 45):
            j += 1
        e0 = j
        while j < end and _digit(buf[j]):
            j += 1
        if j == e0:
            return _FALLBACK, 0
        kind = 2
    elif kind == 1 and buf[j - 1] == 46:
        return _FALLBACK, 0
    if j < end and (_alpha(buf[j]) or buf[j] == 95 or buf[j] == 58 or buf[j] >= 0x80):
        return _FALLBACK, 0
    o = _put(scratch, 0, 34)
    o = _copy(scratch, o, buf, i, j)
    lit[0] = o
    o = _put(scratch, o, 34)
    o = _put(scratch, o, 94)
    o = _put(scratch, o, 94)
    lit[3] = o
    o = _put(scratch, o, 60)
    o = _copy(scratch, o, _XSD_NS, 0, _XSD_NS.shape[0])
    w = _W_INTEGER if kind == 0 else (_W_DECIMAL if kind == 1 else _W_DOUBLE)
    o = _copy(scratch, o, w, 0, w.shape[0])
    o = _put(scratch, o, 62)
    if o < 0:
        return _FALLBACK, 0
    lit[1] = -1
    lit[2] = -1
    lit[4] = o
    return j, o


@njit(cache=True)
def _string_key(buf, i, end, scratch, pbuf, pmeta, p_name, p_iri, lit):
    """A one-line string literal at buf[i] (``"..."`` or ``'...'``) with its language tag or datatype, as the
    canonical key in scratch, with ``lit`` as :func:`_literal` fills it. Returns (next index, key length);
    next -2: fall back."""
    q = buf[i]
    if i + 2 < end and buf[i + 1] == q and buf[i + 2] == q:
        return _FALLBACK, 0  # long string
    o = _put(scratch, 0, 34)
    j = i + 1
    a = j
    while True:
        if j >= end:
            return _FALLBACK, 0
        x = buf[j]
        if x == q:
            break
        if x == 92:
            if j + 1 >= end:
                return _FALLBACK, 0
            y = buf[j + 1]
            if y == 116 or y == 98 or y == 110 or y == 114 or y == 102 or y == 92 or (y == 34 and q == 34):
                j += 2
                continue
            return _FALLBACK, 0  # \u, \U, \' (not canonical), or an error
        if x < 32 or x == 127 or (x == 34 and q != 34):
            return _FALLBACK, 0
        if x >= 0x80:
            n = _utf8_len(buf, j, end)
            if n == 0:
                return _FALLBACK, 0
            j += n
            continue
        j += 1
    o = _copy(scratch, o, buf, a, j)
    lit[0] = o
    lit[1] = -1
    lit[2] = -1
    lit[3] = -1
    lit[4] = -1
    o = _put(scratch, o, 34)
    j += 1
    if j < end and buf[j] == 64:
        e = lang_tag_end(buf, j + 1, end)
        if e < 0:
            return _FALLBACK, 0
        o = _put(scratch, o, 64)
        lit[1] = o
        lit[2] = o + (e - j - 1)
        for k in range(j + 1, e):
            x = buf[k]
            o = _put(scratch, o, x + 32 if 65 <= x <= 90 else x)  # canonical tags are lower case
        j = e
    elif j + 1 < end and buf[j] == 94 and buf[j + 1] == 94:
        o = _put(scratch, o, 94)
        o = _put(scratch, o, 94)
        d0 = o
        if o < 0:
            return _FALLBACK, 0
        j, o = _iri_key(buf, j + 2, end, scratch, o, pbuf, pmeta, p_name, p_iri)
        if j < 0 or o < 0:
            return _FALLBACK, 0
        if _span_is(scratch, d0, o, _XSD_STRING):
            o = d0 - 2  # "x"^^xsd:string is the simple literal "x"
        elif _span_is(scratch, d0, o, _RDF_LANGSTRING):
            return _FALLBACK, 0
        else:
            lit[3] = d0
            lit[4] = o
    if o < 0:
        return _FALLBACK, 0
    return j, o


@njit(cache=True, inline="always")
def _delim(x) -> bool:
    """May a keyword (``a``, ``true``, ``false``) be followed by x?"""
    return not (_pn_char(x) or x == 58 or x == 46 or x >= 0x80)


@njit(cache=True)
def encode_turtle(
    buf,
    pos,
    end,
    str_code,
    lang_code,
    arena,
    meta,
    t_start,
    t_end,
    t_hash,
    t_kind,
    t_dt,
    t_lang,
    t_lex_end,
    table,
    l_start,
    l_end,
    l_hash,
    l_table,
    lmeta,
    triples,
    scratch,
    pbuf,
    pmeta,
    p_name,
    p_iri,
):
    """Encode the Turtle document ``buf[pos:end)`` (the whole document: statements may span lines) in the
    subset this kernel reads: ``@prefix``/``PREFIX`` with absolute IRIs, triples with ``;`` and ``,`` lists,
    absolute IRIs, ASCII prefixed names, ``a``, blank node labels, one-line strings (``"`` or ``'``) with
    canonical escapes, language tags or datatypes, numbers and booleans.

    ``@base``, relative IRIs, ``[ ]``, ``( )``, long strings, ``\\u`` escapes, non-ASCII names, unusual
    language tags and syntax errors return ST_FALLBACK (the caller reads the file with pyoxigraph instead,
    which also gives the error message). ST_GROW returns the start of the statement to resume from (its
    triples already emitted come again; the CSR drops duplicates). ``pmeta`` = [prefixes, pbuf used];
    ``p_name``/``p_iri`` are (start, end) rows into ``pbuf``. Returns ``(status, position)``.
    """
    lit = np.empty(5, np.int64)
    cc = np.full(_CACHE, -1, np.int64)  # recent IRIs by their source text (reset by every prefix directive)
    ca = np.zeros(_CACHE, np.int64)
    cb = np.zeros(_CACHE, np.int64)
    i = pos
    while True:
        i = _skip(buf, i, end)
        if i >= end:
            return ST_OK, end
        stmt = i
        x = buf[i]
        # ---- directives
        is_at = x == 64
        if is_at or ((x == 80 or x == 112) and i + 6 < end):
            k = i + 1 if is_at else i
            word = True
            for m, ch in enumerate((112, 114, 101, 102, 105, 120)):  # "prefix", any case for PREFIX
                y = buf[k + m] if k + m < end else 0
                if y != ch and y != ch - 32:
                    word = False
                    break
                if is_at and y != ch:
                    word = False
                    break
            if not word:
                if is_at:
                    return ST_FALLBACK, stmt  # @base or an error
            else:
                k += 6
                if k >= end or not (buf[k] == 32 or buf[k] == 9 or buf[k] == 10 or buf[k] == 13):
                    return ST_FALLBACK, stmt
                k = _skip(buf, k, end)
                n0 = k
                if k < end and _alpha(buf[k]):
                    k += 1
                    while k < end and (_pn_char(buf[k]) or buf[k] == 46):
                        k += 1
                    if buf[k - 1] == 46:
                        return ST_FALLBACK, stmt
                if k >= end or buf[k] != 58:
                    return ST_FALLBACK, stmt
                n1 = k
                k = _skip(buf, k + 1, end)
                if k >= end or buf[k] != 60:
                    return ST_FALLBACK, stmt
                e = _iri(buf, k, end, True)  # absolute IRI only (a relative one needs the base)
                if e < 0:
                    return ST_FALLBACK, stmt
                np_ = pmeta[0]
                if np_ >= p_name.shape[0] or pmeta[1] + (n1 - n0) + (e - k) > pbuf.shape[0]:
                    return ST_FALLBACK, stmt
                u = pmeta[1]
                for m in range(n1 - n0):
                    pbuf[u + m] = buf[n0 + m]
                p_name[np_, 0] = u
                p_name[np_, 1] = u + (n1 - n0)
                u += n1 - n0
                for m in range(e - k - 2):
                    pbuf[u + m] = buf[k + 1 + m]
                p_iri[np_, 0] = u
                p_iri[np_, 1] = u + (e - k - 2)
                pmeta[1] = u + (e - k - 2)
                pmeta[0] = np_ + 1
                cc[:] = -1  # a prefixed name may now mean another IRI
                k = _skip(buf, e, end)
                if is_at:
                    if k >= end or buf[k] != 46:
                        return ST_FALLBACK, stmt
                    k += 1
                i = k
                continue
        # ---- triples: subject
        if x == 95 and i + 1 < end and buf[i + 1] == 58:
            j = _bnode(buf, i, end, True)
            if j < 0:
                return ST_FALLBACK, stmt
            klen = _copy(scratch, 0, buf, i, j)
            kind = KIND_BNODE
        elif x == 60 or _alpha(x) or x == 58:
            j, klen = _iri_key(buf, i, end, scratch, 0, pbuf, pmeta, p_name, p_iri)
            kind = KIND_IRI
        else:
            return ST_FALLBACK, stmt
        if j < 0 or klen < 0:
            return ST_FALLBACK, stmt
        if (
            meta[0] + 4 > t_start.shape[0]
            or meta[1] + 2 * klen + 2 * scratch.shape[0] > arena.shape[0]
            or meta[2] + 1 > triples.shape[0]
            or lmeta[0] + 1 > l_start.shape[0]
        ):
            return ST_GROW, stmt
        s = _intern(scratch, 0, klen, kind, arena, meta, t_start, t_end, t_hash, t_kind, table)
        i = j
        # predicate-object list
        while True:
            i = _skip(buf, i, end)
            if i >= end:
                return ST_FALLBACK, stmt
            x = buf[i]
            p = -1
            if x == 97 and i + 1 < end and _delim(buf[i + 1]) and buf[i + 1] != 58:
                klen = _copy(scratch, 0, _RDF_TYPE, 0, _RDF_TYPE.shape[0])
                j = i + 1
            elif x == 60 or _alpha(x) or x == 58:
                j = _iri_token_end(buf, i, end)
                p = _cache_get(buf, i, j, cc, ca, cb) if j > i else -1
                if p < 0:
                    j, klen = _iri_key(buf, i, end, scratch, 0, pbuf, pmeta, p_name, p_iri)
                    if j < 0 or klen < 0:
                        return ST_FALLBACK, stmt
            else:
                return ST_FALLBACK, stmt
            if p < 0:
                if meta[0] + 4 > t_start.shape[0] or meta[1] + 2 * scratch.shape[0] > arena.shape[0]:
                    return ST_GROW, stmt
                p = _intern(scratch, 0, klen, KIND_IRI, arena, meta, t_start, t_end, t_hash, t_kind, table)
                if x != 97:
                    _cache_put(buf, i, j, p, cc, ca, cb)
            i = j
            # object list
            while True:
                i = _skip(buf, i, end)
                if i >= end:
                    return ST_FALLBACK, stmt
                x = buf[i]
                kk = KIND_LITERAL
                if x == 34 or x == 39:
                    j, klen = _string_key(buf, i, end, scratch, pbuf, pmeta, p_name, p_iri, lit)
                elif _digit(x) or x == 43 or x == 45 or (x == 46 and i + 1 < end and _digit(buf[i + 1])):
                    j, klen = _number_key(buf, i, end, scratch, lit)
                elif (
                    x == 116
                    and i + 4 < end
                    and buf[i + 1] == 114
                    and buf[i + 2] == 117
                    and buf[i + 3] == 101
                    and _delim(buf[i + 4])
                ):
                    klen = _copy(scratch, 0, buf, i, i + 4)
                    j = i + 4
                    klen = _bool_key(scratch, klen, lit)
                elif (
                    x == 102
                    and i + 5 < end
                    and buf[i + 1] == 97
                    and buf[i + 2] == 108
                    and buf[i + 3] == 115
                    and buf[i + 4] == 101
                    and _delim(buf[i + 5])
                ):
                    klen = _copy(scratch, 0, buf, i, i + 5)
                    j = i + 5
                    klen = _bool_key(scratch, klen, lit)
                elif x == 95 and i + 1 < end and buf[i + 1] == 58:
                    j = _bnode(buf, i, end, True)
                    klen = _copy(scratch, 0, buf, i, j) if j > 0 else -1
                    kk = KIND_BNODE
                elif x == 60 or _alpha(x) or x == 58:
                    j = _iri_token_end(buf, i, end)
                    o = _cache_get(buf, i, j, cc, ca, cb) if j > i else -1
                    if o >= 0:  # a repeated IRI object (a class, a source): no expansion, no probe
                        m = meta[2]
                        if m + 1 > triples.shape[0]:
                            return ST_GROW, stmt
                        triples[m, 0] = s
                        triples[m, 1] = p
                        triples[m, 2] = o
                        meta[2] = m + 1
                        i = _skip(buf, j, end)
                        if i < end and buf[i] == 44:
                            i += 1
                            continue
                        break
                    j, klen = _iri_key(buf, i, end, scratch, 0, pbuf, pmeta, p_name, p_iri)
                    if j < 0 or klen < 0:
                        return ST_FALLBACK, stmt
                    if (
                        meta[0] + 4 > t_start.shape[0]
                        or meta[1] + 2 * scratch.shape[0] > arena.shape[0]
                        or meta[2] + 1 > triples.shape[0]
                    ):
                        return ST_GROW, stmt
                    o = _intern(
                        scratch, 0, klen, KIND_IRI, arena, meta, t_start, t_end, t_hash, t_kind, table
                    )
                    _cache_put(buf, i, j, o, cc, ca, cb)
                    m = meta[2]
                    triples[m, 0] = s
                    triples[m, 1] = p
                    triples[m, 2] = o
                    meta[2] = m + 1
                    i = _skip(buf, j, end)
                    if i < end and buf[i] == 44:
                        i += 1
                        continue
                    break
                else:
                    return ST_FALLBACK, stmt  # '[', '(' and errors
                if j < 0 or klen < 0:
                    return ST_FALLBACK, stmt
                if (
                    meta[0] + 4 > t_start.shape[0]
                    or meta[1] + 2 * scratch.shape[0] > arena.shape[0]
                    or meta[2] + 1 > triples.shape[0]
                    or lmeta[0] + 1 > l_start.shape[0]
                    or 2 * (lmeta[0] + 1) > l_table.shape[0]
                ):
                    return ST_GROW, stmt
                o = _intern_object(
                    scratch,
                    0,
                    klen,
                    kk,
                    lit,
                    str_code,
                    lang_code,
                    arena,
                    meta,
                    t_start,
                    t_end,
                    t_hash,
                    t_kind,
                    t_dt,
                    t_lang,
                    t_lex_end,
                    table,
                    l_start,
                    l_end,
                    l_hash,
                    l_table,
                    lmeta,
                )
                m = meta[2]
                triples[m, 0] = s
                triples[m, 1] = p
                triples[m, 2] = o
                meta[2] = m + 1
                i = _skip(buf, j, end)
                if i < end and buf[i] == 44:  # ','
                    i += 1
                    continue
                break
            if i < end and buf[i] == 59:  # ';' (repeated ';' allowed), then a predicate or the end
                while i < end and buf[i] == 59:
                    i = _skip(buf, i + 1, end)
                if i < end and buf[i] == 46:
                    i += 1
                    break
                continue
            if i < end and buf[i] == 46:
                i += 1
                break
            return ST_FALLBACK, stmt


@njit(cache=True)
def _bool_key(scratch, n, lit):
    """``true``/``false`` in scratch[0:n) -> ``"true"^^<xsd:boolean>`` (``lit`` filled as by
    :func:`_literal`); returns the key length."""
    for k in range(n - 1, -1, -1):
        scratch[k + 1] = scratch[k]
    o = _put(scratch, 0, 34)
    o = n + 1
    lit[0] = o
    lit[1] = -1
    lit[2] = -1
    o = _put(scratch, o, 34)
    o = _put(scratch, o, 94)
    o = _put(scratch, o, 94)
    lit[3] = o
    o = _put(scratch, o, 60)
    o = _copy(scratch, o, _XSD_NS, 0, _XSD_NS.shape[0])
    o = _copy(scratch, o, _W_BOOLEAN, 0, _W_BOOLEAN.shape[0])
    o = _put(scratch, o, 62)
    lit[4] = o
    return o
