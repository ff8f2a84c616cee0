"""The records a :class:`~cns.market.recorded.RecordedExchange` keeps while replaying: the history of each
book's best prices (what the desk's delayed quotes are looked up in) and the trade tape, compared with the
recorded executions."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TRADE_TAPE_DTYPE", "QuoteHistory", "compare_trades"]

TRADE_TAPE_DTYPE = np.dtype(
    [
        ("ts_ns", np.int64),  # ns since the epoch
        ("price", np.int64),  # book units
        ("qty", np.int64),  # shares
        ("maker_owner", np.int64),
        ("taker_owner", np.int64),
    ]
)


class QuoteHistory:
    """Growable history of one book's best bid and ask (book units; 0 = empty side), one row per change,
    stamped with the time of the op that made it."""

    def __init__(self) -> None:
        self.ts = np.zeros(1024, np.int64)
        self.px = np.zeros((1024, 2), np.int64)
        self.n = 0

    def append(self, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        """Record the best prices after each of a run of ops (``ts``, ``bid``, ``ask`` per op, in order);
        only the changes are kept."""
        if ts.size == 0:
            return
        pb, pa = self.px[self.n - 1] if self.n else (0, 0)
        prev_b = np.concatenate(([pb], bid[:-1]))
        prev_a = np.concatenate(([pa], ask[:-1]))
        ch = np.nonzero((bid != prev_b) | (ask != prev_a))[0]
        k = ch.size
        if k == 0:
            return
        if self.n + k > self.ts.size:
            cap = max(2 * self.ts.size, self.n + k)
            ts2, px2 = np.zeros(cap, np.int64), np.zeros((cap, 2), np.int64)
            ts2[: self.n], px2[: self.n] = self.ts[: self.n], self.px[: self.n]
            self.ts, self.px = ts2, px2
        self.ts[self.n : self.n + k] = ts[ch]
        self.px[self.n : self.n + k, 0] = bid[ch]
        self.px[self.n : self.n + k, 1] = ask[ch]
        self.n += k

    def at(self, t: int) -> tuple[int, int, int]:
        """``(bid, ask, ts)`` in force at ``t`` (after every change stamped <= t); (0, 0, 0) before the first."""
        i = int(np.searchsorted(self.ts[: self.n], t, side="right")) - 1
        if i < 0:
            return 0, 0, 0
        return int(self.px[i, 0]), int(self.px[i, 1]), int(self.ts[i])

    def at_many(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(bid, ask)`` in force at each of the times ``t`` (0 before the first change)."""
        i = np.searchsorted(self.ts[: self.n], t, side="right") - 1
        ok = i >= 0
        j = np.maximum(i, 0)
        return np.where(ok, self.px[j, 0], 0), np.where(ok, self.px[j, 1], 0)


def _summary(qty: np.ndarray, price: np.ndarray, unit: float) -> dict[str, float | int]:
    shares = int(qty.sum())
    vwap = float((qty * price).sum()) / shares * unit if shares else float("nan")
    return {"trades": int(qty.shape[0]), "shares": shares, "vwap_usd": vwap}


def compare_trades(
    tape: np.ndarray, recorded: np.ndarray, unit_usd: float, recorder_owner: int
) -> dict[str, Any]:
    """The book's ``tape`` (TRADE_TAPE_DTYPE) next to the ``recorded`` executions over the same span
    (:data:`~cns.market.recorded_data.RECORDED_TRADE_DTYPE`): count, shares, VWAP (USD) of each; the book's
    trades with someone other than ``recorder_owner`` on a side (the desk); how many leading trades agree in
    time, price and size; ``identical`` when all do and the counts match."""
    n = min(tape.shape[0], recorded.shape[0])
    same = (
        (tape["ts_ns"][:n] == recorded["ts_ns"][:n])
        & (tape["price"][:n] == recorded["price"][:n])
        & (tape["qty"][:n] == recorded["qty"][:n])
    )
    prefix = int(np.argmin(same)) if n and not same.all() else n
    desk = (tape["maker_owner"] != recorder_owner) | (tape["taker_owner"] != recorder_owner)
    return {
        "recorded": _summary(recorded["qty"], recorded["price"], unit_usd),
        "book": _summary(tape["qty"], tape["price"], unit_usd),
        "book_with_desk": int(desk.sum()),
        "same_leading_trades": prefix,
        "identical": bool(tape.shape[0] == recorded.shape[0] and prefix == n),
    }
