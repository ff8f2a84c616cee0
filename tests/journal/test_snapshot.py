"""Snapshots and recovery on the worked example; deterministic ClOrdIDs; the market-data layout copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cns.journal import JournalReader, JournalWriter
from cns.journal.clordid import MAX_INDEX, clordid_for, order_id_for, order_ids_for, parse_clordid
from cns.journal.dtypes import MARKET_DATA_DTYPE, TYPE_ORDER, same_layout
from cns.journal.errors import JournalError, SnapshotError
from cns.journal.example import apply, initial_state, open_orders, write_session
from cns.journal.snapshot import Snapshot, SnapshotStore, Snapshotter, recover

pytestmark = pytest.mark.timeout(120)


def _session(tmp_path: Path, n: int = 3000, every: int = 97) -> tuple[dict[str, np.ndarray], SnapshotStore]:
    st = initial_state()
    store = SnapshotStore(tmp_path / "snap", retain=3)
    with JournalWriter(tmp_path / "j") as w:
        write_session(w, n, state=st, snapshotter=Snapshotter(store, every), seed=5)
    return st, store


def test_recovery_from_snapshot_plus_tail_equals_full_replay(tmp_path: Path) -> None:
    live, store = _session(tmp_path)
    assert len(store.paths()) == 3
    full = recover(tmp_path / "j", None, initial_state, apply)
    assert full.snapshot is None and full.replayed == full.index
    part = recover(tmp_path / "j", store, initial_state, apply)
    assert part.snapshot is not None and part.replayed == full.index - part.snapshot.index
    assert part.replayed < full.replayed
    for k in full.state:
        assert np.array_equal(full.state[k], part.state[k]), k
        assert np.array_equal(full.state[k], live[k]), k
    assert open_orders(full.state) == open_orders(live)
    assert int(full.state["meta"][0]) == full.index


def test_corrupt_or_ahead_snapshots_are_skipped(tmp_path: Path) -> None:
    _live, store = _session(tmp_path, n=1500, every=50)
    paths = store.paths()
    newest = paths[-1][1]
    raw = bytearray(newest.read_bytes())
    raw[-1] ^= 1
    newest.write_bytes(bytes(raw))
    ahead = store.write(initial_state(), 10**9)  # reflects entries the journal does not hold
    full = recover(tmp_path / "j", None, initial_state, apply)
    rec = recover(tmp_path / "j", store, initial_state, apply)
    assert rec.snapshot is not None and rec.snapshot.index == paths[-2][0]
    assert {p for p, _ in store.skipped} >= {ahead.path}
    for k in full.state:
        assert np.array_equal(full.state[k], rec.state[k])


def test_snapshot_round_trip_and_refusals(tmp_path: Path) -> None:
    arrays = {
        "a": np.arange(10, dtype=np.int64).reshape(2, 5),
        "e": np.zeros(0, np.float32),
        "rec": np.zeros(3, [("x", "<u4"), ("y", "<f8", (2,))]),
    }
    s = Snapshot.from_bytes(Snapshot(42, arrays, 7).to_bytes())
    assert s.index == 42 and s.ts_ns == 7
    for k, v in arrays.items():
        assert s.arrays[k].dtype == v.dtype and np.array_equal(s.arrays[k], v)
    with pytest.raises(SnapshotError):
        Snapshot.from_bytes(b"nonsense" * 10)
    with pytest.raises(SnapshotError):
        SnapshotStore(tmp_path, retain=0)


def test_recover_on_empty_journal(tmp_path: Path) -> None:
    JournalWriter(tmp_path / "j").close()
    r = recover(tmp_path / "j", SnapshotStore(tmp_path / "s"), initial_state, apply)
    assert r.index == 0 and r.replayed == 0


def test_clordid_is_deterministic_and_invertible(tmp_path: Path) -> None:
    assert clordid_for(3, 12345, 7) == clordid_for(3, 12345, 7)
    assert parse_clordid(clordid_for(3, 12345, 7)) == (3, 12345, 7)
    assert parse_clordid(clordid_for(255, MAX_INDEX, 4095).encode()) == (255, MAX_INDEX, 4095)
    assert order_id_for(0, 1) < order_id_for(0, 2) < (1 << 63)
    ids = order_ids_for(2, 99, 5)
    assert ids.dtype == np.uint64 and [parse_clordid(str(i)) for i in ids.tolist()] == [
        (2, 99, k) for k in range(5)
    ]
    for bad in ((256, 1, 0), (0, 0, 0), (0, MAX_INDEX + 1, 0), (0, 1, 4096)):
        with pytest.raises(JournalError):
            order_id_for(*bad)
    for bad_s in ("abc", "0", str(1 << 63)):
        with pytest.raises(JournalError):
            parse_clordid(bad_s)
    # a resent order (replayed from the journal) carries the same ClOrdID
    with JournalWriter(tmp_path / "j") as w:
        write_session(w, 40, seed=1, shard=4)
    first = [e for e in JournalReader(tmp_path / "j") if e.type == TYPE_ORDER]
    again = [e for e in JournalReader(tmp_path / "j") if e.type == TYPE_ORDER]
    for a, b in zip(first, again, strict=True):
        assert [parse_clordid(str(x))[1] for x in a.records["order_id"].tolist()] == [a.index] * len(
            a.records
        )
        assert a.records["order_id"].tolist() == b.records["order_id"].tolist()


def test_market_data_layout_matches_the_gateway() -> None:
    from cns.gateway.marketdata import TOB_DTYPE

    assert same_layout(MARKET_DATA_DTYPE, TOB_DTYPE)
