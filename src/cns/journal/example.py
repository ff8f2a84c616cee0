"""Worked example of event sourcing on the journal: positions and open orders rebuilt from order, cancel and
execution-report entries, with snapshots.

State (:func:`initial_state`): ``position`` (int64 shares per instrument), ``cash`` and ``fees`` (float64 USD
per instrument), an open-order table keyed by order id (``keys``/``leaves``/``side``/``instrument``/
``cancel_pending``, power-of-two capacity) and ``meta`` = (last index applied, entries applied, error code).
:func:`apply` is the caller-supplied function :func:`cns.journal.snapshot.recover` takes: one Numba call per
chunk walks the entries in journal order (:func:`cns.journal.example_kernels.apply_entries`).

:func:`write_session` journals a seeded trading session (orders with ids from
:func:`cns.journal.clordid.order_ids_for`, cancels, acks, partial and full fills, cancel confirmations);
``tests/journal/test_snapshot.py`` checks that recovery from a snapshot plus the tail equals a full replay.
"""

from __future__ import annotations

import numpy as np

from cns.journal import example_kernels as K
from cns.journal.clordid import order_ids_for
from cns.journal.dtypes import TYPE_CANCEL, TYPE_EXEC, TYPE_ORDER
from cns.journal.errors import JournalError
from cns.journal.reader import ReplayChunk
from cns.journal.snapshot import Snapshotter
from cns.journal.writer import JournalWriter
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_DTYPE,
    EXEC_FILL,
    EXEC_PARTIAL,
    ORDER_CANCEL,
    ORDER_DTYPE,
    ORDER_LIMIT,
)

__all__ = ["apply", "initial_state", "write_session"]

ERRORS = ("ok", "open-order table full", "instrument outside the position arrays")


def initial_state(n_instruments: int = 64, order_capacity: int = 1 << 16) -> dict[str, np.ndarray]:
    """Flat positions, no open orders. ``order_capacity`` is rounded up to a power of two."""
    cap = 1 << max(4, (order_capacity - 1).bit_length())
    return {
        "position": np.zeros(n_instruments, np.int64),
        "cash": np.zeros(n_instruments, np.float64),
        "fees": np.zeros(n_instruments, np.float64),
        "keys": np.zeros(cap, np.uint64),
        "leaves": np.zeros(cap, np.int64),
        "side": np.zeros(cap, np.int8),
        "instrument": np.zeros(cap, np.uint32),
        "cancel_pending": np.zeros(cap, np.int8),
        "meta": np.zeros(3, np.int64),
    }


def apply(state: dict[str, np.ndarray], chunk: ReplayChunk) -> None:
    """Apply one chunk (orders, cancels, exec reports; other types are skipped). Raises
    :class:`JournalError` when the kernel stops (table full, instrument out of range)."""
    s = state
    K.apply_entries(
        chunk.entries,
        chunk.records(TYPE_ORDER, scratch=True),
        chunk.records(TYPE_CANCEL, scratch=True),
        chunk.records(TYPE_EXEC, scratch=True),
        s["keys"],
        s["leaves"],
        s["side"],
        s["instrument"],
        s["cancel_pending"],
        s["position"],
        s["cash"],
        s["fees"],
        s["meta"],
    )
    if s["meta"][2]:
        raise JournalError(f"example apply stopped: {ERRORS[int(s['meta'][2])]}")


def open_orders(state: dict[str, np.ndarray]) -> dict[int, int]:
    """``{order_id: leaves}`` of the open orders (Python-side, for tests and printing)."""
    k = state["keys"]
    m = k != 0
    return dict(zip(k[m].tolist(), state["leaves"][m].tolist(), strict=True))


def write_session(
    writer: JournalWriter,
    n_orders: int,
    *,
    seed: int = 1,
    shard: int = 0,
    n_instruments: int = 16,
    batch: int = 8,
    snapshotter: Snapshotter | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> int:
    """Journal ``n_orders`` orders in batches of ``batch`` with their acks, fills and some cancels (seeded).
    When ``snapshotter`` and ``state`` are given, ``state`` is kept current (the chunk just written is applied)
    and snapshotted every ``snapshotter.every`` entries, as a live service would. Returns the last index."""
    from cns.journal.reader import JournalReader

    rng = np.random.default_rng(seed)
    reader = (
        JournalReader(writer.directory, writer.registry, start=writer.next_index)
        if state is not None
        else None
    )
    live: list[np.ndarray] = []
    sent = 0
    while sent < n_orders:
        n = min(batch, n_orders - sent)
        o = np.zeros(n, ORDER_DTYPE)
        o["order_id"] = order_ids_for(shard, writer.next_index, n)
        o["instrument"] = rng.integers(0, n_instruments, n)
        o["side"] = np.where(rng.random(n) < 0.5, 1, -1)
        o["type"] = ORDER_LIMIT
        o["qty"] = rng.integers(1, 10, n) * 100
        o["price"] = 100.0 + rng.integers(-50, 50, n) * 0.01
        writer.append(TYPE_ORDER, o)
        sent += n
        acks = np.zeros(n, EXEC_DTYPE)
        acks[["order_id", "instrument", "side"]] = o[["order_id", "instrument", "side"]]
        acks["kind"] = EXEC_ACK
        acks["leaves"] = o["qty"]
        writer.append(TYPE_EXEC, acks)
        live.append(o.copy())
        # fill part of an older batch, cancel some of another
        if len(live) > 2:
            old = live.pop(int(rng.integers(0, len(live) - 1)))
            f = np.zeros(len(old), EXEC_DTYPE)
            f[["order_id", "instrument", "side"]] = old[["order_id", "instrument", "side"]]
            part = rng.random(len(old)) < 0.4
            f["qty"] = np.where(part, old["qty"] // 2, old["qty"])
            f["leaves"] = old["qty"] - f["qty"]
            f["kind"] = np.where(part, EXEC_PARTIAL, EXEC_FILL)
            f["price"] = old["price"]
            f["fee"] = f["qty"] * 0.0005
            writer.append(TYPE_EXEC, f)
            rest = old[part]
            if len(rest):
                c = np.zeros(len(rest), ORDER_DTYPE)
                c["type"] = ORDER_CANCEL
                c["target_id"] = rest["order_id"]
                c["order_id"] = order_ids_for(shard, writer.next_index, len(rest))
                c["instrument"] = rest["instrument"]
                c["side"] = rest["side"]
                writer.append(TYPE_CANCEL, c)
                done = np.zeros(len(rest), EXEC_DTYPE)
                done[["order_id", "instrument", "side"]] = rest[["order_id", "instrument", "side"]]
                done["kind"] = EXEC_CANCELED
                writer.append(TYPE_EXEC, done)
        if reader is not None and state is not None:
            reader.replay(lambda ch: apply(state, ch))
            if snapshotter is not None:
                snapshotter.maybe(state, int(state["meta"][0]))
    if reader is not None:
        reader.close()
    return writer.last_index
