"""Time bounds of the simulated market: "never", the longest configurable duration, saturating time sums.

Times are int64 ns since the epoch. A future time ``t + d`` (a latency, delay, hold or interval after ``t``)
saturates at ``NEVER_NS`` (int64 max: the event never comes) instead of wrapping into the past. Durations in
any config are bounded by ``MAX_DURATION_NS``, so they are exact as float64 (the kernels' parameter vector)
and the sum of a time in the accepted window (news: 1970..2100) and a duration cannot overflow.
"""

from __future__ import annotations

import numpy as np

from cns.venue.errors import VenueConfigError

__all__ = ["MAX_DURATION_NS", "NEVER_NS", "check_duration", "sat_add"]

NEVER_NS = int(np.iinfo(np.int64).max)  # a time that never comes (saturated sums end here)
MAX_DURATION_NS = 1 << 50  # ~13 days: the longest latency, delay, hold or interval any config may ask for


def check_duration(owner: str, name: str, value: object, *, positive: bool = False) -> None:
    """Raise :class:`VenueConfigError` naming ``owner.name`` unless ``value`` is an int (not a bool) in
    ``0..MAX_DURATION_NS`` ns (``1..`` when ``positive``)."""
    lo = 1 if positive else 0
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not is_int or not lo <= int(value) <= MAX_DURATION_NS:  # type: ignore[call-overload]
        raise VenueConfigError(f"{owner}.{name} must be an int of {lo}..{MAX_DURATION_NS} ns, got {value!r}")


def sat_add(t: np.ndarray | int, d: np.ndarray | int) -> np.ndarray:
    """``t + d`` (int64 ns, ``d >= 0``) elementwise, saturating at ``NEVER_NS`` instead of wrapping."""
    ta = np.asarray(t, np.int64)
    da = np.asarray(d, np.int64)
    with np.errstate(over="ignore"):
        return np.where(ta > NEVER_NS - da, np.int64(NEVER_NS), ta + da)
