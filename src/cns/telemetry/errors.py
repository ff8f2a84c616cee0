"""Errors raised by :mod:`cns.telemetry` (all derive from :class:`TelemetryError`)."""

from __future__ import annotations

from cns.errors import CNSError

__all__ = ["LatencyCapacityError", "LatencyValueError", "TelemetryError"]


class TelemetryError(CNSError):
    """Base of every error raised by cns.telemetry."""


class LatencyValueError(TelemetryError, ValueError):
    """An invalid latency value or recorder configuration (negative latency, bad range, bad option)."""


class LatencyCapacityError(TelemetryError, ValueError):
    """More samples committed than the recorder's buffer has room for."""
