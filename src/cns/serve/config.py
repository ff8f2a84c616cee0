"""The configuration of ``cns serve``: one shard's feeds, FIX sessions, instruments, rules and risk limits.

TOML layout (``src/cns/shipped/serve.toml`` is a commented example)::

    [serve]
    shard = "shard-0"            # this pipeline's id (process names, logs; its journal, later)
    host = "127.0.0.1"           # default address of every peer below (cns serve itself listens on nothing)
    connect_timeout_s = 5.0      # start-up: every peer reachable (FIX: logged on) within this, else exit 2
    stop_timeout_s = 5.0         # graceful stop: mass-cancel answer and FIX Logout, each bounded by this
    order_sink = "fix"           # "fix" (the [[fix]] sessions) or "inprocess" (a simulated venue: dry runs)
    rules = ""                   # SHACL news shapes (default: the shipped rules/news.ttl)

    [[feeds]]                    # one supervised FeedHandler each (docs/feeds.md)
    name = "vendor-a"
    port = 7400
    transport = "tcp"            # or "ws"
    feed_id = 1
    stale_after_s = 3.0          # watchdog: no frame for this long -> the feed is paused
    batch_max = 4096
    instruments = []             # symbols this feed covers (empty: all); the desk holds their decisions
                                 # while the feed is paused

    [[fix]]                      # one FIX 4.4 initiator session each (cns.fix)
    name = "venue1"
    port = 9878
    sender_comp_id_env = "CNS_CLIENT_COMP_ID"   # or sender_comp_id = "..." (ours)
    target_comp_id_env = "CNS_VENUE_COMP_ID"    # or target_comp_id = "..." (the venue's)
    password_env = "CNS_CLIENT_PASSWORD"        # optional
    heartbeat_s = 30
    store_dir = ""               # FIX session store (default: in memory)
    instruments = []             # symbols routed to this session (empty: all not routed elsewhere)

    [market_data]                # optional: the venue gateway's top-of-book stream (cns venue serve --md-port)
    port = 9879
    stale_after_s = 5.0          # no frame or heartbeat for this long -> quotes are stale (risk fails closed)

    [[instruments]]              # what the desk may trade; price = reference mid (USD) until quotes arrive
    symbol = "AAPL"
    price = 190.0

    [desk]
    held_max_age_s = 2.0         # a decision held for a paused feed is dropped after this long
    exit_check_s = 0.05          # period of the exit pass (signal.hold_ns after an entry, see cns.replay.desk)
    mark_s = 1.0                 # P&L marking period

    [credibility] / [corroboration] / [signal] / [risk]   # cns.trading.config, same keys as cns run --config

Credentials: a ``[[fix]]`` key ``k`` (``sender_comp_id``, ``target_comp_id``, ``username``, ``password``) is
taken from the file, else from the environment variable named by ``k_env``, else from ``CNS_FIX_<K>``. A
missing CompID is refused naming the variable; a value is never printed, logged or kept in a ``repr``.

Failure rule: anything unknown or out of range raises :class:`~cns.serve.errors.ServeConfigError` naming the
key (``cns serve`` prints one line and exits 2 before any connection is made).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cns.errors import CNSError
from cns.serve.errors import ServeConfigError
from cns.trading.config import TradingConfig, config_from_dict

__all__ = [
    "DeskSpec",
    "FeedSpec",
    "FixSpec",
    "InstrumentSpec",
    "MarketDataSpec",
    "ServeConfig",
    "load_serve_config",
    "serve_config_from_dict",
]

SINKS = ("fix", "inprocess")
TRANSPORTS = ("tcp", "ws")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SYMBOL = re.compile(r"[A-Za-z0-9._/-]{1,32}")
_TRADING_SECTIONS = ("credibility", "corroboration", "signal", "risk", "latency")


def _bad(key: str, rule: str) -> ServeConfigError:
    return ServeConfigError(f"config key '{key}': {rule}")


def _num(v: Any, key: str, lo: float, hi: float, *, integer: bool = False) -> Any:
    """``v`` if it is a number (an int when ``integer``; never a bool) in ``[lo, hi]``, else refused."""
    ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
    if (
        isinstance(v, bool)
        or not ok_type
        or (isinstance(v, float) and not math.isfinite(v))
        or not lo <= v <= hi
    ):
        raise _bad(key, f"must be {'an integer' if integer else 'a number'} in [{lo:g}, {hi:g}], got {v!r}")
    return v


def _str(v: Any, key: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(v, str) or not v or (pattern is not None and not pattern.fullmatch(v)):
        rule = f"must match {pattern.pattern}" if pattern is not None else "must be a non-empty string"
        raise _bad(key, f"{rule}, got {v!r}")
    return v


def _keys(tab: Any, where: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(tab, dict):
        raise _bad(where, "must be a table")
    unknown = sorted(set(tab) - known)
    if unknown:
        raise _bad(f"{where}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(known))})")
    return tab


def _symbols(v: Any, key: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise _bad(key, "must be a list of instrument symbols")
    return tuple(v)


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One tradable instrument: its symbol (ticker and FIX Symbol) and reference mid in USD (used until the
    market-data stream quotes it, and by the in-process venue)."""

    symbol: str
    price: float


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One news feed (see :class:`cns.feeds.FeedConfig` for the meaning of each field); ``instruments``: the
    symbols it covers (empty: all)."""

    name: str
    host: str
    port: int
    transport: str = "tcp"
    feed_id: int = 1
    stale_after_s: float = 3.0
    batch_max: int = 4096
    sentiment: bool = True
    instruments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FixSpec:
    """One FIX initiator session (see :class:`cns.fix.FixSessionConfig`). Credentials are hidden from
    ``repr``; ``instruments``: the symbols routed to it (empty: every symbol not routed elsewhere)."""

    name: str
    host: str
    port: int
    sender_comp_id: str = field(repr=False)
    target_comp_id: str = field(repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    heartbeat_s: int = 30
    store_dir: str | None = None
    reset_on_logon: bool = True
    instruments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MarketDataSpec:
    """The venue gateway's market-data stream (``cns.gateway.marketdata``); ``stale_after_s``: no frame or
    heartbeat for this long marks every quote stale."""

    host: str
    port: int
    stale_after_s: float = 5.0


@dataclass(frozen=True, slots=True)
class DeskSpec:
    """Desk timing, seconds: ``held_max_age_s`` (a decision held for a paused feed is dropped after this),
    ``exit_check_s`` (exit pass period), ``mark_s`` (P&L marking period)."""

    held_max_age_s: float = 2.0
    exit_check_s: float = 0.05
    mark_s: float = 1.0
    runaway_rejects: int = (
        0  # throttle (``rate``) rejections within one risk rate window that trip the kill switch; 0 = off
    )


@dataclass(frozen=True)
class ServeConfig:
    """A whole shard (see the module doc). Build it with :func:`load_serve_config` or
    :func:`serve_config_from_dict`; both check every value."""

    shard: str
    feeds: tuple[FeedSpec, ...]
    fix: tuple[FixSpec, ...]
    instruments: tuple[InstrumentSpec, ...]
    trading: TradingConfig = field(default_factory=TradingConfig)
    market_data: MarketDataSpec | None = None
    desk: DeskSpec = field(default_factory=DeskSpec)
    host: str = "127.0.0.1"
    connect_timeout_s: float = 5.0
    stop_timeout_s: float = 5.0
    order_sink: str = "fix"
    rules: str | None = None
    journal: Any = None  # cns.serve.journal.JournalSpec with [journal]

    def __repr__(self) -> str:
        return (
            f"ServeConfig(shard={self.shard!r}, feeds={[f.name for f in self.feeds]}, "
            f"fix={[s.name for s in self.fix]}, instruments={len(self.instruments)}, "
            f"order_sink={self.order_sink!r}, <credentials hidden>)"
        )

    @property
    def symbols(self) -> tuple[str, ...]:
        """Tickers of the configured instruments, in config order."""
        return tuple(i.symbol for i in self.instruments)

    def route(self) -> dict[str, str]:
        """Symbol -> FIX session name: the session listing it, else the first session listing none."""
        out: dict[str, str] = {}
        for s in self.fix:
            for sym in s.instruments:
                out.setdefault(sym, s.name)
        default = next((s.name for s in self.fix if not s.instruments), None)
        if default is not None:
            for sym in self.symbols:
                out.setdefault(sym, default)
        return out


def _secret(tab: dict[str, Any], key: str, where: str, required: bool) -> str | None:
    """A credential from ``tab[key]``, else the variable ``tab[key_env]``, else ``CNS_FIX_<KEY>``."""
    v = tab.get(key)
    if v is not None:
        if not isinstance(v, str) or not v:
            raise _bad(f"{where}.{key}", "must be a non-empty string")
        return v
    env = tab.get(f"{key}_env")
    if env is not None and (not isinstance(env, str) or not env):
        raise _bad(f"{where}.{key}_env", "must name an environment variable")
    var = env or f"CNS_FIX_{key.upper()}"
    v = os.environ.get(var)
    if v is None or v == "":
        if required:
            raise ServeConfigError(
                f"config key '{where}.{key}': environment variable {var} is not set "
                f"(set it, or give {key} / {key}_env)"
            )
        return None
    return v


def _feed(tab: Any, k: int, host: str) -> FeedSpec:
    w = f"feeds[{k}]"
    t = _keys(
        tab,
        w,
        {
            "name",
            "host",
            "port",
            "transport",
            "feed_id",
            "stale_after_s",
            "batch_max",
            "sentiment",
            "instruments",
        },
    )
    transport = t.get("transport", "tcp")
    if transport not in TRANSPORTS:
        raise _bad(f"{w}.transport", f"must be one of {TRANSPORTS}")
    sentiment = t.get("sentiment", True)
    if not isinstance(sentiment, bool):
        raise _bad(f"{w}.sentiment", "must be true or false")
    return FeedSpec(
        name=_str(t.get("name", f"feed{k + 1}"), f"{w}.name", _NAME),
        host=_str(t.get("host", host), f"{w}.host"),
        port=_num(t.get("port"), f"{w}.port", 1, 65535, integer=True),
        transport=transport,
        feed_id=_num(t.get("feed_id", 1), f"{w}.feed_id", 0, 2**32 - 1, integer=True),
        stale_after_s=_num(t.get("stale_after_s", 3.0), f"{w}.stale_after_s", 0.01, 3600),
        batch_max=_num(t.get("batch_max", 4096), f"{w}.batch_max", 1, 1 << 20, integer=True),
        sentiment=sentiment,
        instruments=_symbols(t.get("instruments", []), f"{w}.instruments"),
    )


def _fix(tab: Any, k: int, host: str) -> FixSpec:
    w = f"fix[{k}]"
    secrets = ("sender_comp_id", "target_comp_id", "username", "password")
    t = _keys(
        tab,
        w,
        {
            "name",
            "host",
            "port",
            "heartbeat_s",
            "store_dir",
            "reset_on_logon",
            "instruments",
            *secrets,
            *(f"{s}_env" for s in secrets),
        },
    )
    reset = t.get("reset_on_logon", True)
    if not isinstance(reset, bool):
        raise _bad(f"{w}.reset_on_logon", "must be true or false")
    store = t.get("store_dir") or None
    if store is not None and not isinstance(store, str):
        raise _bad(f"{w}.store_dir", "must be a directory path")
    return FixSpec(
        name=_str(t.get("name", f"venue{k + 1}"), f"{w}.name", _NAME),
        host=_str(t.get("host", host), f"{w}.host"),
        port=_num(t.get("port"), f"{w}.port", 1, 65535, integer=True),
        sender_comp_id=_secret(t, "sender_comp_id", w, True) or "",
        target_comp_id=_secret(t, "target_comp_id", w, True) or "",
        username=_secret(t, "username", w, False),
        password=_secret(t, "password", w, False),
        heartbeat_s=_num(t.get("heartbeat_s", 30), f"{w}.heartbeat_s", 1, 3600, integer=True),
        store_dir=store,
        reset_on_logon=reset,
        instruments=_symbols(t.get("instruments", []), f"{w}.instruments"),
    )


def serve_config_from_dict(doc: dict[str, Any], where: str = "") -> ServeConfig:
    """A :class:`ServeConfig` from a parsed TOML document (see the module doc); ``where`` (a file name) is
    added to error messages."""
    try:
        return _from_dict(doc)
    except ServeConfigError as e:
        if where:
            raise ServeConfigError(f"{e} in {where}") from None
        raise


def _from_dict(doc: dict[str, Any]) -> ServeConfig:
    top = _keys(
        doc,
        "(top level)",
        {"serve", "feeds", "fix", "market_data", "instruments", "desk", "journal", *_TRADING_SECTIONS},
    )
    s = _keys(
        top.get("serve", {}),
        "serve",
        {"shard", "host", "connect_timeout_s", "stop_timeout_s", "order_sink", "rules"},
    )
    shard = _str(s.get("shard", "shard-0"), "serve.shard", _NAME)
    host = _str(s.get("host", "127.0.0.1"), "serve.host")
    sink = s.get("order_sink", "fix")
    if sink not in SINKS:
        raise _bad("serve.order_sink", f"must be one of {SINKS}")
    rules = s.get("rules") or None
    if rules is not None and not isinstance(rules, str):
        raise _bad("serve.rules", "must be a path to a SHACL shapes file")

    raw_inst = top.get("instruments", [])
    if not isinstance(raw_inst, list) or not raw_inst:
        raise _bad("instruments", "at least one [[instruments]] table (symbol, price) is needed")
    instruments = []
    for k, it in enumerate(raw_inst):
        t = _keys(it, f"instruments[{k}]", {"symbol", "price"})
        instruments.append(
            InstrumentSpec(
                _str(t.get("symbol"), f"instruments[{k}].symbol", _SYMBOL),
                float(_num(t.get("price"), f"instruments[{k}].price", 1e-6, 1e9)),
            )
        )
    syms = [i.symbol for i in instruments]
    if len(set(syms)) != len(syms):
        raise _bad("instruments", "symbols must be unique")

    feeds_raw = top.get("feeds", [])
    if not isinstance(feeds_raw, list) or not feeds_raw:
        raise _bad("feeds", "at least one [[feeds]] table is needed")
    feeds = tuple(_feed(t, k, host) for k, t in enumerate(feeds_raw))
    fix_raw = top.get("fix", [])
    if not isinstance(fix_raw, list):
        raise _bad("fix", "must be [[fix]] tables")
    if sink == "fix" and not fix_raw:
        raise _bad("fix", 'order_sink = "fix" needs at least one [[fix]] session')
    fix = tuple(_fix(t, k, host) for k, t in enumerate(fix_raw))
    for what, names in (("feeds", [f.name for f in feeds]), ("fix", [f.name for f in fix])):
        if len(set(names)) != len(names):
            raise _bad(what, "names must be unique")
    covered: list[tuple[str, tuple[str, ...]]] = [(f"feeds[{k}]", f.instruments) for k, f in enumerate(feeds)]
    covered += [(f"fix[{k}]", f.instruments) for k, f in enumerate(fix)]
    for where, listed in covered:
        for sym in listed:
            if sym not in syms:
                raise _bad(f"{where}.instruments", f"{sym!r} is not an [[instruments]] symbol")

    md = None
    if "market_data" in top:
        t = _keys(top["market_data"], "market_data", {"host", "port", "stale_after_s"})
        md = MarketDataSpec(
            _str(t.get("host", host), "market_data.host"),
            _num(t.get("port"), "market_data.port", 1, 65535, integer=True),
            _num(t.get("stale_after_s", 5.0), "market_data.stale_after_s", 0.01, 3600),
        )
    d = _keys(top.get("desk", {}), "desk", {"held_max_age_s", "exit_check_s", "mark_s", "runaway_rejects"})
    desk = DeskSpec(
        _num(d.get("held_max_age_s", 2.0), "desk.held_max_age_s", 0.0, 3600),
        _num(d.get("exit_check_s", 0.05), "desk.exit_check_s", 0.001, 60),
        _num(d.get("mark_s", 1.0), "desk.mark_s", 0.01, 3600),
        _num(d.get("runaway_rejects", 0), "desk.runaway_rejects", 0, 10_000_000, integer=True),
    )
    try:
        trading = config_from_dict({k: top[k] for k in _TRADING_SECTIONS if k in top})
    except CNSError as e:
        raise ServeConfigError(str(e)) from None
    cfg = ServeConfig(
        shard=shard,
        feeds=feeds,
        fix=fix,
        instruments=tuple(instruments),
        trading=trading,
        market_data=md,
        desk=desk,
        host=host,
        connect_timeout_s=_num(s.get("connect_timeout_s", 5.0), "serve.connect_timeout_s", 0.05, 600),
        stop_timeout_s=_num(s.get("stop_timeout_s", 5.0), "serve.stop_timeout_s", 0.05, 600),
        order_sink=sink,
        rules=rules,
        journal=_journal(top.get("journal")),
    )
    if cfg.journal is not None:  # recovery needs the FIX sequence numbers and stored messages across restarts
        for k, f in enumerate(fix):
            if not f.store_dir or f.reset_on_logon:
                raise _bad(
                    f"fix[{k}]",
                    "[journal] needs store_dir set and reset_on_logon = false on every session "
                    "(recovery resumes the sequence numbers and has the venue resend)",
                )
    if sink == "fix":
        missing = [sym for sym in syms if sym not in cfg.route()]
        if missing:
            raise _bad(
                "fix",
                f"no session trades {missing[0]!r} (list it in a session's instruments, or leave "
                "one session's instruments empty)",
            )
    return cfg


def load_serve_config(path: str | os.PathLike[str]) -> ServeConfig:
    """Read and check a serve TOML file (:class:`ServeConfigError` for an unreadable file or a bad value)."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ServeConfigError(f"cannot read serve config {p}: {getattr(e, 'strerror', None) or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ServeConfigError(f"serve config {p} is not valid TOML: {e}") from None
    return serve_config_from_dict(doc, str(p))


def _journal(tab: Any) -> Any:
    """``[journal]``: dir, fsync (every | group | os), group_us, shard_id (0..255), snapshot_every (entries
    between state snapshots, 0 = none), snapshot_retain (snapshots kept)."""
    if tab is None:
        return None
    from cns.serve.journal import FSYNC, JournalSpec

    t = _keys(tab, "journal", {"dir", "fsync", "group_us", "shard_id", "snapshot_every", "snapshot_retain"})
    fs = t.get("fsync", "group")
    if fs not in FSYNC:
        raise _bad("journal.fsync", f"must be one of {FSYNC}")
    return JournalSpec(
        _str(t.get("dir"), "journal.dir"),
        fs,
        _num(t.get("group_us", 1000), "journal.group_us", 1, 10_000_000, integer=True),
        _num(t.get("shard_id", 0), "journal.shard_id", 0, 255, integer=True),
        _num(t.get("snapshot_every", 100_000), "journal.snapshot_every", 0, 1 << 40, integer=True),
        _num(t.get("snapshot_retain", 3), "journal.snapshot_retain", 1, 1000, integer=True),
    )
