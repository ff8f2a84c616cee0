# mypy: ignore-errors
# (Numba kernels: typed by Numba at compile time; the njit stubs do not know _nrt/inline options)
"""Storage primitives of the sparse L3 book: the one-array state layout, the id index, price levels, FIFO
queues and report rows. Matching and the kernel entry points are in :mod:`cns.venue.l3book_kernels`.

State layout (``S``, built by :func:`allocate`; region offsets live in the header so one array is the whole
book and a kernel call unboxes a single argument):

* header ``S[:H_SIZE]``: capacities, region offsets, counters (``H_*``).
* order pool ``pool[cap, 8]`` (columns ``P_*``): id bits, owner, side, price ticks, leaves, FIFO prev/next
  slot, level slot (-1 = free slot); free-slot stack ``free[cap]`` (``H_NFREE`` valid).
* level pool ``lvl[cap, 8]`` (columns ``L_*``): price, FIFO head/tail slot, shares, order count, side; free
  stack ``lfree[cap]``. A level exists only while it holds an order, so ``cap`` levels always suffice.
* per side ``keys[2, cap]`` / ``slots[2, cap]``: the active levels sorted ascending by key (bid key = price,
  ask key = -price), so the best level of either side is the **last** entry and most inserts/deletes (near the
  top) move few entries. Lookup of a price is a binary search. Memory is proportional to ``cap`` (live
  orders), never to the price range: an ask at 1e9 ticks costs one level like any other.
* id index ``hx[H]`` (``H`` a power of two >= 8 x ``cap``, so its load stays <= 1/8): open addressing (linear
  probing, backward-shift deletion, no tombstones) from order id to slot. One 8-byte word per entry, 0 = empty,
  else ``tag << 24 | slot + 1`` where ``tag`` is the top 39 bits of a multiplicative hash of the id; the home
  index is the tag's top bits, so a probe compares tags without touching the pool and only a tag match is
  confirmed against the pool row's id. Eight entries share a cache line.
* single-op report area ``out1[cap_out, EXEC_FIELDS]`` used by :func:`cns.venue.l3book_kernels.op1`.

Every helper is ``inline="always"`` and compiled without NRT: no allocation, no reference counting.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit

from cns.kernel_deps import follow_sources
from cns.venue.l3book_dtypes import EXEC_FIELDS, EXEC_REJECTED


def _dependencies() -> list[Path]:
    """Every ``l3book_*.py`` module next to this one (kernels inline helpers across them; a new helper module
    is covered by its name alone). The Python wrapper ``l3book.py`` holds no kernel and is left out."""
    return sorted(Path(__file__).parent.glob("l3book_*.py"))


def refresh_cache_stamp(dependent: str, probe: Callable[[], int] | None = None) -> None:
    """Make Numba's on-disk cache of ``dependent`` (a kernel module inlining this one) follow edits here.
    ``probe``: a trivial function defined in ``dependent``'s directory, when that is not this package's (its
    Numba cache locator names the cache directory).

    Numba keys a cached kernel by the content of the file defining it only, so an edit of an inlined helper
    in another ``l3book_*`` module (or of the dtypes' constants) would silently reuse stale machine code. A sidecar file in
    the cache directory remembers a digest of those dependencies; when it differs, ``dependent``'s cached
    kernels are deleted (they recompile). Best effort: an unwritable cache is left alone.
    """
    follow_sources(dependent, _dependencies(), probe or _cache_probe)


def _cache_probe() -> int:  # only its cache locator is used (never compiled)
    return 0


# ---- header ------------------------------------------------------------------------------------------------
H_SIZE = 64
H_VERSION, H_CAP, H_HMASK, H_NFREE, H_NLFREE = 0, 1, 2, 3, 4
H_NORD = 5  # 5 bids, 6 asks: resting orders per side
H_NLVL = 7  # 7 bids, 8 asks: active levels per side
H_OFF_POOL, H_OFF_LVL, H_OFF_KEYS, H_OFF_SLOTS, H_OFF_FREE, H_OFF_LFREE, H_OFF_HASH, H_OFF_OUT = range(9, 17)
H_CAP_OUT = 17
H_GROWABLE = 18  # 1: a full pool returns ST_GROW to Python; 0: ops that would rest are refused (BOOK_FULL)
H_LAST_PX, H_LAST_QTY, H_LAST_TS = 19, 20, 21
H_HSHIFT = 22  # 63 - log2(id index size): an entry's home index is ``entry >> H_HSHIFT``
H_OPS, H_FILLS, H_CANCELS, H_REJECTS, H_STP, H_VOLUME = 24, 25, 26, 27, 28, 29
LAYOUT_VERSION = 2
HASH_LOAD = 8  # id index entries per order slot (power of two): load <= 1/8 keeps probe chains ~1

P_ID, P_OWNER, P_SIDE, P_PRICE, P_QTY, P_PREV, P_NEXT, P_LVL = range(8)
L_PRICE, L_HEAD, L_TAIL, L_QTY, L_COUNT, L_SIDE = range(6)
O_TS, O_ID, O_OWNER, O_KIND, O_SIDE, O_PRICE, O_QTY, O_QUOTE, O_STP = range(9)
X_TS, X_ID, X_CONTRA, X_OWNER, X_COWNER, X_KIND, X_SIDE, X_PRICE, X_QTY, X_LEAVES, X_REASON, X_MAKER = range(
    12
)

ST_DONE, ST_GROW, ST_OUT = 0, 1, 2  # batch status: finished / pool full (grow) / report buffer full
_H1 = np.uint64(0x9E3779B97F4A7C15)
_SLOT_BITS = 24  # low bits of an id index entry: slot + 1 (MAX_ORDERS = 2**22 fits)
_SLOT_MASK = np.int64((1 << _SLOT_BITS) - 1)
_I64_MAX = np.int64(0x7FFFFFFFFFFFFFFF)


class St(NamedTuple):
    """Views into one state array ``S`` (built per kernel call; see the module docstring)."""

    h: np.ndarray
    pool: np.ndarray
    lvl: np.ndarray
    keys: np.ndarray
    slots: np.ndarray
    free: np.ndarray
    lfree: np.ndarray
    hx: np.ndarray


def layout(cap: int, cap_out: int) -> tuple[int, dict[int, int]]:
    """Total length and header offsets of a state array holding ``cap`` orders and ``cap_out`` reports."""
    hsize = 1 << max(4, (HASH_LOAD * cap - 1).bit_length())
    off = {}
    pos = H_SIZE
    for key, n in (
        (H_OFF_POOL, cap * 8),
        (H_OFF_LVL, cap * 8),
        (H_OFF_KEYS, 2 * cap),
        (H_OFF_SLOTS, 2 * cap),
        (H_OFF_FREE, cap),
        (H_OFF_LFREE, cap),
        (H_OFF_HASH, hsize),
        (H_OFF_OUT, cap_out * EXEC_FIELDS),
    ):
        off[key] = pos
        pos += (n + 7) & ~7  # every region starts on a 64-byte line (8 words): one pool/level row, one line
    off[H_HMASK] = hsize - 1
    off[H_HSHIFT] = 64 - hsize.bit_length()
    return pos, off


def allocate(cap: int, cap_out: int, growable: bool) -> np.ndarray:
    """An empty book state for ``cap`` resting orders (``cap >= 1``) and ``cap_out`` single-op reports."""
    total, off = layout(cap, cap_out)
    buf = np.zeros(total + 8, np.int64)
    skip = (-(buf.ctypes.data // 8)) % 8  # start S on a 64-byte boundary (large allocations are 16-aligned)
    S = buf[skip : skip + total]
    S[H_VERSION] = LAYOUT_VERSION
    S[H_CAP] = cap
    S[H_CAP_OUT] = cap_out
    for k, v in off.items():
        S[k] = v
    S[H_NFREE] = cap
    S[H_NLFREE] = cap
    S[H_GROWABLE] = 1 if growable else 0
    pool = S[off[H_OFF_POOL] : off[H_OFF_POOL] + cap * 8].reshape(cap, 8)
    pool[:, P_LVL] = -1
    S[off[H_OFF_FREE] : off[H_OFF_FREE] + cap] = np.arange(cap - 1, -1, -1)
    S[off[H_OFF_LFREE] : off[H_OFF_LFREE] + cap] = np.arange(cap - 1, -1, -1)
    return S


@njit(cache=True, _nrt=False, inline="always")
def views(S):
    """The book's regions as views of the one state array ``S`` (header, pools, level keys/slots, free
    stacks, id hash); no copy, no allocation.
    """
    cap = S[H_CAP]
    o = S[H_OFF_POOL]
    pool = S[o : o + cap * 8].reshape((cap, 8))
    o = S[H_OFF_LVL]
    lvl = S[o : o + cap * 8].reshape((cap, 8))
    o = S[H_OFF_KEYS]
    keys = S[o : o + 2 * cap].reshape((2, cap))
    o = S[H_OFF_SLOTS]
    slots = S[o : o + 2 * cap].reshape((2, cap))
    o = S[H_OFF_FREE]
    free = S[o : o + cap]
    o = S[H_OFF_LFREE]
    lfree = S[o : o + cap]
    o = S[H_OFF_HASH]
    hx = S[o : o + S[H_HMASK] + 1]
    return St(S[:H_SIZE], pool, lvl, keys, slots, free, lfree, hx)


@njit(cache=True, _nrt=False, inline="always")
def out_view(S):
    """The single-op report area of ``S`` as a ``(cap_out, EXEC_FIELDS)`` view."""
    o = S[H_OFF_OUT]
    n = S[H_CAP_OUT]
    return S[o : o + n * EXEC_FIELDS].reshape((n, EXEC_FIELDS))


# ---- id index ----------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def _tag(oid):
    """39-bit hash tag of an order id (id bits as int64); its top bits are the home index."""
    x = np.uint64(oid)
    x ^= x >> np.uint64(32)
    return np.int64((x * _H1) >> np.uint64(25))


@njit(cache=True, _nrt=False, inline="always")
def _h_slot(st, oid):
    """Index in ``hx`` of order ``oid``, or of the empty entry that ends its probe chain (where it would go)."""
    mask = st.h[H_HMASK]
    t = _tag(oid)
    j = t >> (st.h[H_HSHIFT] - _SLOT_BITS)
    while True:
        e = st.hx[j]
        if e == 0:
            return j
        if (e >> _SLOT_BITS) == t and st.pool[(e & _SLOT_MASK) - 1, P_ID] == oid:
            return j
        j = (j + 1) & mask


@njit(cache=True, _nrt=False, inline="always")
def _h_get(st, j):
    """Pool slot held by id index entry ``j``, -1 if the entry is empty."""
    return (st.hx[j] & _SLOT_MASK) - 1


@njit(cache=True, _nrt=False, inline="always")
def lookup(st, oid):
    """Pool slot of resting order ``oid`` (id bits as int64), or -1."""
    return _h_get(st, _h_slot(st, oid))


@njit(cache=True, _nrt=False, inline="always")
def _h_insert_at(st, j, oid, slot):
    st.hx[j] = (_tag(oid) << _SLOT_BITS) | (slot + 1)


@njit(cache=True, _nrt=False, inline="always")
def _h_delete_at(st, i):
    """Empty ``hx[i]``; backward-shift deletion keeps every probe chain unbroken (no tombstones)."""
    mask = st.h[H_HMASK]
    shift = st.h[H_HSHIFT]
    j = i
    while True:
        j = (j + 1) & mask
        e = st.hx[j]
        if e == 0:
            break
        k = e >> shift
        if i <= j:
            stays = i < k <= j
        else:
            stays = k > i or k <= j
        if stays:
            continue
        st.hx[i] = e
        i = j
    st.hx[i] = 0


# ---- levels ------------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def _pos(st, si, key):
    """First index of side ``si`` whose key is >= ``key`` (lower bound): a short scan down from the top (where
    nearly all activity is), then a binary search."""
    n = st.h[H_NLVL + si]
    if n == 0 or st.keys[si, n - 1] < key:
        return n
    j = n - 1
    stop = n - 8 if n > 8 else 0
    while j > stop and st.keys[si, j - 1] >= key:
        j -= 1
    if j > stop or j == 0 or st.keys[si, j - 1] < key:
        return j
    lo = np.int64(0)
    hi = j - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if st.keys[si, mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, _nrt=False, inline="always")
def _level(st, si, price):
    """Level slot of ``price`` on side ``si``, created (empty) if absent. A free level slot must exist."""
    key = price if si == 0 else -price
    n = st.h[H_NLVL + si]
    p = _pos(st, si, key)
    if p < n and st.keys[si, p] == key:
        return st.slots[si, p]
    st.h[H_NLFREE] -= 1
    ls = st.lfree[st.h[H_NLFREE]]
    for i in range(n, p, -1):
        st.keys[si, i] = st.keys[si, i - 1]
        st.slots[si, i] = st.slots[si, i - 1]
    st.keys[si, p] = key
    st.slots[si, p] = ls
    st.h[H_NLVL + si] = n + 1
    st.lvl[ls, L_PRICE] = price
    st.lvl[ls, L_HEAD] = -1
    st.lvl[ls, L_TAIL] = -1
    st.lvl[ls, L_QTY] = 0
    st.lvl[ls, L_COUNT] = 0
    st.lvl[ls, L_SIDE] = 1 if si == 0 else -1
    return ls


@njit(cache=True, _nrt=False, inline="always")
def _drop_level(st, si, ls):
    price = st.lvl[ls, L_PRICE]
    key = price if si == 0 else -price
    n = st.h[H_NLVL + si]
    p = _pos(st, si, key)
    for i in range(p, n - 1):
        st.keys[si, i] = st.keys[si, i + 1]
        st.slots[si, i] = st.slots[si, i + 1]
    st.h[H_NLVL + si] = n - 1
    st.lfree[st.h[H_NLFREE]] = ls
    st.h[H_NLFREE] += 1


@njit(cache=True, _nrt=False, inline="always")
def _append(st, slot, ls):
    tail = st.lvl[ls, L_TAIL]
    st.pool[slot, P_PREV] = tail
    st.pool[slot, P_NEXT] = -1
    if tail == -1:
        st.lvl[ls, L_HEAD] = slot
    else:
        st.pool[tail, P_NEXT] = slot
    st.lvl[ls, L_TAIL] = slot
    st.lvl[ls, L_QTY] += st.pool[slot, P_QTY]
    st.lvl[ls, L_COUNT] += 1
    st.pool[slot, P_LVL] = ls


@njit(cache=True, _nrt=False, inline="always")
def _detach(st, slot):
    """Take ``slot`` out of its level's FIFO (level totals adjusted; the level may be left empty)."""
    ls = st.pool[slot, P_LVL]
    prv = st.pool[slot, P_PREV]
    nxt = st.pool[slot, P_NEXT]
    if prv == -1:
        st.lvl[ls, L_HEAD] = nxt
    else:
        st.pool[prv, P_NEXT] = nxt
    if nxt == -1:
        st.lvl[ls, L_TAIL] = prv
    else:
        st.pool[nxt, P_PREV] = prv
    st.lvl[ls, L_QTY] -= st.pool[slot, P_QTY]
    st.lvl[ls, L_COUNT] -= 1
    return ls


