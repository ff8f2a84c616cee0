"""cns.venue — the simulated exchange: price-time-priority order books and an event-driven venue.

``OrderBook`` matches ORDER_DTYPE batches in Numba kernels and reports EXEC_DTYPE records;
``ExchangeSimulator`` runs the books over simulated time with order-entry and market-data latency and the
simulated market (``cns.market.prices`` / ``cns.market.sim``) trading on them. ``ExchangeSimulator`` and
``SimConfig`` are imported lazily, so ``cns.market`` may import this package without a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cns.venue.book import TRADE_DTYPE, OrderBook, make_orders, tick_size_for
from cns.venue.errors import (
    OrderBatchError,
    ReservedOwnerError,
    SimClockError,
    VenueConfigError,
    VenueError,
)

if TYPE_CHECKING:
    from cns.venue.exchange import ExchangeSimulator, SimConfig


def __getattr__(name: str) -> Any:
    if name in ("ExchangeSimulator", "SimConfig"):
        from cns.venue import exchange

        return getattr(exchange, name)
    raise AttributeError(f"module 'cns.venue' has no attribute {name!r}")


__all__ = [
    "TRADE_DTYPE",
    "ExchangeSimulator",
    "OrderBatchError",
    "OrderBook",
    "ReservedOwnerError",
    "SimClockError",
    "SimConfig",
    "VenueConfigError",
    "VenueError",
    "make_orders",
    "tick_size_for",
]
