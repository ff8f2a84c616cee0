"""Page policy for the generator's fresh, file-sized arrays.

NumPy advises the kernel to back large allocations with transparent huge pages (``madvise(MADV_HUGEPAGE)``).
Where THP runs in ``madvise`` mode with ``defrag=madvise`` (this project's machines), every first touch of
such memory may compact memory synchronously to find a free 2 MiB page. The news generator touches about
1.2 GB of new arrays once each (4.6 M-event world): measured in fresh processes on a 2-core AMD EPYC (load
average ~5), ``cached_world`` took 3.8–3.9 s CPU with the advice and 2.8–3.0 s without it, same bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np

# NumPy's switch (``numpy._core.multiarray._set_madvise_hugepage``, returns the previous setting); None where
# this NumPy has no such switch, and then the policy is left alone
_switch: Callable[[bool], bool] | None = getattr(
    getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None
)


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """Within the block, NumPy does not ask for huge pages for new arrays (process-wide: arrays other threads
    allocate meanwhile are affected too, which changes their speed, never their content); the previous
    policy is restored on exit, also on an exception. A no-op where NumPy lacks the switch."""
    if _switch is None:  # pragma: no cover
        yield
        return
    before = _switch(False)
    try:
        yield
    finally:
        _switch(before)
