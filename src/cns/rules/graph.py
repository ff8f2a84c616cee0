"""RDF data graph bound to integer arrays, and SHACL path evaluation over them.

:func:`bind_graph` dictionary-encodes every term of the data graph (plus extra terms the shapes mention) to
``int32`` codes and builds:

* triples in CSR form by subject (``s_ptr``/``s_pred``/``s_obj``, rows sorted by predicate, object) and by
  object (``o_ptr``/``o_pred``/``o_subj``);
* per-term attribute arrays, computed once per distinct term: ``kind`` (0 IRI, 1 blank node, 2 literal),
  ``datatype`` (term code of the literal's datatype IRI, -1 otherwise), ``lang`` (index into ``langs``, -1
  none), ``numeric``/``is_numeric`` (float64 value), ``order_cat``/``order_key`` (SPARQL ``<``: category and
  a float key; strings are ranked), ``exact_rank`` (int64, -1 none: dense rank of the term's exact value
  among the terms of its category that have one — xsd:decimal/integer-family numerics and dateTimes — so
  e.g. integers beyond 2**53 compare exactly; see :func:`cns.rules.xsd.exact_key`), ``lexlen``
  (characters of the lexical form / IRI, -1 for blank nodes) and
  ``ill_formed`` (literal not in its datatype's lexical space).

Terms are reached through a :class:`TermTable`: ``g.terms[code]`` is the rdflib term, ``g.code(term)`` the
inverse, ``g.terms.text(code)`` the IRI / lexical form. :func:`bind_graph` binds an rdflib ``Graph`` (a Python
loop per triple and per term: the API path); :func:`cns.rules.encode.read_bound` reads a file straight into
a :class:`BoundGraph` with Numba kernels (the ``cns validate`` path) and decodes terms only when asked.

Pair sets are ``(src, dst)`` int32 arrays, sorted and duplicate-free (see :func:`unique_pairs`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import numpy as np
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from cns.rules import graph_kernels as gk
from cns.rules import ir, limits
from cns.rules.errors import LimitExceeded
from cns.rules.xsd import CAT_NUMERIC, CAT_STRING, exact_key, literal_datatype, order_category, order_key

__all__ = [
    "BoundGraph",
    "TermTable",
    "ListTerms",
    "bind_graph",
    "build_csr",
    "sorted_unique",
    "unique_pairs",
    "eval_path",
]

_EMPTY = np.empty(0, np.int32)


class TermTable(Protocol):
    """The terms of a :class:`BoundGraph`: code -> rdflib term and back."""

    def __len__(self) -> int: ...

    def __getitem__(self, code: int) -> Node: ...

    def code(self, term: Node) -> int:
        """The term's code, -1 if the graph does not have it."""
        ...

    def text(self, code: int) -> str:
        """``str(term)``: the IRI, the literal's lexical form or the blank node's label."""
        ...

    def texts(self, codes: np.ndarray) -> list[str]:
        """:meth:`text` of each code."""
        ...


class ListTerms:
    """A :class:`TermTable` over a list of rdflib terms and its inverse dict (:func:`bind_graph`)."""

    __slots__ = ("terms", "index")

    def __init__(self, terms: list[Node], index: dict[Node, int]) -> None:
        self.terms = terms
        self.index = index

    def __len__(self) -> int:
        return len(self.terms)

    def __getitem__(self, code: int) -> Node:
        return self.terms[code]

    def code(self, term: Node) -> int:
        """The term's code, -1 if the graph does not have it."""
        return self.index.get(term, -1)

    def text(self, code: int) -> str:
        """``str(term)``: the IRI, the literal's lexical form or the blank node's label."""
        return str(self.terms[code])

    def texts(self, codes: np.ndarray) -> list[str]:
        """:meth:`text` of each code."""
        return [str(self.terms[c]) for c in np.asarray(codes).tolist()]


