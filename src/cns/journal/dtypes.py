"""Entry types of the journal and the registry that maps each type code to the NumPy dtype of its records.

A journal entry is a batch of records of one dtype. The type code (``u16`` in the frame header) names the
dtype; :class:`TypeRegistry` holds the mapping, and every journal directory stores it in ``schema.json`` so
that tools (``cns journal inspect|tail|export``) read a journal without importing the code that wrote it.
The same code must always mean the same dtype in one directory: a writer whose registry disagrees with the
directory's schema is refused (:class:`~cns.journal.errors.JournalSchemaError`).

CNS's own types (:func:`default_registry`) use codes 1..7; codes from :data:`USER_TYPE_BASE` up are free for
callers. The ``TYPE_*`` constants are plain ints so kernels can compare them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cns.journal.errors import JournalSchemaError, JournalTypeError

__all__ = [
    "CONFIG_DTYPE",
    "CONTROL_DTYPE",
    "ENTRY_DTYPE",
    "MARKET_DATA_DTYPE",
    "MAX_TYPE",
    "POSITION_DTYPE",
    "TYPE_CANCEL",
    "TYPE_CONFIG",
    "TYPE_CONTROL",
    "TYPE_EXEC",
    "TYPE_MARKET_DATA",
    "TYPE_NEWS",
    "TYPE_ORDER",
    "USER_TYPE_BASE",
    "EntryType",
    "TypeRegistry",
    "default_registry",
    "dtype_from_json",
    "dtype_to_json",
]

TYPE_NEWS = 1  # NEWS_DTYPE records as parsed, the headline blob after them
TYPE_MARKET_DATA = 2  # MARKET_DATA_DTYPE (top of book / last trade), as the gateway publishes it
TYPE_EXEC = 3  # EXEC_DTYPE: execution reports (acks, fills, cancels, rejects)
TYPE_CONTROL = 4  # CONTROL_DTYPE: operator / supervisor commands
TYPE_CONFIG = 5  # CONFIG_DTYPE: the config and rules version in force from this entry on
TYPE_ORDER = 6  # ORDER_DTYPE: orders sent
TYPE_CANCEL = 7  # ORDER_DTYPE (type ORDER_CANCEL): cancels sent
USER_TYPE_BASE = 1000
MAX_TYPE = 0xFFFF

# one row per entry, as the reader's scan kernel reports it
ENTRY_DTYPE = np.dtype(
    [
        ("index", "<u8"),  # journal index
        ("ts_ns", "<i8"),  # ns since the Unix epoch (writer's clock or the caller's)
        ("type", "<u2"),  # TYPE_* code
        ("flags", "<u2"),  # reserved, 0
        ("count", "<u4"),  # records in the entry
        ("segment", "<u4"),  # ordinal of the segment in the reader's list
        ("frame_len", "<u4"),  # header + payload bytes, unpadded
        ("offset", "<u8"),  # byte offset of the frame in its segment
        ("rec_start", "<u8"),  # first record of this entry in ReplayChunk.records(type)
    ]
)

CONTROL_DTYPE = np.dtype(
    [
        ("ts_ns", "<i8"),  # when the command was issued, ns since the epoch
        ("command", "<u4"),  # caller-defined command code (e.g. halt, resume, flatten)
        ("shard", "<u4"),  # target shard (0 = all)
        ("arg0", "<i8"),  # command arguments, meaning per command
        ("arg1", "<i8"),
        ("operator", "<u4"),  # dictionary code of who issued it (0 = the system)
        ("reserved", "<u4"),
    ]
)

CONFIG_DTYPE = np.dtype(
    [
        ("ts_ns", "<i8"),  # when it took effect
        ("version", "<u8"),  # monotonically increasing config version
        ("rules_version", "<u8"),  # rules (SHACL kernel artifact) version
        ("config_sha256", "u1", (32,)),  # digest of the config file bytes
        ("rules_sha256", "u1", (32,)),  # digest of the rules artifact
    ]
)

# The layout of cns.gateway.marketdata.TOB_DTYPE (copied so that importing the journal does not import the
# gateway; tests/journal/test_dtypes.py asserts the two stay equal).
MARKET_DATA_DTYPE = np.dtype(
    [
        ("seq", "<u8"),
        ("ts_ns", "<i8"),
        ("instrument", "<u4"),
        ("flags", "<u4"),
        ("bid_px", "<f8"),
        ("bid_qty", "<i8"),
        ("ask_px", "<f8"),
        ("ask_qty", "<i8"),
        ("last_px", "<f8"),
        ("last_qty", "<i8"),
    ]
)

# positions as the operator store and the worked example (cns.journal.example) keep them
POSITION_DTYPE = np.dtype(
    [
        ("owner", "<u4"),  # trader id (0 = CNS)
        ("instrument", "<u4"),  # ticker dictionary code
        ("qty", "<i8"),  # signed shares (long > 0)
        ("cash", "<f8"),  # USD: signed cash flow of the fills (sells +, buys -), fees included
        ("fees", "<f8"),  # USD paid (rebates negative)
        ("fills", "<i8"),  # fills applied
        ("ts_ns", "<i8"),  # time of the last fill applied
    ]
)


# ------------------------------------------------------------------------------------------ dtype <-> JSON
def _fmt_to_json(dt: np.dtype) -> Any:
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return {"base": _fmt_to_json(base), "shape": list(shape)}
    if dt.names is not None:
        return dtype_to_json(dt)
    if dt.hasobject:
        raise JournalTypeError(f"dtype {dt} holds Python objects; a journal stores raw bytes only")
    return dt.str


def dtype_to_json(dt: np.dtype) -> dict[str, Any]:
    """A JSON-able description of ``dt`` that :func:`dtype_from_json` turns back into an identical layout
    (names, formats, offsets, itemsize; nested structs and subarrays allowed; object fields refused)."""
    dt = np.dtype(dt)
    if dt.names is None or dt.fields is None:
        return {"scalar": _fmt_to_json(dt)}
    return {
        "names": list(dt.names),
        "formats": [_fmt_to_json(dt.fields[n][0]) for n in dt.names],
        "offsets": [int(dt.fields[n][1]) for n in dt.names],
        "itemsize": int(dt.itemsize),
    }


def _fmt_from_json(x: Any) -> Any:
    if isinstance(x, str):
        return np.dtype(x)
    if isinstance(x, dict) and "base" in x:
        return (_fmt_from_json(x["base"]), tuple(int(s) for s in x["shape"]))
    if isinstance(x, dict):
        return dtype_from_json(x)
    raise JournalSchemaError(f"unreadable dtype format {x!r}")


def dtype_from_json(d: Mapping[str, Any]) -> np.dtype:
    """The dtype :func:`dtype_to_json` described. Raises :class:`JournalSchemaError` when it is malformed."""
    try:
        if "scalar" in d:
            out: np.dtype = np.dtype(_fmt_from_json(d["scalar"]))
            return out
        return np.dtype(
            {
                "names": list(d["names"]),
                "formats": [_fmt_from_json(f) for f in d["formats"]],
                "offsets": [int(o) for o in d["offsets"]],
                "itemsize": int(d["itemsize"]),
            }
        )
    except (KeyError, TypeError, ValueError) as e:
        raise JournalSchemaError(f"unreadable dtype description: {e}") from None


def same_layout(a: np.dtype, b: np.dtype) -> bool:
    """True when ``a`` and ``b`` lay records out identically (what the journal's bytes depend on)."""
    return dtype_to_json(a) == dtype_to_json(b)


# ------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True, slots=True)
class EntryType:
    """One entry type: ``code`` (1..65535), ``name`` (for tools), ``dtype`` of its records and whether its
    entries may carry a ``blob`` of bytes after the records (news headlines)."""

    code: int
    name: str
    dtype: np.dtype
    blob: bool = False

    def to_json(self) -> dict[str, Any]:
        """The type as a JSON-able dict (code, name, blob flag, dtype) for the journal's schema file."""
        return {"code": self.code, "name": self.name, "blob": self.blob, "dtype": dtype_to_json(self.dtype)}


class TypeRegistry:
    """Type code -> :class:`EntryType`. Register a type once; a second registration of a code with another
    layout raises :class:`JournalTypeError`. Iterates in code order."""

    __slots__ = ("_types", "_itemsizes")

    def __init__(self, types: Mapping[int, EntryType] | None = None) -> None:
        self._types: dict[int, EntryType] = {}
        self._itemsizes = np.full(0, -1, np.int64)
        for t in (types or {}).values():
            self.register(t.code, t.name, t.dtype, blob=t.blob)

    def register(self, code: int, name: str, dtype: Any, *, blob: bool = False) -> EntryType:
        """Add (or confirm) type ``code``. Raises :class:`JournalTypeError` for a code outside 1..65535, an
        empty name, a dtype of itemsize 0 or with object fields, or a code already registered differently."""
        if not isinstance(code, int) or not 1 <= code <= MAX_TYPE:
            raise JournalTypeError(f"entry type code must be an int in 1..{MAX_TYPE}, got {code!r}")
        dt = np.dtype(dtype)
        if dt.itemsize == 0 or dt.hasobject:
            raise JournalTypeError(f"type {code} ({name}): dtype {dt} has itemsize 0 or object fields")
        if not name or not name.isprintable():
            raise JournalTypeError(f"type {code}: name must be printable and non-empty")
        t = EntryType(code, name, dt, blob)
        old = self._types.get(code)
        if old is not None:
            if old.name != name or old.blob != blob or not same_layout(old.dtype, dt):
                raise JournalTypeError(
                    f"type {code} is already registered as {old.name!r} with another layout"
                )
            return old
        self._types[code] = t
        sizes = np.full(max(code + 1, len(self._itemsizes)), -1, np.int64)
        sizes[: len(self._itemsizes)] = self._itemsizes
        sizes[code] = dt.itemsize
        self._itemsizes = sizes
        return t

    def __getitem__(self, code: int) -> EntryType:
        try:
            return self._types[code]
        except KeyError:
            raise JournalTypeError(f"entry type {code} is not registered") from None

    def get(self, code: int) -> EntryType | None:
        """The entry type with ``code``, or None if none is registered."""
        return self._types.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self._types

    def __iter__(self) -> Iterator[EntryType]:
        return iter(sorted(self._types.values(), key=lambda t: t.code))

    def __len__(self) -> int:
        return len(self._types)

    def by_name(self, name: str) -> EntryType:
        """The entry type named ``name``; raises JournalTypeError if none is registered."""
        for t in self._types.values():
            if t.name == name:
                return t
        raise JournalTypeError(f"no entry type named {name!r}")

    @property
    def itemsizes(self) -> np.ndarray:
        """``itemsizes[code]`` (int64, -1 = unregistered), what the scan kernel checks counts against."""
        return self._itemsizes

    def to_json(self) -> str:
        """The registry as the ``cns-journal-schema`` v1 JSON text (sorted keys)."""
        return json.dumps(
            {"format": "cns-journal-schema", "version": 1, "types": [t.to_json() for t in self]},
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> TypeRegistry:
        """Parse ``schema.json``. Raises :class:`JournalSchemaError` when it is not a journal schema."""
        try:
            doc = json.loads(text)
            if doc.get("format") != "cns-journal-schema" or doc.get("version") != 1:
                raise JournalSchemaError("not a cns-journal-schema version 1 document")
            reg = cls()
            for t in doc["types"]:
                reg.register(
                    int(t["code"]), str(t["name"]), dtype_from_json(t["dtype"]), blob=bool(t["blob"])
                )
            return reg
        except (ValueError, KeyError, TypeError, AttributeError, JournalTypeError) as e:
            raise JournalSchemaError(f"unreadable schema: {e}") from None

    def merged(self, other: TypeRegistry) -> TypeRegistry:
        """A registry with the types of both; a code both hold with different layouts raises
        :class:`JournalSchemaError`."""
        out = TypeRegistry()
        for t in list(self) + list(other):
            try:
                out.register(t.code, t.name, t.dtype, blob=t.blob)
            except JournalTypeError as e:
                raise JournalSchemaError(f"schema mismatch: {e}") from None
        return out


def default_registry() -> TypeRegistry:
    """CNS's entry types: news (NEWS_DTYPE + headline blob), market data, exec reports, control commands,
    config/rules versions, orders and cancels (ORDER_DTYPE)."""
    from cns.signals.dtypes import NEWS_DTYPE
    from cns.venue.dtypes import EXEC_DTYPE, ORDER_DTYPE

    reg = TypeRegistry()
    reg.register(TYPE_NEWS, "news", NEWS_DTYPE, blob=True)
    reg.register(TYPE_MARKET_DATA, "market_data", MARKET_DATA_DTYPE)
    reg.register(TYPE_EXEC, "exec", EXEC_DTYPE)
    reg.register(TYPE_CONTROL, "control", CONTROL_DTYPE)
    reg.register(TYPE_CONFIG, "config", CONFIG_DTYPE)
    reg.register(TYPE_ORDER, "order", ORDER_DTYPE)
    reg.register(TYPE_CANCEL, "cancel", ORDER_DTYPE)
    return reg
