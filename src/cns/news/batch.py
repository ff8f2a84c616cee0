"""The in-memory form of a news feed: NEWS_DTYPE records, a headline blob, dictionaries and the quarantine."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from cns.news.errors import NewsBatchError, NewsConfigError
from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import NEWS_DTYPE, NewsHeader

# Reject reason codes: the part of Reject.reason before the first ':'.
REASON_NOT_UTF8 = "not_utf8"
REASON_BAD_JSON = "bad_json"
REASON_NOT_OBJECT = "not_object"
REASON_MISSING_FIELD = "missing_field"
REASON_BAD_TYPE = "bad_type"
REASON_UNKNOWN_KIND = "unknown_kind"
REASON_BAD_HASH = "bad_hash"
REASON_CONFIDENCE_RANGE = "confidence_range"
REASON_TOO_MANY_TICKERS = "too_many_tickers"
REASON_BAD_VALUE = "bad_value"
REASON_BAD_LENGTH = (
    "bad_length"  # a string field (JSONL) or the headline (binary) over MAX_FIELD_BYTES; a line
)
#                                   over the JSONL line limit; binary: n_tickers > 4 or headline past the blob
REASON_TIME_RANGE = "time_range"  # a time outside the reader's TimeWindow (both formats)
# binary-only reasons (the parse kernel's status bits map to these)
REASON_BAD_KIND = "bad_kind"
REASON_BAD_CODE = "bad_code"
REASON_BAD_FIELD = "bad_field"

MAX_FIELD_BYTES = 0xFFFF  # longest string field (UTF-8 bytes): the binary dictionaries store u16 lengths
RAW_KEEP_BYTES = 4096  # Reject.raw keeps at most this much of the offending input (then a "[+N bytes]" tail)

_I64_MAX = 2**63 - 1
NS_2100 = 4_102_444_800 * 10**9  # 2100-01-01T00:00:00Z in ns since the epoch


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The times a reader accepts, ns since the Unix epoch: ``min_ns <= t < max_ns``.

    Applies to ``publish_ns`` and ``receive_ns`` of every item and to a known ``event_ns`` (0 means unknown
    and is always accepted). An item with a time outside is quarantined (``time_range``). The default,
    1970-01-01 .. 2100-01-01, keeps every accepted time far below the int64 limit (2262), so the simulator's
    ``t + latency`` cannot overflow. Raises :class:`NewsConfigError` unless ``0 <= min_ns < max_ns <= 2**63-1``.
    """

    min_ns: int = 0
    max_ns: int = NS_2100

    def __post_init__(self) -> None:
        for name in ("min_ns", "max_ns"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise NewsConfigError(f"TimeWindow.{name} must be an int (ns since the epoch), got {v!r}")
            object.__setattr__(self, name, int(v))  # one kernel signature whatever integer type came in
        if not 0 <= self.min_ns < self.max_ns <= _I64_MAX:
            raise NewsConfigError(
                f"TimeWindow needs 0 <= min_ns < max_ns <= 2**63-1 ns, got {self.min_ns}..{self.max_ns}"
            )

    def contains(self, t_ns: int) -> bool:
        """True when ``t_ns`` lies in the window."""
        return self.min_ns <= t_ns < self.max_ns

    def describe(self) -> str:
        """``"[1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z)"`` (the window in UTC, for reject reasons)."""
        return f"[{_iso(self.min_ns)}, {_iso(self.max_ns)})"


DEFAULT_TIME_WINDOW = TimeWindow()


def raw_text(raw: bytes) -> str:
    """``raw`` as the text of :attr:`Reject.raw`: undecodable bytes backslash-escaped, cut to
    ``RAW_KEEP_BYTES`` (a longer input ends with ``"...[+N bytes]"``)."""
    if len(raw) <= RAW_KEEP_BYTES:
        return raw.decode("utf-8", "backslashreplace")
    return (
        raw[:RAW_KEEP_BYTES].decode("utf-8", "backslashreplace") + f"...[+{len(raw) - RAW_KEEP_BYTES} bytes]"
    )


@dataclass(frozen=True, slots=True)
class Reject:
    """One quarantined input item.

    ``line`` is the 1-based line number for JSON Lines, the 0-based record index for the binary format.
    ``reason`` is ``"<code>: <detail>"`` where code is one of the ``REASON_*`` constants; when several fields
    are bad, one ``"<code>: <detail>"`` per field joined by ``"; "`` (the first decides :attr:`code`).
    ``raw`` is the offending input as text (undecodable bytes escaped with backslashes), at most
    ``RAW_KEEP_BYTES`` of it (see :func:`raw_text`).
    """

    line: int
    reason: str
    raw: str

    @property
    def code(self) -> str:
        """The reason code (``reason`` up to the first ``':'``)."""
        return self.reason.partition(":")[0]


@dataclass(frozen=True, slots=True)
class NewsBatch:
    """A batch of news items.

    ``records`` is a 1-D ``NEWS_DTYPE`` array; its ``headline_off``/``headline_len`` address UTF-8 bytes in
    ``headlines`` (``uint8``). ``source``/``tickers``/``data_source`` codes index ``sources``/``tickers``/
    ``data_sources``. ``rejects`` lists the items quarantined while reading, in input order.

    ``header`` (optional): the header columns (:class:`~cns.signals.dtypes.NewsHeader`: a 2-byte tag — kind,
    flag bits, confidence-is-zero — and the source code per record; :func:`cns.signals.dtypes.news_header`),
    written by the readers as a by-product of the parse. :meth:`cns.engine.NewsValidator.process` takes it as
    ``header=`` and then reads 2 bytes of an elided record instead of its cache lines. Whoever changes
    ``records`` in place must rewrite it (or drop it).
    """

    records: np.ndarray
    headlines: np.ndarray
    sources: Dictionary
    tickers: Dictionary
    data_sources: Dictionary
    rejects: list[Reject] = field(default_factory=list)
    header: NewsHeader | None = None

    def __post_init__(self) -> None:
        if self.records.dtype != NEWS_DTYPE or self.records.ndim != 1:
            raise NewsBatchError(
                f"NewsBatch.records must be a 1-D NEWS_DTYPE array, got {self.records.dtype}"
            )
        if self.headlines.dtype != np.uint8 or self.headlines.ndim != 1:
            raise NewsBatchError(f"NewsBatch.headlines must be a 1-D uint8 blob, got {self.headlines.dtype}")
        if self.header is not None and not (
            isinstance(self.header, NewsHeader) and self.header.valid_for(len(self.records), exact=True)
        ):
            raise NewsBatchError(
                f"NewsBatch.header must be a NewsHeader of C-contiguous 1-D uint16 tag and uint32 source "
                f"columns of {len(self.records)} entries"
            )
        if len(self.records):
            end = self.records["headline_off"] + self.records["headline_len"]
            if int(end.max()) > len(self.headlines):
                raise NewsBatchError(
                    f"NewsBatch headline blob has {len(self.headlines)} bytes, records address up to {int(end.max())}"
                )

    def __len__(self) -> int:
        return len(self.records)

    def headline(self, i: int) -> str:
        """The headline of record ``i`` (Python-side convenience, not for hot paths)."""
        r = self.records[i]
        off, n = int(r["headline_off"]), int(r["headline_len"])
        return bytes(self.headlines[off : off + n]).decode("utf-8")

    def reject_counts(self) -> dict[str, int]:
        """Number of quarantined items per reason code."""
        return dict(Counter(r.code for r in self.rejects))


def new_dictionaries(
    sources: Dictionary | None, tickers: Dictionary | None, data_sources: Dictionary | None = None
) -> tuple[Dictionary, Dictionary, Dictionary]:
    """The dictionaries a reader interns into: the given ones, else the canonical ones from the universe.

    ``data_sources`` defaults to a fresh copy of the canonical *source* dictionary so that a data source
    that is also a news source (``bls.gov``) has the same code in both.
    """
    from cns.signals.universe import source_dictionary, ticker_dictionary

    return (
        sources if sources is not None else source_dictionary(),
        tickers if tickers is not None else ticker_dictionary(),
        data_sources if data_sources is not None else source_dictionary(),
    )
