"""OperatorStore on SQLite (WAL) and on a real PostgreSQL started by the test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cns.journal import POSITION_DTYPE, JournalReader, JournalWriter
from cns.journal.errors import StoreError
from cns.journal.example import apply, initial_state, write_session
from cns.journal.store import OperatorStore
from cns.venue.dtypes import EXEC_DTYPE, EXEC_FILL, EXEC_PARTIAL, ORDER_DTYPE

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> OperatorStore:
    if request.param == "sqlite":
        s = OperatorStore(tmp_path / "ops.db")
        assert s.query("PRAGMA journal_mode")[0][0] == "wal"
    else:
        url = request.getfixturevalue("pg_url")
        s = OperatorStore(url)
        for t in ("orders", "fills", "positions", "sessions", "meta"):
            s.query(f"DELETE FROM {t}")
    request.addfinalizer(s.close)
    return s


def test_bulk_upserts(store: OperatorStore) -> None:
    o = np.zeros(3, ORDER_DTYPE)
    o["order_id"] = [11, 12, 13]
    o["qty"] = 100
    o["price"] = [10.5, 11.0, 12.25]
    o["side"] = [1, -1, 1]
    assert store.upsert_orders(o, journal_index=7) == 3
    assert store.upsert_orders(o, journal_index=7) == 3  # idempotent
    x = np.zeros(2, EXEC_DTYPE)
    x["order_id"] = [11, 12]
    x["kind"] = [EXEC_FILL, EXEC_PARTIAL]
    x["qty"] = [100, 40]
    x["leaves"] = [0, 60]
    x["price"] = [10.5, 11.0]
    store.apply_execs(x, journal_index=8)
    assert store.query("SELECT order_id, status, leaves, filled FROM orders ORDER BY order_id") == [
        (11, "filled", 0, 100),
        (12, "partially_filled", 60, 40),
        (13, "new", 100, 0),
    ]
    assert store.query("SELECT count(*), sum(qty) FROM fills")[0] == (2, 140)
    p = np.zeros(2, POSITION_DTYPE)
    p["instrument"] = [1, 2]
    p["qty"] = [100, -40]
    store.upsert_positions(p)
    p["qty"] = [50, -40]
    store.upsert_positions(p)
    assert store.query("SELECT instrument, qty FROM positions ORDER BY instrument") == [(1, 50), (2, -40)]
    store.upsert_session("s1", shard=2, started_ns=5)
    store.upsert_session("s1", shard=2, started_ns=5, stopped_ns=9, status="stopped", last_index=8)
    assert store.query("SELECT status, stopped_ns, last_index FROM sessions") == [("stopped", 9, 8)]
    with pytest.raises(StoreError):
        store.upsert_orders(x)


def test_ingest_journal_exactly_once(store: OperatorStore, tmp_path: Path) -> None:
    with JournalWriter(tmp_path / "j") as w:
        write_session(w, 400, seed=3)
    state = initial_state()
    r = JournalReader(tmp_path / "j")
    r.replay(lambda c: (store.ingest(c), apply(state, c)), chunk_entries=37)
    last = store.last_journal_index
    assert last == r.next_index - 1
    again = JournalReader(tmp_path / "j")
    assert again.replay(lambda c: store.ingest(c)) == last  # second pass applies nothing
    assert store.query("SELECT count(*) FROM orders WHERE type = 0")[0][0] == 400
    open_db = store.query(
        "SELECT count(*) FROM orders WHERE leaves > 0 AND status IN "
        "('new', 'partially_filled', 'cancel_pending') AND type = 0"
    )[0][0]
    assert open_db == int((state["keys"] != 0).sum())
    fills = store.query(
        "SELECT instrument, sum(side * qty) FROM fills GROUP BY instrument ORDER BY instrument"
    )
    pos = state["position"]
    assert {int(i): int(q) for i, q in fills} == {i: int(pos[i]) for i in np.flatnonzero(pos)} | {
        int(i): 0 for i, q in fills if q == 0
    }


def test_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        OperatorStore("mysql://x")
    with OperatorStore("sqlite:///:memory:") as s:
        assert s.dialect == "sqlite"
