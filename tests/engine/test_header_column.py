"""The header-column tick loop: with the parse stage's header column, with header words derived in the kernel,
and one record at a time, the engine gives the same verdicts, codes, handlers and counts — on the synthetic
mix, on hostile records (random bytes in every field), across chunk boundaries and batch sizes, with and
without per-event stamps. Plus the generated prefetch plan covers what the handlers read, and the API checks."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cns.engine import VERDICT_ELIDED, EngineError, NewsValidator
from cns.resources import shipped_rules
from cns.rules.codegen import header_plan
from cns.rules.codegen_kernels import codes_any, codes_lookup
from cns.rules.codegen_tickloop import CHUNK
from cns.signals.dtypes import NEWS_DTYPE, NewsHeader, news_header
from cns.signals.schema import REGISTRY
from cns.signals.synth import extended_news_inputs, synth_news

DICTS, TABLES, ODD = extended_news_inputs()


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> NewsValidator:
    return NewsValidator.load(
        shipped_rules("news.ttl"),
        cache_dir=tmp_path_factory.mktemp("kernels"),
        dictionaries=DICTS,
        tables=TABLES,
        sample_every=7,
    )


def hostile(n: int, seed: int) -> np.ndarray:
    """Records of random bytes, with plausible values mixed into the fields ingress and handlers branch on."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, size=n * NEWS_DTYPE.itemsize, dtype=np.uint8).view(NEWS_DTYPE).copy()
    pick = rng.random((6, n))
    a["kind"] = np.where(pick[0] < 0.85, rng.integers(0, 10, n), a["kind"])
    a["flags"] = np.where(pick[1] < 0.75, rng.integers(0, 16, n), a["flags"])
    a["source"] = np.where(pick[2] < 0.75, rng.integers(0, len(DICTS["source"]) + 3, n), a["source"])
    c = pick[3]
    a["confidence"] = np.select(
        [c < 0.2, c < 0.3, c < 0.35, c < 0.8], [0.0, -0.0, np.nan, rng.random(n)], a["confidence"]
    )
    a["n_tickers"] = np.where(pick[4] < 0.8, rng.integers(0, 6, n), a["n_tickers"])
    a["tickers"] = np.where(
        rng.random((n, 4)) < 0.8, rng.integers(0, len(DICTS["ticker"]) + 2, (n, 4)), a["tickers"]
    )
    return a


def run(v: NewsValidator, recs: np.ndarray, batch: int, mode: str, stamps: bool = False):  # type: ignore[no-untyped-def]
    n = len(recs)
    verdict = np.full(n, 9, np.uint8)
    code = np.full(n, 9999, np.uint16)
    handler = np.full(n, 77, np.uint8)
    lat = np.where(np.arange(n) % 5 == 0, 0, -1).astype(np.int64) if stamps else None
    hdr = news_header(recs) if mode == "header" else None
    totals = np.zeros(5, np.int64)
    for i in range(0, n, batch):
        s = v.process(
            recs[i : i + batch],
            verdict[i : i + batch],
            code[i : i + batch],
            handler[i : i + batch],
            None if lat is None else lat[i : i + batch],
            header=None if hdr is None else hdr[i : i + batch],
        )
        totals += (s.signals, s.processed, s.elided, s.rejected_at_ingress, s.violations)
        assert 0 < s.elision_cycles <= s.ingress_cycles or s.signals == 0
    return verdict, code, handler, totals, lat


