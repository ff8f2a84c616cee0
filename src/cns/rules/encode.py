"""Read an RDF file straight into a :class:`~cns.rules.graph.BoundGraph`: the fast path of ``cns validate``.

Pipeline (no Python object per triple, none per term except the few the report or ``sh:pattern`` needs):

1. **Parse.** N-Triples (``.nt``) is scanned by :func:`cns.rules.ntriples_kernels.encode_lines` directly,
   streamed in chunks of :data:`CHUNK_BYTES`, in *strict* mode: the first construct it cannot prove canonical
   (a ``\\u`` escape, an upper-case language tag, ...) or cannot parse sends the whole file through step 1b.
   Turtle (``.ttl`` and anything :func:`cns.rules.rdfio.rdf_format` reads as Turtle) is read whole and scanned
   by :func:`cns.rules.turtle_kernels.encode_turtle`, which reads a common subset (prefixes, ``;``/``,``
   lists, absolute IRIs, ASCII prefixed names, labelled blank nodes, one-line strings, numbers, booleans) and
   writes each term's canonical key; a document outside the subset (``[ ]``, ``( )``, ``@base``, relative
   IRIs, long strings, ``\\u`` escapes, ...) or with an error goes through 1b instead, as do files larger
   than :data:`TURTLE_KERNEL_MAX_BYTES`.

   1b. pyoxigraph (Rust) parses the file, streamed from the open file, and re-serialises
   :data:`CHUNK_QUADS` triples at a time as canonical N-Triples, which the kernel encodes in trusted mode.
   pyoxigraph parses Turtle and N-Triples only here; neither format can name anything to fetch, and the
   file is opened by :func:`cns.rules.rdfio.open_local` (URLs refused). Other formats (RDF/XML, JSON-LD, N3,
   TriG) are read by :func:`cns.rules.rdfio.read_rdf` with its DTD and remote-context refusals, then bound by
   :func:`cns.rules.graph.bind_graph`; so are Turtle and N-Triples when pyoxigraph is not installed.
2. **Dictionary encoding in bulk.** Every term's canonical N-Triples bytes are its key (see
   :mod:`cns.rules.term_table`): hashed and interned in Numba, so equal terms get equal ``int32`` codes.
   The shapes' constants are interned first, by their pyoxigraph canonical forms (:func:`canonical_key`).
3. **Term attributes in bulk.** Lexical lengths, language ids and, for the common datatypes (xsd:string,
   rdf:langString, xsd:boolean, xsd:integer and its derived types, xsd:decimal, xsd:double/float), well-
   formedness, order category, float key and exact value, in Numba (doubles are converted by NumPy). A literal
   whose lexical form is outside the strict XSD lexical space, or of any other datatype (dateTime, ...), is
   decided in Python by rdflib exactly as :func:`~cns.rules.graph.bind_graph` does, so both binders agree.
4. **CSR** by subject and by object (:func:`cns.rules.graph.build_csr`), duplicate triples dropped.

Term identity is RDF 1.1's: ``"a"`` and ``"a"^^xsd:string`` are one term, language tags are lower-cased.

Failure rules: unreadable file or syntax error -> :class:`~cns.rules.errors.DataError` naming the file (and
pyoxigraph's line/column); a URL -> :class:`~cns.rules.errors.UnsafeInput`.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from cns.rules import graph_kernels as gk
from cns.rules import literal_kernels as lk
from cns.rules.encoder import KNOWN_DATATYPES, STR_CODE, Encoder
from cns.rules.errors import DataError
from cns.rules.graph import BoundGraph, bind_graph, build_csr
from cns.rules.rdfio import open_local, rdf_format, read_rdf
from cns.rules.term_table import KIND_BNODE, KIND_IRI, KIND_LITERAL, ST_OK, lookup
from cns.rules.xsd import CAT_NUMERIC, CAT_STRING, exact_key, order_category, order_key

__all__ = [
    "read_bound",
    "encode_ntriples",
    "canonical_key",
    "have_pyoxigraph",
    "ArenaTerms",
    "FAST_FORMATS",
    "CHUNK_BYTES",
    "CHUNK_QUADS",
]

FAST_FORMATS = ("nt", "turtle")
"""rdflib format names (:func:`cns.rules.rdfio.rdf_format`) read by the fast path."""

CHUNK_BYTES = 16 << 20
"""N-Triples bytes encoded per kernel call when streaming a ``.nt`` file."""

TURTLE_KERNEL_MAX_BYTES = 1 << 30
"""Turtle files up to this size are tried with the Numba Turtle kernel first (read whole: statements span
lines); larger ones, and any file outside the kernel's subset, stream through pyoxigraph."""