@dataclass(eq=False, slots=True)
class BoundGraph:
    """A data graph as arrays (see module doc). ``terms[code]`` is the rdflib term, ``code(term)`` the
    inverse (-1 unknown)."""

    terms: TermTable
    s_ptr: np.ndarray
    s_pred: np.ndarray
    s_obj: np.ndarray
    o_ptr: np.ndarray
    o_pred: np.ndarray
    o_subj: np.ndarray
    kind: np.ndarray
    datatype: np.ndarray
    lang: np.ndarray
    langs: list[str]
    numeric: np.ndarray
    is_numeric: np.ndarray
    order_cat: np.ndarray
    order_key: np.ndarray
    exact_rank: np.ndarray
    lexlen: np.ndarray
    ill_formed: np.ndarray

    @property
    def n_terms(self) -> int:
        """Number of distinct terms (codes run ``0 .. n_terms - 1``)."""
        return int(self.kind.shape[0])

    @property
    def n_triples(self) -> int:
        """Number of distinct triples in the graph."""
        return int(self.s_pred.shape[0])

    def code(self, term: Node) -> int:
        """The term's code, or -1 if the term is unknown."""
        return self.terms.code(term)

    def subjects_with(self, pred: int) -> np.ndarray:
        """Distinct subjects of triples with predicate code ``pred`` (sorted)."""
        rows = np.repeat(np.arange(self.n_terms, dtype=np.int32), np.diff(self.s_ptr))
        return sorted_unique(rows[self.s_pred == pred])

    def objects_with(self, pred: int) -> np.ndarray:
        """Distinct objects of triples with predicate code ``pred`` (sorted)."""
        rows = np.repeat(np.arange(self.n_terms, dtype=np.int32), np.diff(self.o_ptr))
        return sorted_unique(rows[self.o_pred == pred])


def _csr(major: np.ndarray, mid: np.ndarray, minor: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """CSR of duplicate-free (major, mid, minor) rows: ``ptr`` over ``n`` majors, rows sorted by (mid, minor)."""
    if n < (1 << 21):  # one int64 key per row: a single sort instead of a three-key lexsort
        key = (major.astype(np.int64) << 42) | (mid.astype(np.int64) << 21) | minor.astype(np.int64)
        key.sort()
        major = (key >> 42).astype(np.int32)
        mid_s = ((key >> 21) & 0x1FFFFF).astype(np.int32)
        minor_s = (key & 0x1FFFFF).astype(np.int32)
    else:
        order = np.lexsort((minor, mid, major))
        major, mid_s, minor_s = major[order], mid[order].astype(np.int32), minor[order].astype(np.int32)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(major, minlength=n), out=ptr[1:])
    return ptr, mid_s, minor_s


