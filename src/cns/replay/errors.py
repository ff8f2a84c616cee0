"""Errors raised by :mod:`cns.replay` (all derive from :class:`ReplayError`)."""

from __future__ import annotations

from cns.errors import CNSError


class ReplayError(CNSError, RuntimeError):
    """The replay could not produce a trustworthy report (e.g. a stage crashed and lost a batch)."""


class MarketDataError(ReplayError, ValueError):
    """The market file is unreadable or lacks the columns it needs (the message names file and column)."""
