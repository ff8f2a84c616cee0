"""The in-memory form of a news feed: NEWS_DTYPE records, a headline blob, dictionaries and the quarantine."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from cns.news.errors import NewsBatchError
from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import NEWS_DTYPE

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
# binary-only reasons (the parse kernel's status codes map to these)
REASON_BAD_KIND = "bad_kind"
REASON_BAD_LENGTH = "bad_length"
REASON_BAD_CODE = "bad_code"
REASON_BAD_FIELD = "bad_field"


@dataclass(frozen=True, slots=True)
class Reject:
    """One quarantined input item.

    ``line`` is the 1-based line number for JSON Lines, the 0-based record index for the binary format.
    ``reason`` is ``"<code>: <detail>"`` where code is one of the ``REASON_*`` constants.
    ``raw`` is the offending input as text (undecodable bytes escaped with backslashes).
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
    """

    records: np.ndarray
    headlines: np.ndarray
    sources: Dictionary
    tickers: Dictionary
    data_sources: Dictionary
    rejects: list[Reject] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.records.dtype != NEWS_DTYPE or self.records.ndim != 1:
            raise NewsBatchError(f"NewsBatch.records must be a 1-D NEWS_DTYPE array, got {self.records.dtype}")
        if self.headlines.dtype != np.uint8 or self.headlines.ndim != 1:
            raise NewsBatchError(f"NewsBatch.headlines must be a 1-D uint8 blob, got {self.headlines.dtype}")
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
