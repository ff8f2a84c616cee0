"""Every threshold and limit of the trading stages, with defaults, loadable from TOML.

A TOML file mirrors the dataclasses: tables ``[credibility]``, ``[credibility.sources]`` (domain = score
0–100), ``[credibility.categories]`` (domain = category), ``[corroboration]``, ``[signal]`` and ``[risk]``.
Anything not given keeps its default; an unknown key raises :class:`UnknownConfigKeyError` naming its dotted
path. Units are in the names: ``*_ns`` nanoseconds, ``*_usd`` US dollars, ``*_pct`` percent, ``*_bps`` basis
points, quantities in shares. Risk limits can be switched off by listing the check in ``risk.disabled_checks``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cns.signals.universe import CATEGORIES, DEFAULT_SOURCES
from cns.trading.errors import ConfigError, UnknownConfigKeyError

_SEC = 1_000_000_000


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


@dataclass(frozen=True, slots=True)
class CorroborationConfig:
    """Clustering of reports about one (ticker, event kind) and the five scenario rules.

    A cluster opens at the publish time ``t0`` of its first report and accepts reports published within
    ``window_ns`` of ``t0``; a later report starts a new cluster, an earlier one is stale. Credibility
    thresholds are strict (``> credible_above``). Numeric claims agree when they differ by at most
    ``max(tol_abs, tol_rel * max(|a|, |b|))``.
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


@dataclass(frozen=True, slots=True)
class SignalConfig:
    """Turning corroborated decisions into target orders.

    ``score = surprise_weight * direction * min(size_basis / full, 1) + sentiment_weight *
    sentiment``; an order is made when ``|score| >= min_strength``, for ``|score| * notional_usd`` (times
    ``contingency_fraction`` for contingency decisions) worth of shares at the reference mid. A decision with
    no number (NaN ``size_basis``) uses ``unsized_strength`` in place of the min(...) term. ``full`` is
    ``rate_full_pct`` for central-bank decisions, else ``surprise_full_pct``.

    Exits (the replay desk, :mod:`cns.replay.desk`): ``hold_ns`` after an entry order was sent, its filled
    shares are unwound with an IOC ``exit_aggress_bps`` through the mid, and whatever of it still rests (a
    contingency limit) is canceled.
    """

    sentiment_weight: float = 0.3
    surprise_weight: float = 0.7
    surprise_full_pct: float = 5.0  # surprise (percent) giving full strength
    rate_full_pct: float = 0.25  # central-bank rate surprise (percentage points) giving full strength
    min_strength: float = 0.1
    unsized_strength: float = 0.5  # |direction| term for a decision with no number to size on
    notional_usd: float = 100_000.0
    contingency_fraction: float = 0.5
    aggress_bps: float = 5.0  # trade orders: IOC limit this far through the mid
    contingency_offset_bps: float = 20.0  # contingency orders: resting limit this far behind the mid
    market_proxy: str = "SPX"  # instrument for market-wide news (no ticker)
    hold_ns: int = 2 * _SEC  # the desk unwinds each entry's fill this long after sending it (0 = never)
    exit_aggress_bps: float = 10.0  # exit orders: IOC limit this far through the mid


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
    disabled too but should not be."""

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


@dataclass(frozen=True, slots=True)
class TradingConfig:
    """The whole trading configuration (see the module docstring for the TOML layout)."""

    credibility: CredibilityConfig = field(default_factory=CredibilityConfig)
    corroboration: CorroborationConfig = field(default_factory=CorroborationConfig)
    signal: SignalConfig = field(default_factory=SignalConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)


def _coerce(value: Any, default: Any, key: str) -> Any:
    """``value`` converted to the type of ``default`` or a :class:`ConfigError` naming ``key``."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, tuple):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
    raise ConfigError(f"config key {key!r}: expected {type(default).__name__}, got {value!r}")


def _build_section(cls: type, table: Any, prefix: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"config key {prefix!r} must be a table")
    defaults = cls()
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise UnknownConfigKeyError(f"{prefix}.{key}")
        kwargs[key] = _coerce(value, getattr(defaults, key), f"{prefix}.{key}")
    return dataclasses.replace(defaults, **kwargs)


