"""The one place CNS keeps caches on disk: ``$CNS_CACHE_DIR``, else ``~/.cache/cns``.

Compiled kernel artifacts (``kernels/``), generated replay data (``data/``) and derived tables live under
this root. Kernel artifacts are *code* that CNS executes, so every directory made here is created mode 0700
and a directory that someone other than its owner can write is refused (:class:`CacheDirError`), as is one
owned by another user.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cns.errors import CNSError

__all__ = ["CacheDirError", "cache_root", "private_dir"]


class CacheDirError(CNSError):
    """A cache directory is unsafe (group/other-writable, owned by another user) or cannot be created."""


def cache_root() -> Path:
    """``$CNS_CACHE_DIR`` when set and non-empty, else ``~/.cache/cns`` (not created here)."""
    env = os.environ.get("CNS_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cns"


def private_dir(*parts: str, root: Path | None = None) -> Path:
    """``root/parts...`` (``root`` defaults to :func:`cache_root`), created 0700 where missing, checked safe.

    Every existing component from ``root`` down must be owned by this user (or root) and not writable by
    group or others; otherwise :class:`CacheDirError` names the directory and what is wrong with it.
    """
    base = (root if root is not None else cache_root()).expanduser()
    path = base.joinpath(*parts)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise CacheDirError(f"cannot create cache directory {path}: {e.strerror or e}") from None
    for d in [base, *(base.joinpath(*parts[: i + 1]) for i in range(len(parts)))]:
        _check_safe(d)
    return path


def _check_safe(d: Path) -> None:
    st = d.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise CacheDirError(f"cache path {d} is not a directory")
    uid = os.getuid()
    if st.st_uid not in (uid, 0):
        raise CacheDirError(f"cache directory {d} is owned by uid {st.st_uid}, not by this user ({uid})")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheDirError(
            f"cache directory {d} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"cached kernels are executed, so CNS refuses it (chmod go-w {d})"
        )
