"""The term table of the RDF encoders: canonical term keys hashed and interned in one byte arena.

Shared by the N-Triples kernels (:mod:`cns.rules.ntriples_kernels`) and the Turtle kernels
(:mod:`cns.rules.turtle_kernels`); the growing arrays live in :class:`Terms` (one named tuple, passed to every
kernel as one argument) and are owned by :class:`cns.rules.encode.Encoder`, which grows them when a kernel
returns :data:`ST_GROW`. No Python object is made per term: every key's bytes are hashed (64 bit, seeded per
encoding) and looked up in an open-addressing table whose keys live in the arena.

Term keys are the terms' canonical N-Triples forms (``<iri>``, ``_:label``, ``"lexical"`` with ``@lang`` or
``^^<datatype>``; ``xsd:string`` literals without a datatype), so two terms are the same RDF term iff their
keys are the same bytes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

ST_OK = 0  # kernel statuses: done (or the start of an incomplete line to resume from)
ST_GROW = 1  # out of room before the returned position: grow the arrays, resume there
ST_FALLBACK = 2  # input the kernel cannot prove canonical: the caller canonicalises with pyoxigraph
ST_ERROR = 3  # syntax error at the returned position

KIND_IRI = 0
KIND_BNODE = 1
KIND_LITERAL = 2

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_LEN_BITS = 20
_LEN_MAX = (1 << _LEN_BITS) - 1
IRI_CACHE = 64  # slots of the recent-IRI cache of one scan (:func:`new_iri_cache`)

borrowing = njit(cache=True, _nrt=False)
"""Decorator of the kernels that take a :class:`Terms` (or another named tuple of arrays) and never allocate:
compiled without Numba's reference counting, so a member access borrows the caller's array instead of an
incref/decref pair through the runtime — ~100 ns per call of a small helper otherwise (measured: Numba does
not prune those on tuple members), which made the Turtle kernel 2x slower."""


class Terms(NamedTuple):
    """The arrays of one encoding; capacity is the caller's (:func:`full` says when to grow).

    ``meta`` = [n_terms, arena_len, n_triples, hash seed]; ``lmeta`` = [n_langs]. Per term code ``c``:
    ``arena[t_start[c]:t_end[c]]`` its key, ``t_hash``, ``t_kind`` (KIND_*), and for a literal ``t_lex_end``
    (end of the lexical form in the arena), ``t_dt`` (datatype term code, -1 unset) and ``t_lang`` (language
    id, -1 none). ``table``: 2 int64 words per slot (see :func:`_find`); languages: ``l_start``/``l_end``
    into the arena, ``l_hash``, ``l_table`` (int32 ids, -1 empty)."""

    arena: np.ndarray
    meta: np.ndarray
    t_start: np.ndarray
    t_end: np.ndarray
    t_hash: np.ndarray
    t_kind: np.ndarray
    t_dt: np.ndarray
    t_lang: np.ndarray
    t_lex_end: np.ndarray
    table: np.ndarray
    l_start: np.ndarray
    l_end: np.ndarray
    l_hash: np.ndarray
    l_table: np.ndarray
    lmeta: np.ndarray


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


@borrowing
def intern(buf, a, b, kind, T):
    """Code of key buf[a:b) in the table ``T``, added (bytes copied to the arena) when new. Capacity is the
    caller's (:func:`full`)."""
    meta = T.meta
    h = _fnv(buf, a, b, meta[3])
    slot, c = _find(buf, a, b, h, T.arena, T.t_start, T.t_end, T.table)
    if c >= 0:
        return c
    c = meta[0]
    pos = meta[1]
    for k in range(b - a):
        T.arena[pos + k] = buf[a + k]
    T.t_start[c] = pos
    T.t_end[c] = pos + (b - a)
    T.t_hash[c] = h
    T.t_kind[c] = kind
    _set_slot(T.table, slot, h, c, pos, b - a)
    meta[0] = c + 1
    meta[1] = pos + (b - a)
    return c


@borrowing
def _intern_lang(T, la, lb) -> int:
    """Id of the language tag arena[la:lb), added when new."""
    arena = T.arena
    h = _fnv(arena, la, lb, T.meta[3])
    lmask = T.l_table.shape[0] - 1
    slot = np.int64(h & np.uint64(lmask))
    while True:
        c = T.l_table[slot]
        if c < 0:
            break
        if T.l_hash[c] == h and T.l_end[c] - T.l_start[c] == lb - la:
            same = True
            for k in range(lb - la):
                if arena[T.l_start[c] + k] != arena[la + k]:
                    same = False
                    break
            if same:
                return c
        slot = (slot + 1) & lmask
    lid = T.lmeta[0]
    T.l_start[lid] = la
    T.l_end[lid] = lb
    T.l_hash[lid] = h
    T.l_table[slot] = lid
    T.lmeta[0] = lid + 1
    return lid


