"""cns.telemetry — latency recording (raw ns buffer -> HDR histogram) and runtime event counters.

* :class:`LatencyRecorder` / :class:`LatencyConfig`: preallocated int64 ns buffer written by kernels and
  drivers, folded into an HDR histogram off the hot path; ``summary()`` gives p50/p99/p99.9/max.
  ``OPEN_LOOP`` recorders take latencies from the intended send time (coordinated-omission free).
* :class:`Counters`: a handler for :mod:`cns.runtime.telemetry` events (spawns, exits by reason, restarts,
  messages, mailbox high-water marks) with a JSON-ready ``snapshot()``.
"""

from cns.telemetry.counters import EVENTS, Counters
from cns.telemetry.errors import LatencyCapacityError, LatencyValueError, TelemetryError
from cns.telemetry.latency import CLOSED_LOOP, OPEN_LOOP, LatencyConfig, LatencyRecorder

__all__ = [
    "CLOSED_LOOP",
    "EVENTS",
    "OPEN_LOOP",
    "Counters",
    "LatencyCapacityError",
    "LatencyConfig",
    "LatencyRecorder",
    "LatencyValueError",
    "TelemetryError",
]
