"""Recorded L3 streams ready to replay under a desk (:class:`RecordedBook`), loaded from LOBSTER files or a
generic L3 CSV (:mod:`cns.market.lobster` reads the files; this module turns them into the order flow a
matching book replays, with the book seeded from the first orderbook row).

**Order flow, not verbatim edits.** The recorded day is replayed as *order flow*
(:func:`~cns.market.lobster.lobster_active_ops`): submissions rest, cancels cancel, and each run of recorded
executions becomes the aggressor that made them, which the book matches by price then time. With nobody else
in the book this reproduces the recorded executions exactly; with a desk order in the book, the recorded
aggressors meet it in its queue place, and liquidity the desk took is no longer there for them.

**Seeding a mid-day file.** A LOBSTER file bought for a window starts mid-day: orders resting before its
first message appear only in the first orderbook row, which is the book *after* the first message. The seed
is that row with the first message undone, split into orders: every order a later message refers to without
having submitted it (a *pre-start* order) rests with the size the messages account for (its partial cancels,
executions and final delete), executed ones first in the order of their first execution (FIFO: an order
executed while another was resting at its price was ahead of it), then the others in the order they are
first referred to, then one synthetic order per level for the shares no message ever refers to. So after the
first message the book's top levels equal the first orderbook row; orders beyond the row's depth are seeded
from what the messages tell. Disagreements (messages accounting for more shares than the row shows at a
price within its depth) trim or drop pre-start orders, counted in ``seed_conflicts``.

Ids: recorded ids must lie in ``0 .. DESK_ID_BASE - 1`` (a row with another id is quarantined); the desk's
orders live at ``DESK_ID_BASE + id``, rebuilt aggressors at ``SYNTHETIC_ID_BASE + k`` and seed orders with
no recorded id at ``SEED_ID_BASE + k``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cns.market.lobster import (
    L3CsvColumns,
    LobsterImportError,
    Quarantined,
    active_ops_with_rows,
    l3_active_ops,
    lobster_passive_ops,
    read_l3_csv,
    read_lobster,
)
from cns.venue.l3book import L3Book
from cns.venue.l3book_dtypes import (
    EMPTY_ASK_PRICE,
    EMPTY_BID_PRICE,
    L3_OP_DTYPE,
    OP_ADD,
    OP_EXEC,
    OP_PMODIFY,
)

__all__ = [
    "DESK_ID_BASE",
    "LOBSTER_TIMEZONE",
    "RECORDED_OWNER",
    "RECORDED_TRADE_DTYPE",
    "SEED_ID_BASE",
    "RecordedBook",
    "deep_residuals",
    "load_l3_csv_book",
    "load_lobster_book",
    "lobster_seed",
]

RECORDED_OWNER = 1  # owner of every recorded order in the replayed book (the desk is owner 0)
DESK_ID_BASE = 1 << 62  # the desk's order id k is DESK_ID_BASE + k in the book
SEED_ID_BASE = (1 << 63) + (1 << 62)  # seed orders standing for shares no message refers to
_NS = 1_000_000_000

RECORDED_TRADE_DTYPE = np.dtype(
    [
        ("ts_ns", np.int64),  # ns since the epoch (on the desk's timeline)
        ("price", np.int64),  # book units (LOBSTER: USD x 10 000)
        ("qty", np.int64),  # shares
        ("line", np.int64),  # 1-based line of the message/CSV file
    ]
)


@dataclass(frozen=True)
class RecordedBook:
    """One instrument's recorded day, ready for :class:`cns.market.recorded.RecordedExchange`.

    ``ops``: L3_OP_DTYPE order flow in time order (times ns since the epoch, owner :data:`RECORDED_OWNER`);
    ``seed``: OP_ADD ops resting before the first op; ``trades``: the recorded visible executions
    (:data:`RECORDED_TRADE_DTYPE`); ``hidden_trades``/``hidden_shares``: recorded executions against hidden
    liquidity or crosses (LOBSTER types 5 and 6), which no book replay can produce; ``unit_usd``: USD per
    book price unit; ``tick_usd``: the trading tick desk limit prices are snapped to; ``first_row``: the
    first orderbook row (LOBSTER layout, None without an orderbook file); ``quarantined``: rows left out.
    """

    name: str
    ops: np.ndarray
    seed: np.ndarray
    trades: np.ndarray
    unit_usd: float
    tick_usd: float
    hidden_trades: int = 0
    hidden_shares: int = 0
    quarantined: tuple[Quarantined, ...] = ()
    seed_conflicts: int = 0
    first_row: np.ndarray | None = None
    source: str = ""

    @property
    def first_ns(self) -> int:
        """Time of the first recorded op (ns since the epoch); 0 without ops."""
        return int(self.ops["ts_ns"][0]) if self.ops.shape[0] else 0

    @property
    def last_ns(self) -> int:
        """Time of the last recorded op (ns since the epoch); 0 without ops."""
        return int(self.ops["ts_ns"][-1]) if self.ops.shape[0] else 0

    def shifted(self, offset_ns: int) -> RecordedBook:
        """The same day moved by ``offset_ns`` on the timeline (e.g. to put its first message at a desk's
        ``start_ns``): every op and trade time plus ``offset_ns``."""
        ops, seed, tr = self.ops.copy(), self.seed.copy(), self.trades.copy()
        ops["ts_ns"] += offset_ns
        seed["ts_ns"] += offset_ns
        tr["ts_ns"] += offset_ns
        return replace(self, ops=ops, seed=seed, trades=tr)

    def opening_price_usd(self) -> float:
        """Mid of the seed's best levels, else the first trade's price, else the first op's price (USD);
        NaN if the day has no price at all."""
        s = self.seed
        bids, asks = s["price"][s["side"] > 0], s["price"][s["side"] < 0]
        if bids.size and asks.size:
            return 0.5 * (float(bids.max()) + float(asks.min())) * self.unit_usd
        if self.trades.shape[0]:
            return float(self.trades["price"][0]) * self.unit_usd
        px = self.ops["price"][self.ops["price"] > 0]
        return float(px[0]) * self.unit_usd if px.size else float("nan")


LOBSTER_TIMEZONE = "America/New_York"  # LOBSTER times are seconds after midnight, exchange local time


def _day_start_from_name(path: Path, tz: str = LOBSTER_TIMEZONE) -> int:
    """Midnight in ``tz`` (ns since the epoch) of the ``YYYY-MM-DD`` in a LOBSTER file name (UTC midnight if
    the time zone database is missing), else 0."""
    m = re.search(r"_(\d{4}-\d{2}-\d{2})_", path.name)
    if not m:
        return 0
    try:
        day = _dt.datetime.strptime(m.group(1), "%Y-%m-%d")
    except ValueError:
        return 0
    try:
        from zoneinfo import ZoneInfo

        zone: _dt.tzinfo = ZoneInfo(tz)
    except Exception:  # no tz database: UTC
        zone = _dt.UTC
    return int(day.replace(tzinfo=zone).timestamp()) * _NS


def _id_and_order_checks(msgs: np.ndarray, quarantined: list[Quarantined], lines: list[str]) -> np.ndarray:
    """Rows kept after the replay-specific checks: ids of order rows (types 1-4) within ``0..DESK_ID_BASE-1``,
    times never going backwards, no second submission of a live id."""
    ty, oid, t = msgs["type"], msgs["order_id"], msgs["time_ns"]
    bad_id = (ty >= 1) & (ty <= 4) & ((oid < 0) | (oid >= DESK_ID_BASE))
    prev_max = np.maximum.accumulate(np.concatenate(([np.iinfo(np.int64).min], t[:-1])))
    back = t < prev_max
    sub = np.nonzero((ty == 1) & ~bad_id & ~back)[0]
    _, first = np.unique(oid[sub], return_index=True)
    dup = np.zeros(msgs.shape[0], bool)
    dup[sub] = True
    dup[sub[first]] = False
    keep = ~(bad_id | back | dup)
    for k in np.nonzero(~keep)[0]:
        line = int(msgs["line"][k])
        why = (
            "order id outside 0..2**62-1 (reserved for the desk and synthetic orders)"
            if bad_id[k]
            else "time earlier than a previous message"
            if back[k]
            else "order id submitted twice"
        )
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        quarantined.append(Quarantined(line, why, text))
    return keep


def load_lobster_book(
    message_path: str | Path,
    orderbook_path: str | Path | None = None,
    *,
    day_start_ns: int | None = None,
    tick_usd: float = 0.01,
    name: str | None = None,
) -> RecordedBook:
    """Load a LOBSTER day (message file and, to seed a mid-day start, its orderbook file).

    ``day_start_ns``: ns since the epoch of the day's midnight (LOBSTER times are seconds after midnight,
    New York time); None takes midnight New York time of the file name's ``YYYY-MM-DD``, else 0, so the
    day's ops are stamped in true UTC ns (09:30 on 2012-06-21 is 13:30 UTC). ``tick_usd``: the trading tick desk
    limit prices are snapped to (USD 0.01 for US stocks over USD 1). ``name``: the instrument, default the
    file name's ticker. Malformed rows are quarantined (:class:`~cns.market.lobster.Quarantined`, 1-based
    line and reason), never fatal; an unreadable file raises :class:`~cns.market.lobster.LobsterImportError`.
    """
    mp = Path(message_path)
    data = read_lobster(mp, orderbook_path)
    quarantined = list(data.quarantined)
    lines = mp.read_text(encoding="utf-8", errors="replace").splitlines()
    keep = _id_and_order_checks(data.messages, quarantined, lines)
    msgs = data.messages[keep]
    book = data.orderbook[keep] if data.orderbook is not None else None
    day0 = _day_start_from_name(mp) if day_start_ns is None else int(day_start_ns)
    seed = np.zeros(0, L3_OP_DTYPE)
    conflicts = 0
    first_row = None
    if book is not None and book.shape[0]:
        first_row = book[0].copy()
        seed, conflicts = lobster_seed(msgs, first_row)
        deep = deep_residuals(msgs, book, seed)
        seed = np.concatenate((seed, deep))
    ops, _ = active_ops_with_rows(msgs)
    ops["owner"] = RECORDED_OWNER
    ops["ts_ns"] += day0
    seed["owner"] = RECORDED_OWNER
    seed["ts_ns"] = (int(msgs["time_ns"][0]) if msgs.shape[0] else 0) + day0
    ex = msgs[msgs["type"] == 4]
    trades = np.zeros(ex.shape[0], RECORDED_TRADE_DTYPE)
    trades["ts_ns"], trades["price"], trades["qty"] = ex["time_ns"] + day0, ex["price"], ex["size"]
    trades["line"] = ex["line"]
    hid = (msgs["type"] == 5) | (msgs["type"] == 6)
    return RecordedBook(
        name=name or mp.name.split("_")[0],
        ops=ops,
        seed=seed,
        trades=trades,
        unit_usd=1e-4,
        tick_usd=float(tick_usd),
        hidden_trades=int(hid.sum()),
        hidden_shares=int(msgs["size"][hid].sum()),
        quarantined=tuple(sorted(quarantined, key=lambda q: q.line)),
        seed_conflicts=conflicts,
        first_row=first_row,
        source=str(mp),
    )


def load_l3_csv_book(
    path: str | Path,
    *,
    tick_size: float,
    columns: L3CsvColumns | None = None,
    time_unit: str = "ns",
    epoch_ns: int = 0,
    trade_tick_usd: float | None = None,
    name: str | None = None,
) -> RecordedBook:
    """Load a generic L3 CSV (see :func:`~cns.market.lobster.read_l3_csv`: ``tick_size`` USD per price tick,
    ``columns`` the header mapping, ``time_unit`` of the timestamps) as a recorded day; ``epoch_ns`` is added
    to every timestamp. Trade rows become aggressors (:func:`~cns.market.lobster.l3_active_ops`); a trade of
    an order never added is quarantined. There is no orderbook file, so no seed: the file must start from an
    empty book (or with adds of the orders resting at its start). ``trade_tick_usd``: the tick desk prices
    snap to, default ``tick_size``."""
    p = Path(path)
    passive, quarantined = read_l3_csv(p, tick_size=tick_size, columns=columns, time_unit=time_unit)
    q = list(quarantined)
    t = passive["ts_ns"]
    back = t < np.maximum.accumulate(np.concatenate(([np.iinfo(np.int64).min], t[:-1])))
    big = passive["order_id"] >= np.uint64(DESK_ID_BASE)
    if back.any() or big.any():
        lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
        data_lines = [i for i in range(2, len(lines) + 1) if i not in {x.line for x in quarantined}]
        for k in np.nonzero(back | big)[0]:
            ln = data_lines[k] if k < len(data_lines) else 0
            why = "order id outside 0..2**62-1" if big[k] else "time earlier than a previous row"
            q.append(Quarantined(ln, why, lines[ln - 1] if 0 < ln <= len(lines) else ""))
        passive = passive[~(back | big)]
    ops, orphans = l3_active_ops(passive)
    if orphans.size:
        q.extend(
            Quarantined(0, f"trade of order {int(passive['order_id'][k])} never added", "") for k in orphans
        )
    ops["owner"] = RECORDED_OWNER
    ops["ts_ns"] += int(epoch_ns)
    ex = passive[passive["kind"] == OP_EXEC]
    trades = np.zeros(ex.shape[0], RECORDED_TRADE_DTYPE)
    trades["ts_ns"], trades["qty"] = ex["ts_ns"] + int(epoch_ns), ex["qty"]
    # a trade's price is its resting order's: the rebuilt aggressors carry the worst of their run, so take it
    # from the passive rows' defining add/modify via the same rebuild
    px = _exec_prices(passive)
    trades["price"] = px
    return RecordedBook(
        name=name or p.stem,
        ops=ops,
        seed=np.zeros(0, L3_OP_DTYPE),
        trades=trades,
        unit_usd=float(tick_size),
        tick_usd=float(trade_tick_usd if trade_tick_usd is not None else tick_size),
        quarantined=tuple(sorted(q, key=lambda x: x.line)),
        source=str(p),
    )


def _exec_prices(passive: np.ndarray) -> np.ndarray:
    """Per trade row of a passive feed, the price of its resting order (last add/modify before it; 0 if
    none)."""
    kind, oid = passive["kind"], passive["order_id"]
    n = passive.shape[0]
    order = np.lexsort((np.arange(n), oid))
    o_id = oid[order]
    new_group = np.ones(n, bool)
    new_group[1:] = o_id[1:] != o_id[:-1]
    grp_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    defines = ((kind == OP_ADD) | (kind == OP_PMODIFY))[order]
    last = np.maximum.accumulate(np.where(defines, np.arange(n), -1))
    last = np.where(last >= grp_start, last, -1)
    px = np.zeros(n, np.int64)
    px[order] = np.where(last >= 0, passive["price"][order][np.maximum(last, 0)], 0)
    out: np.ndarray = px[kind == OP_EXEC]
    return out


# ---- seeding ----------------------------------------------------------------------------------------------


def _row_levels(row: np.ndarray) -> tuple[dict[tuple[int, int], int], dict[int, int | None]]:
    """``({(side, price): shares}, {side: deepest displayed price if the side shows every level else None})``
    of a LOBSTER orderbook row."""
    r = row.reshape(-1, 4)
    lv: dict[tuple[int, int], int] = {}
    deep: dict[int, int | None] = {}
    for side, pc, sc, empty in ((-1, 0, 1, EMPTY_ASK_PRICE), (1, 2, 3, EMPTY_BID_PRICE)):
        ok = (r[:, pc] != empty) & (r[:, sc] > 0)
        for p, s in zip(r[ok, pc].tolist(), r[ok, sc].tolist(), strict=True):
            lv[(side, p)] = lv.get((side, p), 0) + s
        deep[side] = int(r[ok, pc][-1]) if bool(ok.all()) and ok.size else None
    return lv, deep


def lobster_seed(msgs: np.ndarray, first_row: np.ndarray) -> tuple[np.ndarray, int]:
    """The OP_ADD ops of the book resting before ``msgs[0]`` (see the module docstring) and the number of
    pre-start orders trimmed or dropped because the row shows fewer shares at their price."""
    out = np.zeros(0, L3_OP_DTYPE)
    if msgs.shape[0] == 0:
        return out, 0
    lv, deep = _row_levels(first_row)
    m0 = msgs[0]
    key0 = (int(m0["direction"]), int(m0["price"]))
    if int(m0["type"]) == 1:
        lv[key0] = lv.get(key0, 0) - int(m0["size"])
    elif int(m0["type"]) in (2, 3, 4):
        lv[key0] = lv.get(key0, 0) + int(m0["size"])
    lv = {k: v for k, v in lv.items() if v > 0}

    def in_window(side: int, price: int) -> bool:
        d = deep[side]
        return d is None or (price >= d if side > 0 else price <= d)

    # pre-start orders: referred to (types 2, 3, 4) before (or without) a submission of their id
    n = msgs.shape[0]
    ty, oid, rows = msgs["type"], msgs["order_id"], np.arange(n)
    sub = np.nonzero(ty == 1)[0]
    sub_ids, first_sub = np.unique(oid[sub], return_index=True)
    first_sub_row = sub[first_sub]
    ref = np.nonzero((ty >= 2) & (ty <= 4))[0]
    j = np.minimum(np.searchsorted(sub_ids, oid[ref]), max(sub_ids.size - 1, 0))
    submitted_before = (
        (sub_ids[j] == oid[ref]) & (first_sub_row[j] < ref) if sub_ids.size else np.zeros(ref.size, bool)
    )
    pre = ref[~submitted_before]
    ids, first, inv = np.unique(oid[pre], return_index=True, return_inverse=True)
    size = np.zeros(ids.size, np.int64)
    np.add.at(size, inv, msgs["size"][pre])
    first_exec = np.full(ids.size, n, np.int64)
    ex = ty[pre] == 4
    np.minimum.at(first_exec, inv[ex], rows[pre][ex])
    side = msgs["direction"][pre][first]
    price = msgs["price"][pre][first]
    key = np.where(first_exec < n, first_exec, n + pre[first])
    o = np.lexsort((key, price, side))
    ids, size, side, price = ids[o], size[o], side[o], price[o]
    seeds: list[tuple[int, int, int, int]] = []  # (id, side, price, shares) in queue order
    conflicts = 0
    next_syn = 0
    k = 0
    done: set[tuple[int, int]] = set()
    while k < ids.size:  # one pass per price level with pre-start orders (levels, not orders)
        e = k
        while e < ids.size and side[e] == side[k] and price[e] == price[k]:
            e += 1
        s, p = int(side[k]), int(price[k])
        if not in_window(s, p):
            seeds.extend((int(ids[i]), s, p, int(size[i])) for i in range(k, e))
        else:
            room = lv.get((s, p), 0)
            for i in range(k, e):
                take = min(int(size[i]), room)
                if take < int(size[i]):
                    conflicts += 1
                if take > 0:
                    seeds.append((int(ids[i]), s, p, take))
                room -= take
            if room > 0:
                seeds.append((SEED_ID_BASE + next_syn, s, p, room))
                next_syn += 1
            done.add((s, p))
        k = e
    for (s, p), q in sorted(lv.items()):
        if (s, p) not in done:
            seeds.append((SEED_ID_BASE + next_syn, s, p, q))
            next_syn += 1
    out = np.zeros(len(seeds), L3_OP_DTYPE)
    if seeds:
        a = np.array([(i & ((1 << 64) - 1), s, p, q) for i, s, p, q in seeds], dtype=object)
        out["order_id"] = a[:, 0].astype(np.uint64)
        out["side"], out["price"], out["qty"] = (
            a[:, 1].astype(np.int64),
            a[:, 2].astype(np.int64),
            a[:, 3].astype(np.int64),
        )
    out["kind"] = OP_ADD
    return out, conflicts


def deep_residuals(msgs: np.ndarray, book: np.ndarray, seed: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Seed orders for shares resting before the start *beyond the first row's depth* that no message refers
    to: replaying the messages passively over ``seed``, wherever the orderbook file shows more shares at a
    price than the replay has (the shares are there from the start: nothing in the file put them there), the
    difference at the first row that shows the price becomes one OP_ADD (at the back of its level's seed,
    synthetic id after the seed's). Only prices beyond the first row's depth are filled in (within it the
    seed already equals the row). Returns those ops (empty when the replay already matches the file)."""
    levels = book.shape[1] // 4
    if msgs.shape[0] == 0 or levels == 0:
        return np.zeros(0, L3_OP_DTYPE)
    _, deepest = _row_levels(book[0])

    def beyond(side: int, price: int) -> bool:  # outside the first row's depth (the seed is exact within)
        d = deepest[side]
        return d is not None and (price < d if side > 0 else price > d)

    replay = L3Book(1e-4, capacity=max(1024, 2 * seed.shape[0]))
    replay.process(seed)
    ops = lobster_passive_ops(msgs)
    found: dict[tuple[int, int], int] = {}
    for a in range(0, ops.shape[0], chunk):
        _, tob = replay.replay(ops[a : a + chunk], levels=levels)
        f = book[a : a + chunk].reshape(-1, levels, 4)
        r = tob.reshape(-1, levels, 4)
        for side, pc, sc, empty in ((-1, 0, 1, EMPTY_ASK_PRICE), (1, 2, 3, EMPTY_BID_PRICE)):
            fp, fs, rp_, rs = f[:, :, pc], f[:, :, sc], r[:, :, pc], r[:, :, sc]
            match = rp_[:, :, None] == fp[:, None, :]  # [row, replay level, file level]
            have = (match * rs[:, :, None]).sum(axis=1)
            gap = (fp != empty) & (fs > have)
            if not gap.any():
                continue
            rows, cols = np.nonzero(gap)  # row-major: the first row that shows each price comes first
            px = fp[rows, cols]
            _, first = np.unique(px, return_index=True)
            for k in first.tolist():
                key = (side, int(px[k]))
                if key not in found and beyond(*key):
                    found[key] = int(fs[rows[k], cols[k]] - have[rows[k], cols[k]])
    out = np.zeros(len(found), L3_OP_DTYPE)
    syn = seed["order_id"][seed["order_id"] >= np.uint64(SEED_ID_BASE)]
    base = int(syn.max()) + 1 if syn.size else SEED_ID_BASE
    for i, ((side, price), qty) in enumerate(sorted(found.items())):
        out[i] = (0, base + i, 0, OP_ADD, side, price, qty, 0, 0)
    return out


