"""Every threshold and limit of the trading stages, with defaults, loadable from TOML.

A TOML file mirrors the dataclasses: tables ``[credibility]``, ``[credibility.sources]`` (domain = score
0–100), ``[credibility.categories]`` (domain = category), ``[corroboration]``, ``[signal]``, ``[risk]`` and
``[latency]`` (the replay's simulated latency model, :class:`LatencyConfig`).
Anything not given keeps its default; an unknown key raises :class:`UnknownConfigKeyError` naming its dotted
path. Units are in the names: ``*_ns`` nanoseconds, ``*_usd`` US dollars, ``*_pct`` percent, ``*_bps`` basis
points, quantities in shares.

Fail closed: every numeric key must be of its type (an integer key takes a TOML integer, a float key an
integer or float; never a bool or string) and inside its range in :data:`RANGES`, or the configuration is
refused with a :class:`ConfigError` naming the key (``cns run --config`` exits 2 before any work). NaN, ±inf,
negative sizes, zero windows and absurdly large values are all refused, because a NaN or infinite limit makes
a kernel comparison silently false and a huge size or count becomes an overflowed share count or an
out-of-memory buffer. The one documented "none" value is ``corroboration.rate_expectation_pct = nan`` (take
the direction of a rate trade from headline sentiment). A risk limit is never switched off by an extreme
value: list its check in ``risk.disabled_checks`` instead (:data:`RISK_CHECKS`; the key's check is named in
:data:`RANGES` and in the error message). The checks run in ``__post_init__``, so a configuration built in
code (``dataclasses.replace``, direct construction) is held to the same rules as one loaded from TOML.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from cns.signals.universe import CATEGORIES, DEFAULT_SOURCES
from cns.trading.errors import ConfigError, UnknownConfigKeyError

_SEC = 1_000_000_000
DAY_NS = 86_400 * _SEC  # the longest window, age or holding period any key accepts
MAX_CLUSTER_SOURCES = 16  # sources a corroboration cluster stores (as in corroborate_kernels; tested)


@dataclass(frozen=True, slots=True)
class Range:
    """The accepted values of one numeric key: ``lo <= v <= hi`` (``lo < v`` when ``lo_open``).

    NaN is refused unless ``nan_ok`` (the key then documents what NaN means). ``check`` names the risk check
    that uses the key: the way to switch it off (``risk.disabled_checks``), quoted in the error message.
    """

    lo: float
    hi: float
    lo_open: bool = False
    nan_ok: bool = False
    check: str = ""

    def __contains__(self, v: float) -> bool:
        if isinstance(v, float) and math.isnan(v):
            return self.nan_ok
        return (v > self.lo if self.lo_open else v >= self.lo) and v <= self.hi

    def text(self) -> str:
        """The range in interval notation, e.g. ``(0, 5000]`` (integer bounds exact, float bounds ``%g``)."""

        def fmt(x: float) -> str:
            return str(x) if isinstance(x, int) else f"{x:g}"

        nan = " or nan" if self.nan_ok else ""
        return f"{'(' if self.lo_open else '['}{fmt(self.lo)}, {fmt(self.hi)}]{nan}"


_PCT = Range(0, 100)
_BPS = Range(0, 5_000)  # prices stay positive: at most 50 % through or behind the mid
_COUNT = Range(1, MAX_CLUSTER_SOURCES)  # a cluster cannot count more sources than it stores
_FRACTION = Range(0, 1)
_WINDOW = Range(0, DAY_NS, lo_open=True)
_PATH_NS = Range(
    0, 10 * _SEC
)  # one hop of the simulated venue path (feed, order entry, market data, reports)

RANGES: dict[str, dict[str, Range]] = {
    "credibility": {"unknown_score": _PCT},
    "corroboration": {
        "window_ns": _WINDOW,
        "credible_above": _PCT,
        "min_agreeing": _COUNT,
        "move_tol_abs_pct": _PCT,
        "move_tol_rel": _FRACTION,
        "eps_tol_abs_usd": Range(0, 1_000),
        "eps_tol_rel": _FRACTION,
        "rate_tol_abs_pct": _PCT,
        "single_source_max_surprise_pct": Range(0, 1e6, lo_open=True),
        "supply_credible_above": _PCT,
        "supply_contingency_at": _COUNT,
        "supply_adjust_at": _COUNT,
        "quote_credible_above": _PCT,
        "quote_min_valid": _COUNT,
        "rate_expectation_pct": Range(-100, 100, nan_ok=True),  # NaN: direction from headline sentiment
        "rumor_ignore_below_pct": _PCT,
        "rumor_monitor_below_pct": _PCT,
    },
    "signal": {
        "sentiment_weight": Range(0, 10),
        "surprise_weight": Range(0, 10),
        "surprise_full_pct": Range(0, 1e6, lo_open=True),
        "rate_full_pct": Range(0, 100, lo_open=True),
        "min_strength": _FRACTION,
        "unsized_strength": _FRACTION,
        "notional_usd": Range(0, 1e9, lo_open=True),
        "contingency_fraction": _FRACTION,
        "aggress_bps": _BPS,
        "contingency_offset_bps": _BPS,
        "trade_offset_bps": _BPS,
        "hold_ns": Range(0, DAY_NS),  # 0: the desk never exits
        "exit_aggress_bps": _BPS,
    },
    "risk": {
        "max_order_qty": Range(1, 1e9, check="max_qty"),
        "max_order_notional_usd": Range(0, 1e12, lo_open=True, check="max_notional"),
        "collar_bps": Range(0, 5_000, lo_open=True, check="collar"),
        "max_ref_age_ns": Range(0, DAY_NS, lo_open=True, check="reference"),
        "max_position": Range(1, 1e12, check="position"),
        "max_gross_exposure_usd": Range(0, 1e18, lo_open=True, check="gross_exposure"),
        "daily_loss_limit_usd": Range(0, 1e15, check="daily_loss"),  # 0: stop at the first loss
        "max_orders_per_window": Range(1, 10_000_000, check="rate"),  # the rate ring: 8 bytes per order
        "rate_window_ns": Range(0, DAY_NS, lo_open=True, check="rate"),
        "duplicate_window_ns": Range(0, DAY_NS, lo_open=True, check="duplicate"),
        "headline_cooldown_ns": Range(0, DAY_NS, lo_open=True, check="cooldown"),
    },
    "latency": {
        "decision_ns": Range(0, DAY_NS),
        "decision_p99_ns": Range(0, DAY_NS),  # 0: decision_ns is a constant
        "slow_decision_ns": Range(0, DAY_NS),
        "feed_ns": _PATH_NS,
        "entry_ns": _PATH_NS,
        "md_ns": _PATH_NS,
        "return_ns": _PATH_NS,
    },
}


def _fail(key: str, why: str) -> NoReturn:
    raise ConfigError(f"config key {key!r}: {why}")


def checked_number(value: Any, kind: type, rng: Range, key: str) -> Any:
    """``value`` as a ``kind`` (int or float) inside ``rng``, else a one-line :class:`ConfigError` naming
    ``key``.

    An int key takes only integers; a float key integers or floats. Bools, strings and anything else are
    refused, as is a number that does not convert (an integer too large for a float).
    """
    ok = isinstance(value, numbers.Integral) if kind is int else isinstance(value, numbers.Real)
    if not ok or isinstance(value, bool):
        _fail(key, f"expected {kind.__name__}, got {value!r}")
    try:
        v = int(value) if kind is int else float(value)
    except (OverflowError, ValueError):
        _fail(key, f"{value!r} is out of range {rng.text()}")
    if v not in rng:
        hint = f" (to switch the check off, list {rng.check!r} in risk.disabled_checks)" if rng.check else ""
        _fail(key, f"{v!r} is out of range {rng.text()}{hint}")
    return v


def _validate(obj: Any, section: str) -> None:
    """Check and normalise every field of the frozen dataclass ``obj`` (see the module docstring)."""
    ranges = RANGES[section]
    for f in dataclasses.fields(obj):
        key = f"{section}.{f.name}"
        value = getattr(obj, f.name)
        default: Any = f.default  # every section field has a plain default: its type is the key's type
        if isinstance(default, bool):
            if not isinstance(value, bool):
                _fail(key, f"expected bool, got {value!r}")
            continue
        if isinstance(default, int | float):
            if f.name not in ranges:  # pragma: no cover - a programming error, caught when the module loads
                raise ConfigError(f"config key {key!r} has no declared range")
            value = checked_number(value, type(default), ranges[f.name], key)
        elif isinstance(default, str):
            if not isinstance(value, str):
                _fail(key, f"expected str, got {value!r}")
        elif isinstance(default, tuple) and (not default or isinstance(default[0], str)):
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                _fail(key, f"expected a list of strings, got {value!r}")
            value = tuple(value)
        object.__setattr__(obj, f.name, value)


@dataclass(frozen=True, slots=True)
class CredibilityConfig:
    """Per-source credibility (0–100) and outlet category, keyed by source domain.

    ``sources``/``categories`` given in TOML are merged over the defaults from
    :data:`cns.signals.universe.DEFAULT_SOURCES`. Sources not listed score ``unknown_score`` and have category
    ``unknown_category``.
    """

    sources: tuple[tuple[str, float], ...] = tuple((s.domain, float(s.credibility)) for s in DEFAULT_SOURCES)
    categories: tuple[tuple[str, str], ...] = tuple((s.domain, s.category) for s in DEFAULT_SOURCES)
    unknown_score: float = 0.0
    unknown_category: str = "social"

    def __post_init__(self) -> None:
        _validate(self, "credibility")
        sources = []
        for item in self.sources:
            if not isinstance(item, tuple | list) or len(item) != 2 or not isinstance(item[0], str):
                _fail("credibility.sources", f"expected (domain, score) pairs, got {item!r}")
            sources.append((item[0], checked_number(item[1], float, _PCT, f"credibility.sources.{item[0]}")))
        object.__setattr__(self, "sources", tuple(sources))
        for pair in self.categories:
            if not isinstance(pair, tuple | list) or len(pair) != 2 or not isinstance(pair[0], str):
                _fail("credibility.categories", f"expected (domain, category) pairs, got {pair!r}")
            if pair[1] not in CATEGORIES:
                _fail(f"credibility.categories.{pair[0]}", f"{pair[1]!r} not in {CATEGORIES}")
        object.__setattr__(self, "categories", tuple((d, c) for d, c in self.categories))
        if self.unknown_category not in CATEGORIES:
            _fail("credibility.unknown_category", f"{self.unknown_category!r} not in {CATEGORIES}")


CORROBORATION_STRATEGIES: tuple[str, ...] = ("corroborate", "first_credible")


@dataclass(frozen=True, slots=True)
class CorroborationConfig:
    """Clustering of reports about one (ticker, event kind) and the five scenario rules.

    A cluster opens at the publish time ``t0`` of its first report and accepts reports published within
    ``window_ns`` of ``t0``; a later report starts a new cluster, an earlier one is stale. Credibility
    thresholds are strict (``> credible_above``). Numeric claims agree when they differ by at most
    ``max(tol_abs, tol_rel * max(|a|, |b|))``. Source counts are 1..``MAX_CLUSTER_SOURCES``.

    ``strategy``: ``"corroborate"`` (default) waits for the counts above; ``"first_credible"`` acts on the
    first qualified (credible, and for central banks direct-quote) report of a cluster, as if
    ``min_agreeing``, ``supply_adjust_at`` and ``quote_min_valid`` were 1 (the single-source surprise cap and
    the rumour rules still apply).
    """

    window_ns: int = 2 * _SEC
    credible_above: float = 70.0  # flash crash, earnings, macro/guidance/M&A consensus
    min_agreeing: int = 3  # credible independent agreeing reports for a consensus trade
    move_tol_abs_pct: float = 0.5  # percentage points
    move_tol_rel: float = 0.1
    eps_tol_abs_usd: float = 0.02
    eps_tol_rel: float = 0.01
    rate_tol_abs_pct: float = 0.05
    single_source_max_surprise_pct: float = 20.0  # a larger claim from one source alone is not trusted
    supply_credible_above: float = 70.0
    supply_contingency_at: int = 3
    supply_adjust_at: int = 4
    quote_credible_above: float = 80.0
    quote_min_valid: int = 2
    quote_require_direct: bool = True
    rate_expectation_pct: float = math.nan  # NaN: direction of a rate trade from headline sentiment
    rumor_verified_categories: tuple[str, ...] = ("wire", "mainstream", "official")
    rumor_ignore_below_pct: float = 15.0
    rumor_monitor_below_pct: float = 30.0
    strategy: str = "corroborate"  # or "first_credible": see CORROBORATION_STRATEGIES

    def __post_init__(self) -> None:
        _validate(self, "corroboration")
        if self.strategy not in CORROBORATION_STRATEGIES:
            _fail("corroboration.strategy", f"{self.strategy!r} not in {CORROBORATION_STRATEGIES}")
        if not self.rumor_ignore_below_pct <= self.rumor_monitor_below_pct:
            _fail("corroboration.rumor_ignore_below_pct", "must be <= rumor_monitor_below_pct")
        for cat in self.rumor_verified_categories:
            if cat not in CATEGORIES:
                _fail("corroboration.rumor_verified_categories", f"{cat!r} not in {CATEGORIES}")


TRADE_ORDERS: tuple[str, ...] = (
    "ioc",
    "limit",
)  # SignalConfig.trade_order: IOC limit, or a resting day limit


@dataclass(frozen=True, slots=True)
class SignalConfig:
    """Turning corroborated decisions into target orders.

    ``score = surprise_weight * direction * min(size_basis / full, 1) + sentiment_weight *
    sentiment``; an order is made when ``|score| >= min_strength``, for ``|score| * notional_usd`` (times
    ``contingency_fraction`` for contingency decisions) worth of shares at the reference mid. A decision with
    no number (NaN ``size_basis``) uses ``unsized_strength`` in place of the min(...) term. ``full`` is
    ``rate_full_pct`` for central-bank decisions, else ``surprise_full_pct``.

    Trade orders (``trade_order``, one of :data:`TRADE_ORDERS`): ``"ioc"`` (default) sends an IOC limit
    ``aggress_bps`` through the mid (what does not fill at once is canceled by the venue); ``"limit"`` sends a
    day limit at the same price, which fills what it can at once and rests the remainder in the book with
    queue position. A passive price: ``trade_offset_bps`` > 0 prices trade orders that far *behind* the mid
    instead (a buy below it, a sell above it); it needs ``trade_order = "limit"`` and ``aggress_bps = 0``
    (one of the two offsets is zero, else :class:`ConfigError` naming ``signal.trade_offset_bps``). The
    price is ``mid * (1 + side * (aggress_bps - trade_offset_bps) * 1e-4)``. Contingency orders always rest,
    ``contingency_offset_bps`` behind the mid.

    Exits (the replay desk, :mod:`cns.replay.desk`): ``hold_ns`` after an entry order was sent, its filled
    shares are unwound with an IOC ``exit_aggress_bps`` through the mid, and whatever of it still rests (a
    contingency limit, or a trade limit with ``trade_order = "limit"``) is canceled.
    """

    sentiment_weight: float = 0.3
    surprise_weight: float = 0.7
    surprise_full_pct: float = 5.0  # surprise (percent) giving full strength
    rate_full_pct: float = 0.25  # central-bank rate surprise (percentage points) giving full strength
    min_strength: float = 0.1
    unsized_strength: float = 0.5  # |direction| term for a decision with no number to size on
    notional_usd: float = 100_000.0
    contingency_fraction: float = 0.5
    aggress_bps: float = 5.0  # trade orders: limit price this far through the mid (see trade_order)
    contingency_offset_bps: float = 20.0  # contingency orders: resting limit this far behind the mid
    market_proxy: str = "SPX"  # instrument for market-wide news (no ticker)
    hold_ns: int = 2 * _SEC  # the desk unwinds each entry's fill this long after sending it (0 = never)
    exit_aggress_bps: float = 10.0  # exit orders: IOC limit this far through the mid
    trade_order: str = "ioc"  # trade orders: "ioc" or "limit" (a day limit that rests); see TRADE_ORDERS
    trade_offset_bps: float = 0.0  # trade orders: priced this far behind the mid ("limit", aggress_bps 0)

    def __post_init__(self) -> None:
        _validate(self, "signal")
        if self.trade_order not in TRADE_ORDERS:
            _fail("signal.trade_order", f"{self.trade_order!r} not in {TRADE_ORDERS}")
        if self.trade_offset_bps > 0.0:
            if self.trade_order != "limit":
                _fail(
                    "signal.trade_offset_bps",
                    "a trade order behind the mid must rest: it needs trade_order = 'limit'",
                )
            if self.aggress_bps > 0.0:
                _fail(
                    "signal.trade_offset_bps",
                    f"trade orders are priced through the mid (aggress_bps = {self.aggress_bps!r}) or behind "
                    "it, not both: set aggress_bps = 0",
                )


RISK_CHECKS: tuple[str, ...] = (  # in the order the risk kernel applies them
    "kill_switch",
    "restricted",
    "reference",
    "collar",
    "max_qty",
    "max_notional",
    "duplicate",
    "cooldown",
    "position",
    "gross_exposure",
    "daily_loss",
    "rate",
)


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Pre-trade risk limits. A check named in ``disabled_checks`` (see :data:`RISK_CHECKS`) is skipped;
    ``reference`` (fail closed on a missing/stale/zero/NaN reference price) and ``kill_switch`` can be
    disabled too but should not be. Every limit is finite and in its :data:`RANGES` entry; disabling the
    check is the only way to lift one."""

    max_order_qty: int = 10_000
    max_order_notional_usd: float = 1_000_000.0
    collar_bps: float = 100.0
    max_ref_age_ns: int = 1 * _SEC
    max_position: int = 50_000  # |filled position + open orders on the order's side|, shares
    max_gross_exposure_usd: float = 10_000_000.0
    daily_loss_limit_usd: float = 250_000.0
    max_orders_per_window: int = 200
    rate_window_ns: int = 1 * _SEC
    duplicate_window_ns: int = 1 * _SEC
    headline_cooldown_ns: int = 60 * _SEC
    restricted: tuple[str, ...] = ()
    disabled_checks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _validate(self, "risk")
        for name in self.disabled_checks:
            if name not in RISK_CHECKS:
                _fail("risk.disabled_checks", f"unknown check {name!r} (known: {', '.join(RISK_CHECKS)})")


