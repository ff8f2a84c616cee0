# mypy: disable-error-code="no-untyped-def"
"""Numba kernels of the worked example (:mod:`cns.journal.example`): an open-order table (open addressing,
linear probing, backward-shift deletion) and the apply loop over a :class:`~cns.journal.reader.ReplayChunk`."""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.journal.dtypes import TYPE_CANCEL, TYPE_EXEC, TYPE_ORDER
from cns.venue.dtypes import EXEC_CANCELED, EXEC_EXPIRED, EXEC_FILL, EXEC_PARTIAL, EXEC_REJECTED

E_OK = 0
E_FULL = 1  # the open-order table is full
E_INSTRUMENT = 2  # instrument code outside the position arrays


@njit(cache=True, inline="always")
def _slot(oid, cap):
    x = oid * np.uint64(0x9E3779B97F4A7C15)
    return np.int64(x >> np.uint64(40)) & (cap - 1)


@njit(cache=True)
def find(keys, oid):
    """Slot of ``oid`` in the table, -1 when absent."""
    cap = keys.shape[0]
    i = _slot(oid, cap)
    for _ in range(cap):
        k = keys[i]
        if k == oid:
            return i
        if k == 0:
            return -1
        i = (i + 1) & (cap - 1)
    return -1


@njit(cache=True)
def _insert(keys, oid):
    cap = keys.shape[0]
    i = _slot(oid, cap)
    for _ in range(cap):
        k = keys[i]
        if k == 0 or k == oid:
            keys[i] = oid
            return i
        i = (i + 1) & (cap - 1)
    return -1


@njit(cache=True)
def _remove(keys, leaves, side, instr, pend, i):
    cap = keys.shape[0]
    keys[i] = 0
    j = i
    while True:
        j = (j + 1) & (cap - 1)
        if keys[j] == 0:
            return
        h = _slot(keys[j], cap)
        # move j back to i when its home slot h is not cyclically in (i, j]
        if (j > i and (h <= i or h > j)) or (j < i and (h <= i and h > j)):
            keys[i] = keys[j]
            leaves[i] = leaves[j]
            side[i] = side[j]
            instr[i] = instr[j]
            pend[i] = pend[j]
            keys[j] = 0
            i = j


@njit(cache=True)
def apply_entries(
    entries, orders, cancels, execs, keys, leaves, side, instr, pend, position, cash, fees, meta
):
    """Apply entries in journal order. ``meta``: int64[3] = (last index applied, entries applied, error)."""
    n_instr = position.shape[0]
    for e in range(entries.shape[0]):
        t = entries[e].type
        s = np.int64(entries[e].rec_start)
        c = np.int64(entries[e].count)
        if t == TYPE_ORDER:
            for r in range(s, s + c):
                i = _insert(keys, orders[r].order_id)
                if i < 0:
                    meta[2] = E_FULL
                    return
                leaves[i] = orders[r].qty
                side[i] = orders[r].side
                instr[i] = orders[r].instrument
                pend[i] = 0
        elif t == TYPE_CANCEL:
            for r in range(s, s + c):
                i = find(keys, cancels[r].target_id)
                if i >= 0:
                    pend[i] = 1
        elif t == TYPE_EXEC:
            for r in range(s, s + c):
                x = execs[r]
                i = find(keys, x.order_id)
                k = x.kind
                if k == EXEC_FILL or k == EXEC_PARTIAL:
                    ins = np.int64(x.instrument)
                    if ins >= n_instr:
                        meta[2] = E_INSTRUMENT
                        return
                    position[ins] += x.side * x.qty
                    cash[ins] -= x.side * x.qty * x.price + x.fee
                    fees[ins] += x.fee
                    if i >= 0:
                        leaves[i] = x.leaves
                        if x.leaves == 0:
                            _remove(keys, leaves, side, instr, pend, i)
                elif (k == EXEC_CANCELED or k == EXEC_EXPIRED or k == EXEC_REJECTED) and i >= 0:
                    _remove(keys, leaves, side, instr, pend, i)
        meta[0] = np.int64(entries[e].index)
        meta[1] += 1
