"""Numba kernels that turn N-Triples bytes into dictionary-encoded triples (the term table of
:mod:`cns.rules.term_table`, terms lexed by :mod:`cns.rules.term_syntax`).

Used by :mod:`cns.rules.encode` (see its doc for the layout and the contract). No Python object is made per
triple or per term: a chunk of N-Triples text is scanned once and each triple becomes three ``int32`` codes.
Input comes in two modes: trusted (``strict=False``), the output of pyoxigraph's N-Triples serializer,
canonical by construction; strict (``strict=True``), a user's file: whatever the lexer cannot prove canonical
ends the scan with :data:`~cns.rules.term_table.ST_FALLBACK` and the caller canonicalises the file with
pyoxigraph. A kernel that may run out of room stops *before* the line that would overflow and returns
:data:`~cns.rules.term_table.ST_GROW`; the caller grows the arrays and resumes at the returned position.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.rules.term_syntax import iri_end, is_ws, same_span, term_end
from cns.rules.term_table import (
    IRI_CACHE,
    KIND_IRI,
    KIND_LITERAL,
    ST_ERROR,
    ST_FALLBACK,
    ST_GROW,
    ST_OK,
    emit,
    full,
    intern,
    intern_object,
    iri_cache_get,
    iri_cache_put,
)

__all__ = ["encode_lines", "intern_keys"]


@njit(cache=True)
def intern_keys(buf, ends, str_code, lang_code, T, out):
    """Intern the canonical keys ``buf[ends[i-1]:ends[i])`` (trusted: pyoxigraph's term forms) into the term
    table ``T`` and write their codes to ``out``; -1 for a key that does not parse as one term. Used for the
    pre-interned datatype IRIs and the shapes' constants. Capacity is the caller's (room for 2 terms and 1
    language per key)."""
    lit = np.empty(5, np.int64)
    a = 0
    for i in range(ends.shape[0]):
        b = ends[i]
        out[i] = -1
        if b > a:
            e, k = term_end(buf, a, b, False, lit)
            if e == b:
                out[i] = intern_object(buf, a, b, k, lit, str_code, lang_code, T)
        a = b


@njit(cache=True)
def encode_lines(buf, pos, end, final, strict, str_code, lang_code, T, triples):
    """Encode the N-Triples lines of ``buf[pos:end)`` into the term table ``T`` and ``triples`` (rows from
    ``T.meta[2]``).

    ``final``: the chunk ends the document (a last line without a newline is a line). Returns ``(status,
    position)``: ST_OK with the start of the first incomplete line (``end`` when all were consumed), ST_GROW /
    ST_FALLBACK with the start of the line that needs room / canonicalisation, ST_ERROR with the offending
    position.
    """
    meta = T.meta
    lit = np.empty(5, np.int64)
    last_s, last_s0, last_s1 = -1, 0, 0
    cache = np.zeros(
        (3, IRI_CACHE), np.int64
    )  # recent IRIs (predicates, classes) by their bytes in this chunk
    cache[0, :] = -1
    bad = ST_FALLBACK if strict else ST_ERROR  # a syntax error in strict mode: pyoxigraph words it
    i = pos
    while i < end:
        line = i
        while i < end and is_ws(buf[i]):
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
        s1, sk = term_end(buf, i, e, strict, lit)
        if s1 == -2:
            return ST_FALLBACK, line
        if s1 < 0 or sk == KIND_LITERAL:
            return bad, (line if strict else i)
        i = s1
        while i < e and is_ws(buf[i]):
            i += 1
        p0 = i
        if i >= e or buf[i] != 60:
            return bad, (line if strict else i)
        p1 = iri_end(buf, i, e, strict)
        if p1 == -2:
            return ST_FALLBACK, line
        if p1 < 0:
            return bad, (line if strict else i)
        i = p1
        while i < e and is_ws(buf[i]):
            i += 1
        o0 = i
        if i >= e:
            return bad, (line if strict else i)
        o1, ok = term_end(buf, i, e, strict, lit)
        if o1 == -2:
            return ST_FALLBACK, line
        if o1 < 0:
            return bad, (line if strict else i)
        i = o1
        while i < e and is_ws(buf[i]):
            i += 1
        if i >= e or buf[i] != 46:
            return bad, (line if strict else i)
        i += 1
        while i < e and is_ws(buf[i]):
            i += 1
        if i < e and buf[i] != 35:
            return bad, (line if strict else i)
        # room for 4 new terms (s, p, o, datatype), their bytes, one triple, one language; a literal's
        # datatype IRI is a key of its own
        if full(T, triples, 4, (s1 - s0) + (p1 - p0) + 2 * (o1 - o0), 1):
            return ST_GROW, line
        # t_dt / t_lang are allocated as -1 by the caller: only new literals get values. Consecutive lines
        # usually share the subject (and often the predicate): compared with the previous line's first
        if last_s >= 0 and same_span(buf, s0, s1, last_s0, last_s1):
            s = last_s
        else:
            s = intern(buf, s0, s1, sk, T)
            last_s, last_s0, last_s1 = s, s0, s1
        p = iri_cache_get(buf, p0, p1, cache)
        if p < 0:
            p = intern(buf, p0, p1, KIND_IRI, T)
            iri_cache_put(buf, p0, p1, p, cache)
        o = iri_cache_get(buf, o0, o1, cache) if ok == KIND_IRI else -1
        if o < 0:
            o = intern_object(buf, o0, o1, ok, lit, str_code, lang_code, T)
            if ok == KIND_IRI:
                iri_cache_put(buf, o0, o1, o, cache)
        emit(triples, meta, s, p, o)
        i = e
    return ST_OK, end
