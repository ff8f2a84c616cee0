"""Crash-safe files: atomic replacement (temp file + fsync + rename) and checksummed cache manifests.

A file written through :func:`atomic_writer` is either the complete new content or the old file (or absent):
a crash, a full disk or an exception mid-write leaves no partial file under the final name and no temp file
behind. A cache entry made of several files is committed by :func:`write_manifest` (written last) and checked
by :func:`verify_manifest` (sizes and CRC-32 of every file) before anything is mapped, so a truncated or
corrupted entry is detected and can be regenerated instead of failing every later run.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from cns.news.errors import NewsFormatError

__all__ = ["atomic_writer", "file_crc32", "verify_manifest", "write_manifest"]

MANIFEST_FORMAT = "cns-cache-manifest"
MANIFEST_VERSION = 1
_CHUNK = 1 << 24  # bytes hashed per read


def _fsync_dir(d: Path) -> None:
    """Persist a rename in ``d`` (best effort: some filesystems cannot fsync a directory)."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | Path, *, durable: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file handle whose content replaces ``path`` atomically when the block ends cleanly.

    The data goes to a temp file next to ``path`` (``.<name>.<pid>.<random>.tmp``, created with the usual
    umask-derived mode), which is flushed, fsync'ed and renamed over ``path``; then the directory is fsync'ed.
    If the block (or the flush/fsync/rename) raises, the temp file is removed, ``path`` is left as it was and
    the exception propagates. ``durable=False`` skips both fsyncs (readers never see a partial file, but a
    power loss may lose it): for cache entries that a manifest (:func:`write_manifest`) checks on every load.
    """
    p = Path(path)
    d = p.parent if str(p.parent) else Path(".")
    tmp = d / f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(d)


def file_crc32(path: str | Path) -> int:
    """CRC-32 (zlib) of the whole file, read in 16 MiB chunks (~6 GB/s: a checksum, not a signature)."""
    crc = 0
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while True:
            n = fh.readinto(buf)
            if not n:
                return crc
            crc = zlib.crc32(view[:n], crc)


def write_manifest(path: str | Path, files: Sequence[Path], meta: dict[str, Any] | None = None) -> None:
    """Commit a cache entry: record size and CRC-32 of every file in ``files`` (same directory as ``path``)
    plus ``meta`` (JSON-able), atomically. Write it after every file of the entry is in place."""
    entries = {f.name: {"size": f.stat().st_size, "crc32": file_crc32(f)} for f in files}
    doc = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "files": entries, "meta": meta or {}}
    with atomic_writer(path) as fh:
        fh.write(msgspec.json.encode(doc))


def verify_manifest(path: str | Path, files: Sequence[Path]) -> dict[str, Any]:
    """Check a cache entry committed by :func:`write_manifest`; returns its ``meta``.

    Raises :class:`NewsFormatError` naming the first problem: manifest missing or not a manifest, a file of
    ``files`` missing, not listed, of another size or another CRC-32. Reads every file once.
    """
    p = Path(path)
    try:
        doc = msgspec.json.decode(p.read_bytes())
    except FileNotFoundError:
        raise NewsFormatError(f"{p}: cache manifest missing") from None
    except (OSError, msgspec.DecodeError, RecursionError) as exc:
        raise NewsFormatError(f"{p}: unreadable cache manifest ({exc})") from None
    if not (
        isinstance(doc, dict)
        and doc.get("format") == MANIFEST_FORMAT
        and doc.get("version") == MANIFEST_VERSION
        and isinstance(doc.get("files"), dict)
    ):
        raise NewsFormatError(f"{p}: not a version-{MANIFEST_VERSION} cache manifest")
    entries: dict[str, Any] = doc["files"]
    for f in files:
        e = entries.get(f.name)
        if not isinstance(e, dict):
            raise NewsFormatError(f"{p}: {f.name} is not part of this cache entry")
        try:
            size = f.stat().st_size
        except OSError as exc:
            raise NewsFormatError(f"{f}: cache file unreadable ({exc.strerror or exc})") from None
        if size != e.get("size"):
            raise NewsFormatError(f"{f}: {size} bytes, the cache manifest says {e.get('size')} (truncated?)")
        if file_crc32(f) != e.get("crc32"):
            raise NewsFormatError(f"{f}: checksum mismatch (corrupted cache file)")
    meta = doc.get("meta")
    return meta if isinstance(meta, dict) else {}
