"""One exception root: every package's error class derives from :class:`cns.errors.CNSError`."""

from __future__ import annotations

import importlib

import pytest

from cns.errors import CNSError

ROOTS = [
    ("cns.engine.errors", "EngineError"),
    ("cns.news.errors", "NewsError"),
    ("cns.rules.errors", "RuleError"),
    ("cns.runtime.errors", "ActorError"),
    ("cns.signals.errors", "SignalsError"),
    ("cns.telemetry.errors", "TelemetryError"),
    ("cns.trading.errors", "TradingError"),
    ("cns.venue.errors", "VenueError"),
    ("cns.replay.errors", "ReplayError"),
    ("cns.journal.errors", "JournalError"),
    ("cns.feeds.errors", "FeedError"),
    ("cns.fix.errors", "FixError"),
    ("cns.gateway.errors", "GatewayError"),
]


@pytest.mark.parametrize(("module", "name"), ROOTS)
def test_package_root_derives_from_cns_error(module: str, name: str) -> None:
    assert issubclass(getattr(importlib.import_module(module), name), CNSError)
