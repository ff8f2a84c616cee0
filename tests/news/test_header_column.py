"""The header column (NEWS_HEADER_DTYPE) the readers write next to the records: equal to news_header(records)
after every path (binary whole read, recoded dictionaries, chunked parse, quarantine; JSON Lines), checked
arguments, and NewsBatch's validation of it."""

from __future__ import annotations

import numpy as np
import pytest

from cns.news.batch import NewsBatch
from cns.news.binary import (
    WIRE_DTYPE,
    parse_binary_chunk,
    read_binary,
    read_layout,
    write_binary,
)
from cns.news.errors import NewsBatchError
from cns.news.jsonl import read_jsonl, write_jsonl
from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import (
    HDR_ZERO_CONFIDENCE,
    NEWS_DTYPE,
    NEWS_HEADER_DTYPE,
    empty_news,
    news_header,
)

from .conftest import line


def _same_header(batch: NewsBatch) -> None:
    assert batch.header is not None and batch.header.dtype == NEWS_HEADER_DTYPE
    assert len(batch.header) == len(batch.records)
    np.testing.assert_array_equal(batch.header, news_header(batch.records))


def test_header_dtype_is_one_packed_word() -> None:
    assert NEWS_HEADER_DTYPE.itemsize == 8
    h = np.zeros(1, NEWS_HEADER_DTYPE)
    h["source"], h["flags"], h["kind"], h["zero"] = 0x01020304, 0x0506, 0x07, 0x08
    assert int(h.view(np.int64)[0]) == 0x0807050601020304  # source | flags << 32 | kind << 48 | zero << 56


def test_news_header_fields_and_zero_bit() -> None:
    r = empty_news(5)
    r["source"] = [1, 2, 3, 4, 5]
    r["kind"] = [0, 1, 2, 3, 7]
    r["flags"] = [0, 1, 8, 0xF, 0xFFFF]
    r["confidence"] = [0.0, -0.0, np.nan, 1e-300, 0.5]
    h = news_header(r)
    assert h["source"].tolist() == [1, 2, 3, 4, 5]
    assert h["kind"].tolist() == [0, 1, 2, 3, 7]
    assert h["flags"].tolist() == [0, 1, 8, 0xF, 0xFFFF]
    assert h["zero"].tolist() == [HDR_ZERO_CONFIDENCE, HDR_ZERO_CONFIDENCE, 0, 0, 0]  # -0.0 == 0, NaN != 0
    out = np.zeros(5, NEWS_HEADER_DTYPE)
    assert news_header(r, out) is out and np.array_equal(out, h)
    with pytest.raises(ValueError, match="NEWS_HEADER_DTYPE"):
        news_header(r, np.zeros(4, NEWS_HEADER_DTYPE))


def test_read_binary_writes_the_header(tmp_path, small_world) -> None:
    path = tmp_path / "a.cnsb"
    write_binary(small_world.batch, path)
    _same_header(read_binary(path))
    src = Dictionary(["newblog.io"])  # recoding moves every source code: the header follows
    b = read_binary(path, src, None)
    assert b.sources is src
    _same_header(b)


def test_quarantined_records_leave_no_header_entry(tmp_path, small_world) -> None:
    path = tmp_path / "c.cnsb"
    write_binary(small_world.batch, path)
    raw = bytearray(path.read_bytes())
    lay = read_layout(np.frombuffer(bytes(raw), np.uint8))
    wire = np.frombuffer(raw, np.uint8)[lay.records_offset : lay.blob_offset].view(WIRE_DTYPE).copy()
    wire["kind"][3] = 99
    wire["confidence"][10] = 2.0
    raw[lay.records_offset : lay.blob_offset] = wire.tobytes()
    path.write_bytes(bytes(raw))
    b = read_binary(path)
    assert [r.line for r in b.rejects] == [3, 10]
    _same_header(b)


def test_chunked_parse_writes_the_header_of_the_good_records(tmp_path, small_world) -> None:
    path = tmp_path / "a.cnsb"
    write_binary(small_world.batch, path)
    raw = np.fromfile(path, np.uint8)
    lay = read_layout(raw)
    for start in (0, 700):
        out = np.zeros(700, NEWS_DTYPE)  # zeroed: the padding bytes compare equal below
        hdr = np.full(700, 0xFF, np.uint64).view(NEWS_HEADER_DTYPE)
        status = np.zeros(700, np.uint8)
        n = parse_binary_chunk(raw, lay, start, 700, out, status, header=hdr)
        np.testing.assert_array_equal(hdr[:n], news_header(out[:n]))
        plain = np.zeros(700, NEWS_DTYPE)
        assert parse_binary_chunk(raw, lay, start, 700, plain, np.zeros(700, np.uint8)) == n
        assert plain[:n].tobytes() == out[:n].tobytes()  # the header output changes nothing else
    with pytest.raises(NewsBatchError, match="header"):
        parse_binary_chunk(raw, lay, 0, 700, out, status, header=np.zeros(699, NEWS_HEADER_DTYPE))
    with pytest.raises(NewsBatchError, match="header"):
        parse_binary_chunk(raw, lay, 0, 700, out, status, header=np.zeros(700, np.uint64))


def test_read_jsonl_writes_the_header(tmp_path) -> None:
    lines = [
        line(id=1),
        line(id=2, type="heartbeat", tickers=[]),
        "{not json",
        line(id=3, confidence=0.0),
        line(id=4, flags=["test"]),
        line(id=5, confidence=7.0),
    ]
    b = read_jsonl(lines)
    assert [r.line for r in b.rejects] == [3, 6]
    _same_header(b)
    assert b.header["zero"].tolist() == [0, 0, HDR_ZERO_CONFIDENCE, 0]
    write_jsonl(b, tmp_path / "x.jsonl")
    _same_header(read_jsonl(tmp_path / "x.jsonl"))
    _same_header(read_jsonl([]))


def test_news_batch_checks_its_header(small_world) -> None:
    b = small_world.batch
    args = (b.records, b.headlines, b.sources, b.tickers, b.data_sources)
    assert NewsBatch(*args).header is None
    ok = NewsBatch(*args, [], news_header(b.records))
    _same_header(ok)
    for bad in (
        news_header(b.records[:-1]),
        news_header(b.records).view(np.uint64),
        np.repeat(news_header(b.records), 2)[::2],
    ):
        with pytest.raises(NewsBatchError, match="header"):
            NewsBatch(*args, [], bad)
