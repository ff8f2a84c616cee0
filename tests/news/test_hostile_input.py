"""Hostile news input: every line ends accepted or quarantined (with a reason and its line number), never a
crash, hang or MemoryError; what the JSONL reader accepts the binary writer can write; times outside the
configured window are quarantined on both wire formats; a reason names every bad field."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from cns.cli import main
from cns.news import NewsFormatError, read_binary, read_jsonl, read_layout, write_binary, write_jsonl
from cns.news.batch import DEFAULT_TIME_WINDOW, MAX_FIELD_BYTES, TimeWindow
from cns.news.binary import MAGIC, WIRE_DTYPE
from cns.news.errors import NewsError

from .conftest import item, line

NS_2100 = 4_102_444_800 * 10**9


def _accounted(lines: list[str | bytes], batch) -> None:
    """accepted + quarantined = non-blank lines, and every reject has a reason and a valid line number."""
    nonblank = [i + 1 for i, ln in enumerate(lines) if (ln.strip() if isinstance(ln, bytes) else ln.strip())]
    assert len(batch) + len(batch.rejects) == len(nonblank)
    assert all(r.line in nonblank and r.reason and ":" in r.reason for r in batch.rejects)
    assert [r.line for r in batch.rejects] == sorted(r.line for r in batch.rejects)


# ---- a field longer than the binary format can hold ----------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "field", "n_bytes"),
    [
        ({"source": "s" * 70_000}, "source", 70_000),
        ({"data_source": "d" * 65_536}, "data_source", 65_536),
        ({"tickers": ["AAPL", "T" * 80_000]}, "tickers[1]", 80_000),
        ({"headline": "h" * 70_000}, "headline", 70_000),
        ({"source": "\u20ac" * 30_000}, "source", 90_000),  # 30 000 characters, 90 000 UTF-8 bytes
    ],
)
def test_field_over_65535_bytes_is_quarantined_and_the_rest_still_writes(tmp_path, over, field, n_bytes):
    b = read_jsonl([line(id=1), line(id=2, **over), line(id=3)])
    assert list(b.records["id"]) == [1, 3]
    (rej,) = b.rejects
    assert rej.line == 2 and rej.code == "bad_length"
    assert f"`$.{field}`" in rej.reason and f"{n_bytes} " in rej.reason, rej.reason
    write_binary(b, tmp_path / "out.cnsb")  # the file is not lost
    assert list(read_binary(tmp_path / "out.cnsb").records["id"]) == [1, 3]


def test_field_of_exactly_65535_bytes_and_long_multibyte_strings_are_accepted(tmp_path):
    b = read_jsonl([line(source="s" * MAX_FIELD_BYTES), line(id=2, headline="\u00e9" * 30_000)])
    assert len(b) == 2 and not b.rejects
    write_binary(b, tmp_path / "x.cnsb")
    c = read_binary(tmp_path / "x.cnsb")
    assert c.headline(1) == "\u00e9" * 30_000 and len(c) == 2


def test_a_batch_the_writer_cannot_hold_fails_before_the_old_file_is_touched(tmp_path):
    from cns.signals.universe import source_dictionary

    p = tmp_path / "keep.cnsb"
    good = read_jsonl([line()])
    write_binary(good, p)
    before = p.read_bytes()
    src = source_dictionary()
    src.intern("x" * 70_000)  # built by hand, not by the reader
    bad = type(good)(good.records, good.headlines, src, good.tickers, good.data_sources, [])
    with pytest.raises(NewsFormatError, match="65535"):
        write_binary(bad, p)
    assert p.read_bytes() == before and sorted(x.name for x in tmp_path.iterdir()) == ["keep.cnsb"]


# ---- time window ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"receive_ns": 2**63 - 1}, "receive_ns"),
        ({"publish_ns": NS_2100}, "publish_ns"),
        ({"event_ns": 1 << 62}, "event_ns"),
    ],
)
def test_times_outside_the_default_window_are_quarantined(over, field):
    b = read_jsonl([line(id=1), line(id=2, **over)])
    assert list(b.records["id"]) == [1]
    (rej,) = b.rejects
    assert rej.line == 2 and rej.code == "time_range" and f"`$.{field}`" in rej.reason, rej.reason


def test_the_default_window_is_1970_to_2100_and_event_ns_0_means_unknown():
    assert DEFAULT_TIME_WINDOW == TimeWindow(0, NS_2100)
    b = read_jsonl([line(publish_ns=0, receive_ns=NS_2100 - 1, event_ns=0)])
    assert len(b) == 1 and not b.rejects


def test_the_window_is_configurable():
    w = TimeWindow(1_600_000_000 * 10**9, 1_800_000_000 * 10**9)
    b = read_jsonl(
        [line(id=1), line(id=2, publish_ns=1_500_000_000 * 10**9), line(id=3, event_ns=0)], time_window=w
    )
    assert list(b.records["id"]) == [1, 3] and [r.line for r in b.rejects] == [2]
    for bad in ((-1, 5), (5, 5), (0, 2**63)):
        with pytest.raises(NewsError):
            TimeWindow(*bad)


# ---- one reason names every bad field ------------------------------------------------------------------------


def test_reason_names_every_bad_field():
    b = read_jsonl([line(id=-1, type="weather", confidence=2.0, receive_ns=2**63 - 1, source="s" * 70_000)])
    (rej,) = b.rejects
    for f in ("id", "source", "receive_ns", "type", "confidence"):
        assert f"`$.{f}`" in rej.reason, (f, rej.reason)
    assert rej.code == "bad_value"  # the first bad field in schema order decides the code
    d = item()
    del d["source"], d["headline"]
    d["tickers"] = "AAPL"
    (rej,) = read_jsonl([msgspec.json.encode(d)]).rejects
    assert "`source`" in rej.reason and "`headline`" in rej.reason and "`$.tickers`" in rej.reason, rej.reason


# ---- anything else a file can hold ---------------------------------------------------------------------------

HOSTILE: list[str | bytes] = [
    line(id=1),
    "",
    "   \t ",
    "garbage",
    b"\xff\xfe\x00\x01 binary junk",
    b'{"id": 1, "source": "\xc3\x28"}',  # invalid UTF-8 inside a string
    "\ud800 lone surrogate in a str line",
    '{"id": ' + "1" * 5000 + "}",  # an integer of 5000 digits
    line().replace('"eps_actual":3.14', '"eps_actual":1e999'),
    line().replace('"eps_actual":3.14', '"eps_actual":NaN'),
    line().replace('"eps_actual":3.14', '"eps_actual":Infinity'),
    line().replace('"eps_actual":3.14', '"eps_actual":-Infinity'),
    line()[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "[" * 100_000,
    "{" * 50_000,
    line(id=2, headline="x" * 1_000_000),  # a 1 MB line: the headline is too long
    line(id=3)[:-1] + ', "padding": "' + "p" * 1_000_000 + '"}',  # a 1 MB line that is fine
    line(id=4)[:-1] + ', "padding": "' + "p" * 5_000_000 + '"}',  # past the line limit
    line(id=5, tickers=["A"] * 100_000),
    line(id=6, publish_ns=-1),
    line(id=7, confidence=None),
    "null",
    "42",
    '"a string"',
    line(id=8) + "\r",  # CRLF
    line(id=9) + " trailing",
    "\x00" * 100,
    line(id=10),
]


def test_every_hostile_line_is_accepted_or_quarantined(tmp_path):
    b = read_jsonl(HOSTILE)
    _accounted(HOSTILE, b)
    assert sorted(b.records["id"].tolist()) == [1, 3, 8, 10]
    p = tmp_path / "hostile.jsonl"
    p.write_bytes(
        b"\n".join(x if isinstance(x, bytes) else x.encode("utf-8", "surrogatepass") for x in HOSTILE)
    )
    c = read_jsonl(p)
    assert [(r.line, r.code) for r in c.rejects] == [(r.line, r.code) for r in b.rejects]
    assert all(len(r.raw) <= 5000 for r in c.rejects)  # a huge line is not kept whole in memory
    write_binary(c, tmp_path / "h.cnsb")


@pytest.mark.parametrize(
    "content", [b"", b"\n\n\n", b"garbage\n" * 1000, bytes(range(256)) * 100, b"\xff" * 100_000]
)
def test_empty_and_garbage_files(tmp_path, content):
    p = tmp_path / "g.jsonl"
    p.write_bytes(content)
    b = read_jsonl(p)
    assert len(b) == 0
    assert len(b.rejects) == sum(1 for x in content.split(b"\n") if x.strip())


def test_convert_cli_on_hostile_input_accounts_for_every_line(tmp_path, capsys):
    p = tmp_path / "in.jsonl"
    p.write_bytes(
        b"\n".join(x if isinstance(x, bytes) else x.encode("utf-8", "surrogatepass") for x in HOSTILE)
    )
    rc = main(["news", "convert", str(p), str(tmp_path / "out.cnsb")])
    assert rc == 1, capsys.readouterr()
    n_rej = len((tmp_path / "out.cnsb.rejects.jsonl").read_bytes().splitlines())
    assert n_rej + len(read_binary(tmp_path / "out.cnsb")) == sum(
        1 for x in HOSTILE if (x.strip() if isinstance(x, bytes) else x.strip())
    )
    assert main(["news", "convert", str(tmp_path / "out.cnsb"), str(tmp_path / "back.jsonl")]) == 0
    for content in (b"", b"garbage\n", b"\xff\xfe"):
        p.write_bytes(content)
        assert main(["news", "convert", str(p), str(tmp_path / "o2.cnsb")]) in (0, 1)
        assert len(read_binary(tmp_path / "o2.cnsb")) == 0
    for content in (b"", MAGIC, MAGIC + b"\x00" * 100, b"\x00" * 64):
        (tmp_path / "bad.cnsb").write_bytes(content)
        assert main(["news", "convert", str(tmp_path / "bad.cnsb"), str(tmp_path / "o.jsonl")]) == 2
    assert "Traceback" not in capsys.readouterr().err


# ---- the binary path -----------------------------------------------------------------------------------------


def _image(tmp_path, n: int = 5):
    b = read_jsonl([line(id=i + 1, tickers=["AAPL"]) for i in range(n)])
    p = tmp_path / "a.cnsb"
    write_binary(b, p)
    raw = bytearray(p.read_bytes())
    lay = read_layout(np.frombuffer(bytes(raw), np.uint8))
    wire = np.frombuffer(raw, np.uint8)[lay.records_offset : lay.blob_offset].view(WIRE_DTYPE).copy()
    return p, raw, lay, wire


def _save(p, raw, lay, wire) -> None:
    raw[lay.records_offset : lay.blob_offset] = wire.tobytes()
    p.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("receive_ns", 2**63 - 1, "time_range"),
        ("publish_ns", NS_2100, "time_range"),
        ("event_ns", -5, "time_range"),
        ("eps_actual", np.inf, "bad_field"),
        ("rate", -np.inf, "bad_field"),
        ("sentiment", np.nan, "bad_field"),
        ("headline_len", 70_000, "bad_length"),
    ],
)
def test_binary_record_outside_the_rules_is_quarantined_naming_the_field(tmp_path, field, value, code):
    p, raw, lay, wire = _image(tmp_path)
    wire[field][2] = value
    _save(p, raw, lay, wire)
    c = read_binary(p)
    assert list(c.records["id"]) == [1, 2, 4, 5]
    (rej,) = c.rejects
    assert rej.line == 2 and rej.code == code and field in rej.reason, rej.reason


def test_binary_reason_names_every_bad_field(tmp_path):
    p, raw, lay, wire = _image(tmp_path)
    wire["kind"][1] = 99
    wire["source"][1] = 10**6
    wire["receive_ns"][1] = 2**63 - 1
    wire["confidence"][1] = 7.0
    _save(p, raw, lay, wire)
    (rej,) = read_binary(p).rejects
    assert rej.code == "bad_kind"
    for f in ("kind", "source", "receive_ns", "confidence"):
        assert f in rej.reason, (f, rej.reason)


def test_binary_time_window_is_configurable(tmp_path):
    p, raw, lay, wire = _image(tmp_path)
    wire["publish_ns"][3] = 1_500_000_000 * 10**9
    _save(p, raw, lay, wire)
    assert len(read_binary(p)) == 5
    w = TimeWindow(1_600_000_000 * 10**9, 1_800_000_000 * 10**9)
    c = read_binary(p, time_window=w)
    assert [r.line for r in c.rejects] == [3] and len(c) == 4


def test_binary_dictionary_of_empty_strings_is_refused_fast(tmp_path):
    import struct
    import time

    from cns.news.binary import _HEADER, HEADER_SIZE, RECORD_SIZE, VERSION

    d = struct.pack("<I", 0xFFFFFFFF) + b"\x00" * 20_000_000
    r_off = (HEADER_SIZE + len(d) + 7) & ~7
    hdr = _HEADER.pack(MAGIC, VERSION, HEADER_SIZE, RECORD_SIZE, 0, HEADER_SIZE, len(d), r_off, r_off, 0)
    (tmp_path / "d.cnsb").write_bytes(hdr + d + b"\x00" * (r_off - HEADER_SIZE - len(d)))
    t = time.perf_counter()
    with pytest.raises(NewsFormatError):
        read_binary(tmp_path / "d.cnsb")
    assert time.perf_counter() - t < 1.0


def test_write_jsonl_of_a_binary_batch_reads_back(tmp_path, small_world):
    write_jsonl(small_world.batch, tmp_path / "w.jsonl")
    assert len(read_jsonl(tmp_path / "w.jsonl")) == len(small_world.batch)


# ---- the sentiment table cache -------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", [lambda b: b[:100], lambda b: b"", lambda b: b"PK\x03\x04garbage"])
def test_damaged_lexicon_cache_is_rebuilt(tmp_path, damage):
    from cns.news.sentiment import _cache_path, load_lexicon

    first = load_lexicon(tmp_path)
    p = _cache_path(tmp_path)
    p.write_bytes(damage(p.read_bytes()))
    again = load_lexicon(tmp_path)
    assert again.n_words == first.n_words and np.array_equal(again.keys, first.keys)
    assert load_lexicon(tmp_path).n_words == first.n_words  # and the file was repaired
    assert [x.name for x in tmp_path.iterdir()] == [p.name]


def test_lexicon_cache_defaults_to_the_private_cache_root(tmp_path, monkeypatch):
    import stat

    import cns.news.sentiment as sm

    monkeypatch.setenv("CNS_CACHE_DIR", str(tmp_path / "root"))
    assert sm._cache_path(None).parent == tmp_path / "root"
    assert stat.S_IMODE((tmp_path / "root").stat().st_mode) == 0o700


def test_parse_chunk_refuses_buffers_the_kernel_would_write_past(tmp_path):
    from cns.news import parse_binary_chunk
    from cns.news.errors import NewsBatchError
    from cns.signals.dtypes import NEWS_DTYPE

    p, raw, lay, _ = _image(tmp_path, 50)
    img = np.frombuffer(bytes(raw), np.uint8)
    ok_out, ok_st = np.empty(50, NEWS_DTYPE), np.zeros(50, np.uint8)
    for out, st, start in (
        (np.empty(10, NEWS_DTYPE), ok_st, 0),
        (ok_out, np.zeros(10, np.uint8), 0),
        (ok_out, np.zeros(50, np.int64), 0),
        (np.empty(50, np.int64), ok_st, 0),
        (ok_out, ok_st, -3),
    ):
        with pytest.raises(NewsBatchError):
            parse_binary_chunk(img, lay, start, 50, out, st)
    assert parse_binary_chunk(img, lay, 40, 50, np.empty(10, NEWS_DTYPE), np.zeros(10, np.uint8)) == 10
