"""Numba kernel reading a common subset of Turtle straight into the term table (:mod:`cns.rules.term_table`);
everything outside the subset (or any syntax error) returns ST_FALLBACK and the caller reads the document
with pyoxigraph instead, which also words the error.

Keys are canonicalised as they are read: prefixed names expanded to ``<iri>``, numbers and booleans written
as typed literals, language tags lower-cased, ``^^xsd:string`` dropped, so the same RDF term gets the same
key (and code) whether it came from Turtle or N-Triples.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from cns.rules.term_syntax import (
    FALLBACK,
    RDF_LANGSTRING_KEY,
    XSD_STRING_KEY,
    bnode_end,
    iri_end,
    is_alpha,
    is_digit,
    lang_tag_end,
    span_is,
    utf8_len,
)
from cns.rules.term_table import (
    IRI_CACHE,
    KIND_BNODE,
    KIND_IRI,
    KIND_LITERAL,
    ST_FALLBACK,
    ST_GROW,
    ST_OK,
    borrowing,
    emit,
    full,
    intern,
    intern_object,
    iri_cache_get,
    iri_cache_put,
)

__all__ = ["MAX_PREFIXES", "Prefixes", "encode_turtle", "new_prefixes"]

# ---- Turtle (a common subset; everything else falls back to pyoxigraph) ----------------------------------------
_RDF_TYPE = np.frombuffer(b"<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", np.uint8)
_XSD_NS = np.frombuffer(b"http://www.w3.org/2001/XMLSchema#", np.uint8)
_W_INTEGER = np.frombuffer(b"integer", np.uint8)
_W_DECIMAL = np.frombuffer(b"decimal", np.uint8)
_W_DOUBLE = np.frombuffer(b"double", np.uint8)
_W_BOOLEAN = np.frombuffer(b"boolean", np.uint8)
MAX_PREFIXES = 256  # more -> pyoxigraph (prefixes are looked up by a linear scan)


class Prefixes(NamedTuple):
    """The prefixes one Turtle document declared so far: ``name``/``iri`` are (start, end) rows into ``buf``;
    ``meta`` = [prefixes, bytes of ``buf`` used]."""

    buf: np.ndarray
    meta: np.ndarray
    name: np.ndarray
    iri: np.ndarray


def new_prefixes(n_bytes: int = 1 << 20) -> Prefixes:
    """Room for :data:`MAX_PREFIXES` prefixes of ``n_bytes`` bytes of names and IRIs in all (more: fallback)."""
    return Prefixes(
        np.empty(n_bytes, np.uint8),
        np.zeros(2, np.int64),
        np.empty((MAX_PREFIXES, 2), np.int64),
        np.empty((MAX_PREFIXES, 2), np.int64),
    )


@borrowing
def _add_prefix(P, buf, n0, n1, a, b) -> bool:
    """Declare prefix buf[n0:n1) as the IRI buf[a:b); False when there is no room (the caller falls back)."""
    k = P.meta[0]
    u = P.meta[1]
    if k >= P.name.shape[0] or u + (n1 - n0) + (b - a) > P.buf.shape[0]:
        return False
    for m in range(n1 - n0):
        P.buf[u + m] = buf[n0 + m]
    P.name[k, 0] = u
    P.name[k, 1] = u + (n1 - n0)
    u += n1 - n0
    for m in range(b - a):
        P.buf[u + m] = buf[a + m]
    P.iri[k, 0] = u
    P.iri[k, 1] = u + (b - a)
    P.meta[1] = u + (b - a)
    P.meta[0] = k + 1
    return True


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
    return is_alpha(x) or is_digit(x) or x == 95 or x == 45


@njit(cache=True)
def _prefix_colon(buf, i, end) -> int:
    """Index of the ':' ending the ASCII prefix label at buf[i] (empty label allowed), FALLBACK if none."""
    j = i
    if j < end and is_alpha(buf[j]):
        j += 1
        while j < end and (_pn_char(buf[j]) or buf[j] == 46):
            j += 1
        if buf[j - 1] == 46:
            return FALLBACK
    if j >= end or buf[j] != 58:
        return FALLBACK
    return j


@njit(cache=True)
def _pname(buf, i, end):
    """(colon, end) of an ASCII prefixed name ``prefix:local`` at buf[i]; (-2, -2) when it is not one this
    subset reads (non-ASCII, escapes, a name ending in '.', ...)."""
    colon = _prefix_colon(buf, i, end)
    if colon < 0:
        return FALLBACK, FALLBACK
    j = colon + 1
    if j < end and (_pn_char(buf[j]) or buf[j] == 58) and buf[j] != 45:
        j += 1
        while j < end:
            x = buf[j]
            if _pn_char(x) or x == 58 or x == 46:
                j += 1
            elif x == 37:
                if j + 2 >= end:
                    return FALLBACK, FALLBACK
                for k in (1, 2):
                    y = buf[j + k]
                    if not (is_digit(y) or (65 <= y <= 70) or (97 <= y <= 102)):
                        return FALLBACK, FALLBACK
                j += 3
            elif x == 92 or x >= 0x80:
                return FALLBACK, FALLBACK
            else:
                break
        while buf[j - 1] == 46:  # a local name does not end with '.': that ends the statement
            j -= 1
    elif j < end and (buf[j] == 92 or buf[j] >= 0x80 or buf[j] == 37):
        return FALLBACK, FALLBACK
    return colon, j


@borrowing
def _prefix_iri(buf, a, b, P):
    """(start, end) in ``pbuf`` of the IRI of prefix buf[a:b) (the last definition), (-1, -1) if undeclared."""
    for k in range(P.meta[0] - 1, -1, -1):
        s, e = P.name[k, 0], P.name[k, 1]
        if e - s == b - a:
            same = True
            for m in range(b - a):
                if P.buf[s + m] != buf[a + m]:
                    same = False
                    break
            if same:
                return P.iri[k, 0], P.iri[k, 1]
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


@borrowing
def _iri_key(buf, i, end, scratch, o, P):
    """Write the canonical key ``<iri>`` of the IRI (IRIREF or prefixed name) at buf[i] to scratch[o:].
    Returns (next index, new o); next index -2 means fall back."""
    if buf[i] == 60:
        j = iri_end(buf, i, end, True)
        if j < 0:
            return FALLBACK, o
        return j, _copy(scratch, o, buf, i, j)
    colon, j = _pname(buf, i, end)
    if colon < 0:
        return FALLBACK, o
    a, b = _prefix_iri(buf, i, colon, P)
    if a < 0:
        return FALLBACK, o  # undeclared prefix: pyoxigraph reports it
    o = _put(scratch, o, 60)
    o = _copy(scratch, o, P.buf, a, b)
    o = _copy(scratch, o, buf, colon + 1, j)
    if o < 0:
        return FALLBACK, o
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
    while j < end and is_digit(buf[j]):
        j += 1
    nint = j - d0
    nfrac = 0
    kind = 0  # 0 integer, 1 decimal, 2 double
    if j + 1 < end and buf[j] == 46 and is_digit(buf[j + 1]):
        j += 1
        f0 = j
        while j < end and is_digit(buf[j]):
            j += 1
        nfrac = j - f0
        kind = 1
    elif j < end and buf[j] == 46 and nint > 0 and j + 1 < end and (buf[j + 1] == 101 or buf[j + 1] == 69):
        j += 1  # "1.e5"
        kind = 1
    if nint + nfrac == 0:
        return FALLBACK, 0
    if j < end and (buf[j] == 101 or buf[j] == 69):
        j += 1
        if j < end and (buf[j] == 43 or buf[j] == 45):
            j += 1
        e0 = j
        while j < end and is_digit(buf[j]):
            j += 1
        if j == e0:
            return FALLBACK, 0
        kind = 2
    elif kind == 1 and buf[j - 1] == 46:
        return FALLBACK, 0
    if j < end and (is_alpha(buf[j]) or buf[j] == 95 or buf[j] == 58 or buf[j] >= 0x80):
        return FALLBACK, 0
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
        return FALLBACK, 0
    lit[1] = -1
    lit[2] = -1
    lit[4] = o
    return j, o


@borrowing
def _string_key(buf, i, end, scratch, P, lit):
    """A one-line string literal at buf[i] (``"..."`` or ``'...'``) with its language tag or datatype, as the
    canonical key in scratch, with ``lit`` as :func:`_literal` fills it. Returns (next index, key length);
    next -2: fall back."""
    q = buf[i]
    if i + 2 < end and buf[i + 1] == q and buf[i + 2] == q:
        return FALLBACK, 0  # long string
    o = _put(scratch, 0, 34)
    j = i + 1
    a = j
    while True:
        if j >= end:
            return FALLBACK, 0
        x = buf[j]
        if x == q:
            break
        if x == 92:
            if j + 1 >= end:
                return FALLBACK, 0
            y = buf[j + 1]
            if y == 116 or y == 98 or y == 110 or y == 114 or y == 102 or y == 92 or (y == 34 and q == 34):
                j += 2
                continue
            return FALLBACK, 0  # \u, \U, \' (not canonical), or an error
        if x < 32 or x == 127 or (x == 34 and q != 34):
            return FALLBACK, 0
        if x >= 0x80:
            n = utf8_len(buf, j, end)
            if n == 0:
                return FALLBACK, 0
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
            return FALLBACK, 0
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
            return FALLBACK, 0
        j, o = _iri_key(buf, j + 2, end, scratch, o, P)
        if j < 0 or o < 0:
            return FALLBACK, 0
        if span_is(scratch, d0, o, XSD_STRING_KEY):
            o = d0 - 2  # "x"^^xsd:string is the simple literal "x"
        elif span_is(scratch, d0, o, RDF_LANGSTRING_KEY):
            return FALLBACK, 0
        else:
            lit[3] = d0
            lit[4] = o
    if o < 0:
        return FALLBACK, 0
    return j, o


@njit(cache=True, inline="always")
def _delim(x) -> bool:
    """May a keyword (``a``, ``true``, ``false``) be followed by x?"""
    return not (_pn_char(x) or x == 58 or x == 46 or x >= 0x80)


@njit(cache=True)
def encode_turtle(buf, pos, end, str_code, lang_code, T, triples, scratch, P):
    """Encode the Turtle document ``buf[pos:end)`` (the whole document: statements may span lines) in the
    subset this kernel reads: ``@prefix``/``PREFIX`` with absolute IRIs, triples with ``;`` and ``,`` lists,
    absolute IRIs, ASCII prefixed names, ``a``, blank node labels, one-line strings (``"`` or ``'``) with
    canonical escapes, language tags or datatypes, numbers and booleans.

    ``@base``, relative IRIs, ``[ ]``, ``( )``, long strings, ``\\u`` escapes, non-ASCII names, unusual
    language tags and syntax errors return ST_FALLBACK (the caller reads the file with pyoxigraph instead,
    which also gives the error message). ST_GROW returns the start of the statement to resume from (its
    triples already emitted come again; the CSR drops duplicates). ``T``: the term table
    (:class:`~cns.rules.term_table.Terms`); ``scratch``: room for one canonical key; ``P``: the prefixes read
    so far (:class:`Prefixes`). Returns ``(status, position)``.
    """
    lit = np.empty(5, np.int64)
    meta = T.meta
    cache = np.zeros(
        (3, IRI_CACHE), np.int64
    )  # recent IRIs by their source text (reset by prefix directives)
    cache[0, :] = -1
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
                n1 = _prefix_colon(buf, k, end)
                if n1 < 0:
                    return ST_FALLBACK, stmt
                k = _skip(buf, n1 + 1, end)
                if k >= end or buf[k] != 60:
                    return ST_FALLBACK, stmt
                e = iri_end(buf, k, end, True)  # absolute IRI only (a relative one needs the base)
                if e < 0:
                    return ST_FALLBACK, stmt
                if not _add_prefix(P, buf, n0, n1, k + 1, e - 1):
                    return ST_FALLBACK, stmt
                cache[0, :] = -1  # a prefixed name may now mean another IRI
                k = _skip(buf, e, end)
                if is_at:
                    if k >= end or buf[k] != 46:
                        return ST_FALLBACK, stmt
                    k += 1
                i = k
                continue
        # ---- triples: subject
        if x == 95 and i + 1 < end and buf[i + 1] == 58:
            j = bnode_end(buf, i, end, True)
            if j < 0:
                return ST_FALLBACK, stmt
            klen = _copy(scratch, 0, buf, i, j)
            kind = KIND_BNODE
        elif x == 60 or is_alpha(x) or x == 58:
            j, klen = _iri_key(buf, i, end, scratch, 0, P)
            kind = KIND_IRI
        else:
            return ST_FALLBACK, stmt
        if j < 0 or klen < 0:
            return ST_FALLBACK, stmt
        if full(T, triples, 4, 2 * klen + 2 * scratch.shape[0], 1):
            return ST_GROW, stmt
        s = intern(scratch, 0, klen, kind, T)
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
            elif x == 60 or is_alpha(x) or x == 58:
                j = _iri_token_end(buf, i, end)
                p = iri_cache_get(buf, i, j, cache) if j > i else -1
                if p < 0:
                    j, klen = _iri_key(buf, i, end, scratch, 0, P)
                    if j < 0 or klen < 0:
                        return ST_FALLBACK, stmt
            else:
                return ST_FALLBACK, stmt
            if p < 0:
                if full(T, triples, 4, 2 * scratch.shape[0], 1):
                    return ST_GROW, stmt
                p = intern(scratch, 0, klen, KIND_IRI, T)
                if x != 97:
                    iri_cache_put(buf, i, j, p, cache)
            i = j
            # object list
            while True:
                i = _skip(buf, i, end)
                if i >= end:
                    return ST_FALLBACK, stmt
                x = buf[i]
                kk = KIND_LITERAL
                if x == 34 or x == 39:
                    j, klen = _string_key(buf, i, end, scratch, P, lit)
                elif is_digit(x) or x == 43 or x == 45 or (x == 46 and i + 1 < end and is_digit(buf[i + 1])):
                    j, klen = _number_key(buf, i, end, scratch, lit)
                elif (x == 116 or x == 102) and _bool_end(buf, i, end) > 0:
                    j = _bool_end(buf, i, end)
                    klen = _bool_key(scratch, _copy(scratch, 0, buf, i, j), lit)
                elif x == 95 and i + 1 < end and buf[i + 1] == 58:
                    j = bnode_end(buf, i, end, True)
                    klen = _copy(scratch, 0, buf, i, j) if j > 0 else -1
                    kk = KIND_BNODE
                elif x == 60 or is_alpha(x) or x == 58:
                    j = _iri_token_end(buf, i, end)
                    o = iri_cache_get(buf, i, j, cache) if j > i else -1
                    if o >= 0:  # a repeated IRI object (a class, a source): no expansion, no probe
                        if meta[2] + 1 > triples.shape[0]:
                            return ST_GROW, stmt
                        emit(triples, meta, s, p, o)
                        i = _skip(buf, j, end)
                        if i < end and buf[i] == 44:
                            i += 1
                            continue
                        break
                    j, klen = _iri_key(buf, i, end, scratch, 0, P)
                    if j < 0 or klen < 0:
                        return ST_FALLBACK, stmt
                    if full(T, triples, 4, 2 * scratch.shape[0], 1):
                        return ST_GROW, stmt
                    o = intern(scratch, 0, klen, KIND_IRI, T)
                    iri_cache_put(buf, i, j, o, cache)
                    emit(triples, meta, s, p, o)
                    i = _skip(buf, j, end)
                    if i < end and buf[i] == 44:
                        i += 1
                        continue
                    break
                else:
                    return ST_FALLBACK, stmt  # '[', '(' and errors
                if j < 0 or klen < 0:
                    return ST_FALLBACK, stmt
                if full(T, triples, 4, 2 * scratch.shape[0], 1):
                    return ST_GROW, stmt
                o = intern_object(scratch, 0, klen, kk, lit, str_code, lang_code, T)
                emit(triples, meta, s, p, o)
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


_W_TRUE = np.frombuffer(b"true", np.uint8)
_W_FALSE = np.frombuffer(b"false", np.uint8)


@njit(cache=True)
def _bool_end(buf, i, end) -> int:
    """End of the keyword ``true`` or ``false`` at buf[i] (followed by a delimiter), -1 if there is none."""
    w = _W_TRUE if buf[i] == 116 else _W_FALSE
    n = w.shape[0]
    if i + n >= end or not span_is(buf, i, i + n, w) or not _delim(buf[i + n]):
        return -1
    return i + n


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