def check_recorded_book(book: object) -> RecordedBook:
    """``book`` if it is a :class:`RecordedBook`, else :class:`~cns.market.lobster.LobsterImportError`."""
    if not isinstance(book, RecordedBook):
        raise LobsterImportError(
            f"expected a cns.market.recorded_data.RecordedBook, got {type(book).__name__}"
        )
    for name in ("ops", "seed"):
        a = getattr(book, name)
        if not isinstance(a, np.ndarray) or a.dtype != L3_OP_DTYPE or a.ndim != 1:
            raise LobsterImportError(f"RecordedBook {book.name!r}: {name} must be a 1-D L3_OP_DTYPE array")
    t = book.ops["ts_ns"]
    if t.size > 1 and bool(np.any(t[1:] < t[:-1])):
        k = int(np.argmax(t[1:] < t[:-1])) + 1
        raise LobsterImportError(f"RecordedBook {book.name!r}: ops[{k}] is earlier than ops[{k - 1}]")
    units_ok = math.isfinite(book.unit_usd) and book.unit_usd > 0
    if not (units_ok and math.isfinite(book.tick_usd) and book.tick_usd > 0):
        raise LobsterImportError(f"RecordedBook {book.name!r}: unit_usd and tick_usd must be finite and > 0")
    return book
