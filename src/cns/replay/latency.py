"""The replay's latency model: how long each hop of the simulated trading path takes, as model inputs.

Nothing here is measured. The simulation must trade the same on every machine, so the latency a desk acts
after is a number the user sets (``[latency]`` in the TOML config, ``cns run --decision-latency``), never the
latency the host happened to measure (that is reported next to it, labelled, and changes no trade).

Hops (ns; see :class:`cns.trading.config.LatencyConfig`)::

    record receive stamp --feed_ns--> CNS ingest --decision--> order stamped --entry_ns--> venue
    venue quote change --md_ns--> desk sees it          venue execution report --return_ns--> desk books it

The decision hop is a :class:`DecisionLatency`: a constant, or a lognormal given by its median and 99th
percentile, drawn per decision from ``(world seed, report id)`` by an integer hash into a precomputed
quantile table of :data:`QUANTILES` integer-ns entries — the same decision draws the same latency on every
run and every machine, independently of batching and of which other decisions exist.

Spec strings (``--decision-latency``, :func:`parse_decision_latency`): ``500ns``, ``2us`` (or ``2µs``),
``1.5ms``, ``1s``, ``0``, ``constant:2us``, ``lognormal:p50=2us,p99=20us``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from cns.replay.errors import ReplayError
from cns.trading.config import DAY_NS, LatencyConfig

QUANTILES_BITS = 14
QUANTILES = 1 << QUANTILES_BITS  # entries of a lognormal's quantile table (the draw's resolution)
Z99 = NormalDist().inv_cdf(0.99)  # 2.326...: the standard normal's 99th percentile
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ns|us|µs|μs|ms|s)?\s*$")
_M1, _M2, _GOLDEN = (
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0x9E3779B97F4A7C15),
)
_SALT = 0x4C41_5445_4E43_5921  # "LATENCY!": decision draws do not correlate with other uses of the seed


class LatencySpecError(ReplayError, ValueError):
    """A latency spec string (``--decision-latency``) is malformed or out of range; the message quotes it."""


def parse_duration(text: str, what: str = "duration") -> int:
    """``text`` (``500ns``, ``2us``, ``2µs``, ``1.5ms``, ``1s``, or ``0``) as integer ns in ``[0, DAY_NS]``.

    A unit is required except for 0; the result is rounded to the nearest ns. Raises
    :class:`LatencySpecError` naming ``what`` otherwise (NaN, inf, negative, too large, no unit)."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if m is None or (m.group(2) is None and float(m.group(1)) != 0.0):
        raise LatencySpecError(f"{what} {text!r}: expected a duration like 500ns, 2us, 1.5ms or 1s")
    ns = float(m.group(1)) * _UNITS[m.group(2) or "ns"]
    if not (math.isfinite(ns) and 0 <= ns <= DAY_NS):
        raise LatencySpecError(f"{what} {text!r}: must be between 0 and 1 day")
    return int(round(ns))


