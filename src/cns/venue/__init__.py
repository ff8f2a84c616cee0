"""cns.venue — the exchange: price-time-priority order books over ORDER_DTYPE / EXEC_DTYPE records.

``OrderBook`` matches ORDER_DTYPE batches in Numba kernels and reports EXEC_DTYPE records. The event-driven
venue with latency and the simulated participants trading on it is :class:`cns.market.exchange.
ExchangeSimulator` (the market builds on the venue, never the other way round).
"""

from __future__ import annotations

from cns.venue.book import TRADE_DTYPE, OrderBook, make_orders, tick_size_for
from cns.venue.errors import (
    OrderBatchError,
    ReservedOwnerError,
    SimClockError,
    VenueConfigError,
    VenueError,
)

__all__ = [
    "TRADE_DTYPE",
    "OrderBatchError",
    "OrderBook",
    "ReservedOwnerError",
    "SimClockError",
    "VenueConfigError",
    "VenueError",
    "make_orders",
    "tick_size_for",
]
