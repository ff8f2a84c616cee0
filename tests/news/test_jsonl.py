from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from cns.news import read_jsonl, write_jsonl, write_rejects
from cns.signals.dtypes import EVIDENCE_PRIMARY, FLAG_HAS_EVIDENCE, FLAG_STATISTICAL, KIND_EARNINGS
from cns.signals.universe import source_dictionary, ticker_dictionary

from .conftest import item, line


def test_good_line_lands_in_record():
    b = read_jsonl([line()])
    assert len(b) == 1 and not b.rejects
    r = b.records[0]
    assert r["id"] == 17 and r["kind"] == KIND_EARNINGS
    assert b.sources.string(int(r["source"])) == "reuters.com"
    assert r["source"] == source_dictionary().code("reuters.com")
    assert r["n_tickers"] == 1 and b.tickers.string(int(r["tickers"][0])) == "AAPL"
    assert r["eps_actual"] == 3.14 and math.isnan(r["move_pct"]) and r["confidence"] == 0.9
    assert bytes(r["evidence_hash"]) == bytes.fromhex("ab" * 32)
    assert r["flags"] == FLAG_STATISTICAL | FLAG_HAS_EVIDENCE and r["evidence_type"] == EVIDENCE_PRIMARY
    assert b.data_sources.string(int(r["data_source"])) == "bls.gov"
    assert b.headline(0) == "Apple beats estimates as profit surpasses forecasts"
    assert r["sentiment"] > 0.99  # "profit" and "surpasses" are LM positive


def test_optional_keys_may_be_absent():
    d = item()
    for k in (
        "event_ns",
        "evidence_hash",
        "evidence_type",
        "data_source",
        "flags",
        "eps_actual",
        "eps_expected",
        "move_pct",
        "rate",
    ):
        d.pop(k)
    b = read_jsonl([msgspec.json.encode(d)])
    assert len(b) == 1 and b.records[0]["event_ns"] == 0 and b.records[0]["flags"] == 0


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"id": 1, "headline": "\xff\xfe"}', "not_utf8"),
        ("{bad json", "bad_json"),
        ("[1, 2, 3]", "not_object"),
        ('{"id": 1}', "missing_field"),
        (line(id="seventeen"), "bad_type"),
        (line(publish_ns=1.5), "bad_type"),
        (line(type="weather"), "unknown_kind"),
        (line(evidence_hash="xyz"), "bad_hash"),
        (line(evidence_hash="ab" * 31), "bad_hash"),
        (line(confidence=1.5), "confidence_range"),
        (line(confidence=-0.1), "confidence_range"),
        (line(tickers=["A", "B", "C", "D", "E"]), "too_many_tickers"),
        (line(id=2**64), "bad_value"),
        (line(evidence_type="hearsay"), "bad_value"),
        (line(flags=["urgent"]), "bad_value"),
        (line(tickers=[""]), "bad_value"),
    ],
)
def test_each_malformed_line_is_quarantined_with_reason_and_line_number(raw, code):
    lines = [line(id=1), raw, line(id=3)]
    b = read_jsonl(lines)
    assert list(b.records["id"]) == [1, 3]  # the read went on
    assert len(b.rejects) == 1
    rej = b.rejects[0]
    assert rej.line == 2 and rej.code == code, rej.reason
    assert b.reject_counts() == {code: 1}
    assert rej.raw  # the offending text is kept


def test_blank_lines_are_skipped_and_file_line_numbers_count_them(tmp_path):
    p = tmp_path / "n.jsonl"
    p.write_text("\n".join([line(id=1), "", "oops", line(id=4)]) + "\n")
    b = read_jsonl(p, rejects_path=tmp_path / "rej.jsonl")
    assert list(b.records["id"]) == [1, 4]
    assert [r.line for r in b.rejects] == [3]
    rej = [msgspec.json.decode(x) for x in (tmp_path / "rej.jsonl").read_bytes().splitlines()]
    assert rej == [{"line": 3, "reason": b.rejects[0].reason, "raw": "oops"}]


def test_dictionaries_are_extended_for_unseen_strings():
    src, tick = source_dictionary(), ticker_dictionary()
    n_src, n_tick = len(src), len(tick)
    b = read_jsonl(
        [line(source="newblog.io", tickers=["AAPL", "NEWCO"]), line(source="newblog.io")], src, tick
    )
    assert b.sources is src and b.tickers is tick
    assert len(src) == n_src + 1 and len(tick) == n_tick + 1
    assert b.records["source"][0] == b.records["source"][1] == src.code("newblog.io") == n_src
    assert b.records["tickers"][0, 1] == tick.code("NEWCO") == n_tick
    assert b.records["tickers"][0, 0] == ticker_dictionary().code("AAPL")  # canonical codes kept


def test_jsonl_round_trip_is_field_exact(tmp_path, small_world):
    b = small_world.batch
    write_jsonl(b, tmp_path / "a.jsonl")
    c = read_jsonl(tmp_path / "a.jsonl")
    assert not c.rejects and len(c) == len(b)
    for f in b.records.dtype.names:
        if f != "headline_off":
            assert np.array_equal(b.records[f], c.records[f], equal_nan=True), f
    assert all(b.headline(i) == c.headline(i) for i in range(0, len(b), 7))
    write_jsonl(c, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_write_rejects_counts(tmp_path):
    b = read_jsonl(["x", "y", line()])
    assert write_rejects(b.rejects, tmp_path / "r.jsonl") == 2
