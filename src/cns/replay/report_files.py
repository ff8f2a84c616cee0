"""The file mechanics of :func:`cns.replay.report.write_report`: the run directories under ``<out>/.report``,
the ``current`` symlink swap, the stable links in ``<out>``, pruning of dead writers' leftovers, fsync,
the ``flock`` around the swap and reading the run id back from a PNG."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: concurrent writers are not serialised (each set is still complete)
    fcntl = None  # type: ignore[assignment]

REPORT_AREA = ".report"  # inside the output directory: run directories, the ``current`` link, the lock
_OPTIONAL_FILES = ("rejects-wire.jsonl",)
MD_RUN_ID = re.compile(r" · run `([^`]+)`")


def run_dir_for(stage: Path) -> Path:
    """The run directory the staging dir ``tmp-<id>`` is renamed to: ``run-<id>`` beside it (path only)."""
    return stage.with_name("run-" + stage.name.removeprefix("tmp-"))


def prepare_swap(out: Path, area: Path, stage: Path) -> tuple[Path, set[str], Path]:
    """Everything before the swap (under the lock): return ``(run dir, its file names, new link to swap in)``.

    Order, so that the names in ``out`` never show a mixed set: rename the fsynced ``stage`` to ``run-…``;
    make the stable link of every file of the new set (they point through ``current``, so until the swap
    they show the previous set, or nothing for a name it lacks; ``report.json`` first, so a legacy
    regular-file set is never shown with a new ``report.json``; a legacy regular ``rejects-wire.jsonl`` is
    linked too, so it is gone once the new set shows); make the new ``current`` link beside the old.
    """
    run_dir = run_dir_for(stage)
    os.rename(stage, run_dir)
    fsync_path(area)
    present = {p.name for p in run_dir.iterdir()}
    # a legacy regular file of an optional name this run lacks becomes a link too (absent after the swap)
    linked = present | {n for n in _OPTIONAL_FILES if (out / n).is_file() and not (out / n).is_symlink()}
    for name in sorted(linked, key=lambda n: (n != "report.json", n)):
        _ensure_link(out / name, f"{REPORT_AREA}/current/{name}")
    fsync_path(out)
    tmp_link = area / f"current.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    os.symlink(run_dir.name, tmp_link)
    return run_dir, present, tmp_link


def tidy(out: Path, area: Path, present: set[str], keep: set[str]) -> None:
    """After the swap, best effort (never raises ``OSError``): make the swap durable, drop the links of
    optional files the new set lacks (already dangling, i.e. absent), remove run directories not in ``keep`` and staging leftovers of writers that are no longer alive."""
    try:
        fsync_path(area)
        for name in _OPTIONAL_FILES:
            p = out / name
            if name not in present and p.is_symlink():
                p.unlink()
        fsync_path(out)
        _prune(area, keep)
    except OSError:
        pass


def _ensure_link(path: Path, target: str) -> None:
    """Make ``path`` a symlink to ``target`` by one atomic rename (nothing to do when it already is)."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def link_target(path: Path) -> str | None:
    """The target of the symlink ``path``; None if it is missing, not a symlink or unreadable."""
    try:
        return os.readlink(path)
    except OSError:
        return None


def _prune(area: Path, keep: set[str]) -> None:
    """Remove run directories not in ``keep`` and staging dirs / temporary links of writers no longer alive."""
    for entry in area.iterdir():
        name = entry.name
        if name in keep or name in ("current", "lock"):
            continue
        if name.startswith("run-"):
            shutil.rmtree(entry, ignore_errors=True)
        elif name.startswith(("tmp-", "current.tmp-")):
            pid = (
                name.split("-")[1]
                if name.startswith("tmp-")
                else name.removeprefix("current.tmp-").split("-")[0]
            )
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                if entry.is_symlink() or entry.is_file():
                    entry.unlink(missing_ok=True)
                else:
                    shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mkdir_unique(parent: Path, prefix: str) -> Path:
    """A new directory ``parent/<prefix><UTC time>-<hex>`` (default permissions, unlike ``mkdtemp``'s 0700)."""
    while True:
        path = parent / f"{prefix}{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def fsync_path(path: Path) -> None:
    """fsync a file or directory (its data, or its entries), so a rename after it never publishes a hole."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the block; a no-op where flock is missing."""
    if fcntl is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def png_text(data: bytes) -> dict[str, str]:
    """The ``tEXt`` and uncompressed ``iTXt`` chunks of a PNG as ``{keyword: text}`` (empty if not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return {}
    out: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt":
            key, _, text = body.partition(b"\0")
            out[key.decode("latin-1")] = text.decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            if rest[:1] == b"\0":  # not compressed: flag, method, language\0, translated keyword\0, text
                _, _, rest = rest[2:].partition(b"\0")
                _, _, text = rest.partition(b"\0")
                out[key.decode("latin-1")] = text.decode("utf-8", errors="replace")
        elif kind == b"IEND":
            break
        pos += 12 + length
    return out
