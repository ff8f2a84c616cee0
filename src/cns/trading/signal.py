"""Signal stage: corroborated decisions (DECISION_DTYPE) + reference mids -> candidate orders (ORDER_DTYPE).

Direction and strength combine the decision's numeric surprise (size basis, percent) with the mean headline
sentiment of the corroborating reports (filled by the parse stage); see :class:`cns.trading.config.SignalConfig`.
Only ``trade`` and ``contingency`` decisions make orders; everything else is counted.
"""

from __future__ import annotations

import numpy as np

from cns.signals.dictionary import Dictionary
from cns.trading.config import SignalConfig
from cns.trading.corroborate import stamp_args
from cns.trading.corroborate_kernels import DECISION_DTYPE
from cns.trading.errors import ConfigError, StateError
from cns.trading.signal_kernels import (
    N_SIGNAL_PARAMS,
    P_AGGRESS_BPS,
    P_CONT_BPS,
    P_CONT_FRAC,
    P_FULL_PCT,
    P_MIN_STRENGTH,
    P_NOTIONAL,
    P_RATE_FULL,
    P_SENT_W,
    P_SURP_W,
    P_TRADE_LIMIT,
    P_TRADE_OFFSET_BPS,
    P_UNSIZED,
    SIGNAL_STAT_NAMES,
    decisions_to_orders,
)
from cns.venue.dtypes import ORDER_DTYPE


def signal_params(cfg: SignalConfig) -> np.ndarray:
    """The float64 parameter vector the signal kernel takes."""
    p = np.zeros(N_SIGNAL_PARAMS, dtype=np.float64)
    p[P_SENT_W] = cfg.sentiment_weight
    p[P_SURP_W] = cfg.surprise_weight
    p[P_FULL_PCT] = cfg.surprise_full_pct
    p[P_MIN_STRENGTH] = cfg.min_strength
    p[P_NOTIONAL] = cfg.notional_usd
    p[P_CONT_FRAC] = cfg.contingency_fraction
    p[P_AGGRESS_BPS] = cfg.aggress_bps
    p[P_CONT_BPS] = cfg.contingency_offset_bps
    p[P_UNSIZED] = cfg.unsized_strength
    p[P_RATE_FULL] = cfg.rate_full_pct
    p[P_TRADE_LIMIT] = 1.0 if cfg.trade_order == "limit" else 0.0
    p[P_TRADE_OFFSET_BPS] = cfg.trade_offset_bps
    return p


class SignalGenerator:
    """Makes candidate orders (owner 0 = CNS) with ids drawn from ``id_counter`` (int64[1], the next id;
    pass :attr:`cns.trading.OrderManager.id_counter` so the OMS knows them; default: a private counter from 1).
    """

    def __init__(
        self, config: SignalConfig, tickers: Dictionary, id_counter: np.ndarray | None = None
    ) -> None:
        proxy = tickers.code(config.market_proxy)
        if proxy == 0:
            raise ConfigError(
                f"config key 'signal.market_proxy': ticker {config.market_proxy!r} is not known"
            )
        if id_counter is None:
            id_counter = np.ones(1, dtype=np.int64)
        if id_counter.dtype != np.int64 or id_counter.shape != (1,) or int(id_counter[0]) < 1:
            raise StateError("id_counter must be an int64[1] array holding the next order id (>= 1)")
        self.config = config
        self.proxy = proxy
        self._p = signal_params(config)
        self._next = id_counter
        self._stats = np.zeros(len(SIGNAL_STAT_NAMES), dtype=np.int64)
        self._out = np.zeros(1024, dtype=ORDER_DTYPE)

    @property
    def next_order_id(self) -> int:
        """The id the next order will get (ids are consecutive per generator)."""
        return int(self._next[0])

    def orders(self, decisions: np.ndarray, mid: np.ndarray, lat_ns: np.ndarray | None = None) -> np.ndarray:
        """Candidate orders for ``decisions``; ``mid`` (float64, USD) is indexed by ticker code.

        ``lat_ns`` (int64, length >= len(decisions), caller-filled 0 = sample / -1 = skip) receives the ns spent
        on each sampled decision (including writing its order; at most one order per decision).
        """
        if decisions.dtype != DECISION_DTYPE:
            raise StateError(f"SignalGenerator.orders needs DECISION_DTYPE decisions, got {decisions.dtype}")
        if mid.dtype != np.float64 or mid.ndim != 1:
            raise StateError("SignalGenerator.orders needs a 1-D float64 mid array indexed by ticker code")
        ns_per_cycle, overhead = stamp_args(lat_ns, len(decisions), "SignalGenerator.orders")
        if len(self._out) < len(decisions):
            self._out = np.zeros(2 * len(decisions), dtype=ORDER_DTYPE)
        n = decisions_to_orders(
            decisions,
            mid,
            self.proxy,
            self._p,
            self._next,
            self._out,
            self._stats,
            lat_ns,
            ns_per_cycle,
            overhead,
        )
        return self._out[:n].copy()

    def stats(self) -> dict[str, int]:
        """Counters by name (see ``SIGNAL_STAT_NAMES``), cumulative."""
        return {name: int(v) for name, v in zip(SIGNAL_STAT_NAMES, self._stats, strict=True)}
