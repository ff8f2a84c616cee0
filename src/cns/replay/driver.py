"""The production replay behind ``cns run``: data → supervised pipeline of stage actors → trading desk.

:func:`replay` runs and returns a :class:`ReplayRun` (no report); :func:`cns.replay.report.build_outcome` builds
the report from it; :func:`run_replay` does both. The run's steps: :func:`prepare` (config, news, market,
credibility, validator, desk config), :func:`warm_up` (kernels compiled/loaded), then the ingest and the passes.

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
import gc
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from cns.engine import NewsValidator
from cns.engine.validator import DEFAULT_SHAPES
from cns.market.dtypes import STORY_DTYPE
from cns.market.newsgen import EPOCH_NS
from cns.news.batch import Reject
from cns.news.sentiment import load_lexicon
from cns.otp import ChildSpec, Supervisor, SupFlags, cast
from cns.replay.checkpoint import IngestState, Journal, run_key
from cns.replay.data import NewsSource, prepare_news, public_reports_of
from cns.replay.desk import DeskConfig, DeskResult
from cns.replay.errors import ReplayError
from cns.replay.latency import LatencyModel, parse_decision_latency
from cns.replay.market_data import load_market_instruments
from cns.replay.memory import PhaseMemory
from cns.replay.progress import progress_bar
from cns.replay.report import ReplayOutcome, build_outcome
from cns.replay.stages import (
    INGEST_STAGES,
    CorroborateStage,
    DeskStage,
    KeepUntil,
    ParseStage,
    StageLatencies,
    TradePass,
    ValidateStage,
    WireChunk,
)
from cns.replay.warm import warm_records, warm_world
from cns.runtime import Node
from cns.signals.universe import InstrumentInfo, default_instruments, source_dictionary, ticker_dictionary
from cns.telemetry import Counters
from cns.trading.config import TradingConfig, load_config
from cns.trading.corroborate import Corroborator
from cns.trading.credibility import CredibilityTable

MAX_SEED = (1 << 63) - 1
_log = logging.getLogger(__name__)
_NO_STORIES = np.zeros(0, STORY_DTYPE)


class ReplayOptionError(ReplayError, ValueError):
    """A :class:`ReplayOptions` value is out of range (the message names the option); refused before any work."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """Everything ``cns run`` can set. Times in s unless the name says ns.

    Checked at construction (:class:`ReplayOptionError` naming the option): ``events`` >= 1, ``seconds``
    finite and > 0, ``seed`` in ``[0, 2**63)``, ``batch``/``sample_every``/``slice_ns`` >= 1, and
    ``metrics_port`` None or in ``[0, 65535]``, ``decision_latency`` (None: the config's ``[latency]`` model) a spec of
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
    decision_latency: str | None = (
        None  # e.g. "2us", "lognormal:p50=2us,p99=20us"; None: [latency] of the config
    )
    credibility_path: str | None = (
        None  # the desk's credibility table (cns calibrate); None: see credibility_tables
    )
    metrics_port: int | None = (
        None  # serve Prometheus metrics on 127.0.0.1:PORT while replaying (0: any; cns.ops)
    )
    checkpoint: bool = False  # journal completed phases in <out_dir>/.checkpoint (cns.replay.checkpoint)
    resume: bool = True  # with checkpoint: load the phases of a matching journal instead of recomputing
    books: tuple[str, ...] = ()  # recorded L3 days to trade against (cns.market.recorded_run.desk_with_books)
    book_tickers: tuple[str, ...] = ()  # the ticker each book trades as (default: the file's)
    book_tick_size: float | None = None  # price tick (USD) of a generic L3 CSV book

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
        p = self.metrics_port
        if p is not None and (isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 65535):
            raise bad("metrics_port", "must be a TCP port in [0, 65535] (0: any free port)")
        if self.decision_latency is not None:
            parse_decision_latency(self.decision_latency)  # LatencySpecError (a ReplayError) quoting it


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
    def start(
        cls,
        news: NewsSource,
        validator: NewsValidator,
        corroborator: Corroborator,
        desk: DeskConfig,
        n_records: int,
        sample_every: int,
    ) -> Ingest:
        node = Node()
        ing = cls(
            node,
            StageLatencies.sampled(n_records, sample_every),
            dict.fromkeys(("events", "zero_tick", "validated", "ingress_cycles", "dispatch_cycles"), 0),
            [],
        )
        lexicon = load_lexicon()
        children = [
            ChildSpec(
                "parse",
                lambda n: ParseStage.start_link(
                    n, news.raw, news.layout, lexicon, ing.lat, "validate", ing.quarantine, name="parse"
                ),
            ),
            ChildSpec(
                "validate",
                lambda n: ValidateStage.start_link(
                    n, validator, ing.lat, "corroborate", ing.totals, name="validate"
                ),
            ),
            ChildSpec(
                "corroborate",
                lambda n: CorroborateStage.start_link(n, corroborator, ing.lat, "desk", name="corroborate"),
            ),
            ChildSpec("desk", lambda n: DeskStage.start_link(n, desk, name="desk")),
        ]
        Supervisor.start_link(node, SupFlags("rest_for_one", intensity=3, period=5.0), children)
        return ing

    def feed(self, n_records: int, batch: int, progress: bool) -> None:
        """Cast the wire image to the parse stage chunk by chunk, running the node until idle after each.

        A stage that crashes is restarted by the supervisor, but the batch it held is gone and the figures
        would be wrong: the replay stops with :class:`ReplayError` naming the stage and the exit reason.
        """
        bar = progress_bar(n_records, "replay", "ev", progress)
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
            self.lat.close()
        if counters.restarts:
            crashed = {k: v for k, v in counters.exits_by_reason.items() if k not in ("normal", "shutdown")}
            raise ReplayError(
                f"pipeline stage crashed and was restarted ({dict(counters.restarts_by_child)}); "
                f"exit reasons {crashed}; the traceback is in the log above"
            )

    def state(self, ingest_s: float) -> IngestState:
        """What the finished ingest produced (the checkpoint of the ingest phase); ``ingest_s`` its wall time."""
        decisions = self.node.call("desk", "decisions")
        rejected = self.node.call("validate", "codes")
        return IngestState(
            decisions,
            dict(self.totals),
            rejected,
            [(r.line, r.reason, r.raw) for r in self.quarantine],
            {s: getattr(self.lat, s) for s in INGEST_STAGES},
            {"every": self.lat.every, "final": self.lat.final, "batch_ns": dict(self.lat.batch_ns)},
            ingest_s,
        )

    def restore(self, st: IngestState) -> None:
        """Load a checkpointed ingest instead of running it: the desk gets its decisions, the totals, the
        quarantine and the stage latencies are those of the ingest that ran."""
        cast(self.node, "desk", st.decisions)
        self.node.run_until_idle()
        self.totals.update(st.totals)
        self.quarantine[:] = [Reject(line, reason, raw) for line, reason, raw in st.quarantine]
        lat = self.lat
        lat.parse, lat.validate, lat.corroborate = (st.lat[s] for s in INGEST_STAGES)
        lat.every, lat.final = int(st.lat_meta["every"]), int(st.lat_meta["final"])
        lat.batch_ns = {str(k): int(v) for k, v in st.lat_meta["batch_ns"].items()}

    def trade(self, latency: LatencyModel) -> DeskResult:
        """One trading pass over the collected decisions at the simulated ``latency`` (hosted by the desk actor)."""
        return self.node.call("desk", TradePass(latency), timeout=3600.0)  # type: ignore[no-any-return]


def _corroborator(
    cfg: TradingConfig, news: NewsSource, table: CredibilityTable | None = None
) -> Corroborator:
    table = (
        table if table is not None else CredibilityTable.for_dictionary(news.layout.sources, cfg.credibility)
    )
    return Corroborator(cfg.corroboration, table, n_tickers=len(news.layout.tickers) + 1)


def credibility_tables(
    cfg: TradingConfig, sources: Any, seed: int, cache_dir: str | None, credibility_path: str | None
) -> tuple[CredibilityTable, CredibilityTable]:
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


def latency_model(cfg: TradingConfig, opts: ReplayOptions) -> LatencyModel:
    """The fast desk's model: the config's ``[latency]``, its decision hop replaced by ``opts.decision_latency``."""
    decision = parse_decision_latency(opts.decision_latency) if opts.decision_latency is not None else None
    return LatencyModel.from_config(cfg.latency, decision)


def desk_probe(cfg: TradingConfig, opts: ReplayOptions) -> DeskConfig:
    """A :class:`DeskConfig` of ``opts`` on the default universe, built before any data is prepared so bad
    desk values fail fast (:class:`~cns.trading.errors.ConfigError` naming the field); the replay replaces
    its market fields once the news is mapped."""
    return DeskConfig(
        cfg,
        source_dictionary(),
        ticker_dictionary(),
        default_instruments(),
        _NO_STORIES,
        EPOCH_NS,
        EPOCH_NS + int(opts.seconds * 1e9),
        opts.seed,
        opts.slice_ns,
    )


@dataclass(slots=True)
class Prepared:
    """Everything a replay needs before the first event is ingested (built by :func:`prepare`)."""

    cfg: TradingConfig
    model: LatencyModel
    news: NewsSource
    desk_table: CredibilityTable
    street_table: CredibilityTable
    n_reports: int
    validator: NewsValidator
    desk_cfg: DeskConfig
    notes: list[str]
    timings: dict[str, float]  # data_s, credibility_s, public_reports_s (measured)


@dataclass(slots=True)
class ReplayRun:
    """What one replay produced, before any report is built (:func:`cns.replay.report.build_outcome`)."""

    opts: ReplayOptions
    prep: Prepared
    slow_model: LatencyModel
    lat: StageLatencies
    totals: dict[str, int]
    rejected: dict[str, int]
    quarantine: list[Reject]
    fast: DeskResult
    slow: DeskResult | None
    timings: dict[str, float]  # prep's + warmup_s, ingest_s, wall_s (measured)
    memory: PhaseMemory = dataclasses.field(default_factory=PhaseMemory)  # RSS per phase (measured)
    resumed: list[str] = dataclasses.field(default_factory=list)  # phases loaded from the run's checkpoint
    journal: Journal | None = (
        None  # the run's checkpoint journal (opts.checkpoint), to discard once published
    )


def prepare(opts: ReplayOptions) -> Prepared:
    """Load the config, prepare the news, the market and the credibility tables; build the validator and the
    desk config. Bad desk values fail before the news is prepared (:func:`desk_probe`)."""
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
    t_cred = time.perf_counter()
    desk_table, street_table = credibility_tables(
        cfg, news.layout.sources, opts.seed, opts.cache_dir, opts.credibility_path
    )
    cred_s = time.perf_counter() - t_cred
    t_rep = time.perf_counter()
    reports = public_reports_of(news, opts.cache_dir)
    reports_s = time.perf_counter() - t_rep
    desk_cfg = dataclasses.replace(
        probe,
        sources=news.layout.sources,
        tickers=news.layout.tickers,
        instruments=instruments,
        stories=news.stories,
        start_ns=news.start_ns,
        end_ns=news.start_ns + int(opts.seconds * 1e9),
        reports=reports,
        source_reliability=street_table.reliability(),
    )
    if opts.books:  # a recorded market instead of the simulated one (docs/recorded-market.md)
        from cns.market.recorded_run import desk_with_books

        desk_cfg, book_notes = desk_with_books(
            desk_cfg, opts.books, tickers=opts.book_tickers or None, tick_size=opts.book_tick_size
        )
        notes.extend(book_notes)
    return Prepared(
        cfg,
        model,
        news,
        desk_table,
        street_table,
        int(len(reports)),
        _validator(cfg, news, desk_table, opts),
        desk_cfg,
        notes,
        {"data_s": data_s, "credibility_s": cred_s, "public_reports_s": reports_s},
    )


def _validator(
    cfg: TradingConfig, news: NewsSource, desk_table: CredibilityTable, opts: ReplayOptions
) -> NewsValidator:
    """The ingest's validator: the rules of ``opts`` over the file's dictionaries and the desk's credibility."""
    dicts = {
        "source": news.layout.sources,
        "ticker": news.layout.tickers,
        "data_source": news.layout.data_sources,
    }
    return NewsValidator.load(
        opts.rules_path or DEFAULT_SHAPES,
        dictionaries=dicts,
        tables={"credibility": _credibility_table(news.layout.sources, cfg, desk_table)},
        sample_every=opts.sample_every,
    )


def _start_ingest(prep: Prepared, n_records: int, sample_every: int) -> Ingest:
    return Ingest.start(
        prep.news,
        prep.validator,
        _corroborator(prep.cfg, prep.news, prep.desk_table),
        prep.desk_cfg,
        n_records,
        sample_every,
    )


def warm_up(prep: Prepared) -> float:
    """Cold start: JIT compile (first run) or cache load of every kernel, on throwaway state; the seconds taken.

    The warm-up ingests the first :func:`~cns.replay.warm.warm_records` records and trades them once in the
    run's world cut to its first seconds (:func:`~cns.replay.warm.warm_world`: same kernel types, none of the
    whole day's market), so neither its time nor its memory grows with the run."""
    t_warm = time.perf_counter()
    n_warm = warm_records(prep)
    world = warm_world(prep)
    warm = _start_ingest(world, n_warm, 1)
    warm.feed(n_warm, max(n_warm, 1), progress=False)
    # a record received late in the day would make the throwaway desk simulate the market up to it
    warm.node.call("desk", KeepUntil(world.desk_cfg.end_ns))
    warm.trade(prep.model)
    warm.node.shutdown("shutdown")
    del warm
    gc.collect()  # the throwaway pipeline is cyclic garbage: free it before the run
    return time.perf_counter() - t_warm


def _journal(opts: ReplayOptions, prep: Prepared) -> Journal | None:
    """The run's checkpoint journal (None unless ``opts.checkpoint``, or when the output dir refuses it:
    a warning, the run goes on without checkpoints)."""
    if not opts.checkpoint:
        return None
    try:
        return Journal(opts.out_dir, run_key(opts, prep))
    except OSError as exc:
        _log.warning("no run checkpoints in %s: %s", opts.out_dir, exc)
        return None


def _save(journal: Journal | None, what: str, save: Any) -> None:
    """Write a checkpoint; a failure is a warning (the run itself is unaffected)."""
    if journal is None:
        return
    try:
        save()
    except (OSError, TypeError, ValueError) as exc:
        _log.warning("checkpoint of the %s phase not written: %s", what, exc)


def replay(opts: ReplayOptions) -> ReplayRun:
    """Run the whole replay once (plus the slow baseline unless disabled); no report is built here.

    With ``opts.checkpoint`` each completed phase (ingest, fast pass, slow pass) is journalled in the output
    directory (:mod:`cns.replay.checkpoint`) and, with ``opts.resume``, a matching journal's phases are loaded
    instead of recomputed: the result is the same as an uninterrupted run's."""
    mem = PhaseMemory()
    prep = prepare(opts)
    mem.mark("prepare")
    gc.freeze()  # what prepare built lives for the whole run: the collections below need not walk it
    try:
        return _replay_prepared(opts, prep, mem)
    finally:
        gc.unfreeze()


def _replay_prepared(opts: ReplayOptions, prep: Prepared, mem: PhaseMemory) -> ReplayRun:
    """:func:`replay` after :func:`prepare`."""
    journal = _journal(opts, prep)
    resumable = set(journal.phases()) if journal is not None and opts.resume else set()
    resumed: list[str] = []
    warmup_s = warm_up(prep)
    mem.mark("warmup")
    n_wire = prep.news.layout.n_records
    wall0 = time.perf_counter()
    ing = _start_ingest(prep, n_wire, opts.sample_every)
    state = journal.load_ingest() if journal is not None and "ingest" in resumable else None
    metrics = None
    if state is None:
        if opts.metrics_port is not None:  # the endpoint reads the ingest's counters at scrape time
            from cns.ops.replay import serve_replay_metrics

            metrics = serve_replay_metrics(ing, batch=opts.batch, port=opts.metrics_port)
        ing.feed(n_wire, opts.batch, opts.progress)
        state = ing.state(time.perf_counter() - wall0)
        _save(journal, "ingest", lambda: journal.save_ingest(state))  # type: ignore[union-attr]
    else:
        ing.restore(state)
        resumed.append("ingest")
    ingest_s = state.ingest_s
    mem.mark("ingest")
    fast = journal.load_desk("fast") if journal is not None and "fast" in resumable else None
    if fast is None:
        fast = ing.trade(prep.model)
        _save(journal, "fast", lambda: journal.save_desk("fast", fast))  # type: ignore[union-attr]
    else:
        resumed.append("fast")
    wall_s = time.perf_counter() - wall0
    mem.mark("fast")
    slow_model = prep.model.slow()
    slow = None
    if opts.slow_baseline:
        slow = journal.load_desk("slow") if journal is not None and "slow" in resumable else None
        if slow is None:
            slow = ing.trade(slow_model)
            _save(journal, "slow", lambda: journal.save_desk("slow", slow))  # type: ignore[union-attr]
        else:
            resumed.append("slow")
        mem.mark("slow")
    ing.node.shutdown("shutdown")
    if metrics is not None:
        metrics.close()
    timings = {**prep.timings, "warmup_s": warmup_s, "ingest_s": ingest_s, "wall_s": wall_s}
    return ReplayRun(
        opts,
        prep,
        slow_model,
        ing.lat,
        ing.totals,
        state.rejected,
        ing.quarantine,
        fast,
        slow,
        timings,
        mem,
        resumed,
        journal,
    )


def run_replay(opts: ReplayOptions) -> ReplayOutcome:
    """Run the replay (:func:`replay`) and build its report (:func:`cns.replay.report.build_outcome`)."""
    return build_outcome(replay(opts))


__all__ = [
    "Prepared",
    "ReplayError",
    "ReplayOptionError",
    "ReplayOptions",
    "ReplayOutcome",
    "ReplayRun",
    "desk_probe",
    "latency_model",
    "prepare",
    "replay",
    "run_replay",
    "warm_up",
]