@njit(cache=True, _nrt=False, inline="always")
def _rest_at(st, j, oid, owner, side, price, qty):
    """Rest a new order at the tail of its level; ``j`` = ``_h_slot(st, oid)`` (an empty entry) and a free
    order slot must exist."""
    si = 0 if side > 0 else 1
    st.h[H_NFREE] -= 1
    s = st.free[st.h[H_NFREE]]
    st.pool[s, P_ID] = oid
    st.pool[s, P_OWNER] = owner
    st.pool[s, P_SIDE] = side
    st.pool[s, P_PRICE] = price
    st.pool[s, P_QTY] = qty
    _append(st, s, _level(st, si, price))
    _h_insert_at(st, j, oid, s)
    st.h[H_NORD + si] += 1


@njit(cache=True, _nrt=False, inline="always")
def _rest(st, oid, owner, side, price, qty):
    """Rest a new order at the tail of its level (a free order slot must exist, ``oid`` must not rest)."""
    _rest_at(st, _h_slot(st, oid), oid, owner, side, price, qty)


@njit(cache=True, _nrt=False, inline="always")
def _remove_at(st, slot, j):
    """Remove the resting order in ``slot`` (id index entry ``j``) from its level (dropping an emptied level),
    the id index and the pool."""
    si = 0 if st.pool[slot, P_SIDE] > 0 else 1
    ls = _detach(st, slot)
    if st.lvl[ls, L_COUNT] == 0:
        _drop_level(st, si, ls)
    _h_delete_at(st, j)
    st.pool[slot, P_LVL] = -1
    st.free[st.h[H_NFREE]] = slot
    st.h[H_NFREE] += 1
    st.h[H_NORD + si] -= 1


