"""Venue gateway configuration: instruments, FIX sessions, ports, the market maker; TOML or code.

TOML layout (every key optional except ``[[sessions]]`` CompIDs, which may come from the environment)::

    host = "127.0.0.1"          # bind address of the FIX acceptor and the market-data port
    port = 9878                 # FIX acceptor port (0 = any free)
    md_port = 9879              # market-data port (0 = any free; omit: no market data)
    heartbeat_s = 30
    store_dir = "var/venue"     # FIX session stores (omit: in memory)
    store_fsync = true
    cancel_on_disconnect = false
    levels = 4096               # price levels per instrument band
    capacity = 65536            # resting orders, all instruments

    [[instruments]]
    symbol = "AAPL"
    price = 190.0               # reference price, USD (centres the price band, starts the market maker)
    tick = 0.01                 # optional (default ~5 bp on the 1-2-5 grid)

    [[sessions]]
    name = "client1"            # label: logs, store files (never a credential)
    owner = 2                   # book owner id of this client (>= 2; 1 is the market maker)
    sender_comp_id_env = "CNS_VENUE_COMP_ID"   # or sender_comp_id = "..."  (the venue's CompID)
    target_comp_id_env = "CNS_CLIENT_COMP_ID"  # or target_comp_id = "..."  (the client's CompID)
    password_env = "CNS_CLIENT_PASSWORD"       # optional: Logon must carry this Password (554)

    [market_maker]
    enabled = true
    seed = 7
    interval_s = 0.05           # requote period
    spread_ticks = 4            # bid/ask distance around the mid, ticks
    qty = 500                   # shares per level
    depth = 3                   # levels per side
    vol_ticks = 1.0             # random-walk step (standard deviation, ticks per requote)

Credentials are read from the environment variables the ``*_env`` keys name (the file then holds no
secret); a missing variable is refused naming the variable, never printing a value.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cns.gateway.errors import GatewayConfigError

__all__ = ["InstrumentSpec", "MarketMakerConfig", "SessionSpec", "VenueConfig", "load_venue_config"]

OWNER_MARKET_MAKER = 1


@dataclass(frozen=True)
class InstrumentSpec:
    symbol: str
    price: float
    tick: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, str) or not re.fullmatch(r"[A-Za-z0-9._/-]{1,32}", self.symbol):
            raise GatewayConfigError(f"instrument symbol {self.symbol!r}: 1..32 of [A-Za-z0-9._/-]")
        if (
            isinstance(self.price, bool)
            or not isinstance(self.price, (int, float))
            or not (math.isfinite(self.price) and self.price > 0)
        ):
            raise GatewayConfigError(f"instrument {self.symbol}: price must be finite and > 0")
        if self.tick is not None and (
            isinstance(self.tick, bool)
            or not isinstance(self.tick, (int, float))
            or not (math.isfinite(self.tick) and 0 < self.tick < self.price)
        ):
            raise GatewayConfigError(f"instrument {self.symbol}: tick must be finite, > 0 and < price")


@dataclass(frozen=True)
class SessionSpec:
    """One client of the venue. ``sender_comp_id`` is the venue's CompID, ``target_comp_id`` the client's."""

    name: str
    owner: int
    sender_comp_id: str = field(repr=False)
    target_comp_id: str = field(repr=False)
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.name):
            raise GatewayConfigError(f"session name {self.name!r}: 1..64 of [A-Za-z0-9_.-]")
        if isinstance(self.owner, bool) or not isinstance(self.owner, int) or not 2 <= self.owner < 4096:
            raise GatewayConfigError(
                f"session {self.name}: owner must be an int in 2..4095 (1 = market maker)"
            )


@dataclass(frozen=True)
class MarketMakerConfig:
    enabled: bool = False
    seed: int = 7
    interval_s: float = 0.05
    spread_ticks: int = 4
    qty: int = 500
    depth: int = 3
    vol_ticks: float = 1.0

    def __post_init__(self) -> None:
        if not 0.001 <= self.interval_s <= 3600:
            raise GatewayConfigError("market_maker.interval_s must be in [0.001, 3600]")
        for n, lo, hi in (("spread_ticks", 1, 10_000), ("qty", 1, 10**9), ("depth", 1, 64)):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise GatewayConfigError(f"market_maker.{n} must be an int in {lo}..{hi}")
        if not (isinstance(self.vol_ticks, (int, float)) and 0 <= self.vol_ticks <= 1000):
            raise GatewayConfigError("market_maker.vol_ticks must be in [0, 1000]")


@dataclass(frozen=True)
class VenueConfig:
    instruments: tuple[InstrumentSpec, ...]
    sessions: tuple[SessionSpec, ...]
    host: str = "127.0.0.1"
    port: int = 9878
    md_port: int | None = None
    heartbeat_s: int = 30
    store_dir: str | None = None
    store_fsync: bool = True
    cancel_on_disconnect: bool = False
    levels: int = 4096
    capacity: int = 1 << 16
    market_maker: MarketMakerConfig = field(default_factory=MarketMakerConfig)
    md_heartbeat_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.instruments:
            raise GatewayConfigError("at least one [[instruments]] is needed")
        syms = [i.symbol for i in self.instruments]
        if len(set(syms)) != len(syms):
            raise GatewayConfigError("instrument symbols must be unique")
        if not self.sessions:
            raise GatewayConfigError("at least one [[sessions]] is needed")
        names = [s.name for s in self.sessions]
        owners = [s.owner for s in self.sessions]
        if len(set(names)) != len(names) or len(set(owners)) != len(owners):
            raise GatewayConfigError("session names and owners must be unique")
        pairs = [(s.sender_comp_id, s.target_comp_id) for s in self.sessions]
        if len(set(pairs)) != len(pairs):
            raise GatewayConfigError("two sessions have the same CompID pair")
        for n in ("port", "md_port"):
            v = getattr(self, n)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 65536):
                raise GatewayConfigError(f"{n} must be 0..65535")
        if (
            isinstance(self.heartbeat_s, bool)
            or not isinstance(self.heartbeat_s, int)
            or not 1 <= self.heartbeat_s <= 3600
        ):
            raise GatewayConfigError("heartbeat_s must be an int in 1..3600")
        if not 16 <= self.levels <= 1 << 20 or not 1 <= self.capacity <= 1 << 24:
            raise GatewayConfigError("levels must be in 16..2**20 and capacity in 1..2**24")
        if not 0.01 <= self.md_heartbeat_s <= 60:
            raise GatewayConfigError("md_heartbeat_s must be in [0.01, 60]")

    @property
    def symbols(self) -> list[str]:
        """Index ``k`` is instrument code ``k`` (0 unused)."""
        return [""] + [i.symbol for i in self.instruments]


def _secret(tab: dict[str, Any], key: str, where: str, required: bool) -> str | None:
    env = tab.get(f"{key}_env")
    if env is not None:
        if not isinstance(env, str) or not env:
            raise GatewayConfigError(f"{where}.{key}_env must name an environment variable")
        v = os.environ.get(env)
        if v is None:
            if required:
                raise GatewayConfigError(f"{where}.{key}: environment variable {env} is not set")
            return None
        return v
    v = tab.get(key)
    if v is None:
        if required:
            raise GatewayConfigError(f"{where}.{key} (or {key}_env) is required")
        return None
    if not isinstance(v, str) or not v:
        raise GatewayConfigError(f"{where}.{key} must be a non-empty string")
    return v


_TOP_KEYS = {
    "host",
    "port",
    "md_port",
    "heartbeat_s",
    "store_dir",
    "store_fsync",
    "cancel_on_disconnect",
    "levels",
    "capacity",
    "instruments",
    "sessions",
    "market_maker",
    "md_heartbeat_s",
}


def venue_config_from_dict(doc: dict[str, Any]) -> VenueConfig:
    """Build a :class:`VenueConfig` from a parsed TOML document (see the module doc)."""
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise GatewayConfigError(f"unknown keys: {sorted(unknown)}")
    try:
        inst = tuple(
            InstrumentSpec(
                symbol=i.get("symbol"),
                price=float(i.get("price", math.nan)),
                tick=None if i.get("tick") is None else float(i["tick"]),
            )
            for i in doc.get("instruments", [])
        )
        sess = []
        for k, s in enumerate(doc.get("sessions", [])):
            where = f"sessions[{k}]"
            sess.append(
                SessionSpec(
                    name=s.get("name", f"client{k + 1}"),
                    owner=s.get("owner", k + 2),
                    sender_comp_id=_secret(s, "sender_comp_id", where, True) or "",
                    target_comp_id=_secret(s, "target_comp_id", where, True) or "",
                    password=_secret(s, "password", where, False),
                )
            )
        mm = MarketMakerConfig(**doc.get("market_maker", {}))
    except (TypeError, ValueError) as e:
        if isinstance(e, GatewayConfigError):
            raise
        raise GatewayConfigError(f"bad value: {e}") from None
    kw = {k: doc[k] for k in _TOP_KEYS - {"instruments", "sessions", "market_maker"} if k in doc}
    try:
        return VenueConfig(instruments=inst, sessions=tuple(sess), market_maker=mm, **kw)
    except TypeError as e:
        raise GatewayConfigError(f"bad value: {e}") from None


def load_venue_config(path: str | os.PathLike[str]) -> VenueConfig:
    """Read a TOML venue config; :class:`GatewayConfigError` for an unreadable file or a bad value."""
    try:
        doc = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise GatewayConfigError(f"cannot read venue config {path}: {e}") from None
    return venue_config_from_dict(doc)


def default_venue_config() -> VenueConfig:
    """The config of ``cns venue serve`` without ``--config``: five instruments, one client session whose
    CompIDs come from ``CNS_VENUE_COMP_ID`` (the venue) and ``CNS_CLIENT_COMP_ID`` (the client), the
    market maker on."""
    doc: dict[str, Any] = {
        "instruments": [
            {"symbol": s, "price": p}
            for s, p in (("AAPL", 190.0), ("MSFT", 410.0), ("NVDA", 120.0), ("AMZN", 180.0), ("TSLA", 250.0))
        ],
        "sessions": [
            {
                "name": "client1",
                "owner": 2,
                "sender_comp_id_env": "CNS_VENUE_COMP_ID",
                "target_comp_id_env": "CNS_CLIENT_COMP_ID",
                "password_env": "CNS_CLIENT_PASSWORD",
            }
        ],
        "market_maker": {"enabled": True},
    }
    return venue_config_from_dict(doc)
