"""Numba kernels over a dictionary-encoded RDF graph (see :mod:`cns.rules.graph` for the layout).

Terms are ``int32`` codes. Triples are stored twice in CSR form: by subject (``ptr[s]..ptr[s+1]`` indexes
``pred``/``other`` sorted by predicate then object) and by object. Pair sets (focus, value) are two parallel
``int32`` arrays. All kernels are allocation-bounded two-pass (count, then fill) loops.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "step_predicate",
    "join_pairs",
    "join_count",
    "closure_bfs",
    "has_type_in",
    "check_datatype",
    "check_node_kind",
    "check_length",
    "check_range",
    "compare_pairs",
    "closed_violations",
    "values_of_focus",
]

KIND_IRI = 0
KIND_BNODE = 1
KIND_LITERAL = 2

OP_LT = 0  # value < bound
OP_LE = 1
OP_GT = 2
OP_GE = 3


@njit(cache=True)
def _pred_range(pred: np.ndarray, lo: int, hi: int, p: int) -> tuple[int, int]:
    # first index in [lo, hi) with pred >= p, then first with pred > p (pred is sorted within the row)
    a, b = lo, hi
    while a < b:
        m = (a + b) >> 1
        if pred[m] < p:
            a = m + 1
        else:
            b = m
    start = a
    b = hi
    while a < b:
        m = (a + b) >> 1
        if pred[m] <= p:
            a = m + 1
        else:
            b = m
    return start, a


@njit(cache=True)
def step_predicate(nodes: np.ndarray, ptr: np.ndarray, pred: np.ndarray, other: np.ndarray, p: int):
    """Pairs (node, x) for every triple node -p-> x (in the CSR's direction). ``nodes`` are term codes."""
    n = 0
    for i in range(nodes.shape[0]):
        u = nodes[i]
        a, b = _pred_range(pred, ptr[u], ptr[u + 1], p)
        n += b - a
    src = np.empty(n, np.int32)
    dst = np.empty(n, np.int32)
    k = 0
    for i in range(nodes.shape[0]):
        u = nodes[i]
        a, b = _pred_range(pred, ptr[u], ptr[u + 1], p)
        for j in range(a, b):
            src[k] = u
            dst[k] = other[j]
            k += 1
    return src, dst


@njit(cache=True)
def join_pairs(a_src: np.ndarray, a_dst: np.ndarray, b_src: np.ndarray, b_dst: np.ndarray):
    """Relational composition: (x, z) for every (x, y) in A and (y, z) in B. ``b_src`` must be sorted."""
    n = 0
    for i in range(a_src.shape[0]):
        lo = np.searchsorted(b_src, a_dst[i], side="left")
        hi = np.searchsorted(b_src, a_dst[i], side="right")
        n += hi - lo
    src = np.empty(n, np.int32)
    dst = np.empty(n, np.int32)
    k = 0
    for i in range(a_src.shape[0]):
        lo = np.searchsorted(b_src, a_dst[i], side="left")
        hi = np.searchsorted(b_src, a_dst[i], side="right")
        for j in range(lo, hi):
            src[k] = a_src[i]
            dst[k] = b_dst[j]
            k += 1
    return src, dst


@njit(cache=True)
def join_count(a_dst: np.ndarray, b_src: np.ndarray) -> int:
    """Size of :func:`join_pairs` ``(A, B)`` without building it (``b_src`` sorted)."""
    n = 0
    for i in range(a_dst.shape[0]):
        n += np.searchsorted(b_src, a_dst[i], side="right") - np.searchsorted(b_src, a_dst[i], side="left")
    return n


@njit(cache=True)
def closure_bfs(src: np.ndarray, dst: np.ndarray, e_ptr: np.ndarray, e_dst: np.ndarray, n: int, limit: int):
    """Reflexive-transitive closure per focus: ``(f, y)`` for every ``(f, x)`` in (src, dst) and every ``y``
    reachable from ``x`` along the edges (CSR ``e_ptr``/``e_dst`` over ``n`` terms), ``x`` itself included.

    Pairs of one focus must be consecutive in ``src`` (runs; a focus split over runs yields duplicates, which
    the caller's :func:`~cns.rules.graph.unique_pairs` removes). Each run is one depth-first search with a
    per-run stamp, so the cost is the output size plus the edges scanned. Returns ``(f, y, ok)``; ``ok`` is
    False (and the pairs partial) once more than ``limit`` pairs would be produced.
    """
    mark = np.full(n, -1, np.int32)
    stack = np.empty(n, np.int32)
    cap = min(max(16, 2 * src.shape[0]), max(limit, 1))
    out_f = np.empty(cap, np.int32)
    out_v = np.empty(cap, np.int32)
    k = 0
    i = 0
    m = src.shape[0]
    run = 0
    while i < m:
        f = src[i]
        top = 0
        while i < m and src[i] == f:
            x = dst[i]
            if mark[x] != run:
                mark[x] = run
                stack[top] = x
                top += 1
            i += 1
        while top > 0:
            top -= 1
            u = stack[top]
            if k == cap:
                if cap >= limit:
                    return out_f[:k], out_v[:k], False
                cap = min(2 * cap, limit)
                grown_f = np.empty(cap, np.int32)
                grown_v = np.empty(cap, np.int32)
                grown_f[:k] = out_f[:k]
                grown_v[:k] = out_v[:k]
                out_f, out_v = grown_f, grown_v
            out_f[k] = f
            out_v[k] = u
            k += 1
            for e in range(e_ptr[u], e_ptr[u + 1]):
                w = e_dst[e]
                if mark[w] != run:
                    mark[w] = run
                    stack[top] = w
                    top += 1
        run += 1
    return out_f[:k], out_v[:k], True


@njit(cache=True)
def has_type_in(
    values: np.ndarray,
    ptr: np.ndarray,
    pred: np.ndarray,
    other: np.ndarray,
    type_code: int,
    class_mask: np.ndarray,
) -> np.ndarray:
    """For each value: does it have an rdf:type whose code is set in ``class_mask``?"""
    out = np.zeros(values.shape[0], np.bool_)
    for i in range(values.shape[0]):
        u = values[i]
        a, b = _pred_range(pred, ptr[u], ptr[u + 1], type_code)
        for j in range(a, b):
            if class_mask[other[j]]:
                out[i] = True
                break
    return out


@njit(cache=True)
def check_datatype(
    values: np.ndarray, kind: np.ndarray, datatype: np.ndarray, ill_formed: np.ndarray, dt_code: int
) -> np.ndarray:
    """Per value code: a well-formed literal whose datatype code is ``dt_code`` (``sh:datatype``)."""
    out = np.empty(values.shape[0], np.bool_)
    for i in range(values.shape[0]):
        u = values[i]
        out[i] = kind[u] == KIND_LITERAL and datatype[u] == dt_code and not ill_formed[u]
    return out


@njit(cache=True)
def check_node_kind(values: np.ndarray, kind: np.ndarray, mask: int) -> np.ndarray:
    """Per value code: its kind's bit is set in the ``NODE_KIND_*`` ``mask`` (``sh:nodeKind``)."""
    # NODE_KIND_* bits in ir.py: IRI=1, BLANK=2, LITERAL=4 == 1 << KIND_*
    out = np.empty(values.shape[0], np.bool_)
    for i in range(values.shape[0]):
        out[i] = (mask >> kind[values[i]]) & 1 == 1
    return out


@njit(cache=True)
def check_length(values: np.ndarray, lexlen: np.ndarray, bound: int, is_min: bool) -> np.ndarray:
    """Per value code: its length in characters is ``>= bound`` (``is_min``) or ``<= bound``
    (``sh:minLength`` / ``sh:maxLength``); a term with no length (``lexlen < 0``, a blank node) fails."""
    out = np.empty(values.shape[0], np.bool_)
    for i in range(values.shape[0]):
        n = lexlen[values[i]]
        out[i] = n >= 0 and (n >= bound if is_min else n <= bound)
    return out


@njit(cache=True)
def _cmp(ca: int, ka: float, ra: int, cb: int, kb: float, rb: int, op: int) -> bool:
    """``a OP b`` for terms with order category ``c``, float key ``k`` and exact rank ``r`` (-1 none).

    Two terms with exact ranks (same category) compare by rank, which is exact (integers beyond 2**53,
    integer vs decimal, dateTime microseconds); otherwise by the float keys (XPath promotes to double)."""
    if ca == 0 or ca != cb:
        return False
    if ra >= 0 and rb >= 0:
        if op == OP_LT:
            return ra < rb
        if op == OP_LE:
            return ra <= rb
        if op == OP_GT:
            return ra > rb
        return ra >= rb
    if ka != ka or kb != kb:
        return False
    if op == OP_LT:
        return ka < kb
    if op == OP_LE:
        return ka <= kb
    if op == OP_GT:
        return ka > kb
    return ka >= kb


@njit(cache=True)
def check_range(
    values: np.ndarray, cat: np.ndarray, key: np.ndarray, rank: np.ndarray, bound: int, op: int
) -> np.ndarray:
    """value OP bound with SPARQL semantics: False when incomparable (different category, IRI, ...)."""
    out = np.empty(values.shape[0], np.bool_)
    for i in range(values.shape[0]):
        u = values[i]
        out[i] = _cmp(cat[u], key[u], rank[u], cat[bound], key[bound], rank[bound], op)
    return out


@njit(cache=True)
def compare_pairs(
    a_src: np.ndarray,
    a_dst: np.ndarray,
    b_src: np.ndarray,
    b_dst: np.ndarray,
    cat: np.ndarray,
    key: np.ndarray,
    rank: np.ndarray,
    op: int,
):
    """(focus, v) for every (focus, v) in A and (focus, w) in B with ``v OP w`` false or incomparable (one
    row per failing (v, w) pair, as SHACL reports them). ``b_src`` must be sorted."""
    n = 0
    for i in range(a_src.shape[0]):
        lo = np.searchsorted(b_src, a_src[i], side="left")
        hi = np.searchsorted(b_src, a_src[i], side="right")
        v = a_dst[i]
        for j in range(lo, hi):
            w = b_dst[j]
            if not _cmp(cat[v], key[v], rank[v], cat[w], key[w], rank[w], op):
                n += 1
    f = np.empty(n, np.int32)
    val = np.empty(n, np.int32)
    k = 0
    for i in range(a_src.shape[0]):
        lo = np.searchsorted(b_src, a_src[i], side="left")
        hi = np.searchsorted(b_src, a_src[i], side="right")
        v = a_dst[i]
        for j in range(lo, hi):
            w = b_dst[j]
            if not _cmp(cat[v], key[v], rank[v], cat[w], key[w], rank[w], op):
                f[k] = a_src[i]
                val[k] = v
                k += 1
    return f, val


@njit(cache=True)
def closed_violations(
    nodes: np.ndarray, ptr: np.ndarray, pred: np.ndarray, other: np.ndarray, allowed: np.ndarray
):
    """(node, predicate, object) for every triple of ``nodes`` whose predicate is not ``allowed[pred]``."""
    n = 0
    for i in range(nodes.shape[0]):
        u = nodes[i]
        for j in range(ptr[u], ptr[u + 1]):
            if not allowed[pred[j]]:
                n += 1
    f = np.empty(n, np.int32)
    p = np.empty(n, np.int32)
    o = np.empty(n, np.int32)
    k = 0
    for i in range(nodes.shape[0]):
        u = nodes[i]
        for j in range(ptr[u], ptr[u + 1]):
            if not allowed[pred[j]]:
                f[k] = u
                p[k] = pred[j]
                o[k] = other[j]
                k += 1
    return f, p, o


@njit(cache=True)
def values_of_focus(focus_sorted: np.ndarray, pair_src: np.ndarray) -> np.ndarray:
    """Number of pairs per focus node (``pair_src`` sorted); aligned with ``focus_sorted``."""
    out = np.zeros(focus_sorted.shape[0], np.int64)
    j = 0
    m = pair_src.shape[0]
    for i in range(focus_sorted.shape[0]):  # one merge pass: O(len(focus) + len(pairs))
        f = focus_sorted[i]
        while j < m and pair_src[j] < f:
            j += 1
        k = j
        while k < m and pair_src[k] == f:
            k += 1
        out[i] = k - j
    return out