@njit(cache=True, _nrt=False, inline="always")
def _remove(st, slot):
    """Remove a resting order (see :func:`_remove_at`)."""
    _remove_at(st, slot, _h_slot(st, st.pool[slot, P_ID]))


@njit(cache=True, _nrt=False, inline="always")
def _shrink(st, slot, by):
    """Take ``by`` (< leaves) shares off a resting order, keeping its queue position."""
    st.pool[slot, P_QTY] -= by
    st.lvl[st.pool[slot, P_LVL], L_QTY] -= by


@njit(cache=True, _nrt=False, inline="always")
def _to_tail(st, slot, qty):
    """Set a resting order's size to ``qty`` and move it to the tail of its level (it loses priority)."""
    ls = _detach(st, slot)
    st.pool[slot, P_QTY] = qty
    _append(st, slot, ls)


# ---- reports -----------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def _rep(out, n, ts, oid, contra, owner, cowner, kind, side, price, qty, leaves, reason, maker):
    out[n, X_TS] = ts
    out[n, X_ID] = oid
    out[n, X_CONTRA] = contra
    out[n, X_OWNER] = owner
    out[n, X_COWNER] = cowner
    out[n, X_KIND] = kind
    out[n, X_SIDE] = side
    out[n, X_PRICE] = price
    out[n, X_QTY] = qty
    out[n, X_LEAVES] = leaves
    out[n, X_REASON] = reason
    out[n, X_MAKER] = maker
    return n + 1


@njit(cache=True, _nrt=False, inline="always")
def _reject(st, out, n, ts, oid, owner, side, price, qty, reason):
    st.h[H_REJECTS] += 1
    return _rep(out, n, ts, oid, 0, owner, 0, EXEC_REJECTED, side, price, qty, 0, reason, 0)


@njit(cache=True, _nrt=False, inline="always")
def _crosses(side, px, lim):
    return px <= lim if side > 0 else px >= lim
