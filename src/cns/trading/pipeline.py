"""The trading stages chained for one batch: corroborate → signal → pre-trade risk → (orders to the venue),
and execution reports back into the OMS/portfolio.

This is a convenience driver for the replay and the scenario tests; each stage is usable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cns.signals.dictionary import Dictionary
from cns.telemetry.stats import sample_mask
from cns.trading.config import TradingConfig
from cns.trading.corroborate import Corroborator
from cns.trading.credibility import CredibilityTable
from cns.trading.oms import OrderManager
from cns.trading.portfolio import Portfolio
from cns.trading.risk import RiskGate
from cns.trading.signal import SignalGenerator


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one batch produced: DECISION_DTYPE ``decisions``, ORDER_DTYPE ``candidates`` (signal output),
    ORDER_DTYPE ``accepted`` (passed risk; send these to the venue) and uint8 ``reasons`` per candidate.

    With stamping requested, ``lat_signal`` (int64, one per decision) and ``lat_risk`` (int64, one per
    candidate) hold the in-kernel ns each took in the signal and risk stage (every one is sampled); else None.
    """

    decisions: np.ndarray
    candidates: np.ndarray
    accepted: np.ndarray
    reasons: np.ndarray
    lat_signal: np.ndarray | None = None
    lat_risk: np.ndarray | None = None


class TradingPipeline:
    """Corroborator + SignalGenerator + RiskGate + OrderManager + Portfolio over one ticker/source universe.

    ``sources``/``tickers`` are the dictionaries the news records are coded with (the reader's); the
    credibility table is rebuilt when a record's source code is beyond it (the dictionary grew).
    ``order_capacity`` preallocates the order table (it grows by doubling when exceeded).
    """

    def __init__(
        self,
        config: TradingConfig,
        sources: Dictionary,
        tickers: Dictionary,
        n_instruments: int | None = None,
        order_capacity: int = 4096,
    ) -> None:
        n = max(n_instruments or len(tickers), len(tickers))
        self.config = config
        self.sources = sources
        self.tickers = tickers
        self.corroborator = Corroborator(
            config.corroboration, CredibilityTable.for_dictionary(sources, config.credibility), n_tickers=n
        )
        self.portfolio = Portfolio(n)
        self.oms = OrderManager(self.portfolio, capacity=order_capacity)
        self.signal = SignalGenerator(config.signal, tickers, self.oms.id_counter)
        self.risk = RiskGate(config.risk, tickers, self.oms)

    def _refresh_credibility(self, records: np.ndarray, mask: np.ndarray | None = None) -> None:
        if not len(records):
            return
        src = records["source"]
        top = (
            src.max()
            if mask is None
            else np.max(src, initial=0, where=np.asarray(mask[: len(src)], dtype=bool))
        )
        if int(top) >= len(self.corroborator.credibility):
            self.corroborator.set_credibility(
                CredibilityTable.for_dictionary(self.sources, self.config.credibility)
            )

    def _trade(
        self, decisions: np.ndarray, mid: np.ndarray, mid_ts: np.ndarray, now_ns: int, stamp: bool = False
    ) -> StepResult:
        lat_signal = sample_mask(len(decisions), 1) if stamp else None  # stamp every decision and candidate
        candidates = self.signal.orders(decisions, mid, lat_signal)
        lat_risk = sample_mask(len(candidates), 1) if stamp else None
        accepted, reasons = self.risk.check(candidates, mid, mid_ts, now_ns, lat_ns=lat_risk)
        return StepResult(decisions, candidates, accepted, reasons, lat_signal, lat_risk)

    def on_news(
        self,
        records: np.ndarray,
        mid: np.ndarray,
        mid_ts: np.ndarray,
        now_ns: int,
        mask: np.ndarray | None = None,
        lat_news: np.ndarray | None = None,
    ) -> StepResult:
        """Run one NEWS_DTYPE batch through the stages at reference prices ``mid`` (USD) / ``mid_ts`` (ns).

        ``mask``: only records with a true entry are corroborated (see :meth:`Corroborator.process`).
        ``lat_news`` (int64 per record, caller-filled 0 = sample / -1 = skip): receives the corroboration ns of
        the sampled records, and turns on stamping of every decision and candidate in the later stages
        (``StepResult.lat_signal``/``lat_risk``).
        """
        self._refresh_credibility(records, mask)
        decisions = self.corroborator.process(records, mask, lat_news)
        return self._trade(decisions, mid, mid_ts, now_ns, stamp=lat_news is not None)

    def on_clock(
        self, mid: np.ndarray, mid_ts: np.ndarray, now_ns: int, close_all: bool = False, stamp: bool = False
    ) -> StepResult:
        """Close clusters whose window ended before ``now_ns`` (all with ``close_all``) and trade on their
        decisions (rumor storms); ``stamp`` fills ``StepResult.lat_signal``/``lat_risk``."""
        return self._trade(self.corroborator.flush(None if close_all else now_ns), mid, mid_ts, now_ns, stamp)

    def on_execs(self, execs: np.ndarray) -> float:
        """Apply the venue's EXEC_DTYPE reports; returns realised P&L (USD) they booked, net of the fees of our
        fills (``EXEC_DTYPE.fee``: paid > 0, rebates < 0), which :meth:`Portfolio.apply_fees` books into
        realised P&L (so day P&L and the daily-loss limit see them) and sums in ``fees_paid`` /
        ``rebates_earned``."""
        pnl = self.oms.apply(execs)
        return pnl - self.portfolio.apply_fees(execs, self.oms.owner)

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters of every stage by name."""
        return {
            "corroboration": self.corroborator.stats(),
            "signal": self.signal.stats(),
            "risk_rejects": self.risk.rejections(),
            "oms": self.oms.stats(),
            "orders": self.oms.state_counts(),
            "fills": self.portfolio.stats(),
        }
