"""Streaming source corroboration: clusters reports about one (ticker, event kind) within a time window and
decides, per the configured rules, when independent credible sources agree.

Usage::

    corr = Corroborator(config.corroboration, CredibilityTable.for_dictionary(batch.sources, config.credibility))
    decisions = corr.process(batch.records)      # DECISION_DTYPE, emitted the moment a rule fires
    decisions_at_close = corr.flush(now_ns)     # rumor storms decide when their window closes
    corr.stats()                                 # counters by name

Optional per-call arguments (both compiled out of the kernel when omitted):

* ``mask`` — bool/uint8 per record: only records with a true mask take part (pass the validator's verdict so
  rejected, test and elided records are skipped without reading them); the others are counted ``masked``.
* ``lat_ns`` — int64 per record, pre-filled by the caller with 0 (sample) or -1 (don't): the kernel writes
  the ns it spent on each sampled record (cycle counter, calibrated; see :func:`stamp_calibration`).

The rules (thresholds from :class:`cns.trading.config.CorroborationConfig`):

* consensus kinds (earnings, macro, guidance, M&A): qualified = credibility > ``credible_above``; support =
  the largest set of agreeing numeric claims from distinct sources (+ qualified reports without a number);
  monitor at 1, trade at ``min_agreeing``. A single earnings claim beyond ``single_source_max_surprise_pct``
  is not trusted (no decision, counted ``untrusted``).
* supply disruption: distinct sources with credibility > ``supply_credible_above``: monitor below
  ``supply_contingency_at``, contingency at it, trade (adjust positions) at ``supply_adjust_at``.
* central-bank quote: qualified = credibility > ``quote_credible_above`` and FLAG_DIRECT_QUOTE and published
  within the window of the cluster's first report; trade at ``quote_min_valid`` agreeing quotes.
* rumor: per window, verified = source category in ``rumor_verified_categories``; at close, verified share
  below ``rumor_ignore_below_pct`` → ignore, below ``rumor_monitor_below_pct`` → monitor, else alert. The
  storm decision is stamped at the window's close, ``max(last report's receive time, t0 + window_ns + 1)``
  (the first ns no report can join the window any more), never before: it was not knowable earlier.

``config.strategy = "first_credible"`` makes the first qualified report of a cluster trade (see
:class:`~cns.trading.config.CorroborationConfig`).
"""

from __future__ import annotations

import math

import numpy as np

from cns.signals.clock import stamp_calibration as _clock_stamp_calibration
from cns.signals.dtypes import (
    FLAG_DIRECT_QUOTE,
    KIND_CENTRAL_BANK,
    KIND_EARNINGS,
    KIND_GUIDANCE,
    KIND_HEARTBEAT,
    KIND_MACRO,
    KIND_MNA,
    KIND_RUMOR,
    KIND_SUPPLY,
    MAX_TICKERS,
    N_KINDS,
    NEWS_DTYPE,
)
from cns.trading.config import CorroborationConfig
from cns.trading.corroborate_kernels import (
    CORROBORATION_STAT_NAMES,
    DECISION_DTYPE,
    ENTRY_DTYPE,
    KIND_PARAMS_DTYPE,
    MAX_CLUSTER_SOURCES,
    MODE_CONSENSUS,
    MODE_COUNT,
    MODE_OFF,
    MODE_QUOTE,
    MODE_RUMOR,
    SLOT_DTYPE,
    VALUE_EPS,
    VALUE_MOVE,
    VALUE_NONE,
    VALUE_RATE,
    corroborate_batch,
    flush_slots,
)
from cns.trading.credibility import CredibilityTable
from cns.trading.errors import StateError


def stamp_calibration() -> tuple[float, float]:
    """``(ns_per_cycle, overhead_cycles)``: :func:`cns.signals.clock.stamp_calibration`, the one calibration."""
    cal = _clock_stamp_calibration()
    return cal.ns_per_cycle, cal.overhead_cycles


def stamp_args(lat_ns: np.ndarray | None, n: int, who: str) -> tuple[float, float]:
    """Check a caller's ``lat_ns`` (1-D int64, length >= ``n``) and return the kernel's calibration args
    (zeros when ``lat_ns`` is None: the kernel is then compiled without stamping)."""
    if lat_ns is None:
        return 0.0, 0.0
    if not isinstance(lat_ns, np.ndarray) or lat_ns.dtype != np.int64 or lat_ns.ndim != 1 or len(lat_ns) < n:
        raise StateError(f"{who}: lat_ns must be a 1-D int64 array of length >= {n} (0 = sample, -1 = skip)")
    return stamp_calibration()