@borrowing
def intern_object(buf, o0, o1, ok, lit, str_code, lang_code, T):
    """Intern the term buf[o0:o1) of kind ``ok``; a new literal (``lit`` = [quote end, lang start, lang end,
    datatype start, datatype end] in ``buf``, -1 when absent, as the lexers fill it) also gets its lexical
    end, datatype code (``lang_code`` for a language-tagged string, ``str_code`` for a plain one, else the
    interned datatype IRI) and language id. Capacity is the caller's."""
    n_before = T.meta[0]
    o = intern(buf, o0, o1, ok, T)
    if o == n_before and ok == KIND_LITERAL:
        base = T.t_start[o] - o0  # arena offset = buffer offset + base
        T.t_lex_end[o] = lit[0] + base
        if lit[1] >= 0:
            T.t_dt[o] = lang_code
            T.t_lang[o] = _intern_lang(T, lit[1] + base, lit[2] + base)
        elif lit[3] >= 0:
            T.t_dt[o] = intern(buf, lit[3], lit[4], KIND_IRI, T)
        else:
            T.t_dt[o] = str_code
    return o


@borrowing
def full(T, triples, n_terms, n_bytes, n_langs) -> bool:
    """Would ``n_terms`` more terms, ``n_bytes`` more key bytes, one more triple or ``n_langs`` more
    languages overflow the arrays? (Kernels stop before the statement and return :data:`ST_GROW`.)"""
    return (
        T.meta[0] + n_terms > T.t_start.shape[0]
        or 4 * (T.meta[0] + n_terms) > T.table.shape[0]
        or T.meta[1] + n_bytes > T.arena.shape[0]
        or T.meta[2] + 1 > triples.shape[0]
        or T.lmeta[0] + n_langs > T.l_start.shape[0]
        or 2 * (T.lmeta[0] + n_langs) > T.l_table.shape[0]
    )


@njit(cache=True, inline="always")
def emit(triples, meta, s, p, o) -> None:
    """Append the triple (s, p, o) (room checked by the caller)."""
    m = meta[2]
    triples[m, 0] = s
    triples[m, 1] = p
    triples[m, 2] = o
    meta[2] = m + 1


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


@borrowing
def lookup(key: np.ndarray, T) -> int:
    """Code of the term whose canonical key is ``key`` (uint8), -1 if absent."""
    h = _fnv(key, 0, key.shape[0], T.meta[3])
    _, c = _find(key, 0, key.shape[0], h, T.arena, T.t_start, T.t_end, T.table)
    return c


# ---- recent-IRI cache: predicates and classes repeat on every line ------------------------------------------
def new_iri_cache() -> np.ndarray:
    """An empty cache for :func:`iri_cache_get`: rows (code, start, end) of :data:`IRI_CACHE` slots."""
    c = np.zeros((3, IRI_CACHE), np.int64)
    c[0] = -1
    return c


@njit(cache=True, inline="always")
def _cache_slot(buf, a, b) -> int:
    """Slot of the span buf[a:b) in a small direct-mapped cache of recent IRIs (few distinct values that
    repeat on every line), so a hit costs one short compare instead of a hash probe."""
    n = b - a
    return (n * 31 + np.int64(buf[b - 1]) * 7 + np.int64(buf[a + (n >> 1)])) & (IRI_CACHE - 1)


@njit(cache=True)
def iri_cache_get(buf, a, b, cache) -> int:
    """The code cached for the bytes buf[a:b) (spans of the same ``buf``), -1 on a miss."""
    k = _cache_slot(buf, a, b)
    c = cache[0, k]
    if c < 0:
        return -1
    a2 = cache[1, k]
    if cache[2, k] - a2 != b - a:
        return -1
    for i in range(b - a):
        if buf[a + i] != buf[a2 + i]:
            return -1
    return c


@njit(cache=True, inline="always")
def iri_cache_put(buf, a, b, c, cache) -> None:
    """Remember code ``c`` for buf[a:b)."""
    k = _cache_slot(buf, a, b)
    cache[0, k] = c
    cache[1, k] = a
    cache[2, k] = b