def _build_credibility(table: Any) -> CredibilityConfig:
    if not isinstance(table, dict):
        raise ConfigError("config key 'credibility' must be a table")
    base = CredibilityConfig()
    scores = dict(base.sources)
    cats = dict(base.categories)
    rest: dict[str, Any] = {}
    for key, value in table.items():
        if key == "sources":
            if not isinstance(value, dict):
                raise ConfigError("config key 'credibility.sources' must be a table of domain = score")
            for dom, score in value.items():
                s = _coerce(score, 0.0, f"credibility.sources.{dom}")
                if not 0.0 <= s <= 100.0:
                    raise ConfigError(f"config key 'credibility.sources.{dom}': score {s} not in 0..100")
                scores[dom] = s
        elif key == "categories":
            if not isinstance(value, dict):
                raise ConfigError("config key 'credibility.categories' must be a table of domain = category")
            for dom, cat in value.items():
                if cat not in CATEGORIES:
                    raise ConfigError(f"config key 'credibility.categories.{dom}': {cat!r} not in {CATEGORIES}")
                cats[dom] = cat
        else:
            rest[key] = value
    out = _build_section(CredibilityConfig, rest, "credibility")
    return dataclasses.replace(out, sources=tuple(scores.items()), categories=tuple(cats.items()))


def _check(cfg: TradingConfig) -> TradingConfig:
    c = cfg.corroboration
    if c.window_ns <= 0:
        raise ConfigError("config key 'corroboration.window_ns' must be > 0")
    if c.min_agreeing < 1 or c.quote_min_valid < 1 or c.supply_adjust_at < 1 or c.supply_contingency_at < 1:
        raise ConfigError("corroboration source counts (min_agreeing, quote_min_valid, supply_*_at) must be >= 1")
    if not c.rumor_ignore_below_pct <= c.rumor_monitor_below_pct:
        raise ConfigError("config key 'corroboration.rumor_ignore_below_pct' must be <= rumor_monitor_below_pct")
    for cat in c.rumor_verified_categories:
        if cat not in CATEGORIES:
            raise ConfigError(f"config key 'corroboration.rumor_verified_categories': {cat!r} not in {CATEGORIES}")
    if cfg.credibility.unknown_category not in CATEGORIES:
        raise ConfigError(f"config key 'credibility.unknown_category' not in {CATEGORIES}")
    for name in cfg.risk.disabled_checks:
        if name not in RISK_CHECKS:
            raise ConfigError(f"config key 'risk.disabled_checks': unknown check {name!r} (known: {RISK_CHECKS})")
    r = cfg.risk
    if r.max_order_qty <= 0 or r.max_position <= 0 or r.max_orders_per_window <= 0:
        raise ConfigError("risk quantities (max_order_qty, max_position, max_orders_per_window) must be > 0")
    if cfg.signal.notional_usd <= 0 or cfg.signal.surprise_full_pct <= 0 or cfg.signal.rate_full_pct <= 0:
        raise ConfigError("signal.notional_usd, surprise_full_pct and rate_full_pct must be > 0")
    if cfg.signal.hold_ns < 0 or not cfg.signal.exit_aggress_bps >= 0:
        raise ConfigError("signal.hold_ns and signal.exit_aggress_bps must be >= 0")
    return cfg


def config_from_dict(data: dict[str, Any], where: str = "") -> TradingConfig:
    """A :class:`TradingConfig` from a parsed TOML mapping; unknown keys raise :class:`UnknownConfigKeyError`."""
    sections: dict[str, Any] = {}
    builders = {"corroboration": CorroborationConfig, "signal": SignalConfig, "risk": RiskConfig}
    try:
        for key, table in data.items():
            if key == "credibility":
                sections[key] = _build_credibility(table)
            elif key in builders:
                sections[key] = _build_section(builders[key], table, key)
            else:
                raise UnknownConfigKeyError(key)
    except UnknownConfigKeyError as e:
        raise UnknownConfigKeyError(e.key, where) from None
    return _check(TradingConfig(**sections))


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