def kind_params(cfg: CorroborationConfig) -> np.ndarray:
    """The per-kind rule table (KIND_PARAMS_DTYPE[N_KINDS]) the kernel takes."""
    kp = np.zeros(N_KINDS, dtype=KIND_PARAMS_DTYPE)
    kp["single_max"] = math.inf
    # "first_credible": the first qualified report of a cluster trades (no wait for agreeing sources)
    first = cfg.strategy == "first_credible"
    min_agreeing = 1 if first else cfg.min_agreeing
    supply_contingency_at = 0 if first else cfg.supply_contingency_at
    supply_adjust_at = 1 if first else cfg.supply_adjust_at
    quote_min_valid = 1 if first else cfg.quote_min_valid

    def consensus(kind: int, field: int, tol_abs: float, tol_rel: float) -> None:
        kp[kind] = (
            MODE_CONSENSUS,
            field,
            0,
            cfg.credible_above,
            tol_abs,
            tol_rel,
            math.inf,
            1,
            0,
            min_agreeing,
        )

    consensus(KIND_EARNINGS, VALUE_EPS, cfg.eps_tol_abs_usd, cfg.eps_tol_rel)
    kp[KIND_EARNINGS]["single_max"] = cfg.single_source_max_surprise_pct
    for k in (KIND_MACRO, KIND_GUIDANCE, KIND_MNA):
        consensus(k, VALUE_MOVE, cfg.move_tol_abs_pct, cfg.move_tol_rel)
    kp[KIND_SUPPLY] = (
        MODE_COUNT,
        VALUE_MOVE,
        0,
        cfg.supply_credible_above,
        cfg.move_tol_abs_pct,
        cfg.move_tol_rel,
        math.inf,
        1,
        supply_contingency_at,
        supply_adjust_at,
    )
    kp[KIND_CENTRAL_BANK] = (
        MODE_QUOTE,
        VALUE_RATE,
        FLAG_DIRECT_QUOTE if cfg.quote_require_direct else 0,
        cfg.quote_credible_above,
        cfg.rate_tol_abs_pct,
        0.0,
        math.inf,
        1,
        0,
        quote_min_valid,
    )
    kp[KIND_RUMOR] = (MODE_RUMOR, VALUE_NONE, 0, 0.0, 0.0, 0.0, math.inf, 0, 0, 0)
    kp[KIND_HEARTBEAT]["mode"] = MODE_OFF
    return kp


def _zeros64(n: int, dtype: np.dtype) -> np.ndarray:
    """``np.zeros(n, dtype)`` starting on a 64-byte (cache-line) boundary."""
    raw = np.zeros(n * dtype.itemsize + 64, dtype=np.uint8)
    off = -raw.ctypes.data % 64
    return raw[off : off + n * dtype.itemsize].view(dtype)


