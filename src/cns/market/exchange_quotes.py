"""What traders see of the simulated venue: quotes as of ``t - md_latency_ns`` and live marks (the
:class:`QuoteView` half of :class:`cns.market.exchange.ExchangeSimulator`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cns.market import sim_kernels as S
from cns.market.sim_config import SimConfig
from cns.market.sim_kernels_state import SimArrays
from cns.market.timebounds import NEVER_NS
from cns.venue import book_kernels as K
from cns.venue.errors import SimClockError, VenueConfigError

__all__ = ["QuoteView"]


def _compiled(dispatcher: Any, *args: Any) -> Any:
    """The compiled entry point of ``dispatcher`` for ``args``' exact types (compiled or loaded from the cache
    if needed, without running it): calling it skips Numba's per-call type resolution, which for namedtuples
    of arrays re-types every field on each call. The caller must only pass arguments of the same types.
    Falls back to the dispatcher itself if Numba's internals differ."""
    try:
        return dispatcher.compile(tuple(dispatcher.typeof_pyval(a) for a in args))
    except Exception:  # pragma: no cover - numba internals
        return dispatcher


class QuoteView:
    """Quote reads of an :class:`~cns.market.exchange.ExchangeSimulator` (which provides the attributes below).
    Reads never change the market."""

    config: SimConfig
    state: SimArrays
    book: K.BookArrays
    stale_quote_lookups: int
    _n1: int
    _quotes_fn: Any
    _mids_fn: Any

    @property
    def now_ns(self) -> int:  # pragma: no cover - ExchangeSimulator's
        """Venue time reached so far (ns since epoch)."""
        raise NotImplementedError

    def _time(self, what: str, t_ns: int) -> int:  # pragma: no cover - ExchangeSimulator's
        raise NotImplementedError

    def reference_quotes(
        self, t_ns: int, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(bid, ask, ts_ns)`` per ticker code as seen at ``t_ns``: the quote in force at
        ``t_ns - md_latency_ns`` and the venue time it was set. NaN / 0 where there is no quote.

        ``out``: optional ``(bid, ask, ts_ns)`` arrays (1-D float64, float64, int64 of one entry per ticker
        code + 1) to fill and return instead of allocating new ones."""
        seen = max(self._time("reference_quotes", t_ns) - self.config.md_latency_ns, -NEVER_NS)
        if seen > self.now_ns:
            raise SimClockError(
                f"quotes at {t_ns} need the venue simulated to {seen}; it is at {self.now_ns}"
            )
        n1 = self._n1
        if out is None:
            bid, ask, ts = np.full(n1, np.nan), np.full(n1, np.nan), np.zeros(n1, np.int64)
            fn = self._quotes_fn
            if fn is None:
                fn = self._quotes_fn = _compiled(S.quotes_at, self.state, np.int64(seen), bid, ask, ts)
        else:
            bid, ask, ts = out
            for a, dt in ((bid, np.float64), (ask, np.float64), (ts, np.int64)):
                if not isinstance(a, np.ndarray) or a.dtype != dt or a.shape != (n1,):
                    raise VenueConfigError(
                        f"reference_quotes: out arrays must be 1-D float64, float64, int64 of length {n1}"
                    )
            bid[0], ask[0], ts[0] = np.nan, np.nan, 0
            fn = S.quotes_at
        self.stale_quote_lookups += int(fn(self.state, np.int64(seen), bid, ask, ts))
        return bid, ask, ts

    def reference_prices(
        self, t_ns: int, out: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(mid USD, ts_ns)`` per ticker code as seen at ``t_ns`` (see :meth:`reference_quotes`).

        ``out``: optional ``(mid, ts_ns)`` arrays (1-D float64, int64 of one entry per ticker code + 1) to
        fill and return instead of allocating new ones (the per-slice path of the trading desk)."""
        if out is None:
            bid, ask, ts = self.reference_quotes(t_ns)
            return 0.5 * (bid + ask), ts
        mid, ts = out
        n1 = self._n1
        if (
            not isinstance(mid, np.ndarray)
            or mid.dtype != np.float64
            or mid.shape != (n1,)
            or not isinstance(ts, np.ndarray)
            or ts.dtype != np.int64
            or ts.shape != (n1,)
        ):
            raise VenueConfigError(f"reference_prices: out arrays must be 1-D float64, int64 of length {n1}")
        seen = max(self._time("reference_prices", t_ns) - self.config.md_latency_ns, -NEVER_NS)
        if seen > self.now_ns:
            raise SimClockError(
                f"quotes at {t_ns} need the venue simulated to {seen}; it is at {self.now_ns}"
            )
        st = self.state
        if (
            mid.flags.c_contiguous
            and mid.flags.writeable
            and mid.flags.aligned
            and ts.flags.c_contiguous
            and ts.flags.writeable
            and ts.flags.aligned
        ):
            fn = self._mids_fn
            if fn is None:
                fn = self._mids_fn = _compiled(
                    S.mids_at, st.q_ts, st.q_bid, st.q_ask, st.q_cnt, st.q_head, np.int64(seen), mid, ts
                )
        else:
            fn = S.mids_at
        self.stale_quote_lookups += int(
            fn(st.q_ts, st.q_bid, st.q_ask, st.q_cnt, st.q_head, np.int64(seen), mid, ts)
        )
        return mid, ts

    def mark_prices(self) -> np.ndarray:
        """Live mark per ticker code: mid, else last trade, else the opening price (index 0 NaN)."""
        b = self.book
        L = b.lv.shape[1]
        bb, ba = b.best_bid.astype(np.int64), b.best_ask.astype(np.int64)
        mid = 0.5 * ((b.base_tick + bb) * b.tick + (b.base_tick + ba) * b.tick)
        mid[(bb < 0) | (ba >= L)] = np.nan
        out = np.where(np.isnan(mid), b.last_px, mid)
        out = np.where(np.isnan(out), self.state.ref_px, out)
        out[0] = np.nan
        return out
