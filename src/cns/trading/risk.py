"""Pre-trade risk gate: every candidate order passes all enabled checks or is rejected with a counted reason.

Checks, in order (names as in :data:`cns.trading.config.RISK_CHECKS` and ``RISK_REASON_NAMES``): kill switch,
restricted instrument, reference price (fail closed when missing, stale, zero or NaN), price collar, max order
quantity, max notional, duplicate order, one trade per headline cool-down, position limit (filled + open
orders on the order's side), gross exposure, daily loss limit (risk-reducing orders still pass), order-rate
throttle over a rolling window. Accepted orders are registered with the :class:`OrderManager` and booked as
open; the venue's execution reports release them there.
"""

from __future__ import annotations

import numpy as np

from cns.signals.dictionary import Dictionary
from cns.trading.config import RISK_CHECKS, RiskConfig
from cns.trading.corroborate import stamp_args
from cns.trading.errors import ConfigError, StateError
from cns.trading.oms import OrderManager
from cns.trading.risk_kernels import (
    N_RISK_PARAMS,
    N_RISK_SCALARS,
    REJ_NONE,
    RISK_REASON_NAMES,
    RP_COLLAR,
    RP_COOLDOWN,
    RP_DAILY_LOSS,
    RP_DUP_WINDOW,
    RP_MAX_GROSS,
    RP_MAX_NOTIONAL,
    RP_MAX_POSITION,
    RP_MAX_QTY,
    RP_MAX_REF_AGE,
    RP_RATE_WINDOW,
    RS_KILL,
    RiskState,
    check_spread,
    mark_exposure,
)
from cns.venue.dtypes import ORDER_DTYPE

if RISK_REASON_NAMES[1:] != RISK_CHECKS:  # pragma: no cover - a programming error, caught at import
    raise ImportError("cns.trading: risk reason codes and config check names do not line up")

_NEVER = -(1 << 62)  # "no order yet" timestamp for the rate ring


def risk_params(cfg: RiskConfig) -> np.ndarray:
    """The float64 parameter vector the risk kernel takes."""
    p = np.zeros(N_RISK_PARAMS, dtype=np.float64)
    p[RP_MAX_QTY] = cfg.max_order_qty
    p[RP_MAX_NOTIONAL] = cfg.max_order_notional_usd
    p[RP_COLLAR] = cfg.collar_bps * 1e-4
    p[RP_MAX_REF_AGE] = cfg.max_ref_age_ns
    p[RP_MAX_POSITION] = cfg.max_position
    p[RP_MAX_GROSS] = cfg.max_gross_exposure_usd
    p[RP_DAILY_LOSS] = cfg.daily_loss_limit_usd
    p[RP_RATE_WINDOW] = cfg.rate_window_ns
    p[RP_DUP_WINDOW] = cfg.duplicate_window_ns
    p[RP_COOLDOWN] = cfg.headline_cooldown_ns
    return p


MAX_COOLDOWN_SLOTS = 1 << 24  # 16 bytes a slot: 256 MiB at most