def build_csr(triples: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """``(s_ptr, s_pred, s_obj, o_ptr, o_pred, o_subj)`` of an ``(m, 3)`` array of codes < ``n``; duplicate
    triples (an RDF graph is a set) are dropped."""
    t = np.asarray(triples).reshape(-1, 3)
    if t.shape[0] > 1:
        if n < (1 << 21):
            key = (
                (t[:, 0].astype(np.int64) << 42) | (t[:, 1].astype(np.int64) << 21) | t[:, 2].astype(np.int64)
            )
            key.sort()  # (np.unique is much slower than sort + mask on NumPy 2.x int64)
            keep = np.ones(key.shape[0], np.bool_)
            np.not_equal(key[1:], key[:-1], out=keep[1:])
            key = key[keep]
            t = np.stack([key >> 42, (key >> 21) & 0x1FFFFF, key & 0x1FFFFF], axis=1)
        else:
            t = np.unique(t.astype(np.int64), axis=0)
    s, p, o = t[:, 0], t[:, 1], t[:, 2]
    return (*_csr(s, p, o, n), *_csr(o, p, s, n))


def bind_graph(data: Graph, extra_terms: Iterable[Node] = ()) -> BoundGraph:
    """Encode ``data`` (and ``extra_terms``, e.g. constants from the shapes) into a :class:`BoundGraph`."""
    index: dict[Node, int] = {}
    terms: list[Node] = []

    def code(t: Node) -> int:
        c = index.get(t)
        if c is None:
            c = index[t] = len(terms)
            terms.append(t)
        return c

    triples = np.array([(code(s), code(p), code(o)) for s, p, o in data], dtype=np.int64).reshape(-1, 3)
    for t in extra_terms:
        code(t)
    for t in list(terms):  # datatype IRIs are terms too, so sh:datatype compares codes
        if isinstance(t, Literal):
            code(literal_datatype(t))
    n = len(terms)
    s_ptr, s_pred, s_obj, o_ptr, o_pred, o_subj = build_csr(triples, n)

    kind = np.zeros(n, np.int8)
    datatype = np.full(n, -1, np.int32)
    lang = np.full(n, -1, np.int32)
    numeric = np.full(n, np.nan)
    order_cat = np.zeros(n, np.int8)
    okey = np.full(n, np.nan)
    lexlen = np.full(n, -1, np.int32)
    ill = np.zeros(n, np.bool_)
    langs: dict[str, int] = {}
    strings: list[tuple[str, int]] = []
    exact: dict[int, list[tuple[int | Decimal, int]]] = {}  # category -> [(exact value, code)]
    term_log = logging.getLogger("rdflib.term")
    old = term_log.level
    term_log.setLevel(logging.CRITICAL)
    try:
        for c, t in enumerate(terms):  # once per distinct term
            if isinstance(t, BNode):
                kind[c] = gk.KIND_BNODE
                continue
            lexlen[c] = len(str(t))
            if isinstance(t, URIRef):
                kind[c] = gk.KIND_IRI
                continue
            assert isinstance(t, Literal)
            kind[c] = gk.KIND_LITERAL
            datatype[c] = index[literal_datatype(t)]
            if t.language:
                lang[c] = langs.setdefault(t.language, len(langs))
            ill[c] = bool(t.ill_typed)
            cat = order_category(t)
            order_cat[c] = cat
            if cat == CAT_STRING:
                strings.append((str(t), c))
            elif cat:
                okey[c] = key = order_key(t, cat)
                if cat == CAT_NUMERIC:
                    numeric[c] = key
                x = exact_key(t, cat)
                if x is not None:
                    exact.setdefault(cat, []).append((x, c))
    finally:
        term_log.setLevel(old)
    if strings:  # rank strings so one float key orders them (codepoint order, as SPARQL str <)
        strings.sort()
        rank, prev = -1, None
        for s, c in strings:
            if s != prev:
                rank, prev = rank + 1, s
            okey[c] = rank
    erank = np.full(n, -1, np.int64)
    for items in exact.values():  # dense rank per category: equal values (1 = 1.0) share a rank
        items.sort(key=lambda xc: xc[0])
        r = -1
        for i, (x, c) in enumerate(items):
            if i == 0 or x != items[i - 1][0]:
                r += 1
            erank[c] = r
    return BoundGraph(
        terms=ListTerms(terms, index),
        s_ptr=s_ptr,
        s_pred=s_pred,
        s_obj=s_obj,
        o_ptr=o_ptr,
        o_pred=o_pred,
        o_subj=o_subj,
        kind=kind,
        datatype=datatype,
        lang=lang,
        langs=list(langs),
        numeric=numeric,
        is_numeric=~np.isnan(numeric),
        order_cat=order_cat,
        order_key=okey,
        exact_rank=erank,
        lexlen=lexlen,
        ill_formed=ill,
    )


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` (sorted, duplicate-free) by sort + mask: several times faster than ``np.unique`` on
    NumPy 2.x for the integer arrays used here."""
    a = np.sort(a)
    if a.shape[0] < 2:
        return a
    keep = np.empty(a.shape[0], np.bool_)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def unique_pairs(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort (src, dst) pairs and drop duplicates."""
    if src.shape[0] == 0:
        return _EMPTY, _EMPTY
    keys = sorted_unique(src.astype(np.int64) * n + dst.astype(np.int64))
    return (keys // n).astype(np.int32), (keys % n).astype(np.int32)


def eval_path(
    g: BoundGraph, path: ir.Path, nodes: np.ndarray, inverse: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """All (focus, value) pairs with ``value`` reachable from ``focus`` (in ``nodes``) along ``path``
    (walked backwards if ``inverse``). Result sorted and duplicate-free."""
    n = g.n_terms
    nodes = np.asarray(nodes, np.int32)
    if isinstance(path, ir.PredicatePath):
        p = g.code(path.predicate)
        if p < 0 or nodes.shape[0] == 0:
            return _EMPTY, _EMPTY
        if inverse:
            src, dst = gk.step_predicate(nodes, g.o_ptr, g.o_pred, g.o_subj, p)
        else:
            src, dst = gk.step_predicate(nodes, g.s_ptr, g.s_pred, g.s_obj, p)
        return unique_pairs(src, dst, n)
    if isinstance(path, ir.InversePath):
        return eval_path(g, path.path, nodes, not inverse)
    if isinstance(path, ir.SequencePath):
        steps = path.paths[::-1] if inverse else path.paths
        src, dst = eval_path(g, steps[0], nodes, inverse)
        for step in steps[1:]:
            b_src, b_dst = eval_path(g, step, sorted_unique(dst), inverse)
            _check_pairs(int(gk.join_count(dst, b_src)), "a sequence path")
            src, dst = unique_pairs(*gk.join_pairs(src, dst, b_src, b_dst), n)
        return src, dst
    if isinstance(path, ir.AlternativePath):
        parts = [eval_path(g, p, nodes, inverse) for p in path.paths]
        return unique_pairs(np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts]), n)
    if isinstance(path, ir.ZeroOrOnePath):
        src, dst = eval_path(g, path.path, nodes, inverse)
        return unique_pairs(np.concatenate([nodes, src]), np.concatenate([nodes, dst]), n)
    if isinstance(path, ir.ZeroOrMorePath):
        return _closure(g, path.path, *unique_pairs(nodes, nodes, n), inverse)
    if isinstance(path, ir.OneOrMorePath):
        return _closure(g, path.path, *eval_path(g, path.path, nodes, inverse), inverse)
    raise TypeError(f"not a path: {path!r}")


def _check_pairs(count: int, what: str) -> None:
    if count > limits.MAX_PATH_PAIRS:
        raise LimitExceeded(
            f"{what} produces more than MAX_PATH_PAIRS ({limits.MAX_PATH_PAIRS}, "
            "cns.rules.limits) (focus, value) pairs"
        )


def _closure(
    g: BoundGraph, step: ir.Path, src: np.ndarray, dst: np.ndarray, inverse: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Extend the pair set (src, dst) by ``step`` zero or more times.

    Output-sensitive: ``step`` is evaluated once per node reached (frontier by frontier), then one search per
    focus node over that relation (:func:`~cns.rules.graph_kernels.closure_bfs`). LimitExceeded when the
    relation or the result exceeds :data:`~cns.rules.limits.MAX_PATH_PAIRS`.
    """
    n = g.n_terms
    if src.shape[0] == 0:
        return _EMPTY, _EMPTY
    limit = limits.MAX_PATH_PAIRS
    seen = np.zeros(n, np.bool_)
    frontier = sorted_unique(dst)
    parts_src: list[np.ndarray] = []
    parts_dst: list[np.ndarray] = []
    edges = 0
    while frontier.shape[0]:
        seen[frontier] = True
        a, b = eval_path(g, step, frontier, inverse)
        edges += a.shape[0]
        _check_pairs(edges, "a transitive path step")
        parts_src.append(a)
        parts_dst.append(b)
        reached = sorted_unique(b)
        frontier = reached[~seen[reached]]
    e_src = np.concatenate(parts_src) if parts_src else _EMPTY
    e_dst = np.concatenate(parts_dst) if parts_dst else _EMPTY
    order = np.argsort(e_src, kind="stable")
    e_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(e_src, minlength=n), out=e_ptr[1:])
    f, v, ok = gk.closure_bfs(src, dst, e_ptr, e_dst[order].astype(np.int32), n, limit)
    if not ok:
        _check_pairs(limit + 1, "a transitive path (sh:zeroOrMorePath / sh:oneOrMorePath)")
    return unique_pairs(f, v, n)
