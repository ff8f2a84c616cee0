"""Fixed-layout signal records shared by every stage of the data path.

A batch is a 1-D NumPy array of one of these aligned structured dtypes. Kernels (Numba) read and write the
fields by name; Python only allocates and hands batches on. Strings never enter a record: sources, tickers
and other IRIs/strings are dictionary-encoded (:class:`cns.signals.dictionary.Dictionary`) to ``uint32``
codes, code 0 meaning "absent". Headline text lives in a side blob (``uint8`` array) addressed by
``headline_off``/``headline_len``.

Units: timestamps are ns since the Unix epoch (``int64``); prices are USD; quantities are shares;
percentages are percent (``-3.0`` means down 3 %); NaN means "the item has no such field".

Integer constants (not Enums) so kernels can compare them.
"""

from __future__ import annotations

import numpy as np

# ---- event kinds (NEWS_DTYPE.kind) -------------------------------------------------------------------------
KIND_HEARTBEAT = 0
KIND_EARNINGS = 1
KIND_MACRO = 2
KIND_GUIDANCE = 3
KIND_MNA = 4
KIND_SUPPLY = 5
KIND_CENTRAL_BANK = 6
KIND_RUMOR = 7
KIND_NAMES: tuple[str, ...] = (
    "heartbeat",
    "earnings",
    "macro",
    "guidance",
    "mna",
    "supply_disruption",
    "central_bank_quote",
    "rumor",
)
N_KINDS = len(KIND_NAMES)

# ---- evidence types (NEWS_DTYPE.evidence_type) ---------------------------------------------------------------
EVIDENCE_NONE = 0
EVIDENCE_PRIMARY = 1
EVIDENCE_SECONDARY = 2
EVIDENCE_EXPERT = 3
EVIDENCE_STATISTICAL = 4
EVIDENCE_NAMES: tuple[str, ...] = ("none", "primary", "secondary", "expert", "statistical")

# ---- flags (NEWS_DTYPE.flags, bit set) -----------------------------------------------------------------------
FLAG_TEST = 1 << 0  # test traffic: elided at ingress
FLAG_DIRECT_QUOTE = 1 << 1  # the item quotes an official directly (central-bank quotes)
FLAG_STATISTICAL = 1 << 2  # the item makes a statistical claim (needs data_source)
FLAG_HAS_EVIDENCE = 1 << 3  # evidence_hash holds a SHA-256 digest

MAX_TICKERS = 4

NEWS_DTYPE = np.dtype(
    [
        ("id", np.uint64),  # unique item id
        ("publish_ns", np.int64),  # ns since epoch, source's publish time
        ("receive_ns", np.int64),  # ns since epoch, our receive time
        ("event_ns", np.int64),  # ns since epoch, time of the underlying event (0 = unknown)
        ("source", np.uint32),  # dictionary code of the source domain
        ("data_source", np.uint32),  # dictionary code of a cited data source (0 = none)
        ("tickers", np.uint32, (MAX_TICKERS,)),  # dictionary codes, 0-padded
        ("n_tickers", np.uint8),  # valid entries in tickers
        ("kind", np.uint8),  # KIND_*
        ("evidence_type", np.uint8),  # EVIDENCE_*
        ("flags", np.uint16),  # FLAG_* bit set
        ("confidence", np.float64),  # 0..1
        ("eps_actual", np.float64),  # USD/share, NaN if absent
        ("eps_expected", np.float64),  # USD/share, NaN if absent
        ("move_pct", np.float64),  # reported price move, percent, NaN if absent
        ("rate", np.float64),  # quoted rate, percent, NaN if absent
        ("sentiment", np.float32),  # headline polarity -1..1 (filled by the parse stage)
        ("evidence_hash", np.uint8, (32,)),  # raw SHA-256 digest (hex on the JSONL wire)
        ("headline_off", np.uint64),  # byte offset into the batch's headline blob
        ("headline_len", np.uint32),  # byte length in the blob (UTF-8)
    ],
    align=True,
)


def empty_news(n: int) -> np.ndarray:
    """A zeroed batch of ``n`` news records with the NaN-able numeric fields set to NaN."""
    a = np.zeros(n, dtype=NEWS_DTYPE)
    for f in ("eps_actual", "eps_expected", "move_pct", "rate"):
        a[f] = np.nan
    return a


# ---- the header column (NEWS_HEADER_DTYPE): what ingress reads of every record ---------------------------------
# One 8-byte entry per record, written by the parse stage next to the records (``NewsBatch.header``): the fields
# zero-tick elision and the hoisted (kind, source) checks read, copied from the record, plus one bit per
# "is zero" test elision makes on a wider field. The engine scans this column for every record and touches a full
# record only when it is live, so an elided record costs 8 bytes of memory traffic instead of two cache lines.
# Packed so that, read as one little-endian uint64 word w: source = w & 0xFFFFFFFF, flags = (w >> 32) & 0xFFFF,
# kind = (w >> 48) & 0xFF, zero = w >> 56.
HDR_ZERO_CONFIDENCE = 1 << 0  # NEWS_HEADER_DTYPE.zero bit: the record's confidence == 0.0 (either sign)
NEWS_HEADER_ZERO_FIELDS: tuple[str, ...] = ("confidence",)  # bit i of ``zero`` <-> field i == 0

NEWS_HEADER_DTYPE = np.dtype(
    [
        ("source", np.uint32),  # = NEWS_DTYPE.source
        ("flags", np.uint16),  # = NEWS_DTYPE.flags
        ("kind", np.uint8),  # = NEWS_DTYPE.kind
        ("zero", np.uint8),  # HDR_ZERO_* bit set
    ],
    align=True,
)
assert NEWS_HEADER_DTYPE.itemsize == 8


def news_header(records: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The header column of ``records`` (NEWS_DTYPE), written into ``out`` (NEWS_HEADER_DTYPE, same length) or
    a new array. Vectorised NumPy; parse kernels write the same values record by record."""
    h = np.empty(len(records), NEWS_HEADER_DTYPE) if out is None else out
    if len(h) != len(records) or h.dtype != NEWS_HEADER_DTYPE:
        raise ValueError(f"news_header: out must be NEWS_HEADER_DTYPE of length {len(records)}")
    h["source"] = records["source"]
    h["flags"] = records["flags"]
    h["kind"] = records["kind"]
    h["zero"] = np.where(records["confidence"] == 0.0, HDR_ZERO_CONFIDENCE, 0).astype(np.uint8)
    return h
