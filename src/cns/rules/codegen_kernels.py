"""Helpers the generated rule kernels call (inlined by Numba): table lookups, digest tests and the record
prefetch of the tick loop."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "lookup",
    "codes_lookup",
    "codes_any",
    "any_nonzero",
    "hex_ok",
    "prefetch",
    "UNKNOWN_CODE_VIOLATION",
]

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
    """First non-zero :func:`lookup` over ``codes[:count]`` (count clipped to the array), else 0.

    Branch-free: every entry of the (fixed, small) array is looked up and the ones at or past ``count`` are
    masked, so a record's ticker count does not cost a mispredicted loop exit."""
    out = 0
    for j in range(codes.shape[0]):
        c = codes[j]
        t = int(luts[off + c]) if c < n else UNKNOWN_CODE_VIOLATION
        t = t if j < count else 0
        out = out if out != 0 else t
    return out


@njit(cache=True)
def codes_any(luts: np.ndarray, off: int, n: int, codes: np.ndarray, count: int) -> bool:
    """True when :func:`codes_lookup` is non-zero (some code in ``codes[:count]`` fails its table): the test
    of the check, computed without a branch per code (each table read is clamped into the table, an unknown
    code counts as failing); only a failing record then pays for :func:`codes_lookup`."""
    acc = np.uint32(0)
    base = np.uint64(off)
    last = np.uint64(max(n - 1, 0))
    nn = np.uint64(max(n, 0))
    for j in range(codes.shape[0]):
        c = np.uint64(codes[j])
        t = np.uint32(luts[base + min(c, last)])  # unsigned index: no wrap-around test
        t = np.uint32(UNKNOWN_CODE_VIOLATION) if c >= nn else t
        acc |= t if j < count else np.uint32(0)
    return bool(acc != 0)


@intrinsic
def prefetch(typingctx, arr, idx, off):  # type: ignore[no-untyped-def]
    """Hint the cache line holding byte ``off`` of element ``idx`` of the 1-D C array ``arr`` into the caches
    (``llvm.prefetch``, read, high locality: ``prefetcht0`` on x86-64). A hint only: it never faults and never
    changes a result, so callers need not bound the address (they pass in-bounds indices anyway)."""
    if (
        not isinstance(arr, types.Array)
        or not isinstance(idx, types.Integer)
        or not isinstance(off, types.Integer)
    ):
        return None
    sig = types.void(arr, idx, off)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i64 = ir.IntType(64)
        i32 = ir.IntType(32)
        item = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
        i = context.cast(builder, args[1], signature.args[1], types.int64)
        o = context.cast(builder, args[2], signature.args[2], types.int64)
        addr = builder.add(builder.ptrtoint(ary.data, i64), builder.add(builder.mul(i, i64(item)), o))
        ptrty = ir.PointerType()
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ptrty, i32, i32, i32]), "llvm.prefetch.p0"
        )
        builder.call(fn, [builder.inttoptr(addr, ptrty), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen
