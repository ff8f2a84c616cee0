"""Shared bits of the journal tests: a 64-byte record type whose content is a function of the entry index."""

from __future__ import annotations

import numpy as np

from cns.journal.dtypes import TypeRegistry

REC64 = np.dtype([("index", "<u8"), ("k", "<u8"), ("a", "<f8"), ("b", "<i8"), ("pad", "<u8", (4,))])
assert REC64.itemsize == 64
BLOBBY = np.dtype([("x", "<u4"), ("y", "<u4")])
T_REC = 1000
T_BLOB = 1001


def registry() -> TypeRegistry:
    reg = TypeRegistry()
    reg.register(T_REC, "rec64", REC64)
    reg.register(T_BLOB, "blobby", BLOBBY, blob=True)
    return reg


def batch_for(index: int, n: int) -> np.ndarray:
    """The records entry ``index`` holds (non-zero bytes almost everywhere)."""
    r = np.zeros(n, REC64)
    r["index"] = index
    r["k"] = np.arange(n, dtype=np.uint64) + 0x0101010101010101
    r["a"] = index * 0.5 + 1.25
    r["b"] = -index - 1
    r["pad"] = np.uint64(0xA5A5A5A5A5A5A5A5) ^ np.uint64(index)
    return r


def check_entry(e: object, n_of: object = None) -> None:
    idx = e.index  # type: ignore[attr-defined]
    recs = e.records  # type: ignore[attr-defined]
    want = batch_for(idx, len(recs))
    assert recs.tobytes() == want.tobytes(), f"entry {idx} content differs"
