"""Latency recording: a preallocated raw ns buffer on the hot path, an HDR histogram off it.

The hot path (a Numba kernel, a driver loop, an actor) only writes ``int64`` nanosecond latencies into
:attr:`LatencyRecorder.buffer` and tells the recorder how many it wrote (:meth:`LatencyRecorder.commit`);
there is no per-event Python object or call. :meth:`LatencyRecorder.fold` — called off the hot path, e.g.
when the buffer is full or at the end of a run — moves the raw samples into an ``hdrh`` histogram with
vectorised NumPy (one histogram update per distinct bucket, not per sample) and empties the buffer, so a
fixed-size buffer serves a run of any length.

Coordinated omission. A closed-loop measurement (send, wait for the reply, send again) under-reports
tail latency: while the system stalls, the load generator stops sending, so the stall is recorded once
instead of for every request that *would* have been sent. Two remedies, pick one per recorder:

* **Intended start time (preferred, open loop).** The load generator has a schedule: request *i* is due
  at ``t0 + i * interval``. Record ``completion - intended_start`` with
  :meth:`LatencyRecorder.record_from_intended` (or write that difference from a kernel). A request that
  could not even be sent on time carries its waiting time. This is exact and is what ``OPEN_LOOP`` means.
* **Expected-interval correction (closed loop).** Construct with ``expected_interval_ns``: at fold time
  every sample ``v > interval`` additionally records ``v - interval, v - 2*interval, ...`` down to
  ``<= interval`` — the same back-fill as HdrHistogram's ``recordValueWithExpectedInterval`` — but
  vectorised. It is an estimate and only valid when the loop's nominal period is known.

Units: every value is in nanoseconds (int64). Values above ``highest_ns`` are clamped to it and counted
in ``summary()["clamped"]``; negative values are a programming error and raise :class:`LatencyValueError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from hdrh.histogram import HdrHistogram

from cns.telemetry.errors import LatencyCapacityError, LatencyValueError

__all__ = ["CLOSED_LOOP", "OPEN_LOOP", "LatencyConfig", "LatencyRecorder"]

#: Latencies were measured from the actual send time (closed loop).
CLOSED_LOOP = "closed_loop"
#: Latencies were measured from the intended (scheduled) send time: coordinated-omission free.
OPEN_LOOP = "open_loop"

_HOUR_NS = 3_600 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class LatencyConfig:
    """Histogram range and precision.

    ``lowest_ns``/``highest_ns``: trackable range in ns (default 1 ns .. 1 hour);
    ``significant_figures``: HDR precision (3 = values kept within 0.1 %);
    ``capacity``: raw samples held before a fold is needed;
    ``expected_interval_ns``: enables closed-loop coordinated-omission back-fill (see module doc).
    """

    capacity: int = 1 << 20
    lowest_ns: int = 1
    highest_ns: int = _HOUR_NS
    significant_figures: int = 3
    expected_interval_ns: int | None = None

    def __post_init__(self) -> None:
        if self.capacity <= 0:
            raise LatencyValueError(f"LatencyConfig.capacity must be > 0, got {self.capacity}")
        if self.lowest_ns < 1 or self.highest_ns < 2 * self.lowest_ns:
            raise LatencyValueError(
                f"LatencyConfig: need 1 <= lowest_ns and highest_ns >= 2*lowest_ns, "
                f"got lowest_ns={self.lowest_ns} highest_ns={self.highest_ns}"
            )
        if self.highest_ns >= 1 << 53:  # the vectorised bucket index relies on exact float64 integers
            raise LatencyValueError(f"LatencyConfig.highest_ns must be < 2**53 ns, got {self.highest_ns}")
        if not 1 <= self.significant_figures <= 5:
            raise LatencyValueError(
                f"LatencyConfig.significant_figures must be 1..5, got {self.significant_figures}"
            )
        if self.expected_interval_ns is not None and self.expected_interval_ns <= 0:
            raise LatencyValueError(
                f"LatencyConfig.expected_interval_ns must be > 0, got {self.expected_interval_ns}"
            )


class LatencyRecorder:
    """Raw int64 ns samples in a preallocated buffer, folded into an HDR histogram off the hot path.

    Hot-path protocol (kernels and drivers)::

        buf = rec.free()            # writable view of the unused part of the buffer
        n = my_kernel(..., buf)     # writes n latencies (ns) into buf[:n]
        rec.commit(n)               # O(1); folds automatically when the buffer fills

    Convenience (not for per-event hot loops): :meth:`record`, :meth:`record_many`,
    :meth:`record_from_intended`.
    """

    __slots__ = (
        "_buf",
        "_clamped",
        "_exact_max",
        "_exact_min",
        "_fold_ns",
        "_folds",
        "_hist",
        "_n",
        "_raw_count",
        "_sum",
        "config",
        "mode",
        "name",
    )

    def __init__(
        self,
        name: str = "latency",
        config: LatencyConfig | None = None,
        *,
        mode: str = CLOSED_LOOP,
        **overrides: int | None,
    ) -> None:
        if mode not in (CLOSED_LOOP, OPEN_LOOP):
            raise LatencyValueError(
                f"LatencyRecorder({name!r}): mode must be CLOSED_LOOP or OPEN_LOOP, got {mode!r}"
            )
        cfg = config or LatencyConfig()
        if overrides:
            fields = {f: getattr(cfg, f) for f in LatencyConfig.__dataclass_fields__}
            unknown = set(overrides) - set(fields)
            if unknown:
                raise LatencyValueError(f"LatencyRecorder({name!r}): unknown option(s) {sorted(unknown)}")
            fields.update(overrides)
            cfg = LatencyConfig(**fields)  # type: ignore[arg-type]
        self.name = name
        self.config = cfg
        self.mode = mode
        self._buf = np.zeros(cfg.capacity, dtype=np.int64)
        self._n = 0
        self._hist = HdrHistogram(cfg.lowest_ns, cfg.highest_ns, cfg.significant_figures)
        self._exact_max = -1
        self._exact_min = -1
        self._clamped = 0
        self._sum = 0  # exact sum of raw (uncorrected) samples, for the mean
        self._raw_count = 0
        self._folds = 0
        self._fold_ns = 0  # time spent folding (ns): the off-hot-path cost, measured

    # ---------------------------------------------------------------- hot-path protocol
    @property
    def buffer(self) -> np.ndarray:
        """The whole preallocated int64 buffer (length ``config.capacity``)."""
        return self._buf

    @property
    def pending(self) -> int:
        """Samples written and committed but not yet folded."""
        return self._n

    def free(self) -> np.ndarray:
        """Writable view of the unused tail of the buffer; write latencies at its start, then :meth:`commit`."""
        return self._buf[self._n :]

    def commit(self, n: int) -> None:
        """Declare that ``n`` more samples were written at the start of :meth:`free`; folds when full."""
        if n < 0 or self._n + n > self._buf.size:
            raise LatencyCapacityError(
                f"LatencyRecorder({self.name!r}).commit({n}): only {self._buf.size - self._n} free slots"
            )
        self._n += n
        if self._n == self._buf.size:
            self.fold()

    # ---------------------------------------------------------------- convenience
    def record(self, ns: int) -> None:
        """Record one latency in ns (a Python call: fine for tests and slow paths, not per-event hot loops)."""
        if self._n == self._buf.size:
            self.fold()
        self._buf[self._n] = ns
        self._n += 1

    def record_many(self, ns: np.ndarray) -> None:
        """Copy a batch of ns latencies in (any length; folds as often as needed)."""
        a = np.asarray(ns, dtype=np.int64).ravel()
        i = 0
        while i < a.size:
            room = self._buf.size - self._n
            take = min(room, a.size - i)
            self._buf[self._n : self._n + take] = a[i : i + take]
            self._n += take
            i += take
            if self._n == self._buf.size:
                self.fold()

    def record_from_intended(self, intended_ns: np.ndarray, done_ns: np.ndarray) -> None:
        """Open-loop recording: latency = completion stamp - *intended* (scheduled) start stamp, both ns."""
        intended = np.asarray(intended_ns, dtype=np.int64)
        done = np.asarray(done_ns, dtype=np.int64)
        if intended.shape != done.shape:
            raise LatencyValueError(
                f"LatencyRecorder({self.name!r}).record_from_intended: shapes differ {intended.shape} vs {done.shape}"
            )
        self.record_many(done - intended)

    # ---------------------------------------------------------------- off the hot path
    def fold(self) -> None:
        """Move pending raw samples into the histogram and empty the buffer (vectorised; measured)."""
        if self._n == 0:
            return
        t0 = time.perf_counter_ns()
        raw = self._buf[: self._n]
        lo = int(raw.min())
        if lo < 0:
            bad = int(np.argmax(raw < 0))
            raise LatencyValueError(
                f"LatencyRecorder({self.name!r}): negative latency {int(raw[bad])} ns at pending sample {bad} "
                f"(stamps swapped or clocks mixed?)"
            )
        hi = int(raw.max())
        self._exact_max = max(self._exact_max, hi)
        self._exact_min = lo if self._exact_min < 0 else min(self._exact_min, lo)
        self._sum += int(raw.sum(dtype=np.int64))
        self._raw_count += raw.size
        values = raw
        top = self.config.highest_ns
        if hi > top:
            self._clamped += int(np.count_nonzero(raw > top))
            values = np.minimum(raw, top)
        interval = self.config.expected_interval_ns
        if interval is not None:
            values = _backfill(values, interval)
        self._add_to_hist(values)
        self._n = 0
        self._folds += 1
        self._fold_ns += time.perf_counter_ns() - t0

    def _add_to_hist(self, values: np.ndarray) -> None:
        h = self._hist
        idx = _counts_index(h, values)
        counts = np.bincount(idx, minlength=0)
        for i in np.flatnonzero(counts):
            h.record_value(h.get_value_from_index(int(i)), int(counts[i]))

    def reset(self) -> None:
        """Forget everything recorded (buffer and histogram)."""
        self._n = 0
        self._hist.reset()
        self._exact_max = self._exact_min = -1
        self._clamped = self._sum = self._raw_count = self._folds = self._fold_ns = 0

    @property
    def histogram(self) -> HdrHistogram:
        """The HDR histogram (folds first). Encode it with ``.encode()`` to ship it elsewhere."""
        self.fold()
        return self._hist

    def percentile_ns(self, pct: float) -> int:
        """The value (ns) at percentile ``pct`` (0..100) of everything recorded so far."""
        self.fold()
        return int(self._hist.get_value_at_percentile(pct))

    def summary(self) -> dict[str, float | int | str | None]:
        """count, p50, p90, p99, p999, max, min, mean (ns); ``max``/``min``/``mean`` are exact (raw samples),
        percentiles are HDR values (within 10**-significant_figures relative). Empty -> None statistics.

        ``count`` is the number of raw samples; ``hist_count`` includes coordinated-omission back-fill.
        """
        self.fold()
        h = self._hist
        out: dict[str, float | int | str | None] = {
            "name": self.name,
            "mode": self.mode,
            "count": self._raw_count,
            "hist_count": int(h.get_total_count()),
        }
        if self._raw_count == 0:
            out.update(p50=None, p90=None, p99=None, p999=None, max=None, min=None, mean=None)
        else:
            pv = h.get_percentile_to_value_dict([50.0, 90.0, 99.0, 99.9])
            out.update(
                p50=int(pv[50.0]),
                p90=int(pv[90.0]),
                p99=int(pv[99.0]),
                p999=int(pv[99.9]),
                max=self._exact_max,
                min=self._exact_min,
                mean=self._sum / self._raw_count,
            )
        out["clamped"] = self._clamped
        out["expected_interval_ns"] = self.config.expected_interval_ns
        out["folds"] = self._folds
        out["fold_ns"] = self._fold_ns
        return out

    def __repr__(self) -> str:
        return (
            f"LatencyRecorder({self.name!r}, pending={self._n}, folded={self._raw_count}, mode={self.mode})"
        )


def _counts_index(h: HdrHistogram, values: np.ndarray) -> np.ndarray:
    """Vectorised ``HdrHistogram._counts_index_for``: the counts-array slot of every value (int64 array)."""
    v = values.astype(np.int64, copy=False)
    masked = v | np.int64(h.sub_bucket_mask)
    # bit_length(x) == frexp exponent for integers exactly representable in float64 (< 2**53 ns = 104 days)
    _, exp = np.frexp(masked.astype(np.float64))
    bucket = exp.astype(np.int64) - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    sub_bucket = v >> (bucket + h.unit_magnitude)
    return ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub_bucket - h.sub_bucket_half_count


def _backfill(values: np.ndarray, interval: int) -> np.ndarray:
    """HdrHistogram's expected-interval correction, vectorised: v, v-I, v-2I, ... while the previous > I."""
    k = np.maximum(np.int64(0), (values - 1) // interval)
    total = int(k.sum())
    if total == 0:
        return values
    if total > 100_000_000:
        raise LatencyValueError(
            f"coordinated-omission back-fill would add {total} samples (interval {interval} ns too small "
            f"for latencies up to {int(values.max())} ns)"
        )
    src = np.repeat(values, k)
    starts = np.repeat(np.cumsum(k) - k, k)
    step = np.arange(total, dtype=np.int64) - starts + 1
    return np.concatenate([values, src - step * interval])