def fmt_ns(ns: float) -> str:
    """A latency for people: ``500 ns``, ``2 µs``, ``1.5 ms``, ``100 ms``, ``2 s`` (3 significant digits)."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def _spec_ns(ns: int) -> str:
    """``ns`` in the largest unit that keeps it an integer (``2us``, ``100ms``, ``1500ns``)."""
    for unit, scale in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns and ns % scale == 0:
            return f"{ns // scale}{unit}"
    return f"{ns}ns"


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser of every element of the uint64 array ``x`` (wrapping integer arithmetic, so
    the same bits on every machine)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@functools.lru_cache(maxsize=64)
def _lognormal_table(p50_ns: int, p99_ns: int) -> np.ndarray:
    """Integer-ns quantiles of the lognormal with median ``p50_ns`` and 99th percentile ``p99_ns`` at the
    midpoints ``(k + 1/2) / QUANTILES`` (computed once, in Python's ``math``; read-only)."""
    mu, sigma = math.log(p50_ns), (math.log(p99_ns) - math.log(p50_ns)) / Z99
    inv = NormalDist().inv_cdf
    table = np.array(
        [min(round(math.exp(mu + sigma * inv((k + 0.5) / QUANTILES))), DAY_NS) for k in range(QUANTILES)],
        np.int64,
    )
    table.flags.writeable = False
    return table


@dataclass(frozen=True, slots=True)
class DecisionLatency:
    """News at CNS → order stamped, per decision (ns): ``p50_ns`` always; a lognormal with 99th percentile
    ``p99_ns`` when that is set and differs from ``p50_ns``, else the constant ``p50_ns``.

    Checked at construction (:class:`LatencySpecError`): integers in ``[0, DAY_NS]``, and for a lognormal
    ``0 < p50_ns <= p99_ns``; ``p99_ns == p50_ns`` is stored as the constant (``p99_ns`` 0)."""

    p50_ns: int
    p99_ns: int = 0

    def __post_init__(self) -> None:
        for name in ("p50_ns", "p99_ns"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= DAY_NS:
                raise LatencySpecError(
                    f"decision latency {name} = {v!r}: must be an integer ns in [0, 1 day]"
                )
            object.__setattr__(self, name, int(v))
        if self.p99_ns == self.p50_ns:  # one constant, one spelling: p99 0
            object.__setattr__(self, "p99_ns", 0)
        if not self.constant and not 0 < self.p50_ns <= self.p99_ns:
            raise LatencySpecError(
                f"decision latency lognormal p50={self.p50_ns}ns, p99={self.p99_ns}ns: needs 0 < p50 <= p99"
            )

    @property
    def constant(self) -> bool:
        """True for a constant latency of ``p50_ns`` (``p99_ns`` is 0 or equals ``p50_ns``), not lognormal."""
        return self.p99_ns in (0, self.p50_ns)

    def spec(self) -> str:
        """The canonical spec string (parses back to an equal object)."""
        if self.constant:
            return _spec_ns(self.p50_ns)
        return f"lognormal:p50={_spec_ns(self.p50_ns)},p99={_spec_ns(self.p99_ns)}"

    def label(self) -> str:
        """For people: ``2 µs`` or ``lognormal, p50 2 µs, p99 20 µs``."""
        if self.constant:
            return fmt_ns(self.p50_ns)
        return f"lognormal, p50 {fmt_ns(self.p50_ns)}, p99 {fmt_ns(self.p99_ns)}"

    def draw(self, report_ids: np.ndarray, seed: int) -> np.ndarray:
        """The decision latency (int64 ns) of each decision fired by report ``report_ids`` (uint64) in the
        world of ``seed``: a pure function of ``(seed, report id)``, vectorised, no floating point."""
        n = len(report_ids)
        if self.constant:
            return np.full(n, self.p50_ns, np.int64)
        key = splitmix64(np.array([(int(seed) ^ _SALT) & (2**64 - 1)], np.uint64))
        h = splitmix64(np.asarray(report_ids, np.uint64) ^ key)
        return _lognormal_table(self.p50_ns, self.p99_ns)[
            (h >> np.uint64(64 - QUANTILES_BITS)).astype(np.intp)
        ]


def parse_decision_latency(spec: str) -> DecisionLatency:
    """``2us`` / ``constant:2us`` / ``lognormal:p50=2us,p99=20us`` → :class:`DecisionLatency`
    (:class:`LatencySpecError` quoting ``spec`` otherwise)."""
    if not isinstance(spec, str):
        raise LatencySpecError(f"decision latency {spec!r}: expected a string")
    kind, sep, rest = spec.strip().partition(":")
    if not sep:
        return DecisionLatency(parse_duration(spec, "decision latency"))
    kind = kind.strip().lower()
    if kind == "constant":
        return DecisionLatency(parse_duration(rest, "decision latency"))
    if kind != "lognormal":
        raise LatencySpecError(
            f"decision latency {spec!r}: expected a duration, constant:<d> or lognormal:p50=<d>,p99=<d>"
        )
    params: dict[str, int] = {}
    for part in rest.split(","):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq or key not in ("p50", "p99") or key in params:
            raise LatencySpecError(f"decision latency {spec!r}: expected lognormal:p50=<d>,p99=<d>")
        params[key] = parse_duration(value, f"decision latency {key}")
    if set(params) != {"p50", "p99"}:
        raise LatencySpecError(f"decision latency {spec!r}: a lognormal needs both p50= and p99=")
    if params["p99"] < params["p50"] or params["p50"] <= 0:
        raise LatencySpecError(f"decision latency {spec!r}: needs 0 < p50 <= p99")
    return DecisionLatency(params["p50"], params["p99"])


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Every simulated hop of one desk (ns; see the module docstring). Build it from the config with
    :meth:`from_config`; :meth:`slow` is the same model with the slow baseline's constant decision latency."""

    decision: DecisionLatency
    feed_ns: int = 0
    entry_ns: int = 20_000
    md_ns: int = 50_000
    return_ns: int = 20_000
    slow_decision_ns: int = 100_000_000

    def __post_init__(self) -> None:
        if not isinstance(self.decision, DecisionLatency):
            raise LatencySpecError(
                f"latency model: decision must be a DecisionLatency, got {self.decision!r}"
            )
        for name in ("feed_ns", "entry_ns", "md_ns", "return_ns", "slow_decision_ns"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= DAY_NS:
                raise LatencySpecError(f"latency model: {name} = {v!r} must be an integer ns in [0, 1 day]")
            object.__setattr__(self, name, int(v))

    @classmethod
    def from_config(cls, cfg: LatencyConfig, decision: DecisionLatency | None = None) -> LatencyModel:
        """The model of ``cfg`` (a ``[latency]`` section), its decision hop replaced by ``decision`` if given."""
        d = decision or DecisionLatency(cfg.decision_ns, cfg.decision_p99_ns)
        return cls(d, cfg.feed_ns, cfg.entry_ns, cfg.md_ns, cfg.return_ns, cfg.slow_decision_ns)

    def with_decision(self, decision: DecisionLatency | int) -> LatencyModel:
        """This model with another decision hop (an int: a constant, ns)."""
        d = decision if isinstance(decision, DecisionLatency) else DecisionLatency(decision)
        return LatencyModel(d, self.feed_ns, self.entry_ns, self.md_ns, self.return_ns, self.slow_decision_ns)

    def slow(self) -> LatencyModel:
        """The slow (LLM-desk) baseline: the constant ``slow_decision_ns``, every other hop as here."""
        return self.with_decision(self.slow_decision_ns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the decision spec, its median/p99, and every hop in ns."""
        return {
            "decision": self.decision.spec(),
            "decision_p50_ns": self.decision.p50_ns,
            "decision_p99_ns": self.decision.p99_ns if not self.decision.constant else self.decision.p50_ns,
            "feed_ns": self.feed_ns,
            "entry_ns": self.entry_ns,
            "md_ns": self.md_ns,
            "return_ns": self.return_ns,
        }


__all__ = [
    "DecisionLatency",
    "LatencyModel",
    "LatencySpecError",
    "QUANTILES",
    "fmt_ns",
    "parse_decision_latency",
    "parse_duration",
    "splitmix64",
]
