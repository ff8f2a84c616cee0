"""The replay's warm-up world: the run's own data and configuration cut down to its first seconds, so a
warm-up pass loads (or, on a first run, compiles) every kernel the replay calls without simulating the whole
market.

Numba selects a compiled kernel by the *types* of its arguments (dtype, dimensions, layout, read-only flag),
never by their sizes. The cut keeps every array's type — a record slice of a C-contiguous table is still
C-contiguous, a boolean selection is a fresh C-contiguous copy of the same dtype — so the kernels the
warm-up loads are exactly those the full run then calls. What the cut removes is *work*: the market maker,
competitors and informed flow of the exchange simulator run over ``end_ns - start_ns`` of simulated time and
over every public report, which for the default world (300 s, 4.6 M events) is seconds of simulation that a
warm-up does not need.

:func:`warm_world` returns the cut-down :class:`~cns.replay.driver.Prepared`; the driver feeds its first
records through a fresh ingest and trades them once, as before (see :func:`cns.replay.driver.warm_up`).
Nothing here changes what the real run trades: the warm-up's state is thrown away.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cns.replay.driver import Prepared

__all__ = ["WARM_RECORDS", "WARM_SPAN_NS", "warm_records", "warm_span_ns", "warm_world"]

WARM_RECORDS = (
    4096  # wire records the warm-up ingests (as before the cut: every ingest and desk path sees data)
)
WARM_SPAN_NS = 2_000_000_000  # simulated ns the warm-up desk trades past its exits (two 1 s P&L snapshots)


def warm_records(prep: Prepared, limit: int = WARM_RECORDS) -> int:
    """How many wire records the warm-up ingests: ``min(limit, records in the file)`` (``limit`` >= 1)."""
    return max(0, min(int(prep.news.layout.n_records), max(1, int(limit))))


def warm_span_ns(prep: Prepared) -> int:
    """The simulated span the warm-up trades, ns: the desk's holding period (``signal.hold_ns``, so its
    exits fall due and the exit kernels run) plus :data:`WARM_SPAN_NS`."""
    return int(prep.cfg.signal.hold_ns) + WARM_SPAN_NS


def warm_world(prep: Prepared, span_ns: int | None = None) -> Prepared:
    """``prep`` with its desk's market cut to ``[start_ns, start_ns + span_ns]`` (default
    :func:`warm_span_ns`): the end of the trading span, the public reports and the hidden stories after it
    are dropped (``span_ns`` > 0, in ns, else ``ValueError``; the cut never extends the run's own end).
    Everything else — config, latency model, news image, credibility tables, validator — is shared with
    ``prep``, so the warm-up loads the same kernels."""
    span_ns = warm_span_ns(prep) if span_ns is None else int(span_ns)
    if span_ns <= 0:
        raise ValueError(f"span_ns must be > 0 ns, got {span_ns}")
    desk = prep.desk_cfg
    end = min(desk.end_ns, desk.start_ns + int(span_ns))
    reports = desk.reports
    if reports is not None and len(reports):
        reports = _same_type(reports[reports["t_ns"] <= end], reports)
    stories = desk.stories
    if len(stories):
        stories = stories[stories["first_report_ns"] <= end]
    cut = dataclasses.replace(desk, end_ns=end, reports=reports, stories=_same_type(stories, desk.stories))
    return dataclasses.replace(prep, desk_cfg=cut)


def _same_type(cut: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``cut`` with the write flag of ``like`` (Numba types read-only arrays apart from writable ones)."""
    if not like.flags.writeable and cut.flags.writeable:
        cut = cut.view()
        cut.flags.writeable = False
    return cut