CHUNK_QUADS = 1 << 16
"""Triples pyoxigraph re-serialises per chunk (bounded memory for large Turtle files)."""

_MAX_DOUBLE_WIDTH = 64  # longer xsd:double lexical forms take the Python path
_SHAPE_BNODE = f"cnsshape{uuid.uuid4().hex}x"  # label prefix no data graph can guess


def _ox() -> Any:
    import pyoxigraph

    return pyoxigraph


def have_pyoxigraph() -> bool:
    """Is pyoxigraph importable? Without it :func:`read_bound` reads every format through rdflib (slower,
    same results)."""
    try:
        import pyoxigraph  # noqa: F401
    except ImportError:
        return False
    return True


# ---- terms ------------------------------------------------------------------------------------------------
_ESC = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)
_ESC_CHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "\\": "\\", "'": "'"}


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    return _ESC.sub(
        lambda m: (
            chr(int(m.group(1) or m.group(2), 16))
            if m.group(3) is None
            else _ESC_CHAR.get(m.group(3), m.group(3))
        ),
        s,
    )


class ArenaTerms:
    """A :class:`~cns.rules.graph.TermTable` over the encoder's arena: rdflib terms are decoded on demand
    (and cached); :meth:`code` looks a term up by its canonical key in the kernel's hash table."""

    def __init__(self, enc: Encoder, n: int) -> None:
        self._enc = enc
        self._n = n
        self._cache: dict[int, Node] = {}
        self._codes: dict[Node, int] = {}
        self.well_formed: np.ndarray | None = None  # literals the fast path proved well-formed (_finish)

    def __len__(self) -> int:
        return self._n

    def _key(self, code: int) -> bytes:
        e = self._enc
        return e.t.arena[e.t.t_start[code] : e.t.t_end[code]].tobytes()

    def text(self, code: int) -> str:
        """``str(term)``: the IRI, the literal's unescaped lexical form or the blank node's label."""
        e = self._enc
        k = int(e.t.t_kind[code])
        s, t = int(e.t.t_start[code]), int(e.t.t_end[code])
        if k == KIND_IRI:
            return e.t.arena[s + 1 : t - 1].tobytes().decode("utf-8")
        if k == KIND_BNODE:
            return e.t.arena[s + 2 : t].tobytes().decode("utf-8")
        return _unescape(e.t.arena[s + 1 : int(e.t.t_lex_end[code])].tobytes().decode("utf-8"))

    def texts(self, codes: np.ndarray) -> list[str]:
        """``[self.text(c) for c in codes]`` in bulk: one kernel call unescapes every span, one decode."""
        e = self._enc
        codes = np.asarray(codes, np.int64)
        if codes.shape[0] < 64:
            return [self.text(int(c)) for c in codes]
        kind = e.t.t_kind[codes]
        starts = e.t.t_start[codes] + np.where(kind == KIND_BNODE, 2, 1)
        ends = np.where(kind == KIND_LITERAL, e.t.t_lex_end[codes], e.t.t_end[codes] - (kind == KIND_IRI))
        out = np.empty(int((ends - starts).sum()) + 8, np.uint8)
        offsets = np.empty(codes.shape[0] + 1, np.int64)
        used = lk.unescape_spans(e.t.arena, starts, ends, out, offsets)
        if used and int(out[:used].max()) >= 0x80:  # non-ASCII: decode each (byte and char offsets differ)
            return [out[offsets[i] : offsets[i + 1]].tobytes().decode("utf-8") for i in range(codes.shape[0])]
        whole = out[:used].tobytes().decode("ascii")
        o = offsets.tolist()
        return [whole[o[i] : o[i + 1]] for i in range(codes.shape[0])]

    def __getitem__(self, code: int) -> Node:
        code = int(code)
        t = self._cache.get(code)
        if t is None:
            t = self._cache[code] = self._decode(code)
        return t

    def _decode(self, code: int) -> Node:
        e = self._enc
        k = int(e.t.t_kind[code])
        if k == KIND_IRI:
            return URIRef(self.text(code))
        if k == KIND_BNODE:
            return BNode(self.text(code))
        lex = self.text(code)
        lang_id = int(e.t.t_lang[code])
        if lang_id >= 0:
            return Literal(
                lex, lang=e.t.arena[e.t.l_start[lang_id] : e.t.l_end[lang_id]].tobytes().decode("ascii")
            )
        dt = int(e.t.t_dt[code])
        if dt == STR_CODE:
            return Literal(lex)
        if self.well_formed is not None and self.well_formed[code]:  # rdflib converts it without a warning
            return Literal(lex, datatype=URIRef(self.text(dt)), normalize=False)
        term_log = logging.getLogger("rdflib.term")
        old = term_log.level
        term_log.setLevel(logging.CRITICAL)  # ill-typed literals are data, not errors
        try:
            return Literal(lex, datatype=URIRef(self.text(dt)), normalize=False)
        finally:
            term_log.setLevel(old)

    def code(self, term: Node) -> int:
        """The term's code, -1 if the graph does not have it (looked up once, then cached)."""
        c = self._codes.get(term)
        if c is None:
            key = canonical_key(term)
            e = self._enc
            c = int(lookup(np.frombuffer(key, np.uint8), e.t))
            if c >= self._n:
                c = -1
            self._codes[term] = c
        return c


