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

Pair sets are ``(src, dst)`` int32 arrays, sorted and duplicate-free (see :func:`unique_pairs`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from cns.rules import graph_kernels as gk
from cns.rules import ir, limits
from cns.rules.errors import LimitExceeded
from cns.rules.xsd import CAT_NUMERIC, CAT_STRING, exact_key, literal_datatype, order_category, order_key

__all__ = ["BoundGraph", "bind_graph", "unique_pairs", "eval_path"]

_EMPTY = np.empty(0, np.int32)


@dataclass(eq=False, slots=True)
class BoundGraph:
    """A data graph as arrays (see module doc). ``terms[code]`` is the rdflib term; ``index`` the inverse."""

    terms: list[Node]
    index: dict[Node, int]
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
        return len(self.terms)

    @property
    def n_triples(self) -> int:
        return int(self.s_pred.shape[0])

    def code(self, term: Node) -> int:
        """The term's code, or -1 if the term is unknown."""
        return self.index.get(term, -1)

    def subjects_with(self, pred: int) -> np.ndarray:
        """Distinct subjects of triples with predicate code ``pred`` (sorted)."""
        rows = np.repeat(np.arange(self.n_terms, dtype=np.int32), np.diff(self.s_ptr))
        return np.unique(rows[self.s_pred == pred])

    def objects_with(self, pred: int) -> np.ndarray:
        rows = np.repeat(np.arange(self.n_terms, dtype=np.int32), np.diff(self.o_ptr))
        return np.unique(rows[self.o_pred == pred])


def _csr(major: np.ndarray, mid: np.ndarray, minor: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    order = np.lexsort((minor, mid, major))
    counts = np.bincount(major, minlength=n)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr, mid[order].astype(np.int32), minor[order].astype(np.int32)


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
    s_ptr, s_pred, s_obj = _csr(triples[:, 0], triples[:, 1], triples[:, 2], n)
    o_ptr, o_pred, o_subj = _csr(triples[:, 2], triples[:, 1], triples[:, 0], n)

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
        terms=terms, index=index, s_ptr=s_ptr, s_pred=s_pred, s_obj=s_obj, o_ptr=o_ptr, o_pred=o_pred,
        o_subj=o_subj, kind=kind, datatype=datatype, lang=lang, langs=list(langs), numeric=numeric,
        is_numeric=~np.isnan(numeric), order_cat=order_cat, order_key=okey, exact_rank=erank, lexlen=lexlen,
        ill_formed=ill,
    )


def unique_pairs(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort (src, dst) pairs and drop duplicates."""
    if src.shape[0] == 0:
        return _EMPTY, _EMPTY
    keys = np.unique(src.astype(np.int64) * n + dst.astype(np.int64))
    return (keys // n).astype(np.int32), (keys % n).astype(np.int32)


def eval_path(g: BoundGraph, path: ir.Path, nodes: np.ndarray, inverse: bool = False
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
            b_src, b_dst = eval_path(g, step, np.unique(dst), inverse)
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
        raise LimitExceeded(f"{what} produces more than MAX_PATH_PAIRS ({limits.MAX_PATH_PAIRS}, "
                            "cns.rules.limits) (focus, value) pairs")


def _closure(g: BoundGraph, step: ir.Path, src: np.ndarray, dst: np.ndarray, inverse: bool
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
    frontier = np.unique(dst)
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
        reached = np.unique(b)
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
