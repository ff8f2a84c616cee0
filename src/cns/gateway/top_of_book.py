"""Top of book of the venue gateway's books, and the market-data records a matched batch produces
(:data:`~cns.gateway.marketdata.TOB_DTYPE`, sent to the :class:`~cns.gateway.marketdata.MarketDataPublisher`
as an :class:`~cns.gateway.marketdata.MdUpdate`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cns.gateway.marketdata import FLAG_TRADE, TOB_DTYPE

__all__ = ["fill_top", "snapshot", "top_updates"]

_QUOTE = ("bid_px", "bid_qty", "ask_px", "ask_qty")


def fill_top(book: Any, rec: np.void, k: int) -> None:
    """Best bid and ask of instrument ``k`` (price, size; NaN/0 for an empty side) into ``rec``."""
    b = book
    L = b.lv.shape[1]
    bb, ba = int(b.best_bid[k]), int(b.best_ask[k])
    if bb >= 0:
        rec["bid_px"], rec["bid_qty"] = (b.base_tick[k] + bb) * b.tick[k], b.lv[k, bb, 2]
    else:
        rec["bid_px"], rec["bid_qty"] = np.nan, 0
    if ba < L:
        rec["ask_px"], rec["ask_qty"] = (b.base_tick[k] + ba) * b.tick[k], b.lv[k, ba, 2]
    else:
        rec["ask_px"], rec["ask_qty"] = np.nan, 0


def snapshot(book: Any) -> np.ndarray:
    """One record per instrument (codes 1..n), the book as it is now, no last trade."""
    n1 = book.tick.shape[0]
    top = np.zeros(n1 - 1, TOB_DTYPE)
    top["instrument"] = np.arange(1, n1)
    top["last_px"] = np.nan
    for k in range(1, n1):
        fill_top(book, top[k - 1], k)
    return top


def _record(book: Any, k: int, ts: int, flags: int, last_px: float, last_qty: int) -> np.ndarray:
    rec = np.zeros(1, TOB_DTYPE)
    rec["ts_ns"] = ts
    rec["instrument"] = k
    rec["flags"] = flags
    fill_top(book, rec[0], k)
    rec["last_px"] = last_px
    rec["last_qty"] = last_qty
    return rec


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) or (isinstance(a, float | np.floating) and math.isnan(a) and math.isnan(b))


def top_updates(
    book: Any, top: np.ndarray, orders: np.ndarray, trades: np.ndarray, ts: int
) -> list[np.ndarray]:
    """The market-data records of one matched batch (``orders`` in, ``trades`` out), stamped ``ts``: one per
    trade (with the book after the batch), then one per other instrument of the batch whose best bid/ask
    changed. ``top`` (the last published state) is brought up to date."""
    out = [_record(book, int(t["instrument"]), ts, FLAG_TRADE, t["price"], t["qty"]) for t in trades]
    traded = {int(t["instrument"]) for t in trades}
    new = np.zeros(1, TOB_DTYPE)[0]
    for k in np.unique(orders["instrument"]):
        k = int(k)
        if not 0 < k <= top.shape[0]:
            continue
        old = top[k - 1]
        fill_top(book, new, k)
        changed = any(not _same(old[f], new[f]) for f in _QUOTE)
        for f in _QUOTE:
            old[f] = new[f]
        if changed and k not in traded:
            out.append(_record(book, k, ts, 0, np.nan, 0))
    for t in trades:
        k = int(t["instrument"])
        top[k - 1]["last_px"] = t["price"]
        top[k - 1]["last_qty"] = t["qty"]
    return out
