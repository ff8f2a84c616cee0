"""``OperatorStore``: the SQL tables operators query — orders, fills, positions, sessions — kept from record
batches with bulk upserts (one ``executemany`` per batch, one transaction per call).

Backends: SQLite (default; WAL mode, ``synchronous=NORMAL``) from a path or ``sqlite:///path``, and
PostgreSQL from a ``postgresql://`` URL (psycopg 3; ``pip install 'psycopg[binary]'``). The schema is created on
open (``CREATE TABLE IF NOT EXISTS``); the SQL is the common subset of both (``INSERT .. ON CONFLICT .. DO
UPDATE``), so queries written against one run on the other.

The store is *derived* data: the journal is the record. :meth:`OperatorStore.ingest` applies journal chunks
(orders, cancels, exec reports) exactly once — the last journal index applied is stored in table ``meta`` in
the same transaction, entries at or below it are skipped — so a service can re-feed the journal after a
crash without double counting fills.

Units: prices and cash USD (double), quantities shares (bigint), times ns since the epoch (bigint). Order
ids are uint64 in the records and ``bigint`` in SQL: the bit pattern is kept (ids >= 2**63 read back
negative; journal-derived ids, :mod:`cns.journal.clordid`, stay below 2**63).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cns.journal.dtypes import POSITION_DTYPE, TYPE_CANCEL, TYPE_EXEC, TYPE_ORDER
from cns.journal.errors import StoreError
from cns.journal.reader import ReplayChunk
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_DTYPE,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    ORDER_DTYPE,
)

__all__ = ["OperatorStore", "STATUS_NAMES"]

STATUS_NAMES = {
    EXEC_ACK: "new",
    EXEC_FILL: "filled",
    EXEC_PARTIAL: "partially_filled",
    EXEC_CANCELED: "canceled",
    EXEC_REJECTED: "rejected",
    EXEC_EXPIRED: "expired",
}
_STATUS = np.array([STATUS_NAMES.get(k, "unknown") for k in range(8)], dtype=object)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id BIGINT PRIMARY KEY, owner BIGINT, instrument BIGINT, side SMALLINT, type SMALLINT, qty BIGINT,
    price {double}, ts_ns BIGINT, news_id BIGINT, target_id BIGINT, status TEXT, leaves BIGINT,
    filled BIGINT NOT NULL DEFAULT 0, journal_index BIGINT, updated_ns BIGINT);
CREATE TABLE IF NOT EXISTS fills (
    journal_index BIGINT NOT NULL, slot BIGINT NOT NULL, order_id BIGINT, owner BIGINT, instrument BIGINT,
    side SMALLINT, qty BIGINT, leaves BIGINT, price {double}, fee {double}, liquidity SMALLINT, ts_ns BIGINT,
    PRIMARY KEY (journal_index, slot));
CREATE TABLE IF NOT EXISTS positions (
    owner BIGINT NOT NULL, instrument BIGINT NOT NULL, qty BIGINT, cash {double}, fees {double}, fills BIGINT,
    ts_ns BIGINT, PRIMARY KEY (owner, instrument));
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, shard BIGINT, started_ns BIGINT, stopped_ns BIGINT, status TEXT,
    config_version BIGINT, first_index BIGINT, last_index BIGINT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BIGINT);
CREATE INDEX IF NOT EXISTS fills_order ON fills (order_id);
CREATE INDEX IF NOT EXISTS orders_status ON orders (status);
"""

_UPSERT_ORDER = (
    "INSERT INTO orders (order_id, owner, instrument, side, type, qty, price, ts_ns, news_id, target_id, status, "
    "leaves, filled, journal_index, updated_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0,?,?) ON CONFLICT (order_id) DO "
    "UPDATE SET owner=excluded.owner, instrument=excluded.instrument, side=excluded.side, type=excluded.type, "
    "qty=excluded.qty, price=excluded.price, ts_ns=excluded.ts_ns, news_id=excluded.news_id, "
    "target_id=excluded.target_id, journal_index=excluded.journal_index, updated_ns=excluded.updated_ns"
)
_EXEC_ORDER = (
    "INSERT INTO orders (order_id, owner, instrument, side, status, leaves, filled, journal_index, updated_ns) "
    "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (order_id) DO UPDATE SET status=excluded.status, "
    "leaves=excluded.leaves, filled=orders.filled + excluded.filled, updated_ns=excluded.updated_ns"
)
_CANCEL_PENDING = (
    "UPDATE orders SET status='cancel_pending', updated_ns=? WHERE order_id=? AND status IN ('new', "
    "'partially_filled')"
)
_UPSERT_FILL = (
    "INSERT INTO fills (journal_index, slot, order_id, owner, instrument, side, qty, leaves, price, fee, liquidity, "
    "ts_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (journal_index, slot) DO UPDATE SET "
    "order_id=excluded.order_id, qty=excluded.qty, leaves=excluded.leaves, price=excluded.price, fee=excluded.fee"
)
_UPSERT_POSITION = (
    "INSERT INTO positions (owner, instrument, qty, cash, fees, fills, ts_ns) VALUES (?,?,?,?,?,?,?) "
    "ON CONFLICT (owner, instrument) DO UPDATE SET qty=excluded.qty, cash=excluded.cash, fees=excluded.fees, "
    "fills=excluded.fills, ts_ns=excluded.ts_ns"
)
_UPSERT_SESSION = (
    "INSERT INTO sessions (session_id, shard, started_ns, stopped_ns, status, config_version, first_index, "
    "last_index) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (session_id) DO UPDATE SET shard=excluded.shard, "
    "started_ns=excluded.started_ns, stopped_ns=excluded.stopped_ns, status=excluded.status, "
    "config_version=excluded.config_version, first_index=excluded.first_index, last_index=excluded.last_index"
)
_SET_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value"


