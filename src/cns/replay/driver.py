"""The production replay behind ``cns run``: data → supervised pipeline of stage actors → trading desk → report.

1. Data: the default seeded world (generated vectorised, cached on disk in the CNS binary format) or the
   user's news (``--news``, JSONL or binary; JSONL is converted once, its malformed lines quarantined).
2. Ingest: the wire image is parsed, validated and corroborated chunk by chunk by the stage actors
   (:mod:`cns.replay.stages`); every ``sample_every``-th event is timed inside the kernels.
3. Trading: the decision stream is traded against the exchange simulator at the *modelled* CNS latency
   (:mod:`cns.replay.latency`: ``[latency]`` in the config, ``--decision-latency``), then against a fresh
   simulator of the same market with the slow (LLM-desk) baseline's decision latency, same model otherwise.
   The simulated market trades on the public reports of the same news (:func:`cns.replay.data.
   public_reports_of`) with the street's source estimates (:func:`credibility_tables`).

Credibility: the desk judges sources with a *learnt* table, never the generator's hidden credibility — by
default :func:`cns.trading.calibrate.default_credibility` of the seed (held-out worlds, cached), or
``--credibility PATH`` (a table written by ``cns calibrate``), or the config's ``[credibility]`` sources when
the config sets them. The street (the market maker and competitors) always uses the default calibrated table,
so the market does not change with the desk's choice. ``report["trading"]["inputs"]["credibility"]`` says
which tables were used (provenance and a sha256 of the scores).

Reproducible by construction: nothing measured on the host feeds the simulation. The report keeps what the
run traded — ``report["trading"]``, a pure function of the inputs (news, config, seed, options), written
canonically and hashed as ``report["trading_sha256"]`` — apart from what the host measured
(``report["measured"]``: wall times, in-kernel latency stamps, the CPU), which never alters a trade.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from cns.engine import NewsValidator
from cns.engine.validator import DEFAULT_SHAPES
from cns.market.dtypes import STORY_DTYPE
from cns.market.newsgen import EPOCH_NS
from cns.news.batch import Reject
from cns.news.sentiment import load_lexicon
from cns.otp import ChildSpec, Supervisor, SupFlags, cast
from cns.replay.data import NewsSource, prepare_news, public_reports_of
from cns.replay.desk import DeskConfig, DeskResult
from cns.replay.errors import ReplayError
from cns.replay.latency import LatencyModel, fmt_ns, parse_decision_latency
from cns.replay.market_data import load_market_instruments
from cns.replay.report import canonical, new_run_id, trading_sha256
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
from cns.signals.universe import InstrumentInfo, default_instruments, source_dictionary, ticker_dictionary
from cns.telemetry import Counters
from cns.telemetry.facts import cpu_model
from cns.telemetry.latency import LatencyRecorder
from cns.trading.config import TradingConfig, load_config
from cns.trading.corroborate import Corroborator
from cns.trading.corroborate_kernels import ACTION_NAMES
from cns.trading.credibility import CredibilityTable

SLOW_DECISION_NS = 100_000_000  # the default slow baseline (an LLM-based desk): [latency] slow_decision_ns
MAX_SEED = (1 << 63) - 1
MEASURED_LABEL = "measured on this host, not used by the simulation"
_NO_STORIES = np.zeros(0, STORY_DTYPE)


class ReplayOptionError(ReplayError, ValueError):
    """A :class:`ReplayOptions` value is out of range (the message names the option); refused before any work."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """Everything ``cns run`` can set. Times in s unless the name says ns.

    Checked at construction (:class:`ReplayOptionError` naming the option): ``events`` >= 1, ``seconds``
    finite and > 0, ``seed`` in ``[0, 2**63)``, ``batch``/``sample_every``/``slice_ns`` >= 1, and
    ``decision_latency`` (None: the config's ``[latency]`` model) a spec of
    :func:`cns.replay.latency.parse_decision_latency`."""

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
    slice_ns: int = 1  # desk grouping of act times (1: every decision priced at its own act time)
    cache_dir: str | None = None  # None: the private data cache (cns.market.newsgen.data_cache_dir)
    rules_path: str | None = None
    decision_latency: str | None = None  # e.g. "2us", "lognormal:p50=2us,p99=20us"; None: [latency] of the config
    credibility_path: str | None = None  # the desk's credibility table (cns calibrate); None: see credibility_tables
    metrics_port: int | None = None  # serve Prometheus metrics on 127.0.0.1:PORT while replaying (0: any; cns.ops)

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ReplayOptionError:
            return ReplayOptionError(f"{name} = {getattr(self, name)!r}: {why}")

        for name in ("events", "batch", "sample_every", "slice_ns"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(name, "must be an integer >= 1")
        s = self.seconds
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
            raise bad("seconds", "must be a finite number of seconds > 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise bad("seed", f"must be an integer in [0, {MAX_SEED}]")
        if self.decision_latency is not None:
            parse_decision_latency(self.decision_latency)  # LatencySpecError (a ReplayError) quoting it


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


def _credibility_table(sources: Any, cfg: TradingConfig, table: CredibilityTable | None = None) -> np.ndarray:
    """The validator's per-source credibility (int16, -1 = unknown source) for the file's source dictionary:
    the scores of ``table`` (the desk's; None: the config's), -1 for a domain the config does not register."""
    table = table if table is not None else CredibilityTable.for_dictionary(sources, cfg.credibility)
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

    def trade(self, latency: LatencyModel) -> DeskResult:
        """One trading pass over the collected decisions at the simulated ``latency`` (hosted by the desk actor)."""
        return self.node.call("desk", TradePass(latency), timeout=3600.0)  # type: ignore[no-any-return]


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


def _corroborator(cfg: TradingConfig, news: NewsSource, table: CredibilityTable | None = None) -> Corroborator:
    table = table if table is not None else CredibilityTable.for_dictionary(news.layout.sources, cfg.credibility)
    return Corroborator(cfg.corroboration, table, n_tickers=len(news.layout.tickers) + 1)


_CACHE_NOTE = re.compile(r" \[cached [^\]]*\]$")


def credibility_tables(cfg: TradingConfig, sources: Any, seed: int, cache_dir: str | None,
                       credibility_path: str | None) -> tuple[CredibilityTable, CredibilityTable]:
    """``(desk, street)`` credibility tables for the codes of ``sources`` (see the module docstring): the
    street's is :func:`~cns.trading.calibrate.default_credibility` of ``seed``; the desk's the file at
    ``credibility_path``, else the config's ``[credibility]`` sources when they differ from the defaults (the
    generator's hidden table, which a backtest must not read), else the street's. A bad file is a
    :class:`~cns.trading.errors.StateError` naming it."""
    from cns.trading.calibrate import default_credibility
    from cns.trading.config import CredibilityConfig

    street = default_credibility(seed, sources, config=cfg.credibility, cache_dir=cache_dir)
    if credibility_path is not None:
        desk = CredibilityTable.from_file(credibility_path, sources, cfg.credibility)
    elif cfg.credibility.sources != CredibilityConfig().sources:
        desk = CredibilityTable.for_dictionary(sources, cfg.credibility)
    else:
        desk = street
    return desk, street


def table_summary(table: CredibilityTable) -> dict[str, str]:
    """What the report says about a credibility table: its provenance (without the machine-specific cache
    path) and the sha256 of its scores."""
    return {"provenance": _CACHE_NOTE.sub("", table.provenance),
            "scores_sha256": hashlib.sha256(np.ascontiguousarray(table.scores).tobytes()).hexdigest()}


def latency_model(cfg: TradingConfig, opts: ReplayOptions) -> LatencyModel:
    """The fast desk's model: the config's ``[latency]``, its decision hop replaced by ``opts.decision_latency``."""
    decision = parse_decision_latency(opts.decision_latency) if opts.decision_latency is not None else None
    return LatencyModel.from_config(cfg.latency, decision)


def desk_probe(cfg: TradingConfig, opts: ReplayOptions) -> DeskConfig:
    """A :class:`DeskConfig` of ``opts`` on the default universe, built before any data is prepared so bad
    desk values fail fast (:class:`~cns.trading.errors.ConfigError` naming the field); the replay replaces
    its market fields once the news is mapped."""
    return DeskConfig(cfg, source_dictionary(), ticker_dictionary(), default_instruments(), _NO_STORIES, EPOCH_NS,
                      EPOCH_NS + int(opts.seconds * 1e9), opts.seed, opts.slice_ns)


def run_replay(opts: ReplayOptions) -> ReplayOutcome:
    """Run the whole replay once (plus the slow baseline unless disabled) and build the report."""
    cfg = load_config(opts.config_path)
    model = latency_model(cfg, opts)
    probe = desk_probe(cfg, opts)
    t0 = time.perf_counter()
    news = prepare_news(opts)
    data_s = time.perf_counter() - t0
    instruments: tuple[InstrumentInfo, ...] = default_instruments()
    notes: list[str] = []
    if opts.market_path:
        instruments, note = load_market_instruments(opts.market_path, news.layout.tickers)
        notes.append(note)
    n_wire = news.layout.n_records
    t_cred = time.perf_counter()
    desk_table, street_table = credibility_tables(cfg, news.layout.sources, opts.seed, opts.cache_dir,
                                                  opts.credibility_path)
    cred_s = time.perf_counter() - t_cred
    t_rep = time.perf_counter()
    reports = public_reports_of(news, opts.cache_dir)
    reports_s = time.perf_counter() - t_rep
    dicts = {"source": news.layout.sources, "ticker": news.layout.tickers, "data_source": news.layout.data_sources}
    validator = NewsValidator.load(opts.rules_path or DEFAULT_SHAPES, dictionaries=dicts,
                                   tables={"credibility": _credibility_table(news.layout.sources, cfg, desk_table)},
                                   sample_every=opts.sample_every)
    desk_cfg = dataclasses.replace(probe, sources=news.layout.sources, tickers=news.layout.tickers,
                                   instruments=instruments, stories=news.stories, start_ns=news.start_ns,
                                   end_ns=news.start_ns + int(opts.seconds * 1e9), reports=reports,
                                   source_reliability=street_table.reliability())

    # cold start: JIT compile (first run) or cache load of every kernel, on throwaway state
    t_warm = time.perf_counter()
    n_warm = min(n_wire, 4096)
    warm = Ingest.start(news, validator, _corroborator(cfg, news, desk_table), desk_cfg, n_warm, 1)
    warm.feed(n_warm, n_warm, progress=False)
    warm.trade(model)
    warm.node.shutdown("shutdown")
    warmup_s = time.perf_counter() - t_warm

    wall0 = time.perf_counter()
    ing = Ingest.start(news, validator, _corroborator(cfg, news, desk_table), desk_cfg, n_wire, opts.sample_every)
    metrics = None
    if opts.metrics_port is not None:  # the endpoint reads the ingest's counters at scrape time (cns.ops.replay)
        from cns.ops.replay import serve_replay_metrics

        metrics = serve_replay_metrics(ing, batch=opts.batch, port=opts.metrics_port)
    ing.feed(n_wire, opts.batch, opts.progress)
    ingest_s = time.perf_counter() - wall0
    fast = ing.trade(model)
    wall_s = time.perf_counter() - wall0
    latency, samples = _latency_table(ing.lat, fast)
    slow_model = model.slow()
    slow = ing.trade(slow_model) if opts.slow_baseline else None
    rejected = ing.node.call("validate", "codes")
    ing.node.shutdown("shutdown")
    if metrics is not None:
        metrics.close()

    totals = ing.totals
    events = totals["events"]
    decisions = fast.decisions
    trading: dict[str, Any] = {
        "inputs": {
            "seed": opts.seed,
            "simulated_s": opts.seconds,
            "news": "generated" if not opts.news_path else "user",
            "wire_records": n_wire,
            "strategy": cfg.corroboration.strategy,
            "latency": model.to_dict(),
            "slow_latency": slow_model.to_dict() if slow is not None else None,
            "slice_ns": desk_cfg.slice_ns,
            "snapshot_ns": desk_cfg.snapshot_ns,
            "hold_ns": fast.hold_ns,
            "credibility": {"desk": table_summary(desk_table), "street": table_summary(street_table)},
            "public_reports": int(len(reports)),
        },
        "events": events,
        "quarantined": _quarantine_counts(news, ing.quarantine),
        "zero_tick": totals["zero_tick"],
        "zero_tick_ratio": totals["zero_tick"] / events if events else 0.0,
        "validated": totals["validated"],
        "rejected": rejected,
        "signals": int(len(decisions)),
        "decisions": {ACTION_NAMES[a]: int(c) for a, c in enumerate(np.bincount(decisions["action"],
                                                                                minlength=len(ACTION_NAMES)))},
        "fast": desk_section(fast),
        "slow": desk_section(slow) if slow is not None else None,
    }
    if slow is not None:
        trading["fast_vs_slow"] = {
            "pnl_difference": fast.pnl_total - slow.pnl_total,
            "pnl_ratio": fast.pnl_total / slow.pnl_total if slow.pnl_total else float("nan"),
            "fill_rate_ratio": fast.fill_rate / slow.fill_rate if slow.fill_rate else float("nan"),
        }
    trading = canonical(trading)
    measured_decision = _measured_decision_ns(ing.lat, fast)
    measured: dict[str, Any] = {
        "what": "measured on this host: wall times and sampled in-kernel latency stamps; none of it is used by "
                "the simulation (report['trading'] is the same on every machine)",
        "cpu": cpu_model(),
        "data_s": data_s,
        "data_from_cache": news.from_cache,
        "credibility_s": cred_s,
        "credibility_cache": _CACHE_NOTE.search(street_table.provenance) is not None,
        "public_reports_s": reports_s,
        "warmup_s": warmup_s,
        "ingest_s": ingest_s,
        "wall_s": wall_s,
        "events_per_s": n_wire / wall_s if wall_s else float("nan"),
        "realtime_factor": opts.seconds / wall_s if wall_s else float("nan"),
        "sample_every": opts.sample_every,
        "latency_ns": latency,
        "decision_latency_ns_p50": measured_decision,
        "decision_latency_label": MEASURED_LABEL,
        "batch_events_per_s": {s: n_wire / (ns / 1e9) for s, ns in ing.lat.batch_ns.items() if ns},
        "ticks": {
            "ingress_cycles_per_event": totals["ingress_cycles"] / events if events else float("nan"),
            "dispatch_cycles_per_event": totals["dispatch_cycles"] / events if events else float("nan"),
        },
    }
    report: dict[str, Any] = {
        "schema": 2,
        "run_id": new_run_id(),
        "machine": {"cpu": measured["cpu"]},
        "trading": trading,
        "trading_sha256": trading_sha256(trading),
        "measured": measured,
        "notes": notes + [
            f"The fast desk acts {model.decision.label()} after receipt (+ feed {fmt_ns(model.feed_ns)}); the "
            f"slow baseline {slow_model.decision.label()}; orders reach the venue {fmt_ns(model.entry_ns)} after "
            f"they are stamped, quotes reach the desk {fmt_ns(model.md_ns)} after they change, execution "
            f"reports {fmt_ns(model.return_ns)} after the venue produced them. These are model inputs "
            "([latency] in the config, --decision-latency), the same on every machine.",
            f"Decision latency {MEASURED_LABEL}: {measured_decision:,.0f} ns (p50 ingest of this run + signal "
            "and risk p50 of the fast pass, in-kernel stamps).",
            "measured.latency_ns: per-event, in-kernel clock stamps of every "
            f"{opts.sample_every}-th event (signal/risk: every decision/order); 'total' = "
            "parse + validate + corroborate of the same event, an order adds signal + risk "
            "(latency_ns.total.decision_extra_p50).",
            "measured.batch_events_per_s: batch wall time per stage, a batch average (includes Python dispatch).",
        ],
    }
    report["headline"] = _headline(report, opts)
    series = {f"CNS ({model.decision.label()})": (fast.pnl_t_s, fast.pnl_usd)}
    if slow is not None:
        series[f"slow baseline ({slow_model.decision.label()})"] = (slow.pnl_t_s, slow.pnl_usd)
    return ReplayOutcome(report, series, samples, list(ing.quarantine))


def _headline(report: dict[str, Any], opts: ReplayOptions) -> list[dict[str, Any]]:
    """README rows (:func:`cns.bench.readme.headline_row`): the P&L of both desks (reproducible) and the
    replay's throughput (measured)."""
    from cns.bench.readme import headline_row

    t, m = report["trading"], report["measured"]
    fast, slow = t["fast"], t.get("slow")
    world = f"seed {opts.seed}, {t['events']:,} events / {opts.seconds:g} simulated s"
    rows = [headline_row(
        f"P&L total, CNS desk at decision latency {fast['latency']['decision']} (simulated), USD; {world}; "
        f"trading sha256 {report['trading_sha256'][:12]}",
        f"{fast['pnl']['total']:,.0f}",
        peer=f"slow desk ({slow['latency']['decision']}): {slow['pnl']['total']:,.0f}" if slow else "")]
    rows.append(headline_row(f"replay wall (ingest + CNS desk pass), {world}",
                             f"{m['wall_s']:.2f} s ({m['events_per_s']:,.0f} events/s)"))
    return rows


def desk_section(r: DeskResult) -> dict[str, Any]:
    """What one desk pass traded (no host measurement in it): the report's ``trading.fast``/``trading.slow``."""
    return {
        "latency": r.latency,
        "fees": r.fees,
        "market": r.market,
        "decision_latency_drawn_ns": r.decision_latency_ns,
        "orders": r.orders,
        "fills": r.fills,
        "filled_orders": r.filled_orders,
        "fill_rate": r.fill_rate,
        "exit_orders": r.exit_orders,
        "exit_cancels": r.exit_cancels,
        "hold_ns": r.hold_ns,
        "pnl": {"realized": r.realized, "unrealized": r.unrealized, "total": r.pnl_total},
        "hit_rate": r.hit_rate,
        "risk_rejects": r.risk_rejects,
        "risk_limits": r.risk_limits,
        "reports_in_flight_at_end": r.reports_in_flight_at_end,
        "attribution": r.attribution,
        "venue": r.venue,
    }


def _measured_decision_ns(lat: StageLatencies, fast: DeskResult) -> float:
    """The in-kernel decision latency measured on this host (p50 ingest + signal + risk): reported, never used."""
    ingest = sum(_median_or_zero(a) for a in (lat.parse, lat.validate, lat.corroborate))
    return ingest + _median_or_zero(fast.signal_latency_ns) + _median_or_zero(fast.risk_latency_ns)


def _quarantine_counts(news: NewsSource, quarantine: list[Reject]) -> dict[str, int]:
    """Quarantined input by reason: the JSONL conversion's rejects and the corrupt wire records of this run
    (the latter are written with the report, as ``<out>/rejects-wire.jsonl``, by ``write_report``)."""
    counts = dict(news.input_rejects)
    for r in quarantine:
        counts[r.code] = counts.get(r.code, 0) + 1
    return counts


__all__ = ["ReplayError", "ReplayOptionError", "ReplayOptions", "ReplayOutcome", "SLOW_DECISION_NS", "desk_probe",
           "desk_section", "latency_model", "run_replay"]
