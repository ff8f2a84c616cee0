"""A seeded background market maker, so that the venue has liquidity to trade against.

:class:`MarketMaker` is a :class:`~cns.otp.GenServer` (owner 1 on the book). Every ``interval_s`` it moves
each instrument's mid by a seeded random step (``vol_ticks`` standard deviation, in ticks, with a weak pull
back to the reference price so it stays inside the price band), cancels its previous quotes and posts
``depth`` levels per side, ``spread_ticks`` apart around the mid, ``qty`` shares each -- one
:class:`~cns.gateway.gateway.MarketMakerQuotes` batch to the gateway. Same seed and config, same quotes.
Its fills are not reported anywhere (positions are kept by the book for owner 1).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from cns.gateway.config import OWNER_MARKET_MAKER, VenueConfig
from cns.gateway.gateway import MarketMakerQuotes
from cns.otp import ChildSpec, GenServer
from cns.runtime import Node, Pid
from cns.venue.book import tick_size_for
from cns.venue.dtypes import ORDER_CANCEL, ORDER_DTYPE, ORDER_LIMIT, SIDE_BUY, SIDE_SELL

__all__ = ["MarketMaker", "market_maker_child_spec"]


class _Requote:
    pass


_REQUOTE = _Requote()


class MarketMaker(GenServer):
    """Seeded background liquidity (owner 1): every ``interval_s`` s, cancel its quotes and post ``depth`` levels
    per side around a random-walk mid (in ticks), as one MarketMakerQuotes batch to ``gateway``.
    """

    def init(self, config: VenueConfig, gateway: str) -> None:
        mm = config.market_maker
        self.cfg = mm
        self.gateway = gateway
        self.rng = np.random.default_rng(mm.seed)
        n = len(config.instruments)
        self.tick = np.array(
            [i.tick if i.tick is not None else tick_size_for(i.price) for i in config.instruments]
        )
        self.ref = np.array(
            [round(i.price / t) for i, t in zip(config.instruments, self.tick, strict=True)], dtype=np.float64
        )
        self.mid = self.ref.copy()  # in ticks
        half = config.levels // 2 - mm.spread_ticks - mm.depth - 2
        self.lo = self.ref - max(1, half)
        self.hi = self.ref + max(1, half)
        self.lo = np.maximum(self.lo, mm.spread_ticks + mm.depth + 1)
        self.n = n
        self.next_id = 1
        self.resting = np.zeros(0, np.uint64)  # our quote ids still to cancel
        self.resting_k = np.zeros(0, np.uint32)
        self.resting_side = np.zeros(0, np.int8)
        self.batches = 0
        self.timer = self.node.send_interval(mm.interval_s, self.pid, _REQUOTE)
        self.node.send(self.pid, _REQUOTE)

    def handle_info(self, msg: Any) -> None:
        if msg is _REQUOTE:
            self._requote()

    def handle_call(self, request: Any, from_: Any) -> Any:
        if request == "stats":
            return {"batches": self.batches, "mid": (self.mid * self.tick).tolist()}
        return None

    def _requote(self) -> None:
        mm = self.cfg
        step = self.rng.normal(0.0, mm.vol_ticks, self.n) + 0.01 * (self.ref - self.mid)
        self.mid = np.clip(np.round(self.mid + step), self.lo, self.hi)
        n_cancel = self.resting.shape[0]
        per = 2 * mm.depth
        recs = np.zeros(n_cancel + self.n * per, ORDER_DTYPE)
        c = recs[:n_cancel]
        c["order_id"] = np.arange(self.next_id, self.next_id + n_cancel, dtype=np.uint64)
        self.next_id += n_cancel
        c["target_id"] = self.resting
        c["owner"] = OWNER_MARKET_MAKER
        c["instrument"] = self.resting_k
        c["side"] = self.resting_side
        c["type"] = ORDER_CANCEL
        q = recs[n_cancel:]
        k = np.repeat(np.arange(1, self.n + 1, dtype=np.uint32), per)
        lvl = np.tile(np.arange(mm.depth), 2 * self.n)
        side = np.tile(np.repeat(np.array([SIDE_BUY, SIDE_SELL], np.int8), mm.depth), self.n)
        mid = np.repeat(self.mid, per)
        half = mm.spread_ticks / 2.0
        px_ticks = np.where(side == SIDE_BUY, np.floor(mid - half) - lvl, np.ceil(mid + half) + lvl)
        q["order_id"] = np.arange(self.next_id, self.next_id + q.shape[0], dtype=np.uint64)
        self.next_id += q.shape[0]
        q["owner"] = OWNER_MARKET_MAKER
        q["instrument"] = k
        q["side"] = side
        q["type"] = ORDER_LIMIT
        q["qty"] = mm.qty
        q["price"] = px_ticks * np.repeat(self.tick, per)
        recs["ts_ns"] = time.time_ns()
        self.resting = q["order_id"].copy()
        self.resting_k = q["instrument"].copy()
        self.resting_side = q["side"].copy()
        self.batches += 1
        self.node.send(self.gateway, MarketMakerQuotes(recs))

    def terminate(self, reason: Any) -> None:
        if getattr(self, "timer", None) is not None:
            self.node.cancel_timer(self.timer)


def market_maker_child_spec(
    config: VenueConfig, gateway: str = "venue_gateway", name: str = "venue_market_maker"
) -> ChildSpec:
    """A worker ChildSpec (``name``, 1 s shutdown) starting a :class:`MarketMaker` for ``config`` quoting into
    ``gateway``.
    """

    def start(node: Node) -> Pid:
        pid = MarketMaker.start_link(node, config, gateway, name=name)
        assert pid is not None
        return pid

    return ChildSpec(name, start, shutdown=1.0)
