"""Deterministic client order ids derived from the journal index.

An order batch is journaled *before* it is sent; each order's id is a function of the shard, the index of
the entry that holds it and its slot in the batch. After a crash, replay of that entry yields the same ids,
so a resent order carries the same ClOrdID and the venue (or our own order table) recognises it as the same
order instead of a new one.

Layout of the id (a uint64 that fits int64: bit 63 is 0)::

    bits 62..55  shard  (0..255)
    bits 54..12  index  (journal index, 1 .. 2**43 - 1 ≈ 8.8e12)
    bits 11..0   slot   (position of the order in its entry, 0..4095)

The ClOrdID on the wire (FIX tag 11) is the id in decimal, as :mod:`cns.fix.orders` sends ``order_id``;
:func:`clordid_for` returns that string, :func:`parse_clordid` inverts it. An id is unique per (shard,
index, slot) and increases with the index within a shard.
"""

from __future__ import annotations

import numpy as np

from cns.journal.errors import JournalError

__all__ = [
    "MAX_INDEX",
    "MAX_SHARD",
    "MAX_SLOT",
    "clordid_for",
    "order_id_for",
    "order_ids_for",
    "parse_clordid",
]

SHARD_BITS = 8
INDEX_BITS = 43
SLOT_BITS = 12
MAX_SHARD = (1 << SHARD_BITS) - 1
MAX_INDEX = (1 << INDEX_BITS) - 1
MAX_SLOT = (1 << SLOT_BITS) - 1


def _check(shard: int, index: int, slot: int) -> None:
    if not 0 <= shard <= MAX_SHARD:
        raise JournalError(f"shard must be in 0..{MAX_SHARD}, got {shard}")
    if not 1 <= index <= MAX_INDEX:
        raise JournalError(f"journal index must be in 1..{MAX_INDEX}, got {index}")
    if not 0 <= slot <= MAX_SLOT:
        raise JournalError(f"slot must be in 0..{MAX_SLOT}, got {slot}")


def order_id_for(shard: int, index: int, slot: int = 0) -> int:
    """The order id (int, < 2**63) of order ``slot`` of journal entry ``index`` on ``shard``. Raises
    :class:`JournalError` for a value outside its field."""
    _check(shard, index, slot)
    return (shard << (INDEX_BITS + SLOT_BITS)) | (index << SLOT_BITS) | slot


def clordid_for(shard: int, index: int, slot: int = 0) -> str:
    """The ClOrdID (decimal string of :func:`order_id_for`) of order ``slot`` of entry ``index`` on
    ``shard``: the same arguments always give the same string."""
    return str(order_id_for(shard, index, slot))


def order_ids_for(shard: int, index: int, n: int) -> np.ndarray:
    """Ids of slots ``0..n-1`` of entry ``index`` (uint64 array, for ``ORDER_DTYPE['order_id']`` before the
    batch is appended at ``JournalWriter.next_index``)."""
    if n < 0 or n > MAX_SLOT + 1:
        raise JournalError(f"an entry holds at most {MAX_SLOT + 1} orders, got {n}")
    base = order_id_for(shard, index, 0)
    return np.uint64(base) + np.arange(n, dtype=np.uint64)


def parse_clordid(clordid: str | bytes) -> tuple[int, int, int]:
    """``(shard, index, slot)`` of a ClOrdID made by :func:`clordid_for`; :class:`JournalError` when it is
    not one (not decimal, bit 63 set, index 0)."""
    s = clordid.decode("ascii", "replace") if isinstance(clordid, bytes) else clordid
    if not s.isdigit() or len(s) > 19:
        raise JournalError(f"not a journal ClOrdID: {s!r}")
    v = int(s)
    if v >> 63:
        raise JournalError(f"not a journal ClOrdID: {s!r}")
    shard, index, slot = v >> (INDEX_BITS + SLOT_BITS), (v >> SLOT_BITS) & MAX_INDEX, v & MAX_SLOT
    if index == 0:
        raise JournalError(f"not a journal ClOrdID (index 0): {s!r}")
    return shard, index, slot
