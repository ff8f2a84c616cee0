"""Learn per-source reliability from labelled outcomes: the desk's credibility table, not the generator's.

The generator gives every source a hidden credibility (``cns.signals.universe.DEFAULT_SOURCES``); a desk that
trades on that number is reading the answer. Here each source's reliability is *learnt*: the probability that
a report from it claims the right direction of a real move, with a Beta-Binomial posterior per source.

Labels. A report is *correct* when its story turned out true (``is_true``) and the direction it claims
(:func:`cns.market.public.report_direction`, what any reader sees) is the sign of the story's impact; a
report of a false story, or with the wrong or no direction, is incorrect. Outcomes come from

* held-out worlds: generated with seeds derived from (never equal to) the trading world's seed, whose truth
  is known after the fact (:func:`held_out_seeds`); and/or
* the user's labelled history (``--history FILE``): JSON Lines ``{"source": "reuters.com", "correct": true}``.
  Lines that are not such an object are skipped and counted (``history.rejected``), never raised.

Posterior: ``Beta(prior_alpha + correct, prior_beta + n - correct)`` per source domain; its mean is the
reliability and ``score = 100 * mean`` is what :class:`~cns.trading.credibility.CredibilityTable` holds.
Sources without outcomes keep the prior mean (``unknown_score``).

:func:`default_credibility` is what ``cns run`` should use: the table calibrated on ``DEFAULT_WORLDS``
held-out worlds of a seed, cached in the private data cache (``cns.cachedir.private_dir("data")``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cns.market.newsgen import GENERATOR_VERSION, GeneratedNews, NewsGenConfig, generate_news
from cns.market.public import report_direction
from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import FLAG_TEST, KIND_HEARTBEAT
from cns.signals.universe import DEFAULT_SOURCES, SourceInfo
from cns.trading.config import CredibilityConfig
from cns.trading.credibility import FILE_FORMAT, CredibilityTable
from cns.trading.errors import TradingError

__all__ = [
    "CALIBRATION_VERSION",
    "Calibration",
    "CalibrationError",
    "DEFAULT_WORLDS",
    "SourceCounts",
    "calibrate",
    "default_credibility",
    "held_out_seeds",
    "read_history",
    "world_labels",
]

_log = logging.getLogger(__name__)

CALIBRATION_VERSION = 1
DEFAULT_WORLDS = 4  # held-out worlds of default_credibility
DEFAULT_EVENTS = 250_000  # news events per held-out world (about 80k labelled reports)
DEFAULT_SECONDS = 300.0
MAX_HISTORY_LINE = 4096  # bytes: a longer history line is rejected unparsed
MAX_SEED = (1 << 63) - 1
_SEED_SALT = 0x43414C4942  # "CALIB": the held-out seeds' own stream


class CalibrationError(TradingError):
    """Calibration cannot produce a table: no outcomes at all, unreadable history, bad arguments."""


@dataclass(slots=True)
class SourceCounts:
    """Labelled outcomes of one source: ``n`` reports, ``correct`` of them right."""

    n: int = 0
    correct: int = 0


@dataclass(slots=True)
class Calibration:
    """The posterior per source domain and where its data came from (JSON via :meth:`to_dict`)."""

    counts: dict[str, SourceCounts]
    prior_alpha: float
    prior_beta: float
    seed: int | None
    held_out_seeds: list[int]
    events: int
    seconds: float
    history: dict[str, Any] | None = None
    categories: dict[str, str] = field(default_factory=dict)

    def reliability(self, domain: str) -> float:
        """Posterior mean probability that a report of ``domain`` is correct (the prior mean if unseen)."""
        c = self.counts.get(domain, SourceCounts())
        return (self.prior_alpha + c.correct) / (self.prior_alpha + self.prior_beta + c.n)

    def provenance(self) -> str:
        """Where the table came from (held-out seeds, history file), as the report states it."""
        parts = []
        if self.held_out_seeds:
            parts.append(
                f"{len(self.held_out_seeds)} held-out generated worlds (seeds "
                f"{', '.join(str(s) for s in self.held_out_seeds)}; trading seed {self.seed} excluded), "
                f"{self.events:,} events each"
            )
        if self.history is not None:
            parts.append(f"labelled history {self.history['path']} ({self.history['used']:,} outcomes)")
        return (
            f"calibrated: Beta({self.prior_alpha:g}, {self.prior_beta:g})-Binomial posterior mean per source "
            f"from {' + '.join(parts)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The table as JSON: prior, per-source counts and posterior reliability (0..1) and score (0..100)."""
        a0, b0 = self.prior_alpha, self.prior_beta
        sources: dict[str, dict[str, Any]] = {}
        for dom in sorted(self.counts):
            c = self.counts[dom]
            a, b = a0 + c.correct, b0 + c.n - c.correct
            sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
            sources[dom] = {
                "score": 100.0 * a / (a + b),
                "reliability": a / (a + b),
                "sd": sd,
                "alpha": a,
                "beta": b,
                "n": c.n,
                "correct": c.correct,
            }
            if dom in self.categories:
                sources[dom]["category"] = self.categories[dom]
        return {
            "format": FILE_FORMAT,
            "version": CALIBRATION_VERSION,
            "provenance": self.provenance(),
            "method": "beta-binomial",
            "label": "a report is correct when its story was true and its claimed direction was the sign of "
            "the story's impact",
            "prior": {"alpha": a0, "beta": b0},
            "unknown_score": 100.0 * a0 / (a0 + b0),
            "trading_seed": self.seed,
            "held_out_seeds": self.held_out_seeds,
            "events_per_world": self.events,
            "seconds_per_world": self.seconds,
            "generator_version": GENERATOR_VERSION,
            "history": self.history,
            "sources": sources,
        }

    def table(self, sources: Dictionary, config: CredibilityConfig | None = None) -> CredibilityTable:
        """The :class:`CredibilityTable` of this calibration for the codes of ``sources``."""
        return CredibilityTable.from_dict(self.to_dict(), sources, config)


