"""Engine kernels that do not depend on the compiled rules (the tick loop itself is generated)."""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.signals.clock import read_cycles

__all__ = ["counter_overhead"]


@njit(cache=True)
def counter_overhead(n: int) -> int:
    """Median cycles of an empty region timed by two cycle-counter reads (subtracted from handler samples)."""
    d = np.empty(n, dtype=np.int64)
    for i in range(n):
        t0 = read_cycles()
        d[i] = np.int64(read_cycles() - t0)
    return int(np.median(d))
