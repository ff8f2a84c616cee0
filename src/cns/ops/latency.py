"""Latency histograms for the metrics endpoint, folded at scrape time from stamps the pipeline already keeps.

Nothing here runs on the hot path. A :class:`StageHistogram` holds cumulative Prometheus bucket counts (upper
bounds in **seconds**, :data:`DEFAULT_BOUNDS_S`: 1 µs .. 10 s, 1-2.5-5 steps) plus the exact sum and count.
At each scrape its :attr:`source` is asked for the samples (int64 **nanoseconds**) recorded since the last
fold; they are bucketed with one ``np.searchsorted`` + ``np.bincount``. Sources:

- :class:`ListCursor`: an append-only list of stamp tuples (``cns.serve``'s :class:`LatencyProbe`: per batch
  ``(seq_lo, seq_hi, recv_ns, done_ns)``, per order ``(news_id, recv_ns, written_ns)``): the entries past a
  cursor, latency = ``row[end] - row[start]``. The list is read from the scrape thread without a lock:
  slicing a list is atomic under the GIL and the owner only appends (a list that shrank -- a reset -- restarts
  the cursor).
- :class:`ArrayCursor`: a preallocated int64 ns array filled in index order (``cns.replay``'s per-event
  ``StageLatencies``; ``-1`` = not sampled) with a callable giving how many entries are final.
- :class:`HdrSource`: a :class:`~cns.telemetry.LatencyRecorder`'s HDR histogram (what its owner folded):
  the bucket counts are recomputed from the HDR counts array at each scrape (HDR precision, no sum of raw
  samples: the sum is HDR-equivalent values times counts).

Values are clamped at 0 (a negative stamp difference, e.g. a clock mix, counts as 0 s) and never dropped, so
``_count`` always equals the number of samples seen.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

__all__ = ["DEFAULT_BOUNDS_S", "ArrayCursor", "HdrSource", "ListCursor", "StageHistogram", "StampSource"]

#: Prometheus bucket upper bounds (seconds): 1 µs .. 10 s in 1-2.5-5 steps (+Inf is implicit)
DEFAULT_BOUNDS_S: tuple[float, ...] = tuple(float(f"{m}e{e}") for e in range(-6, 1) for m in (1, 2.5, 5)) + (
    10.0,
)


class StampSource(Protocol):
    """Gives the latency samples (int64 ns) recorded since the previous call."""

    def take(self) -> np.ndarray:
        """The int64 latency samples (ns) recorded since the previous call; empty when none."""


class ListCursor:
    """New rows of an append-only sequence of stamps; latency ns = ``row[end] - row[start]``.

    Rows are tuples (a list of tuples), or, with ``width``, consecutive runs of ``width`` ints in a flat
    sequence (an ``array.array("q")`` or a list of ints; a partly appended row is left for the next fold)."""

    def __init__(self, rows: Any, start: int, end: int, width: int | None = None) -> None:
        self._rows: Callable[[], Any] = rows if callable(rows) else (lambda: rows)
        self.start, self.end, self.width = start, end, width
        self.cursor = 0  # in elements of the sequence (rows, or ints when flat)

    def take(self) -> np.ndarray:
        """Latencies ``row[end] - row[start]`` (int64 ns) of the rows appended since the previous call."""
        rows = self._rows()
        n = len(rows)
        w = self.width
        if w is not None:
            n -= n % w
        if n < self.cursor:  # the owner reset the sequence
            self.cursor = 0
        new = rows[
            self.cursor : n
        ]  # one C-level copy (atomic under the GIL); later appends are read next time
        self.cursor = n
        if not len(new):
            return np.zeros(0, np.int64)
        if w is not None:
            a = (
                np.frombuffer(new, np.int64) if isinstance(new, array) else np.asarray(new, np.int64)
            ).reshape(-1, w)
        else:
            a = np.asarray(new, np.int64).reshape(len(new), -1)
        out: np.ndarray = a[:, self.end] - a[:, self.start]
        return out


class ArrayCursor:
    """Entries ``[cursor, done())`` of a preallocated int64 ns array; entries < 0 (not sampled) are skipped."""

    def __init__(self, array: np.ndarray | Callable[[], np.ndarray], done: Callable[[], int]) -> None:
        self._array = array if callable(array) else (lambda: array)
        self._done = done
        self.cursor = 0

    def take(self) -> np.ndarray:
        """Latencies (int64 ns) in ``[cursor, done())`` with unsampled (< 0) entries dropped; the cursor restarts
        at 0 if ``done()`` went backwards.
        """
        a = self._array()
        hi = min(int(self._done()), len(a))
        if hi < self.cursor:
            self.cursor = 0
        part = a[self.cursor : hi]
        self.cursor = hi
        out: np.ndarray = part[part >= 0].astype(np.int64, copy=False)
        return out


class HdrSource:
    """The folded content of an ``hdrh`` histogram (e.g. ``LatencyRecorder._hist``: what its owner folded).

    Unlike the cursors this is not incremental: :meth:`snapshot` returns cumulative ``(bucket counts, sum_s,
    count)`` for the given bounds, recomputed from the HDR counts array."""

    def __init__(self, hist: Any) -> None:
        self.hist = hist
        n = int(hist.counts_len)
        self._values_s = (
            np.array(
                [hist.get_highest_equivalent_value(hist.get_value_from_index(i)) for i in range(n)],
                np.float64,
            )
            / 1e9
        )
        self._mid_s = np.array([hist.get_value_from_index(i) for i in range(n)], np.float64) / 1e9

    def snapshot(self, bounds: np.ndarray) -> tuple[np.ndarray, float, int]:
        """Cumulative ``(bucket counts for bounds + +Inf, sum in s, count)`` over the whole histogram;
        ``bounds`` are bucket upper bounds in s.
        """
        counts = (
            np.ctypeslib.as_array(self.hist.counts)
            if not isinstance(self.hist.counts, np.ndarray)
            else self.hist.counts
        )
        c = np.asarray(counts[: len(self._values_s)], np.int64)
        nz = np.flatnonzero(c)
        buckets = np.zeros(len(bounds) + 1, np.int64)
        if len(nz):
            idx = np.searchsorted(bounds, self._values_s[nz], side="left")
            np.add.at(buckets, idx, c[nz])
        return np.cumsum(buckets), float((self._mid_s[nz] * c[nz]).sum()), int(c[nz].sum())


class StageHistogram:
    """Cumulative Prometheus histogram of one stage's latency (see the module doc).

    ``source``: a :class:`StampSource` (incremental, ns) or an :class:`HdrSource`; ``bounds_s``: increasing
    upper bounds in seconds; ``budget_s``: the stage's p99 latency budget (exported as a gauge; None = none).
    """

    def __init__(
        self,
        stage: str,
        source: StampSource | HdrSource,
        *,
        bounds_s: Sequence[float] = DEFAULT_BOUNDS_S,
        budget_s: float | None = None,
    ) -> None:
        b = np.asarray(bounds_s, np.float64)
        if b.ndim != 1 or len(b) == 0 or not np.all(np.diff(b) > 0) or not np.all(np.isfinite(b)):
            raise ValueError(f"StageHistogram({stage!r}): bounds_s must be finite and strictly increasing")
        self.stage = stage
        self.source = source
        self.bounds_s = b
        self._bounds_ns = np.floor(b * 1e9 + 1e-6).astype(np.int64)  # v <= bound_s  <=>  v_ns <= bound_ns
        self.budget_s = budget_s
        self._counts = np.zeros(len(b) + 1, np.int64)  # per bucket, not cumulative; last = above every bound
        self._sum_ns = 0
        self._count = 0

    def fold(self) -> None:
        """Move the source's new samples into the counts (a no-op for an :class:`HdrSource`)."""
        if isinstance(self.source, HdrSource):
            return
        ns = self.source.take()
        if not len(ns):
            return
        ns = np.maximum(ns, 0)
        idx = np.searchsorted(self._bounds_ns, ns, side="left")
        self._counts += np.bincount(idx, minlength=len(self._counts))
        self._sum_ns += int(ns.sum())
        self._count += len(ns)

    def snapshot(self) -> tuple[list[tuple[str, float]], float, int]:
        """``(buckets, sum_s, count)`` after a fold: buckets as Prometheus wants them (cumulative, ``le`` text,
        the last one ``+Inf``)."""
        self.fold()
        if isinstance(self.source, HdrSource):
            cum, sum_s, count = self.source.snapshot(self.bounds_s)
        else:
            cum, sum_s, count = np.cumsum(self._counts), self._sum_ns / 1e9, self._count
        les = [_le(x) for x in self.bounds_s] + ["+Inf"]
        return [(le, float(v)) for le, v in zip(les, cum.tolist(), strict=True)], sum_s, count


def _le(x: float) -> str:
    return repr(float(x))
