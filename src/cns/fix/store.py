"""Session stores: the sequence numbers and the outbound messages of a FIX session, kept across restarts.

A :class:`SessionStore` is a small interface (the journal of the durability work will implement it and
replace :class:`FileSessionStore`):

- ``next_sender_seq`` / ``next_target_seq``: the MsgSeqNum of our next outbound message and the one we expect
  next from the counterparty.
- ``save(seq, data, ends)``: persist outbound messages numbered ``seq, seq+1, ...`` (one message when
  ``ends`` is None, else ``data[prev_end:ends[i]]`` is message ``i``) *before* they are written to the socket,
  and advance ``next_sender_seq`` past them.
- ``set_next_target_seq(n)`` / ``set_next_sender_seq(n)`` (a SequenceReset or a skipped number),
  ``get(begin, end)`` (stored messages in a range, for a ResendRequest), ``reset()`` (both numbers back to 1,
  messages dropped: ResetSeqNumFlag), ``checkpoint()`` (a moment to make everything durable: Logon,
  disconnect), ``close()``.

:class:`FileSessionStore` durability contract (``fsync=True``, the default):

- ``<dir>/<name>.body`` is an append-only journal of records ``kind (u16) | reserved (u16) | seq (u64) |
  length (u32) | crc32 (u32)`` + payload: kind 1 an outbound application message (``seq`` its MsgSeqNum,
  the payload the message), kind 2 "next sender seq is ``seq``" (a session message went out, or numbers
  were skipped), kind 3 "next target seq is ``seq``" (an inbound message was accepted), kind 4 "next target
  seq rewound to ``seq``" (:meth:`FileSessionStore.rewind_target`: replay sets the number back to ``seq``,
  kind-3 records before it no longer count). Records of kinds 1
  and 2 are written with one ``write`` and fsynced before the call returns, so every outbound message
  -- and its sequence number -- is on disk before its first byte reaches the socket (one fsync per outbound
  batch: group commit). Kind 3 records are written without fsync (see below). On open the journal is
  replayed; a torn or corrupt tail record (a crash inside a write) is cut off.
- ``<dir>/<name>.seqnums`` holds ``next_sender_seq next_target_seq`` as a checkpoint. It is replaced
  atomically: written to ``.seqnums.tmp``, fsynced, then replaced (``os.replace``) over the old one (readers see the
  old or the new file, never a torn one). It is written by :meth:`FileSessionStore.checkpoint` (the session
  calls it at every Logon and disconnect), by ``reset`` and by ``close``; between checkpoints the journal
  is the newer source. Rewriting a file per message would cost milliseconds per order on an ordinary disk.
- On open, each number is the larger of the seq file's and the journal's (for ``next_target_seq``: the
  journal's after its last kind-4 record; a rewind writes the seq file first, then its fsynced record, so a
  crash leaves the rewind done or not done, never half): a crash at any point never
  reuses an outbound sequence number. ``next_target_seq`` can be behind by the messages received since the
  last fsync (an OS crash; a process crash loses nothing): the counterparty's next message is then "too
  high", we send a ResendRequest and its resent messages come back with PossDupFlag=Y (at-least-once; the
  application de-duplicates by ExecID/ClOrdID).
- ``<dir>/<name>.lock`` is locked (``flock``) while the store is open: a second process opening the same session
  store gets :class:`~cns.fix.errors.FixStoreError`. In the same process, opening a store whose previous
  owner did not close it (a killed session restarted by its supervisor) closes the old handle first.
- The journal grows with the outbound messages of the session (they must stay resendable) and is emptied by
  ``reset`` (a sequence reset); it is read into memory once at open.

``fsync=False`` keeps the same files without the fsyncs (tests, benchmarks): an OS crash can lose the tail.
File names use the session *name* from the config, never the CompIDs.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from cns.fix.errors import FixConfigError, FixStoreError

__all__ = ["FileSessionStore", "MemorySessionStore", "SessionStore"]

_REC = struct.Struct("<HHQII")  # kind, reserved, seq, length, crc32 (of kind, seq and payload)
K_MSG, K_SENDER, K_TARGET, K_REWIND = 1, 2, 3, 4
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")


@runtime_checkable
class SessionStore(Protocol):
    """What a FIX session needs from persistence (see the module doc)."""

    @property
    def next_sender_seq(self) -> int:
        """MsgSeqNum (34) of our next outbound message; starts at 1."""

    @property
    def next_target_seq(self) -> int:
        """MsgSeqNum we expect next from the counterparty; starts at 1."""

    def save(self, seq: int, data: bytes | memoryview, ends: np.ndarray | None = None) -> None:
        """Persist outbound messages numbered ``seq, seq+1, ...`` (``ends``: exclusive end offsets, one per message;
        None = one message) before they hit the socket; advance ``next_sender_seq`` past them."""

    def set_next_sender_seq(self, n: int) -> None:
        """Set the next outbound MsgSeqNum to ``n`` (a session message went out, or numbers were skipped)."""

    def set_next_target_seq(self, n: int) -> None:
        """Set the next expected inbound MsgSeqNum to ``n`` (an inbound message was accepted, or a SequenceReset)."""

    def get(self, begin: int, end: int) -> Iterator[tuple[int, bytes]]:
        """Yield ``(seq, message)`` for stored outbound messages with ``begin <= seq <= end`` in order (for a
        ResendRequest); numbers never stored (session messages) are skipped."""

    def reset(self) -> None:
        """Both sequence numbers back to 1 and every stored message dropped (ResetSeqNumFlag=Y)."""

    def checkpoint(self) -> None:
        """Make everything durable now (the session calls it at Logon and disconnect)."""

    def close(self) -> None:
        """Checkpoint and release the store; later ``get`` calls may raise FixStoreError."""


def _split(seq: int, data: bytes | memoryview, ends: np.ndarray | None) -> Iterator[tuple[int, memoryview]]:
    mv = memoryview(data)
    if ends is None:
        yield seq, mv
        return
    prev = 0
    for i in range(ends.shape[0]):
        e = int(ends[i])
        yield seq + i, mv[prev:e]
        prev = e


class MemorySessionStore:
    """In-memory store (tests, benchmarks). Survives a session restart only if the same instance is handed
    to the new session (pass a factory returning it)."""

    def __init__(self) -> None:
        self._sender = 1
        self._target = 1
        self._msgs: dict[int, bytes] = {}
        self.closed = False

    @property
    def next_sender_seq(self) -> int:
        """MsgSeqNum of our next outbound message."""
        return self._sender

    @property
    def next_target_seq(self) -> int:
        """MsgSeqNum we expect next from the counterparty."""
        return self._target

    def save(self, seq: int, data: bytes | memoryview, ends: np.ndarray | None = None) -> None:
        """Keep outbound messages ``seq, seq+1, ...`` in memory (see SessionStore.save); lost on process exit."""
        last = seq - 1
        for s, m in _split(seq, data, ends):
            self._msgs[s] = bytes(m)
            last = s
        self._sender = max(self._sender, last + 1)

    def set_next_sender_seq(self, n: int) -> None:
        """Set the next outbound MsgSeqNum to ``n``."""
        self._sender = int(n)

    def set_next_target_seq(self, n: int) -> None:
        """Set the next expected inbound MsgSeqNum to ``n``."""
        self._target = int(n)

    def get(self, begin: int, end: int) -> Iterator[tuple[int, bytes]]:
        """Yield ``(seq, message)`` for stored messages in ``begin..end`` (inclusive), skipping gaps."""
        for s in range(begin, end + 1):
            m = self._msgs.get(s)
            if m is not None:
                yield s, m

    def rewind_target(self, n: int) -> bool:
        """Set ``next_target_seq`` back to ``n`` when it is lower (True), else a no-op (False); see
        :meth:`FileSessionStore.rewind_target`."""
        n = _rewind_arg(n)
        if n >= self._target:
            return False
        self._target = n
        return True

    def reset(self) -> None:
        """Both numbers back to 1 and every stored message dropped."""
        self._sender = self._target = 1
        self._msgs.clear()

    def checkpoint(self) -> None:
        """No-op: nothing here is durable."""
        pass

    def close(self) -> None:
        """Mark the store closed (messages stay readable)."""
        self.closed = True


_OPEN: dict[str, FileSessionStore] = {}  # path of the lock file -> the store holding it in this process


class FileSessionStore:
    """The file store (see the module doc for the files and the durability contract). ``directory`` is
    created (mode 0700) if missing; ``name``: the session's name (``[A-Za-z0-9_.-]{1,64}``)."""

    def __init__(self, directory: str | os.PathLike[str], name: str, *, fsync: bool = True) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise FixConfigError("store name must match [A-Za-z0-9_.-]{1,64}")
        d = Path(directory)
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise FixStoreError(f"cannot create the session store directory: {e}") from None
        self.fsync = bool(fsync)
        self._seq_path = d / f"{name}.seqnums"
        self._body_path = d / f"{name}.body"
        lock_path = str(d / f"{name}.lock")
        old = _OPEN.get(lock_path)
        if old is not None:
            old.close()
        self._lock_fd = -1
        self._fd = -1
        try:
            self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise FixStoreError(f"session store {name!r} is open in another process") from None
        except OSError as e:
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
            raise FixStoreError(f"cannot lock session store {name!r}: {e}") from None
        _OPEN[lock_path] = self
        self._lock_path = lock_path
        self._index: dict[int, tuple[int, int]] = {}  # seq -> (offset of the message, length)
        try:
            self._sender, self._target = self._read_seqnums()
            self._fd = os.open(self._body_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            self._load_body()
        except OSError as e:
            self.close()
            raise FixStoreError(f"cannot open session store {name!r}: {e}") from None
        except FixStoreError:
            self.close()
            raise
        if self.fsync:
            _fsync_dir(d)

    # ------------------------------------------------------------------ files
    def _read_seqnums(self) -> tuple[int, int]:
        try:
            text = self._seq_path.read_text("ascii")
        except FileNotFoundError:
            return 1, 1
        except (OSError, UnicodeDecodeError) as e:
            raise FixStoreError(f"unreadable seq file: {e}") from None
        parts = text.split()
        if len(parts) != 2 or not all(p.isdigit() and 1 <= int(p) < 1 << 62 for p in parts):
            raise FixStoreError("corrupt seq file (expected two sequence numbers >= 1)")
        return int(parts[0]), int(parts[1])

    def _write_seqnums(self) -> None:
        tmp = self._seq_path.with_suffix(".seqnums.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"%d %d\n" % (self._sender, self._target))
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._seq_path)

    def _load_body(self) -> None:
        """Replay the journal (index the messages, apply the sequence records); cut a torn/corrupt tail."""
        with open(self._body_path, "rb") as f:
            data = f.read()
        size = len(data)
        off = good = 0
        sender = target = 0
        while off + _REC.size <= size:
            kind, _, seq, ln, crc = _REC.unpack_from(data, off)
            start = off + _REC.size
            if start + ln > size or seq == 0 or kind not in (K_MSG, K_SENDER, K_TARGET, K_REWIND):
                break
            payload = data[start : start + ln]
            if _crc(kind, seq, payload) != crc:
                break
            if kind == K_MSG:
                self._index[seq] = (start, ln)
                sender = max(sender, seq + 1)
            elif kind == K_SENDER:
                sender = max(sender, seq)
            elif kind == K_REWIND:
                target = seq
            else:
                target = max(target, seq)
            off = good = start + ln
        if good != size:
            os.ftruncate(self._fd, good)
            if self.fsync:
                os.fsync(self._fd)
        self._end = good
        self._sender = max(self._sender, sender)
        self._target = max(self._target, target)

    def _append(self, records: list[tuple[int, int, bytes]], sync: bool) -> list[int]:
        """Append ``(kind, seq, payload)`` records with one write (and an fsync when ``sync`` and the store
        syncs); returns the payload offsets."""
        if self._fd < 0:
            raise FixStoreError("session store is closed")
        chunks = []
        offs = []
        off = self._end
        for kind, seq, payload in records:
            chunks.append(_REC.pack(kind, 0, seq, len(payload), _crc(kind, seq, payload)))
            chunks.append(payload)
            off += _REC.size
            offs.append(off)
            off += len(payload)
        blob = b"".join(chunks)
        try:
            n = os.write(self._fd, blob)
            while n < len(blob):  # pragma: no cover - short writes on regular files are rare
                n += os.write(self._fd, blob[n:])
            if sync and self.fsync:
                os.fsync(self._fd)
        except OSError as e:
            raise FixStoreError(f"cannot write the session journal: {e}") from None
        self._end = off
        return offs

    # ------------------------------------------------------------------ SessionStore
    @property
    def next_sender_seq(self) -> int:
        """MsgSeqNum of our next outbound message (never reused across restarts)."""
        return self._sender

    @property
    def next_target_seq(self) -> int:
        """MsgSeqNum we expect next from the counterparty."""
        return self._target

    def save(self, seq: int, data: bytes | memoryview, ends: np.ndarray | None = None) -> None:
        """Journal outbound messages ``seq, seq+1, ...`` (see SessionStore.save) with one write and, with
        ``fsync``, one fsync before returning; raises FixStoreError on an I/O failure.
        """
        recs = [(K_MSG, s, bytes(m)) for s, m in _split(seq, data, ends)]
        if not recs:
            return
        offs = self._append(recs, True)
        for (_, s, m), o in zip(recs, offs, strict=True):
            self._index[s] = (o, len(m))
        self._sender = max(self._sender, recs[-1][1] + 1)

    def set_next_sender_seq(self, n: int) -> None:
        """Journal and fsync "next sender seq is ``n``"; raises FixStoreError on an I/O failure."""
        self._append([(K_SENDER, int(n), b"")], True)
        self._sender = int(n)

    def set_next_target_seq(self, n: int) -> None:
        """Journal "next target seq is ``n``" (no fsync: see the module doc); a no-op when unchanged."""
        if n != self._target:
            self._append([(K_TARGET, int(n), b"")], False)
            self._target = int(n)

    def rewind_target(self, n: int) -> bool:
        """Set ``next_target_seq`` back to ``n`` (``1 <= n``), durably, so the counterparty is asked to resend
        from ``n`` at the next Logon (recovery: inbound messages consumed but never applied downstream). A
        no-op returning False when ``n >= next_target_seq``; True once rewound. The seq file is written
        first, then an fsynced kind-4 record: a crash leaves the rewind done or not done. Raises
        :class:`~cns.fix.errors.FixStoreError` for ``n < 1`` or an I/O failure."""
        n = _rewind_arg(n)
        if n >= self._target:
            return False
        if self._fd < 0:
            raise FixStoreError("session store is closed")
        self._target = n
        try:
            self._write_seqnums()
        except OSError as e:
            raise FixStoreError(f"cannot write the seq file: {e}") from None
        self._append([(K_REWIND, n, b"")], True)
        return True

    def checkpoint(self) -> None:
        """Write the seq file (atomic rename); the session calls it at Logon and disconnect."""
        if self._fd < 0:
            return
        try:
            if self.fsync:
                os.fsync(self._fd)
            self._write_seqnums()
        except OSError as e:
            raise FixStoreError(f"cannot write the seq file: {e}") from None

    def get(self, begin: int, end: int) -> Iterator[tuple[int, bytes]]:
        """Yield ``(seq, message)`` for stored outbound messages in ``begin..end`` (inclusive) in order; raises
        FixStoreError once closed.
        """
        if self._fd < 0:
            raise FixStoreError("session store is closed")
        idx = self._index
        if end - begin > len(idx):  # a wide range over a small journal: walk the index, not the range
            seqs: Iterator[int] = iter(sorted(s for s in idx if begin <= s <= end))
        else:
            seqs = iter(range(max(1, begin), end + 1))
        for s in seqs:
            loc = idx.get(s)
            if loc is not None:
                yield s, os.pread(self._fd, loc[1], loc[0])

    def reset(self) -> None:
        """Empty the journal, both numbers back to 1, checkpoint; raises FixStoreError if the journal cannot be cut."""
        try:
            os.ftruncate(self._fd, 0)
            if self.fsync:
                os.fsync(self._fd)
        except OSError as e:
            raise FixStoreError(f"cannot reset the session journal: {e}") from None
        self._index.clear()
        self._end = 0
        self._sender = self._target = 1
        self.checkpoint()

    def close(self) -> None:
        """Checkpoint, close the journal and release the lock; idempotent."""
        if self._fd >= 0:
            try:
                self.checkpoint()
            except FixStoreError:  # pragma: no cover - the journal still holds the numbers
                pass
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1
            if _OPEN.get(self._lock_path) is self:
                del _OPEN[self._lock_path]

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._fd < 0

    def __repr__(self) -> str:
        return f"FileSessionStore(next_sender_seq={self._sender}, next_target_seq={self._target})"


def _rewind_arg(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) < 1 << 62:
        raise FixStoreError(f"rewind_target: expected a sequence number >= 1, got {n!r}")
    return int(n)


def _crc(kind: int, seq: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(b"%d:%d:" % (kind, seq)))


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on a directory
        pass
    finally:
        os.close(fd)