@dataclass(frozen=True, slots=True)
class LatencyConfig:
    """The replay's simulated latencies, in ns: model inputs, never measured on the host running the replay.

    * ``decision_ns`` / ``decision_p99_ns``: news receipt (plus ``feed_ns``) → order stamped, per decision.
      ``decision_p99_ns`` 0 (or equal to ``decision_ns``): every decision takes ``decision_ns``; else a
      lognormal with median ``decision_ns`` and 99th percentile ``decision_p99_ns``, drawn per decision from
      the world seed and the report id (the same decision draws the same latency on every run and machine).
    * ``slow_decision_ns``: the constant decision latency of the slow (LLM-desk) baseline; all other hops
      are shared with the fast desk.
    * ``feed_ns``: the record's receive stamp → CNS ingest (added to every decision).
    * ``entry_ns``: order stamped → at the venue; ``md_ns``: a quote change → seen by the desk (the desk
      prices and marks P&L on quotes ``md_ns`` old); ``return_ns``: execution report at the venue → booked
      by the desk's OMS/portfolio.
    """

    decision_ns: int = 2_000
    decision_p99_ns: int = 20_000
    slow_decision_ns: int = 100_000_000
    feed_ns: int = 0
    entry_ns: int = 20_000
    md_ns: int = 50_000
    return_ns: int = 20_000

    def __post_init__(self) -> None:
        _validate(self, "latency")
        if self.decision_p99_ns and self.decision_p99_ns != self.decision_ns:
            if self.decision_ns <= 0:
                _fail(
                    "latency.decision_ns",
                    "a lognormal decision latency (decision_p99_ns > 0) needs a median > 0",
                )
            if self.decision_p99_ns < self.decision_ns:
                _fail(
                    "latency.decision_p99_ns",
                    f"{self.decision_p99_ns} is below the median decision_ns "
                    f"{self.decision_ns} (0 = constant)",
                )


