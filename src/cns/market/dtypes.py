"""Records of the simulated world's hidden truth, shared by the news generator and the price simulator.

A *story* is one real-world event (or a false rumor) that several sources report. The price simulator moves
``instrument`` by ``impact_pct`` percent ``impact_delay_ns`` after ``first_report_ns``; false stories
(``is_true == 0``) carry ``impact_pct == 0`` and move nothing.
"""

from __future__ import annotations

import numpy as np

STORY_DTYPE = np.dtype(
    [
        ("story_id", np.uint64),  # dense 0..n-1 within one generated world
        ("instrument", np.uint32),  # ticker dictionary code (cns.signals.universe.ticker_dictionary)
        ("kind", np.uint8),  # cns.signals.dtypes.KIND_*
        ("first_report_ns", np.int64),  # ns since epoch: receive time of the first report
        ("impact_pct", np.float64),  # the hidden TRUE price move, percent (-3.0 = down 3 %)
        ("impact_delay_ns", np.int64),  # the price moves this long after first_report_ns, ns
        ("is_true", np.uint8),  # 1 = real event, 0 = false rumor (impact_pct == 0)
    ],
    align=True,
)

__all__ = ["STORY_DTYPE"]