class Corroborator:
    """Streaming corroboration state for tickers ``0 .. n_tickers-1`` (grown on demand).

    Not thread-safe; one instance per pipeline. ``process`` is O(1)-ish per record (bounded by
    ``MAX_CLUSTER_SOURCES`` per cluster); decisions are returned as fresh DECISION_DTYPE arrays.
    """

    def __init__(
        self, config: CorroborationConfig, credibility: CredibilityTable, n_tickers: int = 512
    ) -> None:
        self.config = config
        self._kp = kind_params(config)
        self._window = np.int64(config.window_ns)
        self._rate_expect = float(config.rate_expectation_pct)
        self._ignore = float(config.rumor_ignore_below_pct)
        self._monitor = float(config.rumor_monitor_below_pct)
        self._stats = np.zeros(len(CORROBORATION_STAT_NAMES), dtype=np.int64)
        self.set_credibility(credibility)
        self._n_tickers = 0
        self._alloc(max(int(n_tickers), 1))
        self._out = np.zeros(0, dtype=DECISION_DTYPE)

    def set_credibility(self, credibility: CredibilityTable) -> None:
        """Use a new table (e.g. after the source dictionary grew); open clusters keep their counts."""
        self.credibility = credibility
        self._scores = credibility.scores
        self._verified = credibility.category_mask(self.config.rumor_verified_categories)

    def _alloc(self, n_tickers: int) -> None:
        n_slots = n_tickers * N_KINDS
        old = self._n_tickers * N_KINDS
        slots = _zeros64(n_slots, SLOT_DTYPE)
        entries = _zeros64(n_slots * MAX_CLUSTER_SOURCES, ENTRY_DTYPE).reshape(n_slots, MAX_CLUSTER_SOURCES)
        entries["val"] = np.nan
        entries["exp"] = np.nan
        if old:
            slots[:old] = self._slots
            entries[:old] = self._entries
        self._slots, self._entries = slots, entries
        self._n_tickers = n_tickers

    def _buffer(self, n: int) -> np.ndarray:
        if len(self._out) < n:
            self._out = np.zeros(max(n, 2 * len(self._out)), dtype=DECISION_DTYPE)
        return self._out

    def process(
        self, records: np.ndarray, mask: np.ndarray | None = None, lat_ns: np.ndarray | None = None
    ) -> np.ndarray:
        """Cluster a NEWS_DTYPE batch; returns the decisions it triggered (in firing order).

        ``mask`` (bool or uint8, length >= len(records)): only records with a true entry take part; ``lat_ns``
        (int64, length >= len(records), caller-filled 0 = sample / -1 = skip): receives the ns spent on each
        sampled record (a masked-out record's stamp is the cost of skipping it). Neither changes the decisions.
        """
        if records.dtype != NEWS_DTYPE or records.ndim != 1:
            raise StateError(f"Corroborator.process needs a 1-D NEWS_DTYPE array, got {records.dtype}")
        n_rec = len(records)
        ns_per_cycle, overhead = stamp_args(lat_ns, n_rec, "Corroborator.process")
        if mask is not None:
            if (
                not isinstance(mask, np.ndarray)
                or mask.ndim != 1
                or len(mask) < n_rec
                or mask.dtype not in (np.bool_, np.uint8)
            ):
                raise StateError(
                    f"Corroborator.process: mask must be a 1-D bool/uint8 array of length >= {n_rec}"
                )
            mask = mask[:n_rec] if mask.dtype == np.bool_ else mask[:n_rec] != 0
        if n_rec == 0:
            return np.zeros(0, dtype=DECISION_DTYPE)
        out = self._buffer(n_rec * MAX_TICKERS)
        n_out, start = 0, 0
        while True:  # the kernel stops at a ticker code beyond the state: grow it and resume there
            n, done = corroborate_batch(
                records[start:],
                self._scores,
                self._verified,
                self._kp,
                self._window,
                self._rate_expect,
                self._ignore,
                self._monitor,
                self._slots,
                self._entries,
                out[n_out:],
                self._stats,
                None if mask is None else mask[start:],
                None if lat_ns is None else lat_ns[start:n_rec],
                ns_per_cycle,
                overhead,
            )
            n_out += n
            start += done
            if start >= n_rec:
                return out[:n_out].copy()
            rec = records[start]
            top = int(rec["tickers"][: min(int(rec["n_tickers"]), MAX_TICKERS)].max())
            self._alloc(max(top + 1, 2 * self._n_tickers))

    def flush(self, now_ns: int | None = None) -> np.ndarray:
        """Close clusters whose window ended before ``now_ns`` (all when None); returns their decisions."""
        out = self._buffer(len(self._slots))
        n = flush_slots(
            np.int64(0 if now_ns is None else now_ns),
            now_ns is None,
            self._kp,
            self._window,
            self._rate_expect,
            self._ignore,
            self._monitor,
            self._slots,
            self._entries,
            out,
            self._stats,
        )
        return out[:n].copy()

    def stats(self) -> dict[str, int]:
        """Counters by name (see ``CORROBORATION_STAT_NAMES``), cumulative since construction."""
        return {name: int(v) for name, v in zip(CORROBORATION_STAT_NAMES, self._stats, strict=True)}

    def state(self) -> dict[str, np.ndarray]:
        """Copies of the streaming state -- open clusters (``slots``), their reports (``entries``) and the
        counters (``stats``) -- for a snapshot; :meth:`restore` takes them back."""
        return {"slots": self._slots.copy(), "entries": self._entries.copy(), "stats": self._stats.copy()}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Replace the streaming state by a :meth:`state` export (of a corroborator with the same config);
        :class:`StateError` when the arrays do not have the shapes and dtypes :meth:`state` gives."""
        slots, entries, stats = state.get("slots"), state.get("entries"), state.get("stats")
        if (
            not isinstance(slots, np.ndarray)
            or not isinstance(entries, np.ndarray)
            or not isinstance(stats, np.ndarray)
            or slots.dtype != SLOT_DTYPE
            or entries.dtype != ENTRY_DTYPE
            or slots.ndim != 1
            or len(slots) % N_KINDS
            or len(slots) == 0
            or entries.shape != (len(slots), MAX_CLUSTER_SOURCES)
            or stats.shape != self._stats.shape
            or stats.dtype != self._stats.dtype
        ):
            raise StateError("Corroborator.restore: not a Corroborator.state() export")
        self._n_tickers = 0
        self._alloc(len(slots) // N_KINDS)
        self._slots[:] = slots
        self._entries[:] = entries
        self._stats[:] = stats
