"""The trading package's error tree. Rejected orders are counted results, never exceptions; these are for
bad configuration and bad API use."""

from __future__ import annotations

from cns.errors import CNSError


class TradingError(CNSError):
    """Base of every error raised by :mod:`cns.trading`."""


class ConfigError(TradingError):
    """A trading configuration is invalid (bad value, bad type, bad TOML). The message names the key."""


class UnknownConfigKeyError(ConfigError):
    """A configuration file contains a key this version does not know. ``key`` is its dotted path."""

    def __init__(self, key: str, where: str = "") -> None:
        self.key = key
        super().__init__(f"unknown config key {key!r}" + (f" in {where}" if where else ""))


class StateError(TradingError):
    """A stateful trading component was used inconsistently (wrong dtype, instrument code out of range...)."""
