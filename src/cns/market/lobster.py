"""Importers of order-by-order (L3) feeds into :data:`cns.venue.l3book_dtypes.L3_OP_DTYPE` ops.

**LOBSTER** (https://lobsterdata.com): a day of one ticker is a *message* file and an *orderbook* file with one
row per message. Message columns: time (seconds after midnight, decimal, up to ns), event type (1 submit,
2 partial cancel, 3 delete, 4 execute visible, 5 execute hidden, 6 cross trade, 7 halt), order id, size
(shares), price (USD x 10 000), direction (1 buy, -1 sell; for executions the side of the *resting* order).
Orderbook columns, per level ``k``: ask price, ask size, bid price, bid size (empty level: price
9999999999 / -9999999999, size 0). Both files are read with NumPy in bulk; prices stay in LOBSTER units, so one
book tick is USD 0.0001 (:data:`LOBSTER_TICK`).

**Generic L3 CSV**: a header row and columns for id, timestamp, side, price, size and action
(add/modify/delete/trade), named by a :class:`L3CsvColumns` mapping.

Malformed rows never abort an import: each is *quarantined* with its 1-based line number, the reason and the
raw text (:class:`Quarantined`), and the rest is imported. The seeded sample generator lives in
:mod:`cns.market.lobster_sample`.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cns.venue.errors import VenueError
from cns.venue.l3book_dtypes import (
    EMPTY_ASK_PRICE,
    EMPTY_BID_PRICE,
    L3_OP_DTYPE,
    MAX_PRICE,
    MAX_QTY,
    OP_ADD,
    OP_DELETE,
    OP_EXEC,
    OP_IOC,
    OP_LIMIT,
    OP_NOOP,
    OP_PMODIFY,
    OP_PRINT,
    OP_REDUCE,
)

__all__ = [
    "LOBSTER_MSG_DTYPE",
    "LOBSTER_TICK",
    "L3CsvColumns",
    "LobsterData",
    "LobsterImportError",
    "Quarantined",
    "SYNTHETIC_ID_BASE",
    "active_ops_with_rows",
    "l3_active_ops",
    "lobster_active_ops",
    "lobster_passive_ops",
    "read_l3_csv",
    "read_lobster",
    "recorded_executions",
]

LOBSTER_TICK = 0.0001  # USD per LOBSTER price unit
SYNTHETIC_ID_BASE = 1 << 63  # ids of aggressors rebuilt by lobster_active_ops (never in a LOBSTER file)
_NS = 1_000_000_000

LOBSTER_MSG_DTYPE = np.dtype(
    [
        ("time_ns", np.int64),  # ns after midnight
        ("type", np.int64),  # 1..7
        ("order_id", np.int64),
        ("size", np.int64),  # shares
        ("price", np.int64),  # USD x 10 000 (= book ticks)
        ("direction", np.int64),  # 1 buy, -1 sell
        ("line", np.int64),  # 1-based line in the message file
    ]
)


class LobsterImportError(VenueError, ValueError):
    """A file that cannot be imported at all (missing, unreadable, wrong column count everywhere, bad mapping)."""


@dataclass(frozen=True)
class Quarantined:
    """A rejected input row: 1-based ``line`` number, a human ``reason`` and the raw ``text``."""

    line: int
    reason: str
    text: str


class LobsterData(NamedTuple):
    """A LOBSTER day: ``messages`` (LOBSTER_MSG_DTYPE), ``orderbook`` (int64 ``[n, 4 * levels]`` aligned with
    ``messages``, or None without an orderbook file) and the quarantined rows of both files."""

    messages: np.ndarray
    orderbook: np.ndarray | None
    quarantined: list[Quarantined]


_TIME_RE = re.compile(r"^\d{1,6}(\.\d{1,9})?$")
_INT_RE = re.compile(r"^-?\d{1,19}$")


def _read_lines(path: str | Path) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise LobsterImportError(f"cannot read {path}: {e}") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _row_problem(fields: list[str]) -> str | None:
    """Why a split message row is malformed, or None (the syntactic check of the slow path)."""
    if len(fields) != 6:
        return f"expected 6 columns, got {len(fields)}"
    if not _TIME_RE.match(fields[0].strip()):
        return f"time {fields[0]!r} is not seconds after midnight"
    for name, v in zip(("type", "order id", "size", "price", "direction"), fields[1:], strict=True):
        if not _INT_RE.match(v.strip()):
            return f"{name} {v!r} is not an integer"
    return None


def _parse_times(col: np.ndarray) -> np.ndarray:
    """Decimal seconds (bytes) -> int64 ns, exactly (no float rounding)."""
    whole, _, frac = np.char.partition(np.char.strip(col), b".").T
    frac = np.char.ljust(frac, 9, b"0")
    out: np.ndarray = whole.astype(np.int64) * _NS + frac.astype(np.int64)
    return out


def _semantic_problems(m: np.ndarray) -> np.ndarray:
    """Per row: 0 ok, else an index into _SEMANTIC_REASONS."""
    t, ty, sz, px, d = m["time_ns"], m["type"], m["size"], m["price"], m["direction"]
    code = np.zeros(m.shape[0], np.int64)
    code[(d != 1) & (d != -1)] = 5
    trade_like = (ty >= 1) & (ty <= 6)
    code[trade_like & ((px <= 0) | (px > MAX_PRICE))] = 4
    code[trade_like & ((sz <= 0) | (sz > MAX_QTY))] = 3
    code[(ty < 1) | (ty > 7)] = 2
    code[(t < 0) | (t >= 86_400 * _NS)] = 1
    return code


_SEMANTIC_REASONS = (
    "",
    "time outside the day",
    "event type not in 1..7",
    "size not in 1..MAX_QTY",
    "price not in 1..MAX_PRICE",
    "direction not 1 or -1",
)


_MSG_COLS = [("t", "S24"), ("type", "i8"), ("id", "i8"), ("size", "i8"), ("price", "i8"), ("dir", "i8")]


def _times_ok(col: np.ndarray) -> bool:
    whole, sep, frac = np.char.partition(np.char.strip(col), b".").T
    wl, fl = np.char.str_len(whole), np.char.str_len(frac)
    ok = np.char.isdigit(whole) & (wl >= 1) & (wl <= 6)
    ok &= np.where(np.char.str_len(sep) > 0, np.char.isdigit(frac) & (fl >= 1) & (fl <= 9), True)
    return bool(ok.all())


def _parse_messages(lines: list[str], quarantined: list[Quarantined]) -> np.ndarray:
    rows = np.arange(1, len(lines) + 1)
    good = lines
    try:  # fast path: the whole file in one NumPy call
        raw = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", ndmin=1, dtype=_MSG_COLS)
        if raw.shape[0] != len(lines) or not _times_ok(raw["t"]):
            raise ValueError("slow path")
    except (ValueError, OverflowError):  # find and quarantine the malformed rows, parse the rest
        keep = []
        for i, line in enumerate(lines):
            why = _row_problem(line.split(","))
            if why is None:
                keep.append(i)
            else:
                quarantined.append(Quarantined(i + 1, why, line))
        rows = rows[keep]
        good = [lines[i] for i in keep]
        if not good:
            return np.zeros(0, LOBSTER_MSG_DTYPE)
        raw = np.loadtxt(io.StringIO("\n".join(good)), delimiter=",", ndmin=1, dtype=_MSG_COLS)
    m = np.zeros(raw.shape[0], LOBSTER_MSG_DTYPE)
    m["time_ns"] = _parse_times(raw["t"])
    m["type"], m["order_id"], m["size"] = raw["type"], raw["id"], raw["size"]
    m["price"], m["direction"], m["line"] = raw["price"], raw["dir"], rows
    code = _semantic_problems(m)
    for k in np.nonzero(code)[0]:
        quarantined.append(Quarantined(int(m["line"][k]), _SEMANTIC_REASONS[code[k]], good[k]))
    kept: np.ndarray = m[code == 0]
    return kept


def read_lobster(message_path: str | Path, orderbook_path: str | Path | None = None) -> LobsterData:
    """Read a LOBSTER message file (and its orderbook file): see the module docstring for the format.

    A quarantined message row drops the orderbook row of the same line, so the two stay aligned; an
    orderbook row that is malformed (wrong column count, non-integers) quarantines its message too.
    """
    quarantined: list[Quarantined] = []
    lines = _read_lines(message_path)
    msgs = _parse_messages(lines, quarantined)
    if orderbook_path is None:
        return LobsterData(msgs, None, sorted(quarantined, key=lambda q: q.line))
    ob_lines = _read_lines(orderbook_path)
    if len(ob_lines) != len(lines):
        raise LobsterImportError(f"{orderbook_path} has {len(ob_lines)} rows, the message file {len(lines)}")
    ncol = ob_lines[0].count(",") + 1 if ob_lines else 0
    if ncol % 4 != 0:
        raise LobsterImportError(f"orderbook rows must have 4 x levels columns, the first has {ncol}")
    ok = np.ones(len(ob_lines), bool)
    try:  # fast path: the whole file in one NumPy call (any malformed row fails it)
        book = np.loadtxt(io.StringIO("\n".join(ob_lines)), delimiter=",", dtype=np.int64, ndmin=2)
        if book.shape != (len(ob_lines), ncol):
            raise ValueError("slow path")
        keep = ok[msgs["line"] - 1]
        return LobsterData(
            msgs[keep], book[msgs["line"][keep] - 1], sorted(quarantined, key=lambda q: q.line)
        )
    except (ValueError, OverflowError):
        pass
    for i, line in enumerate(ob_lines):
        f = line.split(",")
        if len(f) != ncol or not all(_INT_RE.match(x.strip()) for x in f):
            ok[i] = False
            quarantined.append(Quarantined(i + 1, f"orderbook row: expected {ncol} integer columns", line))
    book = np.zeros((len(ob_lines), ncol), np.int64)
    if ok.any():
        book[ok] = np.loadtxt(
            io.StringIO("\n".join(x for x, k in zip(ob_lines, ok, strict=True) if k)),
            delimiter=",",
            dtype=np.int64,
            ndmin=2,
        )
    keep = ok[msgs["line"] - 1]
    msgs = msgs[keep]
    return LobsterData(msgs, book[msgs["line"] - 1], sorted(quarantined, key=lambda q: q.line))


def lobster_passive_ops(msgs: np.ndarray) -> np.ndarray:
    """One passive op per message (so op ``i`` lines up with orderbook row ``i``): 1 -> OP_ADD, 2 -> OP_REDUCE,
    3 -> OP_DELETE, 4 -> OP_EXEC, 5/6 -> OP_PRINT (trade with no visible resting order), 7 -> OP_NOOP."""
    ops = np.zeros(msgs.shape[0], L3_OP_DTYPE)
    table = np.array([OP_NOOP, OP_ADD, OP_REDUCE, OP_DELETE, OP_EXEC, OP_PRINT, OP_PRINT, OP_NOOP], np.int64)
    ops["kind"] = table[np.clip(msgs["type"], 0, 7)]
    ops["ts_ns"] = msgs["time_ns"]
    ops["order_id"] = msgs["order_id"].astype(np.uint64)
    ops["side"] = msgs["direction"]
    ops["price"] = msgs["price"]
    ops["qty"] = msgs["size"]
    return ops


def lobster_active_ops(msgs: np.ndarray) -> np.ndarray:
    """The order flow of a LOBSTER day for a matching book: submissions and cancels, with the aggressors rebuilt.

    LOBSTER records an aggressive order only through the executions (type 4) of the resting orders it hit,
    all at its arrival time, followed by a submission (type 1, same time, the aggressor's id) of a marketable
    limit's remainder. Each run of consecutive type-4 rows with the same time and direction becomes one
    aggressor on the other side: merged with that remainder submission into an OP_LIMIT when it follows,
    else an OP_IOC (id ``SYNTHETIC_ID_BASE + k``) for the executed size at the worst executed price. Type 2 ->
    OP_REDUCE, 3 -> OP_DELETE, other type-1 rows -> OP_LIMIT; hidden executions, cross trades and halts (5, 6,
    7) are not order flow and are left out. Matching these ops reproduces the recorded type-4 executions.
    """
    return active_ops_with_rows(msgs)[0]


def active_ops_with_rows(msgs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lobster_active_ops` and, per op, the index of the message row it comes from (an aggressor: its
    first execution row), so other ops can be merged in message order."""
    n = msgs.shape[0]
    ty, t, d = msgs["type"], msgs["time_ns"], msgs["direction"]
    is_ex = ty == 4
    prev_same = np.zeros(n, bool)
    prev_same[1:] = is_ex[1:] & is_ex[:-1] & (t[1:] == t[:-1]) & (d[1:] == d[:-1])
    ex_rows = np.nonzero(is_ex)[0]
    gstart = np.nonzero(~prev_same[ex_rows])[0]  # group starts, as indices into ex_rows
    starts = ex_rows[gstart]
    ends = ex_rows[np.append(gstart[1:] - 1, ex_rows.size - 1)] if gstart.size else starts
    if gstart.size:
        qty = np.add.reduceat(msgs["size"][ex_rows], gstart)
        hi = np.maximum.reduceat(msgs["price"][ex_rows], gstart)
        lo = np.minimum.reduceat(msgs["price"][ex_rows], gstart)
    else:
        qty = hi = lo = np.zeros(0, np.int64)
    agg_side = -d[starts]
    nx = np.minimum(ends + 1, n - 1)
    merged = (ends + 1 < n) & (ty[nx] == 1) & (t[nx] == t[starts]) & (d[nx] == agg_side)
    skip = np.zeros(n, bool)
    skip[nx[merged]] = True
    rows_single = np.nonzero(((ty == 1) & ~skip) | (ty == 2) | (ty == 3))[0]
    ops = np.zeros(rows_single.size + starts.size, L3_OP_DTYPE)
    src = msgs[rows_single]
    o1 = ops[: rows_single.size]
    o1["kind"] = np.select([src["type"] == 1, src["type"] == 2], [OP_LIMIT, OP_REDUCE], OP_DELETE)
    o1["ts_ns"], o1["order_id"], o1["side"] = (
        src["time_ns"],
        src["order_id"].astype(np.uint64),
        src["direction"],
    )
    o1["price"], o1["qty"] = src["price"], src["size"]
    o2 = ops[rows_single.size :]
    o2["ts_ns"] = t[starts]
    o2["side"] = agg_side
    o2["kind"] = np.where(merged, OP_LIMIT, OP_IOC)
    o2["qty"] = qty + np.where(merged, msgs["size"][nx], 0)
    o2["price"] = np.where(merged, msgs["price"][nx], np.where(agg_side > 0, hi, lo))
    o2["order_id"] = np.where(
        merged,
        msgs["order_id"][nx].astype(np.uint64),
        np.uint64(SYNTHETIC_ID_BASE) + np.arange(starts.size, dtype=np.uint64),
    )
    rows = np.concatenate((rows_single, starts))
    order = np.argsort(rows, kind="stable")
    return ops[order], rows[order]


def l3_active_ops(ops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order flow of a passive L3 feed (e.g. :func:`read_l3_csv`) for a matching book, like
    :func:`lobster_active_ops`: each trade row (OP_EXEC) takes the side and price of its resting order (its
    last add/modify before the row), runs of trades at one time on one side become one aggressor, adds become
    OP_LIMIT, deletes stay OP_DELETE and modifies OP_PMODIFY (never matched). Returns ``(active ops,
    orphans)``: ``orphans`` are the indices of trade rows whose order was never added (no side or price to
    rebuild them from), left out of the flow."""
    n = ops.shape[0]
    kind, oid = ops["kind"], ops["order_id"]
    defines = (kind == OP_ADD) | (kind == OP_PMODIFY)
    order = np.lexsort((np.arange(n), oid))
    o_id, o_def = oid[order], defines[order]
    new_group = np.ones(n, bool)
    new_group[1:] = o_id[1:] != o_id[:-1]
    # forward fill, within each id, the position (in `order`) of the last defining row
    grp_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    last = np.maximum.accumulate(np.where(o_def, np.arange(n), -1))
    last = np.where(last >= grp_start, last, -1)
    src = np.full(n, -1, np.int64)
    src[order] = np.where(last >= 0, order[np.maximum(last, 0)], -1)
    adds = np.full(n, -1, np.int64)  # the side comes from the add (a modify row may not carry it)
    a_last = np.maximum.accumulate(np.where(o_def & (kind[order] == OP_ADD), np.arange(n), -1))
    a_last = np.where(a_last >= grp_start, a_last, -1)
    adds[order] = np.where(a_last >= 0, order[np.maximum(a_last, 0)], -1)
    is_ex = kind == OP_EXEC
    orphan = is_ex & ((src < 0) | (adds < 0))
    m = np.zeros(n, LOBSTER_MSG_DTYPE)
    m["time_ns"], m["order_id"], m["size"] = ops["ts_ns"], oid.astype(np.int64), ops["qty"]
    m["price"], m["direction"] = ops["price"], ops["side"]
    m["type"] = np.select([kind == OP_ADD, kind == OP_DELETE, is_ex & ~orphan], [1, 3, 4], 7)
    ex = np.nonzero(is_ex & ~orphan)[0]
    m["price"][ex] = ops["price"][src[ex]]
    m["direction"][ex] = ops["side"][adds[ex]]
    act, rows = active_ops_with_rows(m)
    pm = np.nonzero(kind == OP_PMODIFY)[0]
    merged = np.concatenate((act, ops[pm]))
    at = np.argsort(np.concatenate((rows, pm)), kind="stable")
    return merged[at], np.nonzero(orphan)[0]


def recorded_executions(msgs: np.ndarray) -> np.ndarray:
    """The visible executions (type 4) as rows (time ns, resting order id, price, size)."""
    e = msgs[msgs["type"] == 4]
    return np.stack((e["time_ns"], e["order_id"], e["price"], e["size"]), axis=1)


# ---- generic L3 CSV ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class L3CsvColumns:
    """Header names of the generic L3 CSV columns (map them to your file's names)."""

    order_id: str = "id"
    timestamp: str = "timestamp"
    side: str = "side"
    price: str = "price"
    size: str = "size"
    action: str = "action"


_SIDES = {
    "b": 1,
    "buy": 1,
    "bid": 1,
    "1": 1,
    "+1": 1,
    "s": -1,
    "sell": -1,
    "ask": -1,
    "a": -1,
    "-1": -1,
    "offer": -1,
}
_ACTIONS = {
    "add": OP_ADD,
    "a": OP_ADD,
    "new": OP_ADD,
    "modify": OP_PMODIFY,
    "m": OP_PMODIFY,
    "replace": OP_PMODIFY,
    "delete": OP_DELETE,
    "d": OP_DELETE,
    "cancel": OP_DELETE,
    "trade": OP_EXEC,
    "t": OP_EXEC,
    "fill": OP_EXEC,
    "execute": OP_EXEC,
}
_TIME_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": _NS}


def read_l3_csv(
    path: str | Path,
    *,
    tick_size: float,
    columns: L3CsvColumns | None = None,
    time_unit: str = "ns",
    delimiter: str = ",",
) -> tuple[np.ndarray, list[Quarantined]]:
    """Read a generic L3 CSV into passive ops: add -> OP_ADD, modify -> OP_PMODIFY (new price and size),
    delete -> OP_DELETE, trade -> OP_EXEC (size executed of resting ``id``).

    ``price`` is in quote currency (USD) and must lie on the ``tick_size`` grid; ``timestamp`` is a number in
    ``time_unit`` (ns, us, ms or s; decimals allowed) and becomes ns. Returns ``(ops, quarantined)``.
    """
    cols = columns or L3CsvColumns()
    if time_unit not in _TIME_UNITS:
        raise LobsterImportError(f"time_unit must be one of {sorted(_TIME_UNITS)}, got {time_unit!r}")
    if not (math.isfinite(tick_size) and tick_size > 0):
        raise LobsterImportError(f"tick_size must be finite and > 0, got {tick_size!r}")
    lines = _read_lines(path)
    if not lines:
        raise LobsterImportError(f"{path} is empty (a header row is required)")
    header = [h.strip() for h in lines[0].split(delimiter)]
    want: Sequence[str] = (cols.order_id, cols.timestamp, cols.side, cols.price, cols.size, cols.action)
    missing = [w for w in want if w not in header]
    if missing:
        raise LobsterImportError(f"{path}: header {header} lacks the mapped column(s) {missing}")
    idx = [header.index(w) for w in want]
    quarantined: list[Quarantined] = []
    cells: list[list[str]] = []
    lineno: list[int] = []
    for i, line in enumerate(lines[1:], start=2):
        f = line.split(delimiter)
        if len(f) != len(header):
            quarantined.append(Quarantined(i, f"expected {len(header)} columns, got {len(f)}", line))
            continue
        cells.append([f[j].strip() for j in idx])
        lineno.append(i)
    raw = np.array(cells, dtype=str).reshape(-1, 6)
    n = raw.shape[0]
    reason = np.full(n, "", dtype=object)

    def mark(bad: np.ndarray, why: str) -> None:
        reason[bad & (reason == "")] = why

    id_ok = np.char.isdigit(raw[:, 0]) & (np.char.str_len(raw[:, 0]) <= 19)
    mark(~id_ok, "id is not a non-negative integer")
    ts = _to_float(raw[:, 1]) * _TIME_UNITS[time_unit]
    mark(~np.isfinite(ts) | (ts < 0) | (ts >= 2.0**63), "timestamp is not a number of the time unit")
    side = np.array([_SIDES.get(s.lower(), 0) for s in raw[:, 2]], np.int64)
    action = np.array([_ACTIONS.get(a.lower(), -1) for a in raw[:, 5]], np.int64)
    mark(action < 0, "action is not add/modify/delete/trade")
    mark((side == 0) & (action == OP_ADD), "side is not buy/sell")
    px = _to_float(raw[:, 3]) / tick_size
    needs_px = (action == OP_ADD) | (action == OP_PMODIFY)
    tick = np.round(np.where(np.isfinite(px), px, 0.0))
    mark(
        needs_px & (~np.isfinite(px) | (tick < 1) | (tick > MAX_PRICE)), "price not a positive finite number"
    )
    mark(needs_px & (np.abs(px - tick) > 1e-6 * np.maximum(1.0, np.abs(px))), "price off the tick grid")
    size = _to_float(raw[:, 4])
    needs_sz = action != OP_DELETE
    mark(
        needs_sz & (~np.isfinite(size) | (size < 1) | (size > MAX_QTY) | (size != np.round(size))),
        "size not a whole number in 1..MAX_QTY",
    )
    ok = reason == ""
    for k in np.nonzero(~ok)[0]:
        quarantined.append(Quarantined(lineno[k], str(reason[k]), lines[lineno[k] - 1]))
    ops = np.zeros(int(ok.sum()), L3_OP_DTYPE)
    ops["order_id"] = np.array([int(x) for x in raw[ok, 0]], dtype=np.uint64) if ops.size else 0
    ops["ts_ns"] = np.round(ts[ok]).astype(np.int64)
    ops["side"] = side[ok]
    ops["kind"] = action[ok]
    ops["price"] = tick[ok].astype(np.int64)
    ops["qty"] = np.where(needs_sz[ok], np.nan_to_num(size[ok]), 0).astype(np.int64)
    return ops, sorted(quarantined, key=lambda q: q.line)


def _to_float(col: np.ndarray) -> np.ndarray:
    out = np.full(col.shape[0], np.nan)
    for i, s in enumerate(col):
        try:
            out[i] = float(s)
        except ValueError:
            pass
    return out


def empty_level_marks() -> tuple[int, int]:
    """LOBSTER's (ask, bid) price marks of an empty orderbook level."""
    return EMPTY_ASK_PRICE, EMPTY_BID_PRICE
