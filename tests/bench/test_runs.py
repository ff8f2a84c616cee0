"""cns.bench.runs: spread of a figure over repeated runs."""

import math

from cns.bench.runs import fmt_spread, spread


def test_spread_median_min_max_skips_missing() -> None:
    sp = spread([3.0, None, 1.0, math.nan, 2.0])
    assert sp == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": 3, "values": [3.0, 1.0, 2.0]}
    assert fmt_spread(sp, lambda x: f"{x:.0f}") == "2 (1–3, 3 runs)"
    assert fmt_spread(spread([5.0]), lambda x: f"{x:.0f}") == "5"
    assert spread([None])["runs"] == 0 and fmt_spread(spread([]), str) == "n/a"
