"""Numba kernel of the news generator: assembles headline bytes ``prefix + ticker + suffix`` into one blob."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def assemble_headlines(tmpl: np.ndarray, tick: np.ndarray, pre_off: np.ndarray, pre_len: np.ndarray,
                       suf_off: np.ndarray, suf_len: np.ndarray, pieces: np.ndarray, tk_off: np.ndarray,
                       tk_len: np.ndarray, tk_blob: np.ndarray, out_off: np.ndarray, blob: np.ndarray) -> None:
    """Write headline ``i`` = piece ``pre[tmpl[i]]`` + ticker ``tick[i]`` + piece ``suf[tmpl[i]]`` at
    ``blob[out_off[i]:]``. Template -1 means "no headline" (zero bytes)."""
    for i in range(len(tmpl)):
        t = tmpl[i]
        if t < 0:
            continue
        p = out_off[i]
        for k in range(pre_len[t]):
            blob[p] = pieces[pre_off[t] + k]
            p += 1
        c = tick[i]
        for k in range(tk_len[c]):
            blob[p] = tk_blob[tk_off[c] + k]
            p += 1
        for k in range(suf_len[t]):
            blob[p] = pieces[suf_off[t] + k]
            p += 1
