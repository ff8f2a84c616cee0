"""The header columns (NewsHeader: 2-byte tag + source) the readers write next to the records: equal to
news_header(records) after every path (binary whole read, recoded dictionaries, chunked parse, quarantine; JSON
Lines), checked arguments, and NewsBatch's validation of them."""

from __future__ import annotations

import numpy as np
import pytest

from cns.news.batch import NewsBatch
from cns.news.binary import WIRE_DTYPE, parse_binary_chunk, read_binary, read_layout, write_binary
from cns.news.errors import NewsBatchError
from cns.news.jsonl import read_jsonl, write_jsonl
from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import (
    NEWS_DTYPE,
    TAG_OTHER_FLAGS,
    TAG_ZERO_CONFIDENCE,
    NewsHeader,
    empty_news,
    empty_news_header,
    news_header,
)

from .conftest import line


def _same_header(batch: NewsBatch) -> None:
    h = batch.header
    assert isinstance(h, NewsHeader) and h.valid_for(len(batch.records), exact=True)
    ref = news_header(batch.records)
    np.testing.assert_array_equal(h.tag, ref.tag)
    np.testing.assert_array_equal(h.source, ref.source)


def test_tag_bits() -> None:
    r = empty_news(6)
    r["source"] = [1, 2, 3, 4, 5, 6]
    r["kind"] = [0, 1, 2, 3, 7, 255]
    r["flags"] = [0, 1, 8, 0xF, 0x10, 0xFFFF]
    r["confidence"] = [0.0, -0.0, np.nan, 1e-300, 0.5, 0.0]
    h = news_header(r)
    assert h.tag.dtype == np.uint16 and h.source.dtype == np.uint32
    z, o = TAG_ZERO_CONFIDENCE, TAG_OTHER_FLAGS
    assert h.tag.tolist() == [z, 0x101 | z, 0x802, 0xF03, 7 | o, 0xFFF | z | o]  # -0.0 == 0; NaN != 0
    assert h.source.tolist() == [1, 2, 3, 4, 5, 6]
    assert len(h) == 6 and h[2:4].tag.tolist() == [0x802, 0xF03] and h[2:4].source.tolist() == [3, 4]
    out = empty_news_header(6)
    assert news_header(r, out) is out and np.array_equal(out.tag, h.tag)
    with pytest.raises(ValueError, match="header columns"):
        news_header(r, empty_news_header(5))
    with pytest.raises(TypeError):
        h[0]  # type: ignore[index]


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
        hdr = NewsHeader(np.full(700, 0xEEEE, np.uint16), np.full(700, 0xEEEEEEEE, np.uint32))
        status = np.zeros(700, np.uint8)
        n = parse_binary_chunk(raw, lay, start, 700, out, status, header=hdr)
        ref = news_header(out[:n])
        np.testing.assert_array_equal(hdr.tag[:n], ref.tag)
        np.testing.assert_array_equal(hdr.source[:n], ref.source)
        assert (hdr.tag[n:] == 0xEEEE).all()  # nothing written past the good records
        plain = np.zeros(700, NEWS_DTYPE)
        assert parse_binary_chunk(raw, lay, start, 700, plain, np.zeros(700, np.uint8)) == n
        assert plain[:n].tobytes() == out[:n].tobytes()  # the header output changes nothing else
    for bad in (
        empty_news_header(699),
        np.zeros(700, np.uint64),
        NewsHeader(np.zeros(700, np.uint32), np.zeros(700, np.uint32)),
    ):
        with pytest.raises(NewsBatchError, match="header"):
            parse_binary_chunk(raw, lay, 0, 700, out, status, header=bad)  # type: ignore[arg-type]


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
    assert (b.header.tag & TAG_ZERO_CONFIDENCE != 0).tolist() == [False, False, True, False]
    write_jsonl(b, tmp_path / "x.jsonl")
    _same_header(read_jsonl(tmp_path / "x.jsonl"))
    _same_header(read_jsonl([]))


def test_news_batch_checks_its_header(small_world) -> None:
    b = small_world.batch
    args = (b.records, b.headlines, b.sources, b.tickers, b.data_sources)
    assert NewsBatch(*args).header is None
    _same_header(NewsBatch(*args, [], news_header(b.records)))
    ref = news_header(b.records)
    for bad in (
        news_header(b.records[:-1]),
        NewsHeader(ref.tag.astype(np.int16), ref.source),
        NewsHeader(ref.tag, ref.source[:-1]),
        NewsHeader(np.repeat(ref.tag, 2)[::2], ref.source),
        ref.tag,
    ):
        with pytest.raises(NewsBatchError, match="header"):
            NewsBatch(*args, [], bad)  # type: ignore[arg-type]
