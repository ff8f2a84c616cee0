"""The L3 book's id index (tagged open addressing) under colliding ids, the book-only batch mode and
:meth:`L3Book.process_into`."""

from __future__ import annotations

import numpy as np
import pytest

from cns.bench.book import op_mix, tiled_lobster
from cns.market.lobster import LOBSTER_TICK, lobster_passive_ops
from cns.venue.errors import OrderBatchError
from cns.venue.l3book import L3Book, make_ops
from cns.venue.l3book_dtypes import L3_EXEC_DTYPE, OP_ADD, OP_DELETE, OP_EXEC


def _adds(ids: np.ndarray) -> np.ndarray:
    ops = make_ops(ids.size)
    ops["kind"] = OP_ADD
    ops["order_id"] = ids
    ops["side"] = np.where(np.arange(ids.size) % 2 == 0, 1, -1)
    ops["price"] = np.where(
        ops["side"] == 1, 1000 - np.arange(ids.size) % 50, 1100 + np.arange(ids.size) % 50
    )
    ops["qty"] = 1 + np.arange(ids.size) % 7
    return ops


def test_index_survives_ids_sharing_low_or_high_bits() -> None:
    rng = np.random.default_rng(7)
    ids = np.concatenate(
        [
            np.arange(1, 1501, dtype=np.uint64) << np.uint64(40),  # only high bits differ
            np.arange(1, 1501, dtype=np.uint64) << np.uint64(12),  # only middle bits differ
            np.uint64(2**64 - 1) - np.arange(1500, dtype=np.uint64),  # top of the id range
            rng.integers(1, 2**63, 1500, dtype=np.uint64),
        ]
    )
    ids = np.unique(ids)
    book = L3Book(capacity=64)  # grows (and rebuilds the index) several times
    assert len(book.process(_adds(ids))) == 0  # adds write no report
    assert book.n_orders == ids.size and book.check() == 0
    for oid in ids[::97]:
        assert book.order(int(oid)) is not None
    # delete every other id (backward-shift deletion over long runs), execute a few, re-add some
    gone = ids[::2]
    dels = make_ops(gone.size)
    dels["kind"] = OP_DELETE
    dels["order_id"] = gone
    assert len(book.process(dels)) == 0
    assert book.n_orders == ids.size - gone.size and book.check() == 0
    assert all(book.order(int(o)) is None for o in gone[::53])
    left = ids[1::2]
    ex = make_ops(left.size)
    ex["kind"] = OP_EXEC
    ex["order_id"] = left
    ex["qty"] = 1
    rep = book.process(ex)
    assert len(rep) == left.size and book.check() == 0
    book.process(_adds(gone[:500]))
    assert book.check() == 0 and book.order(int(gone[0])) is not None


def test_book_only_mode_keeps_the_same_book() -> None:
    msgs, _ = tiled_lobster(3)
    feeds = (lobster_passive_ops(msgs), op_mix(30_000, seed=4))
    for ops in feeds:
        a, b = L3Book(LOBSTER_TICK, capacity=256), L3Book(LOBSTER_TICK, capacity=256)
        ra = np.concatenate([a.process(ops[s : s + 7_000]) for s in range(0, ops.size, 7_000)])
        rb = [b.process(ops[s : s + 7_000], reports=False) for s in range(0, ops.size, 7_000)]
        assert len(ra) > 0 and all(len(r) == 0 for r in rb)
        assert a.stats() == b.stats() and a.check() == 0 and b.check() == 0
        assert np.array_equal(a.snapshot(), b.snapshot())


def test_process_into_a_reused_buffer_matches_process() -> None:
    ops = op_mix(20_000, seed=5)
    ref = L3Book().process(ops)
    book = L3Book(capacity=64)
    out = np.zeros(12_000, L3_EXEC_DTYPE)  # > 4 + 2 x resting orders: the room an STP order may need
    got, rest, calls = [], ops, 0
    while rest.size:
        applied, n = book.process_into(rest, out)
        assert applied > 0 or n > 0
        got.append(out[:n].copy())
        calls += 1
        rest = rest[applied:]
    assert calls > 1 and np.array_equal(np.concatenate(got), ref) and book.check() == 0
    with pytest.raises(OrderBatchError):
        book.process_into(ops[:1], np.zeros(1, L3_EXEC_DTYPE))  # not even one op fits
    with pytest.raises(OrderBatchError):
        book.process_into(ops[:1], np.zeros((4, 2), L3_EXEC_DTYPE))
    with pytest.raises(OrderBatchError):
        book.process_into(ops[:1], np.zeros(8, np.int64))
    assert book.process_into(ops[:0], out) == (0, 0)


def test_kernel_cache_digest_covers_every_helper_module() -> None:
    from cns.venue.l3book_store import _dependencies

    names = {p.name for p in _dependencies()}
    want = {"l3book_dtypes.py", "l3book_store.py", "l3book_match.py", "l3book_kernels.py", "l3book_query.py"}
    assert want <= names and "l3book.py" not in names
