from __future__ import annotations

import numpy as np
import pytest

from cns.news import (
    NewsFormatError,
    parse_binary_chunk,
    read_binary,
    read_jsonl,
    read_layout,
    read_news,
    rejects_from_status,
    write_binary,
    write_jsonl,
)
from cns.news.binary import HEADER_SIZE, RECORD_SIZE, WIRE_DTYPE
from cns.signals.dtypes import NEWS_DTYPE
from cns.signals.universe import source_dictionary, ticker_dictionary

from .conftest import line


def _same(a, b) -> None:
    assert len(a) == len(b)
    for f in a.records.dtype.names:
        assert np.array_equal(a.records[f], b.records[f], equal_nan=True), f
    assert a.sources.strings() == b.sources.strings() and a.tickers.strings() == b.tickers.strings()


def test_wire_layout_is_fixed():
    assert RECORD_SIZE == 152 and WIRE_DTYPE.fields["evidence_hash"][1] == 120


def test_binary_round_trip(tmp_path, small_world):
    b = small_world.batch
    size = write_binary(b, tmp_path / "a.cnsb")
    assert size == (tmp_path / "a.cnsb").stat().st_size
    c = read_binary(tmp_path / "a.cnsb")
    _same(b, c)
    assert np.array_equal(b.headlines, c.headlines) and not c.rejects


def test_jsonl_binary_jsonl_round_trip(tmp_path, small_world):
    write_jsonl(small_world.batch, tmp_path / "a.jsonl")
    j = read_jsonl(tmp_path / "a.jsonl")
    write_binary(j, tmp_path / "a.cnsb")
    k = read_news(tmp_path / "a.cnsb")
    _same(j, k)
    write_jsonl(k, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_read_binary_recodes_into_given_dictionaries(tmp_path):
    b = read_jsonl([line(source="newblog.io", tickers=["NEWCO", "AAPL"])])
    write_binary(b, tmp_path / "a.cnsb")
    src = source_dictionary()
    src.intern("other.example")  # the caller's dictionary already differs from the file's
    tick = ticker_dictionary()
    c = read_binary(tmp_path / "a.cnsb", src, tick)
    assert c.sources.string(int(c.records["source"][0])) == "newblog.io"
    assert c.records["source"][0] == src.code("newblog.io") != b.records["source"][0]
    assert [tick.string(int(x)) for x in c.records["tickers"][0, :2]] == ["NEWCO", "AAPL"]


def _corrupt(tmp_path, small_world, field: str, value, rec: int = 3):
    path = tmp_path / "c.cnsb"
    write_binary(small_world.batch, path)
    raw = bytearray(path.read_bytes())
    lay = read_layout(np.frombuffer(bytes(raw), np.uint8))
    wire = np.frombuffer(raw, np.uint8)[lay.records_offset : lay.blob_offset].view(WIRE_DTYPE).copy()
    wire[field][rec] = value
    raw[lay.records_offset : lay.blob_offset] = wire.tobytes()
    path.write_bytes(bytes(raw))
    return read_binary(path), rec


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("kind", 99, "bad_kind"),
        ("headline_len", 10**9, "bad_length"),
        ("headline_off", 2**62, "bad_length"),
        ("n_tickers", 9, "bad_length"),
        ("source", 10**6, "bad_code"),
        ("flags", 1 << 12, "bad_field"),
        ("reserved1", 7, "bad_field"),
        ("evidence_type", 42, "bad_field"),
        ("confidence", 2.0, "confidence_range"),
        ("confidence", np.nan, "confidence_range"),
    ],
)
def test_corrupt_record_is_quarantined_by_index(tmp_path, small_world, field, value, code):
    c, rec = _corrupt(tmp_path, small_world, field, value)
    assert len(c) == len(small_world.batch) - 1
    assert [r.line for r in c.rejects] == [rec] and c.rejects[0].code == code
    assert len(bytes.fromhex(c.rejects[0].raw)) == RECORD_SIZE
    assert c.records["id"][rec] == small_world.batch.records["id"][rec + 1]  # the rest is kept, in order


def test_invalid_utf8_headline_is_quarantined(tmp_path, small_world):
    path = tmp_path / "u.cnsb"
    write_binary(small_world.batch, path)
    raw = bytearray(path.read_bytes())
    lay = read_layout(np.frombuffer(bytes(raw), np.uint8))
    recs = small_world.batch.records
    i = int(np.flatnonzero(recs["headline_len"] > 0)[0])
    raw[lay.blob_offset + int(recs["headline_off"][i])] = 0xFF
    path.write_bytes(bytes(raw))
    c = read_binary(path)
    assert [(r.line, r.code) for r in c.rejects] == [(i, "not_utf8")]


def test_chunked_parse_equals_whole_read(tmp_path, small_world):
    path = tmp_path / "a.cnsb"
    write_binary(small_world.batch, path)
    raw = np.fromfile(path, np.uint8)
    lay = read_layout(raw)
    parts = []
    for start in range(0, lay.n_records, 700):
        out = np.empty(700, NEWS_DTYPE)
        status = np.zeros(700, np.uint8)
        n = parse_binary_chunk(raw, lay, start, 700, out, status)
        assert not rejects_from_status(raw, lay, start, status[: min(700, lay.n_records - start)])
        parts.append(out[:n])
    whole = np.concatenate(parts)
    assert np.array_equal(whole["id"], small_world.batch.records["id"])
    assert np.array_equal(whole["headline_off"], small_world.batch.records["headline_off"])


@pytest.mark.parametrize("mutate", ["magic", "truncate", "version", "empty"])
def test_bad_header_raises_format_error(tmp_path, small_world, mutate):
    path = tmp_path / "h.cnsb"
    write_binary(small_world.batch, path)
    raw = bytearray(path.read_bytes())
    if mutate == "magic":
        raw[0:4] = b"JUNK"
    elif mutate == "truncate":
        raw = raw[: len(raw) - 5]
    elif mutate == "version":
        raw[8] = 9
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with pytest.raises(NewsFormatError, match="h.cnsb"):
        read_binary(path)
    assert HEADER_SIZE == 64