def held_out_seeds(seed: int, k: int) -> list[int]:
    """``k`` distinct world seeds derived from ``seed`` (a seeded stream of their own), none equal to ``seed``:
    the calibration never sees the world it will trade."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise CalibrationError(f"seed must be an int in [0, 2**63-1], got {seed!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 1000:
        raise CalibrationError(f"worlds must be an int in [0, 1000], got {k!r}")
    ss = np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32, _SEED_SALT])
    out: list[int] = []
    n = 0
    while len(out) < k:
        n += k + 4
        for s in (ss.generate_state(n, np.uint64) >> np.uint64(1)).tolist():  # 63-bit seeds
            if s != seed and s not in out and len(out) < k:
                out.append(int(s))
    return out


def world_labels(world: GeneratedNews) -> tuple[np.ndarray, np.ndarray]:
    """``(source code u4, correct bool)`` of every report of a generated world (see the module docstring)."""
    rec = world.batch.records
    so = world.story_of
    rep = (so >= 0) & (rec["kind"] != KIND_HEARTBEAT) & ((rec["flags"] & FLAG_TEST) == 0)
    r = rec[rep]
    st = world.stories[so[rep]]
    correct = (st["is_true"] != 0) & (report_direction(r) == np.sign(st["impact_pct"]).astype(np.int8))
    return r["source"].astype(np.uint32), correct


def _add_world(counts: dict[str, SourceCounts], world: GeneratedNews) -> None:
    src, ok = world_labels(world)
    names = world.batch.sources.strings()
    n = np.bincount(src, minlength=len(names))
    k = np.bincount(src, weights=ok.astype(np.float64), minlength=len(names))
    for code in np.flatnonzero(n).tolist():
        if code == 0 or code >= len(names):
            continue
        c = counts.setdefault(names[code], SourceCounts())
        c.n += int(n[code])
        c.correct += int(round(k[code]))


def read_history(path: str | Path) -> tuple[dict[str, SourceCounts], dict[str, Any]]:
    """Outcomes of a labelled history file (JSON Lines ``{"source": str, "correct": bool}``, one per line).

    Blank lines are ignored; a line longer than :data:`MAX_HISTORY_LINE` bytes, not UTF-8, not a JSON object,
    without a non-empty ``source`` string (<= 253 chars) or with ``correct`` not a bool (or 0/1) is rejected
    and counted. Returns the counts and ``{"path", "lines", "used", "rejected", "first_rejected_line"}``.
    Raises :class:`CalibrationError` if the file cannot be read.
    """
    counts: dict[str, SourceCounts] = {}
    lines = used = rejected = 0
    first_bad: int | None = None
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise CalibrationError(f"cannot read history {path}: {e.strerror or e}") from None
    with fh:
        for no, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            lines += 1
            rec = _history_line(raw)
            if rec is None:
                rejected += 1
                first_bad = first_bad or no
                continue
            c = counts.setdefault(rec[0], SourceCounts())
            c.n += 1
            c.correct += int(rec[1])
            used += 1
    return counts, {
        "path": str(path),
        "lines": lines,
        "used": used,
        "rejected": rejected,
        "first_rejected_line": first_bad,
    }


def _history_line(raw: bytes) -> tuple[str, bool] | None:
    if len(raw) > MAX_HISTORY_LINE:
        return None
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    src, ok = obj.get("source"), obj.get("correct")
    if not isinstance(src, str) or not 0 < len(src) <= 253:
        return None
    if isinstance(ok, bool):
        return src.strip().lower(), ok
    if isinstance(ok, int) and ok in (0, 1):
        return src.strip().lower(), bool(ok)
    return None


def calibrate(
    worlds: int = DEFAULT_WORLDS,
    seed: int = 7,
    *,
    events: int = DEFAULT_EVENTS,
    seconds: float = DEFAULT_SECONDS,
    history: str | Path | None = None,
    prior: tuple[float, float] = (1.0, 1.0),
    sources: tuple[SourceInfo, ...] = DEFAULT_SOURCES,
    newsgen: NewsGenConfig = NewsGenConfig(),
) -> Calibration:
    """Beta-Binomial posterior per source from ``worlds`` held-out worlds of ``seed`` (``events`` news events
    over ``seconds`` each) plus the labelled ``history`` file. Raises :class:`CalibrationError` when there is
    no outcome at all (``worlds == 0`` and no usable history) or for bad arguments."""
    a0, b0 = prior
    if not (a0 > 0 and b0 > 0 and math.isfinite(a0) and math.isfinite(b0)):
        raise CalibrationError(f"prior must be two finite numbers > 0, got {prior!r}")
    if isinstance(events, bool) or not isinstance(events, int) or not 1_000 <= events <= 50_000_000:
        raise CalibrationError(f"events per world must be an int in [1000, 50000000], got {events!r}")
    seeds = held_out_seeds(seed, worlds)
    counts: dict[str, SourceCounts] = {}
    for s in seeds:
        _add_world(counts, generate_news(events, seconds, s, sources=sources, config=newsgen))
    hist = None
    if history is not None:
        hcounts, hist = read_history(history)
        for dom, c in hcounts.items():
            tot = counts.setdefault(dom, SourceCounts())
            tot.n += c.n
            tot.correct += c.correct
    if not any(c.n for c in counts.values()):
        raise CalibrationError(
            "no labelled outcomes: give --worlds >= 1 or a --history file with usable lines"
            + (f" ({hist['rejected']} of {hist['lines']} lines rejected)" if hist else "")
        )
    return Calibration(
        counts,
        float(a0),
        float(b0),
        seed,
        seeds,
        events,
        float(seconds),
        hist,
        {s.domain: s.category for s in sources},
    )


def _cache_key(
    seed: int,
    worlds: int,
    events: int,
    seconds: float,
    sources: tuple[SourceInfo, ...],
    newsgen: NewsGenConfig,
) -> str:
    text = repr(
        (CALIBRATION_VERSION, GENERATOR_VERSION, seed, worlds, events, float(seconds), sources, newsgen)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def default_credibility(
    seed: int,
    sources: Dictionary | None = None,
    *,
    worlds: int = DEFAULT_WORLDS,
    events: int = DEFAULT_EVENTS,
    seconds: float = DEFAULT_SECONDS,
    config: CredibilityConfig | None = None,
    cache_dir: str | Path | None = None,
    universe: tuple[SourceInfo, ...] = DEFAULT_SOURCES,
    newsgen: NewsGenConfig = NewsGenConfig(),
) -> CredibilityTable:
    """The credibility table ``cns run`` trades world ``seed`` with: calibrated on ``worlds`` held-out worlds
    (:func:`calibrate`), never the generator's hidden credibility. ``sources``: the dictionary whose codes the
    table is for (default: the canonical one of ``universe``); ``config``: categories and unknown domains.

    Cached as ``credibility-<key>.json`` in the private data cache (``cache_dir``, default
    ``cns.cachedir.private_dir("data")``), written atomically; a damaged or foreign file is recomputed. The
    table's ``provenance`` says where it came from (``... [cached <path>]`` on a hit).
    """
    from cns.market.newsgen import data_cache_dir
    from cns.news.fileio import atomic_writer
    from cns.signals.universe import source_dictionary

    sources = sources if sources is not None else source_dictionary(universe)
    key = _cache_key(seed, worlds, events, seconds, universe, newsgen)
    path = data_cache_dir(cache_dir) / f"credibility-{key}.json"
    if path.exists():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and doc.get("key") == key:
                t = CredibilityTable.from_dict(doc, sources, config)
                return t.with_provenance(f"{t.provenance} [cached {path}]")
            _log.warning("recalibrating: %s belongs to another calibration", path)
        except (OSError, ValueError, TradingError) as e:
            _log.warning("recalibrating: %s is unreadable (%s)", path, e)
    cal = calibrate(worlds, seed, events=events, seconds=seconds, sources=universe, newsgen=newsgen)
    doc = cal.to_dict()
    doc["key"] = key
    with atomic_writer(path) as fh:
        fh.write(json.dumps(doc, indent=1, sort_keys=True).encode())
    return CredibilityTable.from_dict(doc, sources, config)


def main(args: Any) -> int:
    """``cns calibrate``: write the calibrated table (JSON) to ``args.out``; print its provenance and scores."""
    from cns.news.fileio import atomic_writer

    cal = calibrate(args.worlds, args.seed, events=args.events, seconds=args.seconds, history=args.history)
    out = Path(args.out)
    if str(out.parent):
        out.parent.mkdir(parents=True, exist_ok=True)
    doc = cal.to_dict()
    with atomic_writer(out) as fh:
        fh.write(json.dumps(doc, indent=1, sort_keys=True).encode())
    print(doc["provenance"])
    if cal.history is not None and cal.history["rejected"]:
        print(
            f"history: {cal.history['rejected']} of {cal.history['lines']} lines rejected (first: line "
            f"{cal.history['first_rejected_line']})"
        )
    for dom, s in sorted(doc["sources"].items(), key=lambda kv: -kv[1]["score"]):
        print(f"  {dom:24s} {s['score']:6.1f}  ± {100 * s['sd']:4.1f}  ({s['correct']:,}/{s['n']:,})")
    print(f"wrote {out}")
    return 0
