"""Lexing RDF terms in N-Triples / Turtle bytes: IRIs, blank node labels, literals, language tags.

Each function scans from a start index and returns the index just past the token, -1 for a syntax error, or
:data:`FALLBACK` (-2) in strict mode for anything it cannot prove canonical (``\\u`` escapes, raw control
characters, upper-case language tags, an explicit ``^^xsd:string``, a relative or suspicious IRI, invalid
UTF-8, ...): the caller then canonicalises the input with pyoxigraph, which also words the error.
Trusted mode (``strict=False``) reads pyoxigraph's own canonical output.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.rules.term_table import KIND_BNODE, KIND_IRI, KIND_LITERAL

__all__ = ["FALLBACK", "bnode_end", "iri_end", "lang_tag_end", "literal_end", "term_end", "utf8_len"]

FALLBACK = -2


@njit(cache=True, inline="always")
def is_ws(x) -> bool:
    """Space or tab."""
    return x == 32 or x == 9


@njit(cache=True)
def utf8_len(buf, i, end) -> int:
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
def iri_end(buf, i, end, strict):
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
                n = utf8_len(buf, j, end)
                if n == 0:
                    return -2
                j += n
                continue
        j += 1
    return -1


@njit(cache=True)
def bnode_end(buf, i, end, strict):
    """buf[i:i+2] == '_:': index just past the label, -1 syntax error, -2 fallback (strict)."""
    j = i + 2
    start = j
    while j < end:
        x = buf[j]
        if (48 <= x <= 57) or (65 <= x <= 90) or (97 <= x <= 122) or x == 95 or x == 45 or x == 46:
            j += 1
        elif x >= 0x80:
            if strict:
                n = utf8_len(buf, j, end)
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


XSD_STRING_KEY = np.frombuffer(b"<http://www.w3.org/2001/XMLSchema#string>", np.uint8)
RDF_LANGSTRING_KEY = np.frombuffer(b"<http://www.w3.org/1999/02/22-rdf-syntax-ns#langString>", np.uint8)


@njit(cache=True)
def same_span(buf, a0, a1, b0, b1) -> bool:
    """Are buf[a0:a1) and buf[b0:b1) the same bytes?"""
    if a1 - a0 != b1 - b0:
        return False
    for k in range(a1 - a0):
        if buf[a0 + k] != buf[b0 + k]:
            return False
    return True


@njit(cache=True)
def span_is(buf, a, b, key) -> bool:
    """Is buf[a:b) the bytes of ``key``?"""
    if b - a != key.shape[0]:
        return False
    for k in range(b - a):
        if buf[a + k] != key[k]:
            return False
    return True


@njit(cache=True)
def literal_end(buf, i, end, strict, out):
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
                n = utf8_len(buf, j, end)
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
        k = iri_end(buf, j, end, strict)
        if k < 0:
            return k
        if strict and (span_is(buf, j, k, XSD_STRING_KEY) or span_is(buf, j, k, RDF_LANGSTRING_KEY)):
            return -2
        out[3] = j
        out[4] = k
        j = k
    return j


@njit(cache=True)
def term_end(buf, i, end, strict, lit):
    """(end index, kind) of the subject/object term at buf[i] (-1 error / -2 fallback as end)."""
    x = buf[i]
    if x == 60:
        return iri_end(buf, i, end, strict), KIND_IRI
    if x == 95 and i + 1 < end and buf[i + 1] == 58:
        return bnode_end(buf, i, end, strict), KIND_BNODE
    if x == 34:
        return literal_end(buf, i, end, strict, lit), KIND_LITERAL
    return -1, -1


@njit(cache=True, inline="always")
def is_alpha(x) -> bool:
    """ASCII letter."""
    return (65 <= x <= 90) or (97 <= x <= 122)


@njit(cache=True, inline="always")
def is_digit(x) -> bool:
    """ASCII digit."""
    return 48 <= x <= 57


@njit(cache=True)
def lang_tag_end(buf, i, end):
    """End of a language tag starting at buf[i] (after '@') in the conservative form
    ``lang(2-3 letters) [-script(4 letters)] [-region(2 letters | 3 digits)]``; -2 for anything else (the
    caller falls back to pyoxigraph, which validates full BCP 47)."""
    j = i
    while j < end and is_alpha(buf[j]):
        j += 1
    if not (2 <= j - i <= 3):
        return FALLBACK
    stage = 0  # 0 after language, 1 after script, 2 after region
    while j < end and buf[j] == 45:
        k = j + 1
        m = k
        letters = True
        digits = True
        while m < end and (is_alpha(buf[m]) or is_digit(buf[m])):
            if is_alpha(buf[m]):
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
            return FALLBACK
        j = m
    return j
