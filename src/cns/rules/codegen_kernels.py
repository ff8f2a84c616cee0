"""Helpers the generated rule kernels call (inlined by Numba): table lookups and digest tests."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["lookup", "codes_lookup", "any_nonzero", "hex_ok", "UNKNOWN_CODE_VIOLATION"]

UNKNOWN_CODE_VIOLATION = 0xFFFF


@njit(cache=True)
def lookup(luts: np.ndarray, off: int, n: int, code: int) -> int:
    """``luts[off + code]`` of the table at ``off`` (length ``n``), or :data:`UNKNOWN_CODE_VIOLATION` for a
    code outside the table."""
    if code >= n:
        return UNKNOWN_CODE_VIOLATION
    return int(luts[off + code])


@njit(cache=True)
def any_nonzero(digest: np.ndarray) -> bool:
    """True unless every byte is zero (an all-zero digest means "absent")."""
    acc = 0
    for b in range(digest.shape[0]):
        acc |= digest[b]
    return acc != 0


@njit(cache=True)
def hex_ok(digest: np.ndarray, allowed_nibbles: int) -> bool:
    """True if every hex digit of ``digest`` is in the bit set ``allowed_nibbles`` (bit i = hex digit i)."""
    for b in range(digest.shape[0]):
        v = digest[b]
        if not (allowed_nibbles >> (v >> 4)) & 1 or not (allowed_nibbles >> (v & 15)) & 1:
            return False
    return True


@njit(cache=True)
def codes_lookup(luts: np.ndarray, off: int, n: int, codes: np.ndarray, count: int) -> int:
    """First non-zero :func:`lookup` over ``codes[:count]`` (count clipped to the array), else 0."""
    for j in range(min(count, codes.shape[0])):
        t = lookup(luts, off, n, codes[j])
        if t != 0:
            return t
    return 0
