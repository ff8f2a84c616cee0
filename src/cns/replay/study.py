"""``cns study``: what one seed cannot tell — N seeded worlds through both desks, with confidence intervals,
and the question the seed really asks: what is decision latency worth?

For each seed ``first_seed .. first_seed + seeds - 1`` the default world (``--events`` over ``--seconds``) is
generated (or read from the data cache) and ingested once per corroboration strategy; only the desk pass
depends on latency, so every latency reuses that strategy's decision stream (a fresh venue and book per pass,
the same market for all of them).

* **Fast vs slow**: the config's strategy at the fast desk's latency model and at the slow baseline's, per
  seed; mean and 95 % confidence interval (Student's t, n - 1 degrees of freedom) of P&L, fills, hit rate and
  each part of the P&L attribution, and of the paired per-seed difference fast - slow.
* **P&L vs decision latency**: constant decision latencies ``--latencies`` (default 1 µs … 100 ms) for two
  strategies, ``first_credible`` (act on the first credible report) and ``corroborate`` (wait for agreeing
  sources), every other hop of the latency model as configured; mean and 95 % CI per point.

Written to ``<out>/study.json`` (every per-seed value too), ``<out>/study.md`` and
``<out>/latency-value.png`` (:mod:`cns.replay.study_report`). Everything in them but the ``measured`` block
(wall time, CPU) is a function of the options and config, the same on every machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from cns.engine import NewsValidator
from cns.engine.validator import DEFAULT_SHAPES
from cns.replay.data import prepare_news, public_reports_of
from cns.replay.desk import DeskResult
from cns.replay.driver import (
    MAX_SEED,
    Ingest,
    ReplayOptions,
    _corroborator,
    _credibility_table,
    credibility_tables,
    desk_probe,
)
from cns.replay.errors import ReplayError
from cns.replay.latency import LatencyModel, LatencySpecError, parse_decision_latency, parse_duration
from cns.replay.progress import Progress, progress_bar
from cns.replay.report import table_summary
from cns.signals.universe import default_instruments
from cns.telemetry.facts import cpu_model
from cns.trading.config import CORROBORATION_STRATEGIES, TradingConfig, load_config

CONFIDENCE = 0.95
ATTRIBUTION_PARTS = (
    "entry_edge",
    "exit_edge",
    "hold_informed",
    "hold_luck",
    "hold_random_walk",
    "fees",
    "residual",
)
METRICS = ("pnl", "fills", "hit_rate", "orders", "fill_rate", "fees_net", "mm_pnl", *ATTRIBUTION_PARTS)
_NO_SAMPLING = 1_000_000  # in-kernel latency stamps: next to none (nothing here reports them)


class StudyOptionError(ReplayError, ValueError):
    """A ``cns study`` option is out of range (the message names it); refused before any work."""


@dataclass(frozen=True, slots=True)
class StudyOptions:
    """What ``cns study`` runs. ``latencies`` in ns (constants of the sweep); ``seconds`` simulated per world.

    Checked at construction (:class:`StudyOptionError`): ``seeds`` 2..1000 (a confidence interval needs two),
    seeds within ``[0, 2**63)``, ``events`` >= 1, ``seconds`` finite and > 0, 1..32 latencies each in
    ``[0, 1 day]``, strategies from :data:`~cns.trading.config.CORROBORATION_STRATEGIES`."""

    seeds: int = 10
    first_seed: int = 1
    events: int = 150_000
    seconds: float = 10.0
    latencies: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000)
    strategies: tuple[str, ...] = ("first_credible", "corroborate")
    config_path: str | None = None
    decision_latency: str | None = None  # the fast desk's; None: [latency] of the config
    out_dir: str = "out"
    cache_dir: str | None = None
    progress: bool = True
    batch: int = 65_536

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, why: str) -> None:
            if not ok:
                raise StudyOptionError(f"{name} = {getattr(self, name)!r}: {why}")

        def is_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        need(is_int(self.seeds) and 2 <= self.seeds <= 1000, "seeds", "must be an integer in [2, 1000]")
        need(
            is_int(self.first_seed) and 0 <= self.first_seed <= MAX_SEED - self.seeds,
            "first_seed",
            "must be an integer >= 0 (and the last seed < 2**63)",
        )
        need(is_int(self.events) and self.events >= 1, "events", "must be an integer >= 1")
        need(is_int(self.batch) and self.batch >= 1, "batch", "must be an integer >= 1")
        s = self.seconds
        need(
            isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s > 0,
            "seconds",
            "must be a finite number of seconds > 0",
        )
        need(
            1 <= len(self.latencies) <= 32
            and all(is_int(x) and 0 <= x <= 86_400 * 10**9 for x in self.latencies),
            "latencies",
            "must be 1..32 integer ns in [0, 1 day]",
        )
        need(
            len(self.strategies) >= 1 and all(x in CORROBORATION_STRATEGIES for x in self.strategies),
            "strategies",
            f"must be taken from {CORROBORATION_STRATEGIES}",
        )
        if self.decision_latency is not None:
            parse_decision_latency(self.decision_latency)


def parse_latencies(text: str) -> tuple[int, ...]:
    """``"1us,10us,1ms"`` → ns, sorted and without duplicates (:class:`LatencySpecError` quoting a bad one)."""
    parts = [p for p in (x.strip() for x in text.split(",")) if p]
    if not parts:
        raise LatencySpecError(f"--latencies {text!r}: expected a comma-separated list like 1us,1ms,100ms")
    return tuple(sorted({parse_duration(p, "--latencies entry") for p in parts}))


# ---- statistics -----------------------------------------------------------------------------------------


def _t_mass(t: float, nu: int) -> float:
    """P(|T| <= t) for Student's t with ``nu`` degrees of freedom (the closed finite series, A&S 26.7.3/4)."""
    th = math.atan(t / math.sqrt(nu))
    s, c = math.sin(th), math.cos(th)
    if nu % 2:
        if nu == 1:
            return 2.0 * th / math.pi
        term = acc = c
        for k in range(1, (nu - 3) // 2 + 1):
            term *= c * c * (2 * k) / (2 * k + 1)
            acc += term
        return 2.0 / math.pi * (th + s * acc)
    term = acc = 1.0
    for k in range(1, (nu - 2) // 2 + 1):
        term *= c * c * (2 * k - 1) / (2 * k)
        acc += term
    return s * acc


def t_critical(confidence: float, nu: int) -> float:
    """The two-sided critical value of Student's t: ``P(|T| <= t) = confidence`` (bisection, |err| < 1e-12)."""
    if not (0.0 < confidence < 1.0) or nu < 1:
        raise ValueError(f"t_critical({confidence}, {nu}): need 0 < confidence < 1 and nu >= 1")
    lo, hi = 0.0, 1.0
    while _t_mass(hi, nu) < confidence:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_mass(mid, nu) < confidence:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return 0.5 * (lo + hi)


def mean_ci(values: list[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """``mean``, ``ci_low``/``ci_high`` (t interval, n - 1 df), ``half_width``, ``sd``, ``n`` over the finite
    ``values`` (NaN/None skipped: e.g. a hit rate with no closed position); CI fields None when n < 2."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], np.float64)
    n = len(v)
    out: dict[str, Any] = {
        "n": n,
        "mean": float(v.mean()) if n else None,
        "sd": None,
        "half_width": None,
        "ci_low": None,
        "ci_high": None,
    }
    if n >= 2:
        sd = float(v.std(ddof=1))
        hw = t_critical(confidence, n - 1) * sd / math.sqrt(n)
        out.update(sd=sd, half_width=hw, ci_low=out["mean"] - hw, ci_high=out["mean"] + hw)
    return out


# ---- the study --------------------------------------------------------------------------------------------


def metrics(r: DeskResult) -> dict[str, float]:
    """The per-pass figures the study aggregates (USD, counts, fractions)."""
    att = r.attribution or {}
    out = {
        "pnl": r.pnl_total,
        "fills": float(r.fills),
        "hit_rate": r.hit_rate,
        "orders": float(r.orders),
        "fill_rate": r.fill_rate,
        "fees_net": float((r.fees or {}).get("net", math.nan)),
        "mm_pnl": float(((r.market or {}).get("pnl") or {}).get("market_maker", math.nan)),
    }
    for part in ATTRIBUTION_PARTS:
        out[part] = float(att.get(part, math.nan))
    return out


def _passes(opts: StudyOptions, fast_strategy: str) -> int:
    n = 0
    for s in opts.strategies:
        n += len(opts.latencies) + (2 if s == fast_strategy else 0)
    if fast_strategy not in opts.strategies:
        n += 2
    return opts.seeds * n


def run_study(opts: StudyOptions) -> dict[str, Any]:
    """Run every seed and latency; return the study document (see the module docstring)."""
    cfg = load_config(opts.config_path)
    decision = parse_decision_latency(opts.decision_latency) if opts.decision_latency is not None else None
    model = LatencyModel.from_config(cfg.latency, decision)
    fast_strategy = cfg.corroboration.strategy
    strategies = tuple(dict.fromkeys((*opts.strategies, fast_strategy)))
    probe_opts = ReplayOptions(
        events=opts.events,
        seconds=opts.seconds,
        seed=opts.first_seed,
        progress=False,
        cache_dir=opts.cache_dir,
        batch=opts.batch,
    )
    desk_probe(cfg, probe_opts)  # bad desk values fail before any world is made
    t0 = time.perf_counter()
    per_seed: list[dict[str, Any]] = []
    bar = progress_bar(_passes(opts, fast_strategy), "study", "pass", opts.progress)
    for seed in range(opts.first_seed, opts.first_seed + opts.seeds):
        bar.set_postfix_str(f"seed {seed}")
        per_seed.append(_one_seed(cfg, model, opts, seed, strategies, fast_strategy, bar))
    bar.close()
    return _document(opts, cfg, model, fast_strategy, per_seed, time.perf_counter() - t0)


def _one_seed(
    cfg: TradingConfig,
    model: LatencyModel,
    opts: StudyOptions,
    seed: int,
    strategies: tuple[str, ...],
    fast_strategy: str,
    bar: Progress,
) -> dict[str, Any]:
    ropts = ReplayOptions(
        events=opts.events,
        seconds=opts.seconds,
        seed=seed,
        progress=False,
        cache_dir=opts.cache_dir,
        batch=opts.batch,
    )
    news = prepare_news(ropts)
    n_wire = news.layout.n_records
    desk_table, street_table = credibility_tables(cfg, news.layout.sources, seed, opts.cache_dir, None)
    dicts = {
        "source": news.layout.sources,
        "ticker": news.layout.tickers,
        "data_source": news.layout.data_sources,
    }
    validator = NewsValidator.load(
        DEFAULT_SHAPES,
        dictionaries=dicts,
        tables={"credibility": _credibility_table(news.layout.sources, cfg, desk_table)},
        sample_every=_NO_SAMPLING,
    )
    desk_cfg = dataclasses.replace(
        desk_probe(cfg, ropts),
        sources=news.layout.sources,
        tickers=news.layout.tickers,
        instruments=default_instruments(),
        stories=news.stories,
        start_ns=news.start_ns,
        end_ns=news.start_ns + int(opts.seconds * 1e9),
        sample_every=_NO_SAMPLING,
        reports=public_reports_of(news, opts.cache_dir),
        source_reliability=street_table.reliability(),
    )
    out: dict[str, Any] = {"seed": seed, "sweep": {}, "credibility": table_summary(desk_table)["provenance"]}
    for strategy in strategies:
        scfg = dataclasses.replace(
            cfg, corroboration=dataclasses.replace(cfg.corroboration, strategy=strategy)
        )
        ing = Ingest.start(
            news,
            validator,
            _corroborator(scfg, news, desk_table),
            dataclasses.replace(desk_cfg, trading=scfg),
            n_wire,
            _NO_SAMPLING,
        )
        try:
            ing.feed(n_wire, opts.batch, progress=False)
            done: dict[LatencyModel, dict[str, float]] = {}
            if strategy in opts.strategies:
                out["sweep"][strategy] = [
                    _trade(ing, model.with_decision(lat), done, bar) for lat in opts.latencies
                ]
            if strategy == fast_strategy:
                out["fast"] = _trade(ing, model, done, bar)
                out["slow"] = _trade(ing, model.slow(), done, bar)
        finally:
            ing.node.shutdown("shutdown")
    return out


def _trade(
    ing: Ingest, m: LatencyModel, done: dict[LatencyModel, dict[str, float]], bar: Progress
) -> dict[str, float]:
    """The metrics of one desk pass at ``m``; the same model on the same decisions trades the same, so a model
    already in ``done`` is not run again."""
    if m not in done:
        done[m] = metrics(ing.trade(m))
    bar.update(1)
    return done[m]


def _document(
    opts: StudyOptions,
    cfg: TradingConfig,
    model: LatencyModel,
    fast_strategy: str,
    per_seed: list[dict[str, Any]],
    wall_s: float,
) -> dict[str, Any]:
    def agg(get: Any) -> dict[str, Any]:
        return {m: mean_ci([get(s)[m] for s in per_seed]) for m in METRICS}

    desks = {
        "strategy": fast_strategy,
        "fast": {"latency": model.to_dict(), **agg(lambda s: s["fast"])},
        "slow": {"latency": model.slow().to_dict(), **agg(lambda s: s["slow"])},
        "fast_minus_slow": {m: mean_ci([s["fast"][m] - s["slow"][m] for s in per_seed]) for m in METRICS},
    }
    sweep: dict[str, Any] = {}
    for strategy in opts.strategies:
        sweep[strategy] = [
            {
                "latency_ns": lat,
                **{
                    m: mean_ci([s["sweep"][strategy][k][m] for s in per_seed])
                    for m in ("pnl", "fills", "hit_rate", "hold_informed", "entry_edge", "fees_net")
                },
            }
            for k, lat in enumerate(opts.latencies)
        ]
    doc: dict[str, Any] = {
        "schema": 1,
        "study": "P&L over seeded worlds; P&L vs decision latency",
        "world": {
            "events": opts.events,
            "simulated_s": opts.seconds,
            "seeds": list(range(opts.first_seed, opts.first_seed + opts.seeds)),
        },
        "confidence": CONFIDENCE,
        "ci_method": "Student's t interval, n - 1 degrees of freedom, over seeds (NaN values skipped)",
        "latency_model": model.to_dict(),
        "latency_value": {
            "latencies_ns": list(opts.latencies),
            "strategies": sweep,
            "what": "constant decision latency; every other hop as in latency_model",
        },
        "desks": desks,
        "per_seed": per_seed,
        "machine": {"cpu": cpu_model()},
        "measured": {"wall_s": wall_s, "what": "measured on this host, not used by the simulation"},
    }
    from cns.replay.study_report import headline_rows

    doc["headline"] = headline_rows(doc)
    return doc


def options_from_args(args: argparse.Namespace) -> StudyOptions:
    """The :class:`StudyOptions` of ``cns study``'s arguments (a bad one: a CNSError, exit 2)."""
    return StudyOptions(
        seeds=args.seeds,
        first_seed=args.first_seed,
        events=args.events,
        seconds=args.seconds,
        latencies=parse_latencies(args.latencies),
        config_path=args.config,
        decision_latency=args.decision_latency,
        out_dir=args.out,
        progress=not args.no_progress and sys.stderr.isatty(),
    )


def main(args: argparse.Namespace) -> int:
    """Entry point of ``cns study``: run, write ``study.json``/``study.md``/``latency-value.png``, print the MD."""
    from cns.replay.study_report import render_study_markdown, write_study

    opts = options_from_args(args)
    doc = run_study(opts)
    paths = write_study(doc, opts.out_dir)
    print(render_study_markdown(doc))
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


__all__ = [
    "StudyOptionError",
    "StudyOptions",
    "main",
    "mean_ci",
    "parse_latencies",
    "run_study",
    "t_critical",
]
