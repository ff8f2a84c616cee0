"""The production replay behind ``cns run``: data → supervised pipeline of stage actors → trading desk → report.

1. Data: the default seeded world (generated vectorised, cached on disk in the CNS binary format) or the
   user's news (``--news``, JSONL or binary; JSONL is converted once, its malformed lines quarantined).
2. Ingest: the wire image is parsed, validated and corroborated chunk by chunk by the stage actors
   (:mod:`cns.replay.stages`); every ``sample_every``-th event is timed inside the kernels.
3. Trading: the decision stream is traded against the exchange simulator at the measured CNS decision latency,
   then against a fresh simulator of the same market at 100 ms (an LLM-based desk) for comparison.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from cns.engine import NewsValidator
from cns.engine.validator import DEFAULT_SHAPES
from cns.news.batch import Reject
from cns.news.sentiment import load_lexicon
from cns.otp import ChildSpec, Supervisor, SupFlags, cast
from cns.replay.data import NewsSource, prepare_news
from cns.replay.desk import DeskConfig, DeskResult
from cns.replay.errors import ReplayError
from cns.replay.market_data import load_market_instruments
from cns.replay.report import new_run_id
from cns.replay.stages import (
    INGEST_STAGES,
    CorroborateStage,
    DeskStage,
    ParseStage,
    StageLatencies,
    TradePass,
    ValidateStage,
    WireChunk,
)
from cns.runtime import Node
from cns.signals.universe import InstrumentInfo, default_instruments
from cns.telemetry import Counters
from cns.telemetry.facts import cpu_model
from cns.telemetry.latency import LatencyRecorder
from cns.trading.config import TradingConfig, load_config
from cns.trading.corroborate import Corroborator
from cns.trading.corroborate_kernels import ACTION_NAMES
from cns.trading.credibility import CredibilityTable

SLOW_DECISION_NS = 100_000_000  # an LLM-based desk: 100 ms from news to decision




@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """Everything ``cns run`` can set. Times in s unless the name says ns."""

    events: int = 4_565_400
    seconds: float = 300.0
    seed: int = 7
    news_path: str | None = None
    market_path: str | None = None
    config_path: str | None = None
    out_dir: str = "out"
    slow_baseline: bool = True
    progress: bool = True
    batch: int = 65_536
    sample_every: int = 32
    slice_ns: int = 1_000_000
    cache_dir: str | None = None  # None: the private data cache (cns.market.newsgen.data_cache_dir)
    rules_path: str | None = None


@dataclass(slots=True)
class ReplayOutcome:
    """The report dict plus the raw series the plots are drawn from and the corrupt wire records of the run.

    Nothing here is on disk yet: :func:`cns.replay.report.write_report` publishes it all as one set
    (``wire_rejects`` as ``rejects-wire.jsonl``), so a run that dies early never leaves part of its output.
    """

    report: dict[str, Any]
    pnl_series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    latency_samples: dict[str, np.ndarray] = field(default_factory=dict)
    wire_rejects: list[Reject] = field(default_factory=list)


def _credibility_table(sources: Any, cfg: TradingConfig) -> np.ndarray:
    """The validator's per-source credibility (int16, -1 = unknown source) for the file's source dictionary."""
    table = CredibilityTable.for_dictionary(sources, cfg.credibility)
    known = {domain for domain, _ in cfg.credibility.sources}
    cred = np.rint(table.scores).astype(np.int16)
    for code, name in enumerate(sources.strings()):
        if name not in known:
            cred[code] = -1
    return cred


@dataclass(slots=True)
class Ingest:
    """One supervised ingest pipeline (parse → validate → corroborate → desk) on its own node, with its state."""

    node: Node
    lat: StageLatencies
    totals: dict[str, int]
    quarantine: list[Reject]

    @classmethod
    def start(cls, news: NewsSource, validator: NewsValidator, corroborator: Corroborator, desk: DeskConfig,
              n_records: int, sample_every: int) -> Ingest:
        node = Node()
        ing = cls(node, StageLatencies.sampled(n_records, sample_every),
                  dict.fromkeys(("events", "zero_tick", "validated", "ingress_cycles", "dispatch_cycles"), 0), [])
        lexicon = load_lexicon()
        children = [
            ChildSpec("parse", lambda n: ParseStage.start_link(n, news.raw, news.layout, lexicon, ing.lat,
                                                              "validate", ing.quarantine, name="parse")),
            ChildSpec("validate", lambda n: ValidateStage.start_link(n, validator, ing.lat, "corroborate",
                                                                    ing.totals, name="validate")),
            ChildSpec("corroborate", lambda n: CorroborateStage.start_link(n, corroborator, ing.lat, "desk",
                                                                          name="corroborate")),
            ChildSpec("desk", lambda n: DeskStage.start_link(n, desk, name="desk")),
        ]
        Supervisor.start_link(node, SupFlags("rest_for_one", intensity=3, period=5.0), children)
        return ing

    def feed(self, n_records: int, batch: int, progress: bool) -> None:
        """Cast the wire image to the parse stage chunk by chunk, running the node until idle after each.

        A stage that crashes is restarted by the supervisor, but the batch it held is gone and the figures
        would be wrong: the replay stops with :class:`ReplayError` naming the stage and the exit reason.
        """
        bar = tqdm(total=n_records, unit="ev", unit_scale=True, desc="replay", disable=not progress)
        with Counters() as counters:
            for start in range(0, n_records, batch):
                count = min(batch, n_records - start)
                cast(self.node, "parse", WireChunk(start, count))
                self.node.run_until_idle()
                bar.update(count)
                if counters.restarts:
                    break
            bar.close()
            if not counters.restarts:
                self.node.call("corroborate", "flush")
                self.node.run_until_idle()
        if counters.restarts:
            crashed = {k: v for k, v in counters.exits_by_reason.items() if k not in ("normal", "shutdown")}
            raise ReplayError(f"pipeline stage crashed and was restarted ({dict(counters.restarts_by_child)}); "
                              f"exit reasons {crashed}; the traceback is in the log above")

    def trade(self, latency_ns: int) -> DeskResult:
        """One trading pass over the collected decisions at ``latency_ns`` (hosted by the desk actor)."""
        return self.node.call("desk", TradePass(latency_ns), timeout=3600.0)  # type: ignore[no-any-return]


def _latency_table(lat: StageLatencies, desk: DeskResult) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    samples: dict[str, np.ndarray] = {}
    for stage in INGEST_STAGES:
        a = getattr(lat, stage)
        samples[stage] = a[a >= 0]
    samples["signal"] = desk.signal_latency_ns[desk.signal_latency_ns >= 0]
    samples["risk"] = desk.risk_latency_ns[desk.risk_latency_ns >= 0]
    both = (lat.parse >= 0) & (lat.validate >= 0) & (lat.corroborate >= 0)
    total = lat.parse[both] + lat.validate[both] + lat.corroborate[both]
    # events that led to an order also pay signal + risk: add their median to the ingest path of a decision
    decision_extra = 0
    if len(samples["signal"]) and len(samples["risk"]):
        decision_extra = int(np.median(samples["signal"]) + np.median(samples["risk"]))
    samples["total"] = total
    table = {}
    for stage, s in samples.items():
        rec = LatencyRecorder(stage)
        if len(s):
            rec.record_many(s)
        summ = rec.summary()
        table[stage] = {k: (float(summ[k]) if summ[k] is not None else float("nan"))
                        for k in ("p50", "p99", "p999", "max")}
        table[stage]["samples"] = int(len(s))
    table["total"]["decision_extra_p50"] = float(decision_extra)
    return table, samples


def _median_or_zero(a: np.ndarray) -> float:
    a = a[a >= 0]
    return float(np.median(a)) if len(a) else 0.0


def _corroborator(cfg: TradingConfig, news: NewsSource) -> Corroborator:
    table = CredibilityTable.for_dictionary(news.layout.sources, cfg.credibility)
    return Corroborator(cfg.corroboration, table, n_tickers=len(news.layout.tickers) + 1)


def run_replay(opts: ReplayOptions) -> ReplayOutcome:
    """Run the whole replay once (plus the slow baseline unless disabled) and build the report."""
    cfg = load_config(opts.config_path)
    t0 = time.perf_counter()
    news = prepare_news(opts)
    data_s = time.perf_counter() - t0
    instruments: tuple[InstrumentInfo, ...] = default_instruments()
    notes: list[str] = []
    if opts.market_path:
        instruments, note = load_market_instruments(opts.market_path, news.layout.tickers)
        notes.append(note)
    n_wire = news.layout.n_records
    dicts = {"source": news.layout.sources, "ticker": news.layout.tickers, "data_source": news.layout.data_sources}
    validator = NewsValidator.load(opts.rules_path or DEFAULT_SHAPES, dictionaries=dicts,
                                   tables={"credibility": _credibility_table(news.layout.sources, cfg)},
                                   sample_every=opts.sample_every)
    desk_cfg = DeskConfig(cfg, news.layout.sources, news.layout.tickers, instruments, news.stories,
                          news.start_ns, news.start_ns + int(opts.seconds * 1e9), opts.seed, opts.slice_ns)

    # cold start: JIT compile (first run) or cache load of every kernel, on throwaway state
    t_warm = time.perf_counter()
    n_warm = min(n_wire, 4096)
    warm = Ingest.start(news, validator, _corroborator(cfg, news), desk_cfg, n_warm, 1)
    warm.feed(n_warm, n_warm, progress=False)
    warm_desk = warm.trade(0)
    warm.node.shutdown("shutdown")
    warmup_s = time.perf_counter() - t_warm

    wall0 = time.perf_counter()
    ing = Ingest.start(news, validator, _corroborator(cfg, news), desk_cfg, n_wire, opts.sample_every)
    ing.feed(n_wire, opts.batch, opts.progress)
    ingest_s = time.perf_counter() - wall0
    lat, totals = ing.lat, ing.totals
    # the fast desk acts after its measured decision latency: this run's ingest p50 per event plus the signal
    # and risk p50 per decision measured in-kernel by the warm-up pass (this pass measures its own, reported)
    ingest_p50 = float(sum(np.median(a[a >= 0]) for a in (lat.parse, lat.validate, lat.corroborate)))
    decision_ns = ingest_p50 + _median_or_zero(warm_desk.signal_latency_ns) + _median_or_zero(
        warm_desk.risk_latency_ns)
    fast = ing.trade(int(decision_ns))
    wall_s = time.perf_counter() - wall0
    latency, samples = _latency_table(lat, fast)
    slow = ing.trade(SLOW_DECISION_NS) if opts.slow_baseline else None
    rejected = ing.node.call("validate", "codes")
    decisions = fast.decisions
    ing.node.shutdown("shutdown")

    events = totals["events"]
    quarantined = _quarantine_counts(news, ing.quarantine)
    report: dict[str, Any] = {
        "run_id": new_run_id(),
        "cpu": cpu_model(),
        "seed": opts.seed,
        "simulated_s": opts.seconds,
        "events": events,
        "wire_records": n_wire,
        "quarantined": quarantined,
        "zero_tick": totals["zero_tick"],
        "zero_tick_ratio": totals["zero_tick"] / events if events else 0.0,
        "validated": totals["validated"],
        "rejected": rejected,
        "signals": int(len(decisions)),
        "decisions": {ACTION_NAMES[a]: int(c) for a, c in enumerate(np.bincount(decisions["action"],
                                                                                minlength=len(ACTION_NAMES)))},
        "orders": fast.orders,
        "fills": fast.fills,
        "filled_orders": fast.filled_orders,
        "fill_rate": fast.fill_rate,
        "risk_rejects": fast.risk_rejects,
        "pnl": {"realized": fast.realized, "unrealized": fast.unrealized, "total": fast.pnl_total},
        "hit_rate": fast.hit_rate,
        "exit_orders": fast.exit_orders,
        "hold_ns": fast.hold_ns,
        "attribution": fast.attribution,
        "data_s": data_s,
        "data_from_cache": news.from_cache,
        "warmup_s": warmup_s,
        "ingest_s": ingest_s,
        "wall_s": wall_s,
        "events_per_s": n_wire / wall_s if wall_s else float("nan"),
        "realtime_factor": opts.seconds / wall_s if wall_s else float("nan"),
        "sample_every": opts.sample_every,
        "latency_ns": latency,
        "decision_latency_ns_p50": decision_ns,
        "batch_events_per_s": {s: n_wire / (ns / 1e9) for s, ns in lat.batch_ns.items() if ns},
        "ticks": {
            "ingress_cycles_per_event": totals["ingress_cycles"] / events if events else float("nan"),
            "dispatch_cycles_per_event": totals["dispatch_cycles"] / events if events else float("nan"),
        },
        "venue": fast.venue,
        "notes": notes + [
            "latency_ns: per-event, in-kernel clock stamps of every "
            f"{opts.sample_every}-th event (signal/risk: every decision/order); 'total' = "
            "parse + validate + corroborate of the same event, an order adds signal + risk "
            "(latency_ns.total.decision_extra_p50).",
            "batch_events_per_s: batch wall time per stage, a batch average (includes Python dispatch).",
            f"The fast desk acts {decision_ns:,.0f} ns after receipt (ingest p50 of this run + signal and risk p50 "
            "of the warm-up pass, all in-kernel); the slow baseline "
            f"{SLOW_DECISION_NS:,} ns.",
        ],
    }
    if slow is not None:
        report["slow_baseline"] = {
            "pnl": {"realized": slow.realized, "unrealized": slow.unrealized, "total": slow.pnl_total},
            "fills": slow.fills,
            "orders": slow.orders,
            "fill_rate": slow.fill_rate,
            "decision_latency_ns": SLOW_DECISION_NS,
            "attribution": slow.attribution,
            "pnl_ratio": fast.pnl_total / slow.pnl_total if slow.pnl_total else float("nan"),
            "fill_rate_ratio": fast.fill_rate / slow.fill_rate if slow.fill_rate else float("nan"),
        }
    series = {f"CNS ({decision_ns:,.0f} ns)": (fast.pnl_t_s, fast.pnl_usd)}
    if slow is not None:
        series["LLM desk (100 ms)"] = (slow.pnl_t_s, slow.pnl_usd)
    return ReplayOutcome(report, series, samples, list(ing.quarantine))


def _quarantine_counts(news: NewsSource, quarantine: list[Reject]) -> dict[str, int]:
    """Quarantined input by reason: the JSONL conversion's rejects and the corrupt wire records of this run
    (the latter are written with the report, as ``<out>/rejects-wire.jsonl``, by ``write_report``)."""
    counts = dict(news.input_rejects)
    for r in quarantine:
        counts[r.code] = counts.get(r.code, 0) + 1
    return counts


__all__ = ["ReplayError", "ReplayOptions", "ReplayOutcome", "SLOW_DECISION_NS", "run_replay"]
