"""Pipeline metrics: a ``cns serve`` shard (:class:`ServeMetrics`, :func:`serve_latency`) and ``cns run``'s replay
(:class:`ReplayMetrics`), read at scrape time (see :mod:`cns.ops.metrics` for the rules every part follows).

Serve: pipeline counters (``ServeState.counters``), decisions, orders by state, fills, risk checks by result,
kill switch, limits, positions, P&L, quotes, FIX sessions, feed health and quarantine (``FeedStats``), the
journal's lag (a placeholder reading 0 until a journal reports it). Replay: events, verdicts, quarantine, and
the in-kernel per-stage latency samples.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric

from cns.ops.latency import ArrayCursor, ListCursor, StageHistogram
from cns.ops.metrics import RUNTIME_NAMES, LatencyMetrics, counter, gauge

__all__ = ["METRIC_NAMES", "ReplayMetrics", "ServeMetrics", "feed_metrics", "serve_latency"]

_REASON_MAX = 60

# --------------------------------------------------------------------------------------------- serve
# ServeState.counters key -> (family, help, labels, label values)
_SERVE_COUNTERS: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "events_in",
        "cns_pipeline_events_total",
        "News events the feed handlers delivered to the pipeline",
        (),
        (),
    ),
    ("batches_in", "cns_pipeline_batches_total", "Feed batches delivered to the pipeline", (), ()),
    (
        "batches_dropped",
        "cns_pipeline_batches_dropped_total",
        "Batches dropped between stages (a stage was restarting)",
        (),
        (),
    ),
    (
        "validated",
        "cns_validator_records_total",
        "Records through the news rules, by verdict",
        ("verdict",),
        ("conforms",),
    ),
    ("violations", "cns_validator_records_total", "", ("verdict",), ("violates",)),
    ("elided", "cns_validator_records_total", "", ("verdict",), ("elided",)),
    ("decisions", "cns_decisions_total", "Corroboration decisions (every action)", (), ()),
    (
        "decisions_untradable",
        "cns_signal_decisions_total",
        "Trade decisions at the signal stage, by outcome",
        ("outcome",),
        ("untradable",),
    ),
    ("decisions_held", "cns_signal_decisions_total", "", ("outcome",), ("held",)),
    ("held_released", "cns_signal_decisions_total", "", ("outcome",), ("released",)),
    ("held_expired", "cns_signal_decisions_total", "", ("outcome",), ("expired",)),
    ("candidates", "cns_signal_candidate_orders_total", "Candidate orders made by the signal stage", (), ()),
    ("risk_rejected", "cns_risk_rejected_orders_total", "Orders the pre-trade risk gate rejected", (), ()),
    ("orders_sent", "cns_orders_sent_total", "New orders written to the venue (entries and exits)", (), ()),
    ("exit_orders", "cns_exit_orders_total", "Exit orders sent by the desk", (), ()),
    ("cancels_sent", "cns_cancels_sent_total", "Cancel requests written to the venue", (), ()),
    ("orders_refused", "cns_orders_refused_total", "Orders the order sink refused (session down)", (), ()),
    ("fills", "cns_fills_total", "Fill and partial-fill execution reports", (), ()),
    ("filled_qty", "cns_filled_shares_total", "Shares filled", (), ()),
    ("exec_reports", "cns_execution_reports_total", "Execution reports received", (), ()),
    (
        "exec_unmapped",
        "cns_execution_reports_unmapped_total",
        "Execution reports not mapped to an order",
        (),
        (),
    ),
    ("mass_cancels", "cns_mass_cancel_reports_total", "Order mass cancel reports received", (), ()),
    ("md_records", "cns_market_data_records_total", "Market data records received", (), ()),
    ("md_connects", "cns_market_data_connects_total", "Market data connections made", (), ()),
)

_FEED_COUNTERS = (
    ("connects", "cns_feed_connects_total", "Connections made"),
    ("reconnects", "cns_feed_reconnects_total", "Reconnections after a drop"),
    ("frames", "cns_feed_frames_total", "Frames received"),
    ("bytes_received", "cns_feed_received_bytes_total", "Bytes received"),
    ("events_delivered", "cns_feed_events_total", "Events delivered downstream"),
    ("duplicates", "cns_feed_duplicates_total", "Sequence numbers received again and dropped"),
    ("lost_records", "cns_feed_lost_records_total", "Sequence numbers given up"),
    ("stale_trips", "cns_feed_stale_trips_total", "Times the watchdog paused the feed"),
    ("catchups", "cns_feed_catchups_total", "Replays asked after a (re)connect"),
)


class ServeMetrics:
    """Metrics of one ``cns.serve`` shard, read from its ``ServeState`` (duck-typed: nothing is imported from
    ``cns.serve``). ``journal_lag``: optional callable returning ``{"entries": int, "fsync_seconds": float}``
    (the journal's appended-but-not-durable backlog); without one the journal gauges read 0 and
    ``cns_journal_attached`` 0. ``ops``: optional callable returning the control layer's state for
    ``cns_ops_*`` (operator pauses)."""

    def __init__(
        self,
        state: Any,
        *,
        journal_lag: Callable[[], Mapping[str, float]] | None = None,
        extra: Callable[[], Iterable[Metric]] | None = None,
    ) -> None:
        self.state = state
        self.journal_lag = journal_lag
        self.extra = extra
        self.started_unix = (
            time.time() - (time.monotonic_ns() - getattr(state, "started_ns", time.monotonic_ns())) / 1e9
        )

    def collect(self) -> Iterator[Metric]:
        """The shard's metrics: shard info and start time (Unix s), decisions, risk checks and limits, exposure
        and P&L (USD), orders, positions (shares), quotes, FIX session, journal lag, and per-feed sequence state."""
        st = self.state
        shard = str(st.config.shard)
        info = gauge("cns_shard_info", "The shard this process serves (value 1)", ["shard"])
        info.add_metric([shard], 1)
        yield info
        g = gauge("cns_shard_start_time_seconds", "Unix time the shard's state was built")
        g.add_metric([], self.started_unix)
        yield g
        yield from self._counters(dict(st.counters))
        yield from self._risk(st)
        yield from self._book(st)
        yield from feed_metrics(dict(st.feed_stats))
        yield from self._journal()
        if self.extra is not None:
            yield from self.extra()

    @staticmethod
    def _counters(c: dict[str, int]) -> Iterator[Metric]:
        fams: dict[str, CounterMetricFamily] = {}
        for key, fam, doc, labels, values in _SERVE_COUNTERS:
            if key not in c:
                continue
            f = fams.get(fam)
            if f is None:
                f = fams[fam] = counter(fam, doc, labels)
            f.add_metric(list(values), c[key])
        by_action = {
            k[len("decisions_by_action_") :]: v for k, v in c.items() if k.startswith("decisions_by_action_")
        }
        f = counter(
            "cns_decisions_by_action_total",
            "Corroboration decisions by action (when the pipeline counts them)",
            ["action"],
        )
        for a, v in by_action.items():
            f.add_metric([a], v)
        fams[f.name] = f
        yield from fams.values()

    @staticmethod
    def _risk(st: Any) -> Iterator[Metric]:
        from cns.trading.risk_kernels import RISK_REASON_NAMES

        risk = st.pipeline.risk
        counts = risk.counts.tolist()
        c = counter(
            "cns_risk_checks_total",
            "Orders through the pre-trade risk gate, by result (accepted, or the check that rejected it)",
            ["result"],
        )
        c.add_metric(["accepted"], counts[0])
        for name, v in zip(RISK_REASON_NAMES[1:], counts[1:], strict=True):
            c.add_metric([name], v)
        yield c
        g = gauge(
            "cns_risk_kill_switch_engaged", "1 while the risk gate's kill switch blocks every new order"
        )
        g.add_metric([], 1.0 if risk.kill_switch_engaged else 0.0)
        yield g
        g = gauge(
            "cns_risk_gross_exposure_usd", "Worst-case gross exposure as last computed by the risk gate"
        )
        g.add_metric([], risk.gross_exposure)
        yield g
        g = gauge(
            "cns_risk_limit", "Current value of a numeric risk limit (units in the limit's name)", ["limit"]
        )
        cfg = risk.config
        for name in (
            "max_order_qty",
            "max_order_notional_usd",
            "collar_bps",
            "max_ref_age_ns",
            "max_position",
            "max_gross_exposure_usd",
            "daily_loss_limit_usd",
            "max_orders_per_window",
            "rate_window_ns",
            "duplicate_window_ns",
            "headline_cooldown_ns",
        ):
            g.add_metric([name], float(getattr(cfg, name)))
        yield g

    @staticmethod
    def _book(st: Any) -> Iterator[Metric]:
        import numpy as np

        pipe = st.pipeline
        g = gauge("cns_orders", "Orders in the OMS by state", ["state"])
        for k, v in pipe.oms.state_counts().items():
            g.add_metric([k], v)
        yield g
        pf = pipe.portfolio
        tickers = st.dictionaries[1]
        pos = pf.position
        g = gauge(
            "cns_position_shares", "Filled position per tradable instrument (signed shares)", ["instrument"]
        )
        codes = set(np.flatnonzero(st.tradable).tolist()) | set(np.flatnonzero(pos).tolist())
        for k in sorted(codes):
            if k < len(pos):
                g.add_metric([tickers.string(int(k))], float(pos[k]))
        yield g
        for fam, doc, v in (
            ("cns_pnl_realized_usd", "Realized P&L", pf.realized_total),
            ("cns_pnl_unrealized_usd", "Unrealized P&L as last marked", pf.unrealized_total),
            ("cns_fees_paid_usd", "Fees paid (net of rebates)", pf.fees_total),
        ):
            g = gauge(fam, doc)
            g.add_metric([], float(v))
            yield g
        q = st.quotes
        g = gauge("cns_quotes_live", "1 while the reference quotes are live (static, or a fresh stream)")
        g.add_metric([], 1.0 if q.live else 0.0)
        yield g
        g = gauge("cns_quotes_age_seconds", "Seconds since the last market data frame (0 with static quotes)")
        g.add_metric(
            [], 0.0 if q.static or not q.last_rx_ns else max(0.0, (time.time_ns() - q.last_rx_ns) / 1e9)
        )
        yield g
        g = gauge("cns_fix_session_up", "1 while the FIX session is logged on", ["session"])
        for s, up in dict(st.session_up).items():
            g.add_metric([s], 1.0 if up else 0.0)
        yield g

    def _journal(self) -> Iterator[Metric]:
        lag = dict(self.journal_lag()) if self.journal_lag is not None else {}
        g = gauge("cns_journal_attached", "1 when a journal reports its lag to the metrics")
        g.add_metric([], 1.0 if self.journal_lag is not None else 0.0)
        yield g
        g = gauge("cns_journal_lag_entries", "Journal entries appended but not yet durable")
        g.add_metric([], float(lag.get("entries", 0)))
        yield g
        g = gauge("cns_journal_fsync_lag_seconds", "Age of the oldest journal entry not yet fsynced")
        g.add_metric([], float(lag.get("fsync_seconds", 0.0)))
        yield g


def feed_metrics(feeds: Mapping[str, Any]) -> Iterator[Metric]:
    """Health of each feed from its ``FeedStats`` (read in place)."""
    last = gauge("cns_feed_last_sequence", "Last sequence number delivered or given up, in order", ["feed"])
    live = gauge(
        "cns_feed_live_sequence", "The server's last published sequence number as last announced", ["feed"]
    )
    stale = gauge("cns_feed_staleness_seconds", "Seconds since the feed's last valid frame", ["feed"])
    conn = gauge("cns_feed_connected", "1 while the feed is connected", ["feed"])
    paused = gauge(
        "cns_feed_paused", "1 while the feed is paused (stale, not yet heard, or by the operator)", ["feed"]
    )
    gaps = counter(
        "cns_feed_gaps_total",
        "Sequence gaps, by outcome (detected, filled by replay, lost)",
        ["feed", "outcome"],
    )
    quar = counter(
        "cns_quarantined_total", "Input rejected and quarantined, by feed and reason", ["feed", "reason"]
    )
    cnt = {fam: counter(fam, doc, ["feed"]) for _, fam, doc in _FEED_COUNTERS}
    for name, s in feeds.items():
        last.add_metric([name], s.last_seq)
        live.add_metric([name], s.live_seq)
        stale.add_metric([name], s.staleness_s)
        conn.add_metric([name], 1.0 if s.connected else 0.0)
        paused.add_metric([name], 1.0 if s.paused else 0.0)
        for outcome, v in (("detected", s.gaps_detected), ("filled", s.gaps_filled), ("lost", s.gaps_lost)):
            gaps.add_metric([name, outcome], v)
        for reason, v in dict(s.quarantined).items():
            quar.add_metric([name, str(reason)[:_REASON_MAX]], v)
        for attr, fam, _ in _FEED_COUNTERS:
            cnt[fam].add_metric([name], getattr(s, attr))
    yield from (last, live, stale, conn, paused, gaps, quar)
    yield from cnt.values()


def serve_latency(state: Any, *, budgets_s: Mapping[str, float] | None = None) -> LatencyMetrics:
    """Latency histograms of a serve shard from its ``LatencyProbe``: ``ingest`` (socket read of a batch ->
    corroborated) and ``order`` (socket read of the news -> NewOrderSingle written)."""
    from array import array

    b = dict(budgets_s or {})
    probe = state.probe
    flat = isinstance(probe.batches, array)  # flat int64 runs (4 per batch, 3 per order) or tuples
    return LatencyMetrics(
        [
            StageHistogram(
                "ingest",
                ListCursor(lambda: probe.batches, 2, 3, 4 if flat else None),
                budget_s=b.get("ingest"),
            ),
            StageHistogram(
                "order", ListCursor(lambda: probe.orders, 1, 2, 3 if flat else None), budget_s=b.get("order")
            ),
        ]
    )


# --------------------------------------------------------------------------------------------- replay
class ReplayMetrics:
    """``cns run``'s ingest (a ``cns.replay.driver.Ingest``): events, verdicts, quarantine and the sampled
    in-kernel per-stage latency (``parse``, ``validate``, ``corroborate``) of the sampled events. ``batch``:
    the replay's chunk size; stage stamps are read only for chunks every stage has finished (the entries
    :class:`~cns.replay.stages.StageLatencies` has kept, ``final``)."""

    def __init__(self, ingest: Any, batch: int) -> None:
        self.ing = ingest
        self.batch = max(1, int(batch))

        def done() -> int:
            return int(self.ing.lat.final)

        lat = ingest.lat
        self.latency = LatencyMetrics(
            [
                StageHistogram(s, ArrayCursor(getattr(lat, s), done))
                for s in ("parse", "validate", "corroborate")
            ]
        )

    def collect(self) -> Iterator[Metric]:
        """Counters of the replay ingest: events through validate, validator records by verdict, quarantined."""
        t = dict(self.ing.totals)
        c = counter("cns_pipeline_events_total", "News events through the replay's validate stage")
        c.add_metric([], t.get("events", 0))
        yield c
        c = counter("cns_validator_records_total", "Records through the news rules, by verdict", ["verdict"])
        c.add_metric(["elided"], t.get("zero_tick", 0))
        c.add_metric(["conforms"], t.get("validated", 0))
        yield c
        q = counter(
            "cns_quarantined_total", "Input rejected and quarantined, by feed and reason", ["feed", "reason"]
        )
        reasons: Counter[str] = Counter(
            r.reason.split(":", 1)[0][:_REASON_MAX] for r in list(self.ing.quarantine)
        )
        for r, v in reasons.items():
            q.add_metric(["replay", r], v)
        yield q
        yield from self.latency.collect()


#: every family name ``cns.ops`` can export (counters with their ``_total``), for the dashboard/alert tests
METRIC_NAMES: frozenset[str] = RUNTIME_NAMES | frozenset(
    {
        "cns_shard_info",
        "cns_shard_start_time_seconds",
        "cns_decisions_by_action_total",
        "cns_risk_checks_total",
        "cns_risk_kill_switch_engaged",
        "cns_risk_gross_exposure_usd",
        "cns_risk_limit",
        "cns_orders",
        "cns_position_shares",
        "cns_pnl_realized_usd",
        "cns_pnl_unrealized_usd",
        "cns_fees_paid_usd",
        "cns_quotes_live",
        "cns_quotes_age_seconds",
        "cns_fix_session_up",
        "cns_journal_attached",
        "cns_journal_lag_entries",
        "cns_journal_fsync_lag_seconds",
        "cns_feed_last_sequence",
        "cns_feed_live_sequence",
        "cns_feed_staleness_seconds",
        "cns_feed_connected",
        "cns_feed_paused",
        "cns_feed_gaps_total",
        "cns_quarantined_total",
        "cns_scrape_errors_total",
        "cns_scrape_collect_seconds",
        "cns_rules_version",
        "cns_rules_reloads_total",
        "cns_rules_reload_pause_max_seconds",
        "cns_ops_actions_total",
        "cns_ops_paused",
        "cns_ops_control_enabled",
    }
    | {fam for _, fam, *_ in _SERVE_COUNTERS}
    | {fam for _, fam, _ in _FEED_COUNTERS}
)
