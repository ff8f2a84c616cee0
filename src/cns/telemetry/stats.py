"""The one percentile helper every benchmark and report uses.

:func:`summarize` folds a raw array of samples (ns stamps, per-record costs, ...) into the same keys
everywhere — ``count``, ``mean``, ``p50``, ``p99``, ``p999``, ``max`` — with the same method: NumPy's
``"higher"`` percentile (an observed sample, never an interpolation below it). It runs after the
measurement, never on a hot path. :class:`cns.telemetry.latency.LatencyRecorder` (HDR histogram, for
unbounded streams and coordinated-omission correction) reports the same key names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["PERCENTILES", "sample_mask", "summarize"]

PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50.0), ("p99", 99.0), ("p999", 99.9))


def sample_mask(n: int, every: int, starts: np.ndarray | None = None) -> np.ndarray:
    """The ``lat_ns`` request array of the stamping kernels: int64[n], 0 at every ``every``-th entry (stamp
    it), -1 elsewhere (don't). ``starts`` (sorted group start indices, the first 0): count from each group's
    start instead of from 0, so every group's first entry is stamped."""
    if every < 1:
        raise ValueError(f"sample_mask: every = {every} must be >= 1")
    mask = np.full(n, -1, np.int64)
    if starts is None:
        mask[::every] = 0
    else:
        starts = np.asarray(starts, np.int64)
        ends = np.append(starts[1:], n)
        mask[(np.arange(n) - np.repeat(starts, ends - starts)) % every == 0] = 0
    return mask


def summarize(samples: np.ndarray | Sequence[float], *, drop_negative: bool = False) -> dict[str, float]:
    """``count``, ``mean``, ``p50``, ``p99``, ``p999``, ``max`` of ``samples`` (any unit; floats out).

    ``drop_negative`` ignores entries < 0 (the kernels' "not sampled" marker in ``lat_ns`` arrays). An
    empty input gives ``count`` 0 and NaN for every statistic, so a benchmark that measured nothing shows
    it instead of crashing. NaN samples are refused (``ValueError``): they would poison every percentile.
    """
    a = np.asarray(samples, dtype=np.float64).ravel()
    if drop_negative:
        a = a[a >= 0]
    if a.size == 0:
        return {"count": 0, **{k: math.nan for k in ("mean", "p50", "p99", "p999", "max")}}
    if np.isnan(a).any():
        raise ValueError("summarize: samples contain NaN")
    qs = np.percentile(a, [q for _, q in PERCENTILES], method="higher")
    out: dict[str, float] = {"count": int(a.size), "mean": float(a.mean())}
    out.update({k: float(v) for (k, _), v in zip(PERCENTILES, qs, strict=True)})
    out["max"] = float(a.max())
    return out