@dataclass(frozen=True, slots=True)
class TradingConfig:
    """The whole trading configuration (see the module docstring for the TOML layout)."""

    credibility: CredibilityConfig = field(default_factory=CredibilityConfig)
    corroboration: CorroborationConfig = field(default_factory=CorroborationConfig)
    signal: SignalConfig = field(default_factory=SignalConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    latency: LatencyConfig = field(default_factory=LatencyConfig)

    def __post_init__(self) -> None:
        for name, cls in _SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                _fail(name, f"expected {cls.__name__}, got {type(getattr(self, name)).__name__}")


_SECTIONS: dict[str, type] = {
    "credibility": CredibilityConfig,
    "corroboration": CorroborationConfig,
    "signal": SignalConfig,
    "risk": RiskConfig,
    "latency": LatencyConfig,
}
_DEFAULTS: dict[str, Any] = {name: cls() for name, cls in _SECTIONS.items()}  # also checks every range exists


def _build_section(name: str, table: Any) -> Any:
    if not isinstance(table, dict):
        _fail(name, "must be a table")
    known = {f.name for f in dataclasses.fields(_SECTIONS[name])}
    for key in table:
        if key not in known:
            raise UnknownConfigKeyError(f"{name}.{key}")
    return dataclasses.replace(_DEFAULTS[name], **table)  # __post_init__ checks and normalises the values


def _build_credibility(table: Any) -> CredibilityConfig:
    if not isinstance(table, dict):
        _fail("credibility", "must be a table")
    base: CredibilityConfig = _DEFAULTS["credibility"]
    scores: dict[str, Any] = dict(base.sources)
    cats: dict[str, Any] = dict(base.categories)
    rest: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("sources", "categories"):
            if not isinstance(value, dict):
                what = "score" if key == "sources" else "category"
                _fail(f"credibility.{key}", f"must be a table of domain = {what}")
            (scores if key == "sources" else cats).update(value)
        else:
            rest[key] = value
    out = _build_section("credibility", rest)
    return dataclasses.replace(out, sources=tuple(scores.items()), categories=tuple(cats.items()))


def config_from_dict(data: dict[str, Any], where: str = "") -> TradingConfig:
    """A :class:`TradingConfig` from a parsed TOML mapping; an unknown key raises
    :class:`UnknownConfigKeyError`, a bad value :class:`ConfigError` (both name the key, and ``where``)."""
    sections: dict[str, Any] = {}
    try:
        for key, table in data.items():
            if key == "credibility":
                sections[key] = _build_credibility(table)
            elif key in _SECTIONS:
                sections[key] = _build_section(key, table)
            else:
                raise UnknownConfigKeyError(key)
        return TradingConfig(**sections)
    except UnknownConfigKeyError as e:
        raise UnknownConfigKeyError(e.key, where) from None
    except ConfigError as e:
        if where:
            raise ConfigError(f"{e} in {where}") from None
        raise


def load_config(path: str | Path | None = None) -> TradingConfig:
    """The configuration in the TOML file at ``path`` (defaults for everything when ``path`` is None)."""
    if path is None:
        return TradingConfig()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read config {p}: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config {p} is not valid TOML: {e}") from e
    return config_from_dict(data, str(p))
