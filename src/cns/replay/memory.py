"""Resident memory of the replay process, measured per phase (reported in ``measured.memory``, never used).

``peak_rss_bytes`` is :func:`resource.getrusage` ``ru_maxrss`` (Linux: KiB; converted to bytes): the high-water
mark of the whole process since it started — it includes file-backed pages of mapped files while they are
resident, the JIT compiler and everything before the replay. ``rss_bytes`` is the resident set at the end of a
phase (``/proc/self/statm``; 0 where unavailable).
"""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass, field

__all__ = ["PhaseMemory", "peak_rss_bytes", "rss_bytes"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def peak_rss_bytes() -> int:
    """The process's peak resident set so far, in bytes (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak if sys.platform == "darwin" else peak * 1024


def rss_bytes() -> int:
    """The process's current resident set in bytes (``/proc/self/statm``), 0 when the platform has none."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


@dataclass(slots=True)
class PhaseMemory:
    """Resident memory at the end of each named phase: ``{phase: {"rss_bytes", "peak_rss_bytes"}}`` in order."""

    phases: dict[str, dict[str, int]] = field(default_factory=dict)

    def mark(self, phase: str) -> None:
        """Record the current and the peak resident set as of the end of ``phase`` (bytes)."""
        self.phases[phase] = {"rss_bytes": rss_bytes(), "peak_rss_bytes": peak_rss_bytes()}

    def section(self) -> dict[str, object]:
        """``{"peak_rss_bytes": process peak now, "phases": {...}}`` for the report's measured section."""
        return {"peak_rss_bytes": peak_rss_bytes(), "phases": dict(self.phases)}
