"""Numba's on-disk cache keyed on more than the defining file.

Numba keys a cached kernel by the content of the file that defines it, not by the files of the helpers it
inlines or calls: an edit of a helper module would silently reuse stale machine code in every kernel module
that calls it. :func:`follow_sources` is called at the top of such a kernel module, before its first
``@njit``: a sidecar file in the cache directory remembers a digest of the given source files, and when it
differs the module's cached kernels are deleted (they recompile on first use). Best effort: an unwritable
cache is left alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

from numba import njit

__all__ = ["follow_sources"]


def follow_sources(dependent: str, sources: Iterable[Path], probe: Callable[[], int]) -> None:
    """Drop the cached kernels of the module file ``dependent`` when any of ``sources`` changed since they were
    cached. ``probe``: a trivial function defined in a module of ``dependent``'s directory (its Numba cache
    locator names the cache directory; it is never compiled)."""
    try:
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(sources))).hexdigest()
        cache_dir = Path(njit(cache=True)(probe)._cache._cache_path)
        stem = Path(dependent).stem
        sidecar = cache_dir / f"{stem}.deps-sha256"
        if sidecar.exists() and sidecar.read_text() == digest:
            return
        for f in cache_dir.glob(f"{stem}.*.nb[ic]"):
            f.unlink()
        cache_dir.mkdir(parents=True, exist_ok=True)
        sidecar.write_text(digest)
    except (OSError, AttributeError):
        pass
