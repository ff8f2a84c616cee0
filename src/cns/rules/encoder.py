"""The growing arrays of one RDF encoding and the kernel calls that fill them (used by :mod:`cns.rules.encode`).

:class:`Encoder` owns a :class:`~cns.rules.term_table.Terms` table and the triple rows. Every kernel stops
before the statement that would overflow and returns ``ST_GROW``; the encoder then grows the arrays (each
capacity at least doubles, so growth is amortised O(1) per item) and resumes at the returned position.
"""

from __future__ import annotations

import os

import numpy as np
from rdflib import RDF, XSD, URIRef

from cns.rules.literal_kernels import N_DT
from cns.rules.ntriples_kernels import encode_lines, intern_keys
from cns.rules.term_table import ST_GROW, ST_OK, Terms, rehash, rehash_langs
from cns.rules.turtle_kernels import encode_turtle, new_prefixes

__all__ = ["KNOWN_DATATYPES", "LANG_CODE", "STR_CODE", "Encoder"]

KNOWN_DATATYPES: tuple[URIRef, ...] = (
    XSD.string,
    RDF.langString,
    XSD.integer,
    XSD.decimal,
    XSD.double,
    XSD.float,
    XSD.boolean,
    XSD.long,
    XSD.int,
    XSD.short,
    XSD.byte,
    XSD.nonNegativeInteger,
    XSD.positiveInteger,
    XSD.nonPositiveInteger,
    XSD.negativeInteger,
    XSD.unsignedLong,
    XSD.unsignedInt,
    XSD.unsignedShort,
    XSD.unsignedByte,
)
"""The datatypes pre-interned by every encoding: term codes 0..N_DT-1, in ``literal_kernels.DT_*`` order."""
assert len(KNOWN_DATATYPES) == N_DT
STR_CODE = 0  # term code of xsd:string: the datatype of a plain literal
LANG_CODE = 1  # term code of rdf:langString


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


def _grown(old: np.ndarray, cap: int, n: int, fill: int | None = None) -> np.ndarray:
    """A ``cap``-long copy of ``old[:n]`` (the rest ``fill``, or uninitialised)."""
    new = np.empty(cap, old.dtype) if fill is None else np.full(cap, fill, old.dtype)
    new[:n] = old[:n]
    return new


