"""Format dispatch: pick the JSON Lines or CNS binary reader/writer by magic bytes or file extension."""

from __future__ import annotations

from pathlib import Path

from cns.news.batch import NewsBatch, TimeWindow
from cns.news.binary import is_binary, read_binary, write_binary
from cns.news.errors import NewsFormatError
from cns.news.jsonl import read_jsonl, write_jsonl
from cns.signals.dictionary import Dictionary

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
BINARY_SUFFIXES = (".cnsb",)


def format_of(path: str | Path, *, for_write: bool = False) -> str:
    """``"binary"`` or ``"jsonl"``: by magic for an existing file being read, else by extension."""
    p = Path(path)
    if not for_write and p.is_file() and is_binary(p):
        return "binary"
    suffix = p.suffix.lower()
    if suffix in BINARY_SUFFIXES:
        return "binary"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if not for_write and p.is_file():
        return "jsonl"
    raise NewsFormatError(
        f"{p}: cannot tell the news format from the extension {suffix!r} "
        f"(use one of {', '.join(JSONL_SUFFIXES + BINARY_SUFFIXES)})"
    )


def read_news(
    path: str | Path,
    sources: Dictionary | None = None,
    tickers: Dictionary | None = None,
    *,
    sentiment: bool = True,
    rejects_path: str | Path | None = None,
    time_window: TimeWindow | None = None,
) -> NewsBatch:
    """Read news in either format (binary by magic, else JSON Lines) with sentiment filled; items with times
    outside ``time_window`` (default 1970..2100) are quarantined."""
    if format_of(path) == "binary":
        return read_binary(
            path, sources, tickers, sentiment=sentiment, rejects_path=rejects_path, time_window=time_window
        )
    return read_jsonl(
        path, sources, tickers, sentiment=sentiment, rejects_path=rejects_path, time_window=time_window
    )


def write_news(batch: NewsBatch, path: str | Path) -> None:
    """Write ``batch`` in the format the extension of ``path`` names (``.cnsb`` binary, ``.jsonl`` text),
    atomically (a failed write leaves the previous file)."""
    if format_of(path, for_write=True) == "binary":
        write_binary(batch, path)
    else:
        write_jsonl(batch, path)
