"""Durable, append-only, memory-mapped journal of record batches; snapshots and event-sourced recovery;
deterministic client order ids; the operator SQL store. Format and contracts: ``docs/journal.md``."""

from __future__ import annotations

from cns.journal.dtypes import (
    CONFIG_DTYPE,
    CONTROL_DTYPE,
    ENTRY_DTYPE,
    MARKET_DATA_DTYPE,
    POSITION_DTYPE,
    TYPE_CANCEL,
    TYPE_CONFIG,
    TYPE_CONTROL,
    TYPE_EXEC,
    TYPE_MARKET_DATA,
    TYPE_NEWS,
    TYPE_ORDER,
    USER_TYPE_BASE,
    EntryType,
    TypeRegistry,
    default_registry,
)
from cns.journal.errors import JournalError
from cns.journal.reader import Entry, JournalReader, ReplayChunk
from cns.journal.writer import FsyncPolicy, JournalWriter

__all__ = [
    "CONFIG_DTYPE",
    "CONTROL_DTYPE",
    "ENTRY_DTYPE",
    "MARKET_DATA_DTYPE",
    "POSITION_DTYPE",
    "TYPE_CANCEL",
    "TYPE_CONFIG",
    "TYPE_CONTROL",
    "TYPE_EXEC",
    "TYPE_MARKET_DATA",
    "TYPE_NEWS",
    "TYPE_ORDER",
    "USER_TYPE_BASE",
    "Entry",
    "EntryType",
    "FsyncPolicy",
    "JournalError",
    "JournalReader",
    "JournalWriter",
    "ReplayChunk",
    "TypeRegistry",
    "default_registry",
]
