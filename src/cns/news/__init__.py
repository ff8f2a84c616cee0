"""News wire formats (JSON Lines, CNS binary), the quarantine of bad input, and headline sentiment."""

from cns.news.batch import DEFAULT_TIME_WINDOW, MAX_FIELD_BYTES, NewsBatch, Reject, TimeWindow
from cns.news.binary import (
    BinaryLayout,
    parse_binary_chunk,
    read_binary,
    read_layout,
    rejects_from_status,
    write_binary,
)
from cns.news.errors import NewsBatchError, NewsConfigError, NewsError, NewsFormatError
from cns.news.formats import read_news, write_news
from cns.news.jsonl import read_jsonl, write_jsonl, write_rejects
from cns.news.sentiment import LexiconTable, load_lexicon, score_records, score_text

__all__ = [
    "DEFAULT_TIME_WINDOW",
    "MAX_FIELD_BYTES",
    "BinaryLayout",
    "LexiconTable",
    "NewsBatch",
    "NewsBatchError",
    "NewsConfigError",
    "NewsError",
    "NewsFormatError",
    "Reject",
    "TimeWindow",
    "load_lexicon",
    "parse_binary_chunk",
    "read_binary",
    "read_jsonl",
    "read_layout",
    "read_news",
    "rejects_from_status",
    "score_records",
    "score_text",
    "write_binary",
    "write_jsonl",
    "write_news",
    "write_rejects",
]
