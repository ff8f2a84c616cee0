"""What the trading desk needs from a venue: the :class:`Exchange` protocol, and :data:`ExchangeFactory`, the
hook through which :class:`cns.replay.desk.DeskConfig` plugs in a venue other than the default
:class:`~cns.market.exchange.ExchangeSimulator` (e.g. a recorded market replaying LOBSTER books).

Contracts every implementation keeps (times are int ns since the epoch; per-instrument arrays have one entry
per ticker code plus index 0, unused: NaN / 0):

* **Clock.** ``now_ns`` starts at ``SimConfig.start_ns`` and only moves forward, through ``advance_to``.
* **Orders.** ``submit(orders)`` queues ``ORDER_DTYPE`` orders (new limit/IOC orders and cancels, owner 0 =
  CNS); each reaches the book at ``max(ts_ns + SimConfig.entry_latency_ns, now_ns)``, never earlier. Bad
  orders raise a :class:`~cns.venue.errors.VenueError` subclass; nothing is queued then.
* **Stepping.** ``advance_to(t_ns)`` processes every event with time ``<= t_ns`` and returns the
  ``EXEC_DTYPE`` reports for external owners produced meanwhile, in venue-time order (``ts_ns`` = the venue
  time the report was produced; ``fee`` filled for fills). A ``t_ns`` before ``now_ns`` raises
  :class:`~cns.venue.errors.SimClockError`. The same inputs give the same reports, bit for bit.
* **What traders see.** ``reference_prices(t_ns, out=(mid, ts))`` fills ``mid`` (USD) and ``ts`` with the
  quote in force at ``t_ns - SimConfig.md_latency_ns`` and the venue time it was set (NaN / 0 where there is
  none), returns ``(mid, ts)``; ``reference_quotes(t_ns)`` returns new ``(bid, ask, ts)`` arrays the same
  way. Asking for quotes the venue has not simulated yet (``t_ns - md_latency_ns > now_ns``) raises
  :class:`~cns.venue.errors.SimClockError`: no lookahead.
* **Marks and evaluation** (read at the end of a pass, never fed back into trading): ``mark_prices()`` (live
  mid, else last trade, else the opening price), ``fundamentals()`` (the hidden value where the venue has
  one, else NaN), ``snapshots()`` ``(ts_ns[k], mid[k, n+1], fundamental[k, n+1])``, ``pnl()`` and ``fees()``
  per owner name (USD; fees as ``{"paid", "rebates", "net"}``), ``stats()`` (counters, ints, plus
  ``cns_fees_paid_usd`` / ``cns_rebates_usd``), ``n_public_reports`` (public news the market traded on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from cns.market.exchange import SimConfig


@runtime_checkable
class Exchange(Protocol):
    """A venue the trading desk can trade against (see the module docstring for every method's contract)."""

    @property
    def now_ns(self) -> int:
        """Venue time reached so far (ns since epoch)."""
        ...

    @property
    def n_public_reports(self) -> int:
        """Public news reports the simulated market traded on (0 for a recorded market)."""
        ...

    def submit(self, orders: np.ndarray) -> None:
        """Queue ``ORDER_DTYPE`` orders; each reaches the book ``entry_latency_ns`` after its stamp."""
        ...

    def expect_activity(self, times_ns: np.ndarray) -> None:
        """Announce the times (int64 ns) the desk will act at, before it reaches them: a simulated market keeps
        itself awake and warmed up around them (idle gaps cost it nothing); a recorded one ignores them."""
        ...

    def advance_to(self, t_ns: int) -> np.ndarray:
        """Run the venue to ``t_ns``; return the external owners' ``EXEC_DTYPE`` reports produced meanwhile."""
        ...

    def reference_prices(
        self, t_ns: int, out: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(mid USD, ts_ns)`` per ticker code as seen at ``t_ns`` (``md_latency_ns`` old)."""
        ...

    def reference_quotes(
        self, t_ns: int, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(bid, ask, ts_ns)`` per ticker code as seen at ``t_ns`` (``md_latency_ns`` old)."""
        ...

    def mark_prices(self) -> np.ndarray:
        """Live mark per ticker code (USD): mid, else last trade, else the opening price."""
        ...

    def fundamentals(self) -> np.ndarray:
        """The hidden value per ticker code now (USD; NaN where the venue has none) — evaluation only."""
        ...

    def snapshots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ts_ns[k], mid[k, n+1], fundamental[k, n+1])`` sampled over the pass (for plots/attribution)."""
        ...

    def pnl(self) -> dict[str, float]:
        """Marked-to-market P&L per owner name, USD."""
        ...

    def fees(self) -> dict[str, dict[str, float]]:
        """Fees paid / rebates earned / net per owner name, USD."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counters of everything processed so far."""
        ...


ExchangeFactory = Callable[[SimConfig], Exchange]
"""Builds the venue of one desk pass from the pass's :class:`~cns.market.exchange.SimConfig` (``start_ns``,
``entry_latency_ns``, ``md_latency_ns`` of the pass's latency model; the factory keeps them). Called once per
:class:`~cns.replay.desk.TradingDesk`, so every pass gets a fresh venue."""

__all__ = ["Exchange", "ExchangeFactory"]