def _i64(a: np.ndarray) -> list[int]:
    out: list[int] = (
        a.astype(np.uint64).view(np.int64) if a.dtype == np.uint64 else a.astype(np.int64)
    ).tolist()
    return out


def _check(recs: np.ndarray, dtype: np.dtype, what: str) -> None:
    if not isinstance(recs, np.ndarray) or recs.dtype != dtype or recs.ndim != 1:
        raise StoreError(f"{what} must be a 1-D array of {dtype}, got {getattr(recs, 'dtype', type(recs))}")


class OperatorStore:
    """Orders, fills, positions and sessions in SQL (see the module doc). ``url``: a path or ``sqlite:///path``
    (``sqlite:///:memory:`` works) or ``postgresql://user@host:port/db`` (Unix sockets via ``?host=/dir``).
    Raises :class:`StoreError` for an unknown scheme or a missing driver; the driver's own errors propagate
    for a server that refuses. Not thread-safe: one connection."""

    def __init__(self, url: str | Path = "operator.db") -> None:
        text = str(url)
        if text.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError:
                raise StoreError(
                    "a postgresql:// store needs psycopg 3: pip install 'psycopg[binary]'"
                ) from None
            self.dialect = "postgresql"
            self._conn: Any = psycopg.connect(text)
            double = "DOUBLE PRECISION"
        elif "://" in text and not text.startswith("sqlite:///"):
            raise StoreError(f"unknown store URL scheme in {text!r} (sqlite:///path or postgresql://...)")
        else:
            path = text[len("sqlite:///") :] if text.startswith("sqlite:///") else text
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.dialect = "sqlite"
            self._conn = sqlite3.connect(path)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            double = "REAL"
        self.url = text
        cur = self._conn.cursor()
        for stmt in _SCHEMA.format(double=double).split(";"):
            if stmt.strip():
                cur.execute(stmt)
        self._conn.commit()

    # ------------------------------------------------------------------ plumbing
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def _many(self, cur: Any, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            cur.executemany(self._sql(sql), rows)

    def _tx(self, fn: Any) -> Any:
        cur = self._conn.cursor()
        try:
            out = fn(cur)
            self._conn.commit()
            return out
        except BaseException:
            self._conn.rollback()
            raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders on both backends) in its own transaction; the rows it returns
        as tuples (none for a statement without a result)."""
        cur = self._conn.cursor()
        try:
            cur.execute(self._sql(sql), tuple(params))
            rows = cur.fetchall() if cur.description else []
            self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise
        return [tuple(r) for r in rows]

    # ------------------------------------------------------------------ rows from record batches
    @staticmethod
    def _order_rows(o: np.ndarray, journal_index: np.ndarray, status: str, now: int) -> list[tuple[Any, ...]]:
        n = len(o)
        return list(
            zip(
                _i64(o["order_id"]),
                o["owner"].tolist(),
                o["instrument"].tolist(),
                o["side"].tolist(),
                o["type"].tolist(),
                o["qty"].tolist(),
                o["price"].tolist(),
                o["ts_ns"].tolist(),
                _i64(o["news_id"]),
                _i64(o["target_id"]),
                [status] * n,
                o["qty"].tolist(),
                _i64(journal_index),
                [now] * n,
                strict=True,
            )
        )

    def _exec_rows(self, cur: Any, x: np.ndarray, jidx: np.ndarray, slots: np.ndarray) -> None:
        fill = (x["kind"] == EXEC_FILL) | (x["kind"] == EXEC_PARTIAL)
        filled = np.where(fill, x["qty"], 0)
        self._many(
            cur,
            _EXEC_ORDER,
            list(
                zip(
                    _i64(x["order_id"]),
                    x["owner"].tolist(),
                    x["instrument"].tolist(),
                    x["side"].tolist(),
                    _STATUS[np.minimum(x["kind"], 7)].tolist(),
                    x["leaves"].tolist(),
                    filled.tolist(),
                    _i64(jidx),
                    x["ts_ns"].tolist(),
                    strict=True,
                )
            ),
        )
        f = x[fill]
        self._many(
            cur,
            _UPSERT_FILL,
            list(
                zip(
                    _i64(jidx[fill]),
                    slots[fill].tolist(),
                    _i64(f["order_id"]),
                    f["owner"].tolist(),
                    f["instrument"].tolist(),
                    f["side"].tolist(),
                    f["qty"].tolist(),
                    f["leaves"].tolist(),
                    f["price"].tolist(),
                    f["fee"].tolist(),
                    f["liquidity"].tolist(),
                    f["ts_ns"].tolist(),
                    strict=True,
                )
            ),
        )

    # ------------------------------------------------------------------ public upserts
    def upsert_orders(
        self, orders: np.ndarray, *, journal_index: int | np.ndarray = 0, status: str = "new", now_ns: int = 0
    ) -> int:
        """Insert or update ``orders`` (ORDER_DTYPE) as sent; fills/status are kept. Returns rows written."""
        _check(orders, ORDER_DTYPE, "orders")
        jidx = np.broadcast_to(np.asarray(journal_index, np.uint64), (len(orders),))
        self._tx(lambda cur: self._many(cur, _UPSERT_ORDER, self._order_rows(orders, jidx, status, now_ns)))
        return len(orders)

    def apply_execs(
        self, execs: np.ndarray, *, journal_index: int | np.ndarray = 0, slot: np.ndarray | None = None
    ) -> int:
        """Apply execution reports (EXEC_DTYPE): order status/leaves/filled updated (an order not yet known
        gets a row), fills and partial fills upserted into ``fills`` keyed by (journal_index, slot) — slot
        defaults to the position in the batch. Returns reports applied."""
        _check(execs, EXEC_DTYPE, "execs")
        jidx = np.broadcast_to(np.asarray(journal_index, np.uint64), (len(execs),))
        slots = np.arange(len(execs), dtype=np.int64) if slot is None else np.asarray(slot, np.int64)
        self._tx(lambda cur: self._exec_rows(cur, execs, jidx, slots))
        return len(execs)

    def upsert_positions(self, positions: np.ndarray) -> int:
        """Insert or replace positions (POSITION_DTYPE rows keyed by owner, instrument)."""
        _check(positions, POSITION_DTYPE, "positions")
        p = positions
        rows = list(
            zip(
                p["owner"].tolist(),
                p["instrument"].tolist(),
                p["qty"].tolist(),
                p["cash"].tolist(),
                p["fees"].tolist(),
                p["fills"].tolist(),
                p["ts_ns"].tolist(),
                strict=True,
            )
        )
        self._tx(lambda cur: self._many(cur, _UPSERT_POSITION, rows))
        return len(rows)

    def upsert_session(
        self,
        session_id: str,
        *,
        shard: int = 0,
        started_ns: int = 0,
        stopped_ns: int | None = None,
        status: str = "running",
        config_version: int = 0,
        first_index: int = 0,
        last_index: int = 0,
    ) -> None:
        """Insert or update one service session (a run of ``cns serve`` on a shard)."""
        row = (session_id, shard, started_ns, stopped_ns, status, config_version, first_index, last_index)
        self._tx(lambda cur: self._many(cur, _UPSERT_SESSION, [row]))

    # ------------------------------------------------------------------ from the journal
    @property
    def last_journal_index(self) -> int:
        """The last journal index :meth:`ingest` applied (0 = none)."""
        rows = self.query("SELECT value FROM meta WHERE key = ?", ("journal_index",))
        return int(rows[0][0]) if rows else 0

    def ingest(self, chunk: ReplayChunk) -> int:
        """Apply the orders, cancels and exec reports of a journal chunk in one transaction, skipping entries at
        or below :attr:`last_journal_index` (exactly once). Returns entries applied."""
        done = self.last_journal_index
        e = chunk.entries
        keep = e["index"] > np.uint64(done)
        if not keep.any():
            return 0

        def run(cur: Any) -> int:
            for code in (TYPE_ORDER, TYPE_CANCEL, TYPE_EXEC):
                m = e["type"] == code
                if not m.any():
                    continue
                recs = chunk.records(code)
                counts = e["count"][m].astype(np.int64)
                jidx = np.repeat(e["index"][m], counts)
                slots = np.arange(len(recs), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
                sel = jidx > np.uint64(done)
                recs, jidx, slots = recs[sel], jidx[sel], slots[sel]
                if code == TYPE_ORDER:
                    self._many(cur, _UPSERT_ORDER, self._order_rows(recs, jidx, "new", 0))
                elif code == TYPE_CANCEL:
                    self._many(
                        cur,
                        _CANCEL_PENDING,
                        list(zip(recs["ts_ns"].tolist(), _i64(recs["target_id"]), strict=True)),
                    )
                else:
                    self._exec_rows(cur, recs, jidx, slots)
            cur.execute(self._sql(_SET_META), ("journal_index", int(e["index"][-1])))
            return int(keep.sum())

        return int(self._tx(run))

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> OperatorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
