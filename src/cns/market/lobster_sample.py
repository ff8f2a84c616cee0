"""A seeded generator of LOBSTER-format sample days (message + orderbook files), and the shipped sample.

Real LOBSTER files cannot be redistributed, so CNS ships a *generated* day instead: a small pure-Python
exchange (price-time priority, independent of :mod:`cns.venue.l3book`) runs a stock-like session — a book
seeded at the open, limit submissions clustered near the touch in round and odd lots, full and partial
cancels, marketable orders sweeping one or more levels (IOC, or limits whose remainder rests), and a few
hidden executions — with a U-shaped intraday message rate. Every message is written as LOBSTER does (the
executions of the resting orders an aggressor hit, all at its arrival time, then the submission of a
limit's remainder), and the orderbook row after each message comes from the generator's own book. The
files are therefore internally consistent: replaying the messages must reproduce the orderbook file, and
matching the rebuilt order flow must reproduce the recorded executions.

``python -m cns.market.lobster_sample OUT_DIR [--seed N] [--messages N] [--levels N]`` writes a day.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import deque
from pathlib import Path

import numpy as np

from cns.market.lobster import LOBSTER_MSG_DTYPE
from cns.venue.l3book_dtypes import EMPTY_ASK_PRICE, EMPTY_BID_PRICE

__all__ = [
    "SAMPLE_DATE",
    "SAMPLE_TICKER",
    "cut_lobster_day",
    "generate_lobster_day",
    "lobster_file_names",
    "sample_paths",
    "write_lobster_day",
]

SAMPLE_TICKER = "CNSX"
SAMPLE_DATE = "2012-06-21"
SAMPLE_SEED = 20120621
SAMPLE_MESSAGES = 3000
SAMPLE_LEVELS = 5
_NS = 1_000_000_000
_OPEN_S, _CLOSE_S = 34_200, 57_600  # 09:30 and 16:00, seconds after midnight
_LOTS = (100, 100, 100, 100, 200, 200, 300, 400, 500, 1000, 50, 25, 10, 1, 35, 150)


class _Book:
    """Dict-of-deques book of the generator (LOBSTER price units)."""

    def __init__(self) -> None:
        self.side: dict[int, dict[int, deque[list[int]]]] = {1: {}, -1: {}}
        self.orders: dict[int, list[int]] = {}  # id -> [side, price, size]

    def best(self, side: int) -> int | None:
        lv = self.side[side]
        if not lv:
            return None
        return max(lv) if side == 1 else min(lv)

    def add(self, oid: int, side: int, price: int, size: int) -> None:
        self.side[side].setdefault(price, deque()).append([oid, size])
        self.orders[oid] = [side, price, size]

    def reduce(self, oid: int, by: int) -> None:
        side, price, size = self.orders[oid]
        q = self.side[side][price]
        for e in q:
            if e[0] == oid:
                e[1] -= by
                break
        if size - by == 0:
            q.remove(next(e for e in q if e[0] == oid))
            if not q:
                del self.side[side][price]
            del self.orders[oid]
        else:
            self.orders[oid][2] = size - by

    def row(self, levels: int) -> list[int]:
        asks = sorted(self.side[-1])[:levels]
        bids = sorted(self.side[1], reverse=True)[:levels]
        out: list[int] = []
        for k in range(levels):
            if k < len(asks):
                out += [asks[k], sum(e[1] for e in self.side[-1][asks[k]])]
            else:
                out += [EMPTY_ASK_PRICE, 0]
            if k < len(bids):
                out += [bids[k], sum(e[1] for e in self.side[1][bids[k]])]
            else:
                out += [EMPTY_BID_PRICE, 0]
        return out


def generate_lobster_day(
    seed: int = SAMPLE_SEED,
    n_messages: int = SAMPLE_MESSAGES,
    *,
    levels: int = SAMPLE_LEVELS,
    open_price: int = 5_853_300,
    tick: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a session; return ``(messages, orderbook)``: LOBSTER_MSG_DTYPE rows and the int64
    ``[n, 4 * levels]`` book after each message. Prices in LOBSTER units (USD x 10 000), ``tick`` units apart;
    about ``n_messages`` rows (an aggressor's messages are never split)."""
    rnd = random.Random(seed)
    book = _Book()
    msgs: list[tuple[int, int, int, int, int, int]] = []
    rows: list[list[int]] = []
    next_id = [10_000_000]

    def emit(t: int, typ: int, oid: int, size: int, price: int, direction: int) -> None:
        msgs.append((t, typ, oid, size, price, direction))
        rows.append(book.row(levels))

    def new_id() -> int:
        next_id[0] += rnd.randint(1, 97)
        return next_id[0]

    def submit(t: int, side: int) -> None:
        own, opp = book.best(side), book.best(-side)
        if own is None:
            ref = (opp - side * tick) if opp is not None else open_price - (tick if side == 1 else -tick)
        else:
            ref = own
        k = min(int(rnd.expovariate(0.45)), 12)
        price = ref - side * k * tick
        if opp is not None and own is not None and abs(opp - own) > tick and rnd.random() < 0.2:
            price = own + side * tick  # improve the touch inside a wide spread
        if opp is not None and (price >= opp if side == 1 else price <= opp):
            price = opp - side * tick
        size = rnd.choice(_LOTS)
        oid = new_id()
        book.add(oid, side, price, size)
        emit(t, 1, oid, size, price, side)

    def cancel(t: int) -> None:
        oid = rnd.choice(tuple(book.orders))
        side, price, size = book.orders[oid]
        if size > 1 and rnd.random() < 0.25:
            by = rnd.randint(1, size - 1)
            book.reduce(oid, by)
            emit(t, 2, oid, by, price, side)
        else:
            book.reduce(oid, size)
            emit(t, 3, oid, size, price, side)

    def aggress(t: int, side: int) -> None:
        opp = book.best(-side)
        if opp is None:
            return
        limit = opp + side * tick * min(int(rnd.expovariate(1.2)), 3)
        want = rnd.choice(_LOTS) * rnd.choice((1, 1, 1, 2, 3))
        oid = new_id()
        rem = want
        while rem > 0:
            px = book.best(-side)
            if px is None or (px > limit if side == 1 else px < limit):
                break
            maker_id, maker_size = book.side[-side][px][0]
            f = min(rem, maker_size)
            book.reduce(maker_id, f)
            rem -= f
            emit(t, 4, maker_id, f, px, -side)
        if rem > 0 and rnd.random() < 0.4:  # a marketable limit: its remainder rests at the limit
            book.add(oid, side, limit, rem)
            emit(t, 1, oid, rem, limit, side)

    def hidden(t: int) -> None:
        bid, ask = book.best(1), book.best(-1)
        if bid is None or ask is None:
            return
        price = bid + tick * ((ask - bid) // tick // 2) if ask - bid > tick else rnd.choice((bid, ask))
        emit(t, 5, 0, rnd.choice((1, 10, 50, 100, 100, 200)), price, rnd.choice((1, -1)))

    t = _OPEN_S * _NS
    for i in range(40):  # the opening book, in the first few hundred ms
        t += rnd.randint(1_000, 9_000_000)
        submit(t, 1 if i % 2 == 0 else -1)
    span = (_CLOSE_S - _OPEN_S) * _NS
    mean_dt = span * 1.3 / max(1, n_messages)  # about 1.3 messages per event
    while len(msgs) < n_messages:
        x = (t - _OPEN_S * _NS) / span
        rate = 0.55 + 1.8 * (2 * x - 1) ** 2  # U-shaped intraday activity
        t += max(1, int(rnd.expovariate(rate / mean_dt)))
        if t >= _CLOSE_S * _NS:
            break
        nb, na = len(book.side[1]), len(book.side[-1])
        u = rnd.random()
        if nb < 4 or na < 4:
            submit(t, 1 if nb <= na else -1)
        elif u < 0.48:
            submit(t, rnd.choice((1, -1)))
        elif u < 0.84:
            cancel(t)
        elif u < 0.985:
            aggress(t, rnd.choice((1, -1)))
        else:
            hidden(t)
    m = np.zeros(len(msgs), LOBSTER_MSG_DTYPE)
    if msgs:
        arr = np.array(msgs, np.int64)
        for j, name in enumerate(("time_ns", "type", "order_id", "size", "price", "direction")):
            m[name] = arr[:, j]
    m["line"] = np.arange(1, len(msgs) + 1)
    return m, np.array(rows, np.int64).reshape(len(rows), 4 * levels)


def cut_lobster_day(msgs: np.ndarray, book: np.ndarray, from_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of a day from ``from_ns`` (ns after midnight) on, as a LOBSTER file bought for that window
    holds it: the messages at or after ``from_ns`` (lines renumbered from 1) and their orderbook rows. Orders
    resting before the cut appear only in the first orderbook row (an aggressor's messages share one time,
    so the cut never splits them)."""
    k = int(np.searchsorted(msgs["time_ns"], from_ns, side="left"))
    m = msgs[k:].copy()
    m["line"] = np.arange(1, m.shape[0] + 1)
    return m, book[k:].copy()


def lobster_file_names(ticker: str, date: str, levels: int) -> tuple[str, str]:
    """LOBSTER's file names for a 09:30-16:00 day: ``TICKER_DATE_34200000_57600000_{message,orderbook}_L.csv``."""
    stem = f"{ticker}_{date}_{_OPEN_S * 1000}_{_CLOSE_S * 1000}"
    return f"{stem}_message_{levels}.csv", f"{stem}_orderbook_{levels}.csv"


def write_lobster_day(
    out_dir: str | Path,
    *,
    seed: int = SAMPLE_SEED,
    n_messages: int = SAMPLE_MESSAGES,
    levels: int = SAMPLE_LEVELS,
    ticker: str = SAMPLE_TICKER,
    date: str = SAMPLE_DATE,
    from_ns: int = 0,
) -> tuple[Path, Path]:
    """Generate a day and write its two LOBSTER files into ``out_dir``; returns their paths. ``from_ns`` > 0
    writes only the part from that time (ns after midnight) on, see :func:`cut_lobster_day`."""
    msgs, book = generate_lobster_day(seed, n_messages, levels=levels)
    if from_ns > 0:
        msgs, book = cut_lobster_day(msgs, book, from_ns)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mname, oname = lobster_file_names(ticker, date, levels)
    sec, frac = np.divmod(msgs["time_ns"], _NS)
    with open(out / mname, "w", encoding="ascii", newline="\n") as f:
        for r, s, fr in zip(msgs.tolist(), sec.tolist(), frac.tolist(), strict=True):
            f.write(f"{s}.{fr:09d},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]}\n")
    with open(out / oname, "w", encoding="ascii", newline="\n") as f:
        for row in book.tolist():
            f.write(",".join(map(str, row)) + "\n")
    return out / mname, out / oname


def sample_paths() -> tuple[Path, Path]:
    """The shipped generated sample (message, orderbook) inside the installed package (``cns/data/samples``)."""
    from importlib.resources import files

    base = Path(str(files("cns"))) / "data" / "samples"
    mname, oname = lobster_file_names(SAMPLE_TICKER, SAMPLE_DATE, SAMPLE_LEVELS)
    return base / mname, base / oname


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m cns.market.lobster_sample", description=__doc__.splitlines()[0]
    )
    p.add_argument("out_dir")
    p.add_argument("--seed", type=int, default=SAMPLE_SEED)
    p.add_argument("--messages", type=int, default=SAMPLE_MESSAGES)
    p.add_argument("--levels", type=int, default=SAMPLE_LEVELS)
    a = p.parse_args(argv)
    for path in write_lobster_day(a.out_dir, seed=a.seed, n_messages=a.messages, levels=a.levels):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
