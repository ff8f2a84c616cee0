"""SPSC rings: wrap-around, dtype checks, and a real second process over shared memory."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from cns.signals.dtypes import NEWS_DTYPE, empty_news
from cns.signals.errors import RingError
from cns.signals.ring import SharedRing, SpscRing

N_CROSS = 20_000


def _batch(start: int, n: int) -> np.ndarray:
    b = empty_news(n)
    b["id"] = np.arange(start, start + n, dtype=np.uint64)
    b["confidence"] = (b["id"] % 100) / 100.0
    b["evidence_hash"][:, 0] = (b["id"] & 0xFF).astype(np.uint8)
    return b


def test_spsc_wraps_and_preserves_order() -> None:
    ring = SpscRing(NEWS_DTYPE, 8)
    out = empty_news(8)
    got: list[np.ndarray] = []
    sent = 0
    for step in range(20):
        b = _batch(sent, 5)
        taken = ring.push(b)
        assert taken == min(5, 8 - (len(ring) - taken))
        sent += taken
        n = ring.pop(out[: 3 + step % 4])
        got.append(out[:n].copy())
    n = ring.pop(out)
    got.append(out[:n].copy())
    allrec = np.concatenate(got)
    assert len(allrec) == sent
    np.testing.assert_array_equal(allrec["id"], np.arange(sent, dtype=np.uint64))
    np.testing.assert_array_equal(allrec["evidence_hash"][:, 0], (allrec["id"] & 0xFF).astype(np.uint8))


def test_full_ring_takes_nothing_and_bad_use_raises() -> None:
    ring = SpscRing(NEWS_DTYPE, 4)
    assert ring.push(_batch(0, 10)) == 4
    assert ring.push(_batch(4, 1)) == 0 and ring.free() == 0
    with pytest.raises(RingError, match="dtype"):
        ring.push(np.zeros(2, dtype=np.int64))
    with pytest.raises(RingError, match="power of two"):
        SpscRing(NEWS_DTYPE, 6)


def _consumer(name: str, q: mp.Queue) -> None:
    ring = SharedRing.attach(name, NEWS_DTYPE)
    out = empty_news(512)
    ids = []
    while sum(len(x) for x in ids) < N_CROSS:
        n = ring.pop(out)
        if n:
            ids.append(out["id"][:n].copy())
    allids = np.concatenate(ids)
    ok = bool(np.array_equal(allids, np.arange(N_CROSS, dtype=np.uint64)))
    conf_ok = bool(np.allclose(out["confidence"][:n], (out["id"][:n] % 100) / 100.0))
    ring.close()
    q.put((ok, conf_ok, len(allids)))


def test_shared_ring_across_processes() -> None:
    ring = SharedRing.create(NEWS_DTYPE, 1024)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_consumer, args=(ring.name, q))
    p.start()
    try:
        sent = 0
        while sent < N_CROSS:
            b = _batch(sent, min(300, N_CROSS - sent))
            sent += ring.push(b)
        ok, conf_ok, n = q.get(timeout=60)
        p.join(timeout=30)
        assert (ok, conf_ok, n) == (True, True, N_CROSS)
        assert p.exitcode == 0
    finally:
        if p.is_alive():
            p.kill()
        ring.close()


def test_attach_checks_dtype() -> None:
    ring = SharedRing.create(NEWS_DTYPE, 16)
    try:
        with pytest.raises(RingError, match="dtype mismatch"):
            SharedRing.attach(ring.name, np.dtype([("x", np.int64)]))
        with pytest.raises(RingError, match="no shared ring"):
            SharedRing.attach("cns-no-such-ring-xyz", NEWS_DTYPE)
    finally:
        ring.close()
