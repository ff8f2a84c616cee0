"""The journal's exception root and its refusals.

Every deliberate refusal of :mod:`cns.journal` derives from :class:`JournalError` (itself a
:class:`cns.errors.CNSError`), so ``except JournalError`` catches all of them and nothing else. A torn tail
found on open is *not* an error: it is truncated and reported (:class:`cns.journal.segments.TailRepair`).
"""

from __future__ import annotations

from cns.errors import CNSError

__all__ = [
    "JournalClosedError",
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalRangeError",
    "JournalSchemaError",
    "JournalTypeError",
    "SnapshotError",
    "StoreError",
]


class JournalError(CNSError):
    """Root of every error the journal, its snapshots and the operator store raise on purpose."""


class JournalLockedError(JournalError):
    """Another writer holds the journal directory (one writer per directory)."""


class JournalClosedError(JournalError):
    """The writer or reader was used after :meth:`close`."""


class JournalTypeError(JournalError):
    """An entry type that is not registered, or a batch whose dtype is not the type's registered dtype."""


class JournalSchemaError(JournalError):
    """The directory's ``schema.json`` disagrees with the registry (same type code, different dtype), or is
    unreadable."""


class JournalCorruptError(JournalError):
    """Damage that is not a torn tail: a bad segment header before the last segment, a segment that ends
    without an end marker while a later one exists, an index gap between segments."""


class JournalRangeError(JournalError):
    """A read from an index the journal does not hold (before its first entry or past its end + 1)."""


class SnapshotError(JournalError):
    """A snapshot that cannot be written, or recovery that finds no usable starting point."""


class StoreError(JournalError):
    """The operator store refused: a bad URL, a missing driver (psycopg), a batch of the wrong dtype."""
