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

from dataclasses import dataclass

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


# ---- the header columns (NewsHeader): what ingress reads of every record -------------------------------------
# Written by the parse stage next to the records (``NewsBatch.header``), two columns of one entry per record:
#
# * ``tag`` (NEWS_TAG_DTYPE, uint16): what zero-tick elision and dispatch need — bits 0-7 kind, bits 8-11 the
#   four FLAG_* bits, bit 12 "confidence == 0" (either sign), bit 13 "a flag bit above FLAG_HAS_EVIDENCE is set"
#   (the readers quarantine such records; the bit keeps the tag exact for any record), bits 14-15 zero.
# * ``source`` (NEWS_SOURCE_DTYPE, uint32): the source code, which only the hoisted (kind, source) checks of the
#   non-elided records read.
#
# The engine scans the tags of every record and touches a record only when it is live: an elided record costs two
# bytes of memory traffic (plus its verdict and code) instead of two of its cache lines.
NEWS_TAG_DTYPE = np.dtype(np.uint16)
NEWS_SOURCE_DTYPE = np.dtype(np.uint32)
TAG_KIND_MASK = 0xFF
TAG_FLAGS_SHIFT = 8
TAG_FLAGS_MASK = 0xF  # FLAG_TEST | FLAG_DIRECT_QUOTE | FLAG_STATISTICAL | FLAG_HAS_EVIDENCE
TAG_ZERO_CONFIDENCE = 1 << 12
TAG_OTHER_FLAGS = 1 << 13
# the fields with an "is zero" bit in the tag (bit 12 on)
NEWS_TAG_ZERO_FIELDS: tuple[str, ...] = ("confidence",)


@dataclass(slots=True)  # not frozen: a batch loop slices one per batch, and frozen construction costs ~0.3 µs
class NewsHeader:
    """The header columns of a batch of news records: ``tag`` (uint16) and ``source`` (uint32), one entry per
    record, both 1-D and C-contiguous (see the comment above for the bits). ``header[a:b]`` slices both (views);
    :func:`news_header` is the definition of the values."""

    tag: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.tag)

    def __getitem__(self, s: slice) -> NewsHeader:
        if not isinstance(s, slice):
            raise TypeError("NewsHeader supports slices only")
        return NewsHeader(self.tag[s], self.source[s])

    def valid_for(self, n: int, *, exact: bool = False) -> bool:
        """True when both columns have the right dtypes, are 1-D, C-contiguous and hold ``n`` entries (at least
        ``n`` unless ``exact``)."""
        t, s = self.tag, self.source
        if not (isinstance(t, np.ndarray) and isinstance(s, np.ndarray)):
            return False
        if t.dtype != NEWS_TAG_DTYPE or s.dtype != NEWS_SOURCE_DTYPE or t.ndim != 1 or s.ndim != 1:
            return False
        if not (t.flags.c_contiguous and s.flags.c_contiguous) or len(t) != len(s):
            return False
        return len(t) == n if exact else len(t) >= n


def empty_news_header(n: int) -> NewsHeader:
    """Uninitialised header columns for ``n`` records (a parse fills them)."""
    return NewsHeader(np.empty(n, NEWS_TAG_DTYPE), np.empty(n, NEWS_SOURCE_DTYPE))


def news_tag(records: np.ndarray) -> np.ndarray:
    """The ``tag`` column of ``records`` (NEWS_DTYPE): vectorised NumPy; parse kernels write the same values."""
    flags = records["flags"].astype(np.uint16)
    t = records["kind"].astype(np.uint16)
    t |= (flags & TAG_FLAGS_MASK) << TAG_FLAGS_SHIFT
    t |= np.where(records["confidence"] == 0.0, TAG_ZERO_CONFIDENCE, 0).astype(np.uint16)
    t |= np.where((flags & ~np.uint16(TAG_FLAGS_MASK)) != 0, TAG_OTHER_FLAGS, 0).astype(np.uint16)
    return t


def news_header(records: np.ndarray, out: NewsHeader | None = None) -> NewsHeader:
    """The header columns of ``records`` (NEWS_DTYPE), written into ``out`` (same length) or new arrays."""
    h = empty_news_header(len(records)) if out is None else out
    if not h.valid_for(len(records), exact=True):
        raise ValueError(f"news_header: out must be uint16/uint32 header columns of length {len(records)}")
    h.tag[:] = news_tag(records)
    h.source[:] = records["source"]
    return h