_bnode_labels: dict[str, int] = {}


def canonical_key(term: Node) -> bytes:
    """The canonical N-Triples form of an rdflib term, as pyoxigraph writes it (the encoder's key).

    A blank node of the shapes graph gets a label no data graph can have (blank nodes of two graphs are never
    the same node); a term pyoxigraph refuses (an invalid IRI or language tag) gets its plain N-Triples form,
    which can only match the same bytes in the data."""
    ox = _ox()
    if isinstance(term, BNode):
        n = _bnode_labels.setdefault(str(term), len(_bnode_labels))
        return f"_:{_SHAPE_BNODE}{n}".encode()
    try:
        if isinstance(term, Literal):
            if term.language:
                t = ox.Literal(str(term), language=term.language)
            elif term.datatype is not None:
                t = ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
            else:
                t = ox.Literal(str(term))
        else:
            t = ox.NamedNode(str(term))
        return str(t).encode("utf-8")
    except ValueError:
        if isinstance(term, Literal):
            return Literal(str(term), lang=term.language, datatype=term.datatype).n3().encode("utf-8")
        return f"<{term}>".encode()


# ---- reading ----------------------------------------------------------------------------------------------
def read_bound(path: str | os.PathLike[str], extra_terms: Iterable[Node] = ()) -> BoundGraph:
    """Read the local RDF file ``path`` into a :class:`BoundGraph`, with ``extra_terms`` (the shapes'
    constants) encoded too. Turtle and N-Triples take the fast path (module doc); other formats are read by
    :func:`cns.rules.rdfio.read_rdf` and bound by :func:`cns.rules.graph.bind_graph`.

    Raises :class:`DataError` (unreadable, unparsable) / :class:`UnsafeInput` (a URL)."""
    fmt = rdf_format(path)
    if fmt not in FAST_FORMATS or not have_pyoxigraph():
        return bind_graph(read_rdf(path), extra_terms)
    extra = list(extra_terms)
    where = str(path)
    if fmt == "nt":
        enc = Encoder()
        codes = enc.add_keys([canonical_key(t) for t in extra])
        if _encode_strict_file(enc, path):
            return _finish(enc, codes)
    else:
        with open_local(path) as f:
            size = os.fstat(f.fileno()).st_size
            raw = f.read() if size <= TURTLE_KERNEL_MAX_BYTES else b""
        if raw:
            enc = Encoder(terms_hint=size // 64, arena_hint=size + (1 << 18), triples_hint=size // 25)
            codes = enc.add_keys([canonical_key(t) for t in extra])
            if enc.feed_turtle(np.frombuffer(raw, np.uint8)):
                return _finish(enc, codes)
    enc = Encoder()
    codes = enc.add_keys([canonical_key(t) for t in extra])
    _encode_with_pyoxigraph(enc, path, fmt, where)
    return _finish(enc, codes)


def encode_ntriples(data: bytes, extra_terms: Iterable[Node] = (), *, strict: bool = True) -> BoundGraph:
    """Bind N-Triples ``data`` held in memory (strict: canonical input only, DataError otherwise)."""
    enc = Encoder(triples_hint=len(data) // 60 + 64, arena_hint=len(data) // 8 + 1024)
    codes = enc.add_keys([canonical_key(t) for t in extra_terms])
    st, pos = enc.feed(np.frombuffer(data, np.uint8), True, strict)
    if st != ST_OK:
        raise DataError(f"N-Triples data: not canonical N-Triples near byte {pos}")
    return _finish(enc, codes)


def _encode_strict_file(enc: Encoder, path: str | os.PathLike[str]) -> bool:
    """Stream the N-Triples file through the strict kernel; False when it needs pyoxigraph (module doc)."""
    with open_local(path) as f:
        size = os.fstat(f.fileno()).st_size
        enc.grow(size // 256 + 64, size // 8 + 1024, size // 100 + 64, 1)
        carry = b""
        while True:
            block = f.read(CHUNK_BYTES)
            final = not block
            data = carry + block if carry else block
            if not data:
                return True
            st, pos = enc.feed(np.frombuffer(data, np.uint8), final, True)
            if st != ST_OK:
                return False
            carry = data[pos:]
            if final:
                return True


def _encode_with_pyoxigraph(enc: Encoder, path: str | os.PathLike[str], fmt: str, where: str) -> None:
    ox = _ox()
    rdf_fmt = ox.RdfFormat.N_TRIPLES if fmt == "nt" else ox.RdfFormat.TURTLE
    base = Path(path).resolve().as_uri()
    with open_local(path) as f:
        size = os.fstat(f.fileno()).st_size
        enc.grow(size // 64 + 64, size // 2 + 1024, size // 30 + 64, 1)
        try:
            quads = ox.parse(f, format=rdf_fmt, base_iri=base, without_named_graphs=True)
            while True:
                chunk = ox.serialize(itertools.islice(quads, CHUNK_QUADS), format=ox.RdfFormat.N_TRIPLES)
                if not chunk:
                    return
                st, pos = enc.feed(np.frombuffer(chunk, np.uint8), True, False)
                if st != ST_OK:  # pyoxigraph's own output: a bug, not the user's input
                    raise DataError(
                        f"{where}: internal error encoding pyoxigraph's N-Triples near "
                        f"{chunk[max(0, pos - 40) : pos + 40]!r}"
                    )
        except SyntaxError as e:
            raise DataError(f"{where}: cannot parse as {fmt}: {_one_line(e)}") from None
        except OSError as e:
            raise DataError(f"{where}: cannot read: {e.strerror or e}") from e
        except ValueError as e:  # e.g. an invalid IRI or base
            raise DataError(f"{where}: cannot parse as {fmt}: {_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:300] + "..."


def _finish(enc: Encoder, shape_codes: np.ndarray) -> BoundGraph:
    """Term attributes (bulk, then Python for the rest) and the CSR: the :class:`BoundGraph`."""
    n, _, m = enc.counts
    terms = ArenaTerms(enc, n)
    if (shape_codes < 0).any():  # a constant the kernel could not read back: a bug in canonical_key
        raise DataError("internal error: a shapes constant has no canonical N-Triples form")
    kind = enc.t.t_kind[:n].copy()
    datatype = enc.t.t_dt[:n].copy()
    lang = enc.t.t_lang[:n].copy()
    langs = [
        enc.t.arena[enc.t.l_start[i] : enc.t.l_end[i]].tobytes().decode("ascii")
        for i in range(int(enc.t.lmeta[0]))
    ]
    numeric = np.full(n, np.nan)
    order_cat = np.zeros(n, np.int8)
    okey = np.full(n, np.nan)
    ex_hi = np.zeros(n, np.int64)
    ex_lo = np.zeros(n, np.int64)
    has_exact = np.zeros(n, np.bool_)
    ill = np.zeros(n, np.bool_)
    fast = np.full(n, lk.FAST_DONE, np.int8)
    dt_class = np.arange(lk.N_DT, dtype=np.int32)
    lk.literal_attrs(
        enc.t.arena,
        enc.t.t_start,
        enc.t.t_kind,
        enc.t.t_dt,
        enc.t.t_lex_end,
        n,
        dt_class,
        order_cat,
        okey,
        numeric,
        ex_hi,
        ex_lo,
        has_exact,
        ill,
        fast,
    )
    lexlen = lk.unescaped_lengths(enc.t.arena, enc.t.t_start, enc.t.t_end, enc.t.t_kind, enc.t.t_lex_end, n)
    # floats: xsd:double/float (and the float key of exact decimals) parsed by NumPy from the lexical bytes
    parse = np.flatnonzero((fast == lk.FAST_DOUBLE) | (fast == lk.FAST_DECIMAL))
    if parse.shape[0]:
        starts = enc.t.t_start[parse] + 1
        ends = enc.t.t_lex_end[parse]
        width = int((ends - starts).max())
        if width <= _MAX_DOUBLE_WIDTH:
            raw = lk.gather_padded(enc.t.arena, starts, ends, width).view(f"S{width}").ravel()
            vals = raw.astype(np.float64)
            okey[parse] = vals
            numeric[parse] = vals
        else:
            fast[parse] = lk.FAST_SLOW
            has_exact[parse] = False
    slow = np.flatnonzero(fast == lk.FAST_SLOW)
    slow_exact: dict[int, list[tuple[int | Decimal, int]]] = {}
    if slow.shape[0]:
        _slow_literals(terms, slow, order_cat, okey, numeric, ill, slow_exact)
    _string_ranks(enc, order_cat, okey)
    erank = _exact_ranks(n, order_cat, ex_hi, ex_lo, has_exact, slow_exact)
    terms.well_formed = (fast != lk.FAST_SLOW) & (kind == KIND_LITERAL)
    s_ptr, s_pred, s_obj, o_ptr, o_pred, o_subj = build_csr(enc.triples[:m], n)
    return BoundGraph(
        terms=terms,
        s_ptr=s_ptr,
        s_pred=s_pred,
        s_obj=s_obj,
        o_ptr=o_ptr,
        o_pred=o_pred,
        o_subj=o_subj,
        kind=kind,
        datatype=datatype,
        lang=lang,
        langs=langs,
        numeric=numeric,
        is_numeric=~np.isnan(numeric),
        order_cat=order_cat,
        order_key=okey,
        exact_rank=erank,
        lexlen=lexlen,
        ill_formed=ill,
    )


def _slow_literals(
    terms: ArenaTerms,
    slow: np.ndarray,
    order_cat: np.ndarray,
    okey: np.ndarray,
    numeric: np.ndarray,
    ill: np.ndarray,
    exact: dict[int, list[tuple[int | Decimal, int]]],
) -> None:
    """The attributes of ``slow`` literals, computed from rdflib terms as :func:`bind_graph` does."""
    term_log = logging.getLogger("rdflib.term")
    old = term_log.level
    term_log.setLevel(logging.CRITICAL)
    try:
        for c in slow.tolist():
            t = terms[c]
            assert isinstance(t, Literal)
            ill[c] = bool(t.ill_typed)
            cat = order_category(t)
            order_cat[c] = cat
            okey[c] = np.nan
            numeric[c] = np.nan
            if cat and cat != CAT_STRING:
                okey[c] = key = order_key(t, cat)
                if cat == CAT_NUMERIC:
                    numeric[c] = key
                x = exact_key(t, cat)
                if x is not None:
                    exact.setdefault(cat, []).append((x, c))
    finally:
        term_log.setLevel(old)


def _string_ranks(enc: Encoder, order_cat: np.ndarray, okey: np.ndarray) -> None:
    """Order key of string literals: their dense rank in code point order (as SPARQL ``str <``)."""
    codes = np.flatnonzero(order_cat == CAT_STRING)
    if not codes.shape[0]:
        return
    starts = enc.t.t_start[codes] + 1
    ends = enc.t.t_lex_end[codes]
    out = np.empty(int((ends - starts).sum()), np.uint8)
    offsets = np.empty(codes.shape[0] + 1, np.int64)
    lk.unescape_spans(enc.t.arena, starts, ends, out, offsets)
    okey[codes] = lk.rank_spans(out, offsets)


def _exact_ranks(
    n: int,
    order_cat: np.ndarray,
    ex_hi: np.ndarray,
    ex_lo: np.ndarray,
    has_exact: np.ndarray,
    slow_exact: dict[int, list[tuple[int | Decimal, int]]],
) -> np.ndarray:
    """Dense rank of exact values per category (see :mod:`cns.rules.graph`); fast values are ``hi + lo/1e18``."""
    erank = np.full(n, -1, np.int64)
    fast_codes = np.flatnonzero(has_exact)
    if fast_codes.shape[0] and CAT_NUMERIC not in slow_exact:
        hi, lo = ex_hi[fast_codes], ex_lo[fast_codes]
        order = np.lexsort((lo, hi))
        hs, ls = hi[order], lo[order]
        new = np.ones(order.shape[0], np.bool_)
        new[1:] = (hs[1:] != hs[:-1]) | (ls[1:] != ls[:-1])
        erank[fast_codes[order]] = np.cumsum(new) - 1
    elif fast_codes.shape[0]:
        items = slow_exact[CAT_NUMERIC]
        for c, h, lo_ in zip(
            fast_codes.tolist(), ex_hi[fast_codes].tolist(), ex_lo[fast_codes].tolist(), strict=True
        ):
            items.append((h if lo_ == 0 else Decimal(f"{h * 10**18 + lo_}E-18"), c))  # exact, any precision
    for items in slow_exact.values():
        items.sort(key=lambda xc: xc[0])
        r = -1
        for i, (x, c) in enumerate(items):
            if i == 0 or x != items[i - 1][0]:
                r += 1
            erank[c] = r
    return erank


__all__ += ["KNOWN_DATATYPES"]
_ = gk  # kinds are shared with graph_kernels (KIND_* equal in both modules)
assert (KIND_IRI, KIND_BNODE, KIND_LITERAL) == (gk.KIND_IRI, gk.KIND_BNODE, gk.KIND_LITERAL)