class Encoder:
    """The term table ``t`` and the ``triples`` rows (int32 s, p, o) of one encoding; hints are initial
    capacities. The hash seed is random per encoding, so hostile data cannot be crafted offline to flood one
    probe sequence."""

    def __init__(
        self, terms_hint: int = 1 << 12, arena_hint: int = 1 << 16, triples_hint: int = 1 << 12
    ) -> None:
        n = _pow2(max(64, terms_hint))
        meta = np.zeros(4, np.int64)  # n_terms, arena_len, n_triples, hash seed
        meta[3] = int.from_bytes(os.urandom(8), "little") >> 1
        self.t = Terms(
            arena=np.empty(max(1024, arena_hint), np.uint8),
            meta=meta,
            t_start=np.empty(n, np.int64),
            t_end=np.empty(n, np.int64),
            t_hash=np.empty(n, np.uint64),
            t_kind=np.empty(n, np.int8),
            t_dt=np.full(n, -1, np.int32),
            t_lang=np.full(n, -1, np.int32),
            t_lex_end=np.zeros(n, np.int64),
            table=np.full(4 * n, -1, np.int64),  # 2 slots per term, 2 words per slot: load <= 1/2
            l_start=np.empty(64, np.int64),
            l_end=np.empty(64, np.int64),
            l_hash=np.empty(64, np.uint64),
            l_table=np.full(256, -1, np.int32),
            lmeta=np.zeros(1, np.int64),
        )
        self.triples = np.empty((max(64, triples_hint), 3), np.int32)
        dts = self.add_keys([f"<{d}>".encode() for d in KNOWN_DATATYPES])
        assert list(dts) == list(range(N_DT))

    @property
    def counts(self) -> tuple[int, int, int]:
        """(terms, arena bytes used, triples)."""
        n, used, m = (int(x) for x in self.t.meta[:3])
        return n, used, m

    def grow(self, terms: int, arena: int, triples: int, langs: int) -> None:
        """Make room for ``terms`` more terms, ``arena`` more key bytes, ``triples`` and ``langs`` more."""
        t = self.t
        n, used, m = self.counts
        if n + terms > t.t_start.shape[0] or 4 * (n + terms) > t.table.shape[0]:
            cap = _pow2(max(2 * t.t_start.shape[0], n + terms))
            t = t._replace(
                t_start=_grown(t.t_start, cap, n),
                t_end=_grown(t.t_end, cap, n),
                t_hash=_grown(t.t_hash, cap, n),
                t_kind=_grown(t.t_kind, cap, n),
                t_lex_end=_grown(t.t_lex_end, cap, n),
                t_dt=_grown(t.t_dt, cap, n, -1),
                t_lang=_grown(t.t_lang, cap, n, -1),
                table=np.full(4 * cap, -1, np.int64),
            )
            rehash(t.t_hash, t.t_start, t.t_end, n, t.table)
        if used + arena > t.arena.shape[0]:
            t = t._replace(arena=_grown(t.arena, _pow2(max(2 * t.arena.shape[0], used + arena)), used))
        if m + triples > self.triples.shape[0]:
            new3 = np.empty((_pow2(max(2 * self.triples.shape[0], m + triples)), 3), np.int32)
            new3[:m] = self.triples[:m]
            self.triples = new3
        nl = int(t.lmeta[0])
        if nl + langs > t.l_start.shape[0] or 2 * (nl + langs) > t.l_table.shape[0]:
            cap = _pow2(max(2 * t.l_start.shape[0], nl + langs))
            t = t._replace(
                l_start=_grown(t.l_start, cap, nl),
                l_end=_grown(t.l_end, cap, nl),
                l_hash=_grown(t.l_hash, cap, nl),
                l_table=np.full(2 * cap, -1, np.int32),
            )
            rehash_langs(t.l_hash, nl, t.l_table)
        self.t = t

    def add_keys(self, keys: list[bytes]) -> np.ndarray:
        """Codes of canonical term keys (interned when new); -1 for a key that is not one term."""
        buf = np.frombuffer(b"".join(keys), np.uint8) if keys else np.empty(0, np.uint8)
        ends = np.cumsum([len(k) for k in keys]).astype(np.int64)
        self.grow(2 * len(keys), 2 * int(buf.shape[0]), 0, len(keys))
        out = np.empty(len(keys), np.int32)
        intern_keys(buf, ends, STR_CODE, LANG_CODE, self.t, out)
        return out

    def feed_turtle(self, buf: np.ndarray) -> bool:
        """Encode a whole Turtle document with :func:`~cns.rules.turtle_kernels.encode_turtle`; False when it
        uses something outside the kernel's subset (or has an error): the caller reads it with pyoxigraph."""
        scratch = np.empty(1 << 16, np.uint8)
        prefixes = new_prefixes()
        pos, end = 0, int(buf.shape[0])
        while True:
            st, pos = encode_turtle(
                buf, pos, end, STR_CODE, LANG_CODE, self.t, self.triples, scratch, prefixes
            )
            if st == ST_OK:
                return True
            if st != ST_GROW:
                return False
            self.grow(4, 4 * scratch.shape[0], 1, 1)  # resumes at the statement start (duplicates dropped)

    def feed(self, buf: np.ndarray, final: bool, strict: bool) -> tuple[int, int]:
        """Encode the complete lines of ``buf``. Returns ``(status, position)``: ST_OK and the start of the
        unconsumed tail, or ST_FALLBACK / ST_ERROR and where (see
        :func:`~cns.rules.ntriples_kernels.encode_lines`)."""
        pos = 0
        end = int(buf.shape[0])
        while True:
            st, pos = encode_lines(buf, pos, end, final, strict, STR_CODE, LANG_CODE, self.t, self.triples)
            if st != ST_GROW:
                return int(st), int(pos)
            # room for the longest line: the key bytes of one line are at most the rest of the chunk
            self.grow(4, min(end - pos, 1 << 20) + 1024, 1, 1)