@pytest.mark.parametrize("source", ["synth", "hostile"])
def test_header_column_derived_words_and_one_record_agree(validator: NewsValidator, source: str) -> None:
    recs = (
        synth_news(6 * CHUNK + 37, DICTS, seed=5, unregistered_source=ODD["unregistered"])
        if source == "synth"
        else hostile(6 * CHUNK + 37, 9)
    )
    ref = run(validator, recs, len(recs), "derive")
    one = np.array([validator.validate_one(recs, i) for i in range(len(recs))])
    np.testing.assert_array_equal(ref[0], one[:, 0])
    np.testing.assert_array_equal(ref[1], one[:, 1])
    for mode in ("header", "derive"):
        for batch in (1, CHUNK - 1, CHUNK, CHUNK + 1, 8192):
            got = run(validator, recs, batch, mode)
            for a, b in zip(got[:4], ref[:4], strict=True):
                np.testing.assert_array_equal(a, b)
    stamped = run(validator, recs, 2 * CHUNK + 3, "header", stamps=True)
    for a, b in zip(stamped[:4], ref[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    lat = stamped[4]
    assert (lat[::5] >= 0).all() and (np.delete(lat, np.s_[::5]) == -1).all()
    assert ref[3][2] == int((ref[0] == VERDICT_ELIDED).sum()) > 0 and ref[3][1] > 0


def test_header_is_what_ingress_reads(validator: NewsValidator) -> None:
    """With header columns, elision and the hoisted checks come from them (the records' own kind/flags/
    source/confidence are not read at ingress): a tag that says "heartbeat" elides a live record."""
    recs = synth_news(3000, DICTS, seed=8)
    hdr = news_header(recs)
    hdr.tag &= 0xFF00  # kind 0
    verdict = np.zeros(len(recs), np.uint8)
    code = np.zeros(len(recs), np.uint16)
    s = validator.process(recs, verdict, code, header=hdr)
    assert s.elided == len(recs) and (verdict == VERDICT_ELIDED).all() and s.processed == 0


def test_process_checks_the_header(validator: NewsValidator) -> None:
    recs = synth_news(100, DICTS, seed=2)
    v, c = np.zeros(100, np.uint8), np.zeros(100, np.uint16)
    assert validator.takes_header
    h = validator.make_header(recs)
    ref = news_header(recs)
    assert np.array_equal(h.tag, ref.tag) and np.array_equal(h.source, ref.source)
    bad = (
        news_header(recs[:99]),
        NewsHeader(ref.tag.astype(np.uint32), ref.source),
        NewsHeader(ref.tag, ref.source.astype(np.int64)),
        NewsHeader(np.repeat(ref.tag, 2)[::2], ref.source),
        NewsHeader(ref.tag, ref.source[:99]),
        np.zeros(100, np.uint64),
    )
    for b in bad:
        with pytest.raises(EngineError, match="header"):
            validator.process(recs, v, c, header=b)  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="out_handler"):
        validator.process(recs, v, c, np.zeros(99, np.uint8))
    s = validator.process(recs[:0], v, c, header=news_header(recs[:0]))
    assert s.signals == 0 and s.elided_cycles_per_signal == 0.0
    longer = news_header(synth_news(150, DICTS, seed=2))  # longer columns: the first len(batch) entries count
    s = validator.process(recs, v, c, header=longer)
    assert s.signals == 100


def test_stats_split_elision_from_ingress(validator: NewsValidator) -> None:
    recs = synth_news(20_000, DICTS, seed=4, unregistered_source=ODD["unregistered"])
    v, c = np.zeros(len(recs), np.uint8), np.zeros(len(recs), np.uint16)
    s = validator.process(recs, v, c, header=news_header(recs))
    assert 0 < s.elision_cycles < s.ingress_cycles
    assert s.elided_cycles_per_signal == pytest.approx(s.elision_cycles / s.signals)
    assert s.ingress_cycles_per_signal == pytest.approx(s.ingress_cycles / s.signals)
    rest = s.ingress_cycles - s.elision_cycles + s.dispatch_cycles
    assert s.processed_cycles_per_signal == pytest.approx(s.elided_cycles_per_signal + rest / s.processed)
    assert sum(h.samples for h in s.handlers) == s.sampled > 0


def test_header_plan_of_the_news_schema() -> None:
    hp = header_plan(REGISTRY.get("news"))
    assert hp["column"] is True and hp["zero_bits"] == {"confidence": 12}
    assert hp["elide"] == "((t & 4352) != 0) | (k == 0)"  # FLAG_TEST << 8 | confidence-is-zero bit 12
    assert "r.confidence == 0" in hp["derive_tag"] and hp["derive_src"] == "np.uint32(r.source)"


def test_prefetch_spans_cover_every_field_a_handler_reads(validator: NewsValidator) -> None:
    """Every field a dynamic check reads lies in the prefetch span of each kind row it applies to: with no
    flag set for an unguarded check, with its guard flag set for a guarded one."""
    from cns.rules.rdfio import parse_rdf, read_bytes
    from cns.rules.record import bind_record
    from cns.rules.shapes import load_shapes

    path = shipped_rules("news.ttl")
    plan = bind_record(load_shapes(parse_rdf(read_bytes(path), path), name=str(path)), validator.schema)
    mod = validator.artifact.module
    hmap = validator.artifact.meta["handlers"]
    bits = hmap["prefetch"]["flag_bits"]
    fields = NEWS_DTYPE.fields or {}
    nrows = hmap["n_kind_rows"]
    checked = 0
    for c in (c for c in plan.checks if not c.static):
        combo = (1 << bits.index(c.flag)) if c.flag else 0
        for row in range(nrows):
            kv = row if row < nrows - 1 else -1
            if hmap["handlers"][row] is None or not (c.kind_value is None or c.kind_value == kv):
                continue
            span = int(mod.PF_SPAN[row, combo])
            lo, hi = (span >> 32) & 4095, (span >> 44) & 4095
            for f in set(re.findall(r"\br\.(\w+)", c.cond + " " + c.value)):
                off, size = fields[f][1], fields[f][0].itemsize
                assert lo <= off and off + size <= hi, (row, c.cond, f, lo, hi)
                checked += 1
    assert checked > 50
    assert all(int(x) == 0 for x in mod.PF_SPAN[0])  # heartbeats: elided, nothing to fetch


def test_codes_any_is_codes_lookup_nonzero() -> None:
    rng = np.random.default_rng(3)
    luts = rng.integers(0, 3, 64).astype(np.uint16)
    luts[[0, 20]] = 0
    for _ in range(3000):
        off, n = int(rng.integers(0, 20)), int(rng.integers(0, 30))
        codes = rng.integers(0, 40, 4).astype(np.uint32)
        count = int(rng.integers(0, 7))
        assert bool(codes_any(luts, off, n, codes, count)) == (codes_lookup(luts, off, n, codes, count) != 0)