class RiskGate:
    """Stateful pre-trade risk over the instruments of ``oms.portfolio`` (indexed by ticker code).

    ``config`` is a :class:`RiskConfig` (checked when it was built: every limit finite and in range);
    ``cooldown_slots`` a power of two up to :data:`MAX_COOLDOWN_SLOTS` (else :class:`StateError`). The kernel
    fails closed on its own too: a NaN anywhere in a comparison rejects the order (see
    :mod:`cns.trading.risk_kernels`).
    """

    def __init__(
        self, config: RiskConfig, tickers: Dictionary, oms: OrderManager, cooldown_slots: int = 1 << 16
    ):
        if not isinstance(config, RiskConfig):
            raise ConfigError(f"config key 'risk': expected RiskConfig, got {type(config).__name__}")
        if (
            not isinstance(cooldown_slots, int)
            or isinstance(cooldown_slots, bool)
            or cooldown_slots <= 0
            or cooldown_slots > MAX_COOLDOWN_SLOTS
            or cooldown_slots & (cooldown_slots - 1)
        ):
            raise StateError(
                f"cooldown_slots must be a power of two <= {MAX_COOLDOWN_SLOTS}, got {cooldown_slots!r}"
            )
        self.config = config
        self.oms = oms
        n = len(oms.portfolio)
        enabled = np.ones(len(RISK_REASON_NAMES), dtype=np.uint8)
        for name in config.disabled_checks:
            enabled[RISK_REASON_NAMES.index(name)] = 0
        restricted = np.zeros(n, dtype=np.uint8)
        for t in config.restricted:
            code = tickers.code(t)
            if code == 0 or code >= n:
                raise ConfigError(f"config key 'risk.restricted': unknown ticker {t!r}")
            restricted[code] = 1
        self.arrays = RiskState(
            p=risk_params(config),
            enabled=enabled,
            restricted=restricted,
            position=oms.portfolio.position,
            open_buy=oms.open_buy,
            open_sell=oms.open_sell,
            exposure=np.zeros(n, dtype=np.float64),
            gross=np.zeros(1, dtype=np.float64),
            scal=np.zeros(N_RISK_SCALARS, dtype=np.int64),
            ring=np.full(config.max_orders_per_window, _NEVER, dtype=np.int64),
            last_side=np.zeros(n, dtype=np.int8),
            last_qty=np.zeros(n, dtype=np.int64),
            last_px=np.zeros(n, dtype=np.float64),
            last_ts=np.zeros(n, dtype=np.int64),
            cd_keys=np.zeros(cooldown_slots, dtype=np.uint64),
            cd_ts=np.zeros(cooldown_slots, dtype=np.int64),
            counts=np.zeros(len(RISK_REASON_NAMES), dtype=np.int64),
        )
        """The gate's parameters and state: the one argument of the risk kernels (the portfolio's position and
        the OMS's open order arrays in it are theirs, shared)."""

    @property
    def counts(self) -> np.ndarray:
        """Candidate orders per reason code (int64, cumulative; index 0 = accepted)."""
        return self.arrays.counts

    # members of ``arrays`` under their former attribute names (cns.ops.reload and tests use them)
    _p = property(lambda self: self.arrays.p)
    _enabled = property(lambda self: self.arrays.enabled)
    _scal = property(lambda self: self.arrays.scal)

    @property
    def _ring(self) -> np.ndarray:
        return self.arrays.ring

    @_ring.setter
    def _ring(self, ring: np.ndarray) -> None:  # a rate window of another length (cns.ops.reload)
        if not isinstance(ring, np.ndarray) or ring.dtype != np.int64 or ring.ndim != 1 or len(ring) == 0:
            raise StateError("RiskGate: the rate ring must be a non-empty 1-D int64 array")
        self.arrays = self.arrays._replace(ring=ring)

    @property
    def kill_switch_engaged(self) -> bool:
        """True while the kill switch refuses every new order."""
        return bool(self.arrays.scal[RS_KILL])

    def engage_kill_switch(self, ts_ns: int) -> np.ndarray:
        """Block every new order from now on and return cancel requests for all open orders (send them)."""
        self.arrays.scal[RS_KILL] = 1
        return self.oms.cancel_all(ts_ns)

    def release_kill_switch(self) -> None:
        """Allow orders again (an operator action; open orders cancelled by the switch stay cancelled)."""
        self.arrays.scal[RS_KILL] = 0

    @property
    def gross_exposure(self) -> float:
        """Worst-case gross exposure (USD) as last computed."""
        return float(self.arrays.gross[0])

    def refresh(self, mid: np.ndarray) -> None:
        """Re-mark the per-instrument exposures at fresh mids (call once per batch)."""
        a = self.arrays  # its members, not the tuple: see check_spread
        mark_exposure(a.position, a.open_buy, a.open_sell, mid, a.exposure, a.gross)

    def check(
        self,
        orders: np.ndarray,
        mid: np.ndarray,
        mid_ts: np.ndarray,
        now_ns: int,
        day_pnl: float | None = None,
        lat_ns: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Check candidate ``orders``; returns ``(accepted_orders, reasons)`` with one uint8 reason per input
        order (0 = accepted; names in ``RISK_REASON_NAMES``). Accepted orders are registered with the OMS.

        ``mid`` (USD) and ``mid_ts`` (ns) are the reference prices per ticker code; ``day_pnl`` defaults to
        the portfolio's realised + last-marked unrealised P&L. ``lat_ns`` (int64, length >= len(orders),
        caller-filled 0 = sample / -1 = skip) receives the ns the kernel spent on each sampled candidate (the
        OMS registration of accepted orders, a separate vectorised call, is not in it).
        """
        if orders.dtype != ORDER_DTYPE or orders.ndim != 1:
            raise StateError(f"RiskGate.check needs a 1-D ORDER_DTYPE array, got {orders.dtype}")
        if mid.dtype != np.float64 or mid_ts.dtype != np.int64 or mid.shape != mid_ts.shape:
            raise StateError("RiskGate.check needs float64 mid and int64 mid_ts arrays of equal shape")
        pf = self.oms.portfolio
        pnl = pf.day_pnl if day_pnl is None else float(day_pnl)
        ns_per_cycle, overhead = stamp_args(lat_ns, len(orders), "RiskGate.check")
        n = len(orders)
        reasons = np.zeros(n, dtype=np.uint8)
        n_ok = check_spread(
            orders, mid, mid_ts, np.int64(now_ns), pnl, reasons, lat_ns, ns_per_cycle, overhead, *self.arrays
        )
        return self.register(orders, reasons, n_ok), reasons

    def register(self, orders: np.ndarray, reasons: np.ndarray, n_ok: int) -> np.ndarray:
        """The accepted of checked ``orders`` (``reasons``: one uint8 per order, ``n_ok`` of them 0), registered
        with the OMS — the end of :meth:`check`, for a caller that ran the risk kernel itself."""
        if n_ok == len(orders):  # all accepted (what orders[reasons == REJ_NONE] would copy)
            accepted = orders.copy()
        elif n_ok == 0:
            accepted = np.zeros(0, dtype=ORDER_DTYPE)
        else:
            accepted = orders[reasons == REJ_NONE]
        if n_ok:
            self.oms.submit(accepted)
        return accepted

    def rejections(self) -> dict[str, int]:
        """Rejected orders per check name (cumulative)."""
        return {name: int(c) for name, c in zip(RISK_REASON_NAMES[1:], self.counts[1:], strict=True)}

    @property
    def accepted_count(self) -> int:
        """Orders that passed every check so far."""
        return int(self.counts[REJ_NONE])

    _STATE = RiskState._fields[RiskState._fields.index("exposure") :]  # the gate's own: exposure .. counts

    def state(self) -> dict[str, np.ndarray]:
        """Copies of the gate's mutable state for a snapshot: exposures (``exposure``, ``gross``), scalars
        (``scal``: kill switch, rate-ring head), the rate ring, the last order per instrument (duplicate
        check), the cool-down table and the per-reason ``counts``; :meth:`restore` takes them back."""
        return {k: getattr(self.arrays, k).copy() for k in self._STATE}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Copy a :meth:`state` export back (same config and instrument count); :class:`StateError` when an
        array is missing or its shape or dtype differs."""
        for k in self._STATE:
            cur = getattr(self.arrays, k)
            a = state.get(k)
            if not isinstance(a, np.ndarray) or a.shape != cur.shape or a.dtype != cur.dtype:
                raise StateError(f"RiskGate.restore: {k} missing or of another shape/dtype")
        for k in self._STATE:
            getattr(self.arrays, k)[...] = state[k]
