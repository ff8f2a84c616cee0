"""Numba kernels of the news generator: one pass that writes sorted NEWS_DTYPE records from unsorted
columns, and the headline assembler (``prefix + ticker + suffix`` into one blob)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def fill_records(out: np.ndarray, order: np.ndarray, epoch_ns: int, recv: np.ndarray, lat: np.ndarray,
                 event: np.ndarray, src: np.ndarray, dsrc: np.ndarray, tick: np.ndarray, kind: np.ndarray,
                 ev: np.ndarray, flags: np.ndarray, conf: np.ndarray, eps_act: np.ndarray, eps_exp: np.ndarray,
                 move: np.ndarray, rate: np.ndarray, hash_idx: np.ndarray, hashes: np.ndarray,
                 hl_off: np.ndarray, hl_len: np.ndarray) -> None:
    """``out[i]`` = item ``order[i]`` of the column arrays; ``hl_off``/``hl_len`` are already in output order.
    ``recv`` is relative to ``epoch_ns``; ``publish = receive - lat``; ``hash_idx`` < 0 means no hash."""
    for i in range(len(order)):
        j = order[i]
        o = out[i]
        o.id = i + 1
        o.receive_ns = epoch_ns + recv[j]
        o.publish_ns = epoch_ns + recv[j] - lat[j]
        o.event_ns = event[j]
        o.source = src[j]
        o.data_source = dsrc[j]
        t = tick[j]
        o.tickers[0] = t
        for k in range(1, 4):
            o.tickers[k] = 0
        o.n_tickers = 1 if t > 0 else 0
        o.kind = kind[j]
        o.evidence_type = ev[j]
        o.flags = flags[j]
        o.confidence = conf[j]
        o.eps_actual = eps_act[j]
        o.eps_expected = eps_exp[j]
        o.move_pct = move[j]
        o.rate = rate[j]
        o.sentiment = 0.0
        h = hash_idx[j]
        for k in range(32):
            o.evidence_hash[k] = hashes[h, k] if h >= 0 else 0
        o.headline_off = hl_off[i]
        o.headline_len = hl_len[i]


@njit(cache=True)
def assemble_headlines(order: np.ndarray, tmpl: np.ndarray, tick: np.ndarray, pre_off: np.ndarray,
                       pre_len: np.ndarray, suf_off: np.ndarray, suf_len: np.ndarray, pieces: np.ndarray,
                       tk_off: np.ndarray, tk_len: np.ndarray, tk_blob: np.ndarray, out_off: np.ndarray,
                       blob: np.ndarray) -> None:
    """Headline of output item ``i`` (input item ``order[i]``) = piece ``pre[t]`` + ticker + piece ``suf[t]``
    at ``blob[out_off[i]:]``, ``t = tmpl[order[i]]``; template -1 means "no headline" (zero bytes)."""
    for i in range(len(order)):
        j = order[i]
        t = tmpl[j]
        if t < 0:
            continue
        p = out_off[i]
        for k in range(pre_len[t]):
            blob[p] = pieces[pre_off[t] + k]
            p += 1
        c = tick[j]
        for k in range(tk_len[c]):
            blob[p] = tk_blob[tk_off[c] + k]
            p += 1
        for k in range(suf_len[t]):
            blob[p] = pieces[suf_off[t] + k]
            p += 1


@njit(cache=True)
def argsort_times(t: np.ndarray, span: int) -> np.ndarray:
    """Stable argsort of times ``0 <= t < span``: counting sort into ~1 bucket per item, then insertion sort
    inside each bucket. O(n) for the near-uniform times the generator draws; same result as a stable sort."""
    n = len(t)
    nb = max(n, 1)
    counts = np.zeros(nb + 1, np.int64)
    for i in range(n):
        counts[(t[i] * nb) // span + 1] += 1
    for b in range(nb):
        counts[b + 1] += counts[b]
    order = np.empty(n, np.int64)
    fill = counts[:-1].copy()
    for i in range(n):
        b = (t[i] * nb) // span
        order[fill[b]] = i
        fill[b] += 1
    for b in range(nb):
        lo = counts[b]
        hi = counts[b + 1]
        for k in range(lo + 1, hi):
            x = order[k]
            v = t[x]
            q = k - 1
            while q >= lo and t[order[q]] > v:
                order[q + 1] = order[q]
                q -= 1
            order[q + 1] = x
    return order
