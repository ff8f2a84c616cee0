"""The pipeline bench's Python peer does the same work as CNS's ingest on the same file.

The CNS side here is the replay's ingest without the actors (parse kernel, sentiment kernel, compiled rules,
corroboration kernel with the replay's end-of-chunk flush); the peer reads the same ``.cnsb`` file with
``struct``. Every count the bench reports side by side must match, including quarantined records and rule
violations planted in the file, and the decisions by action.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from cns.bench.pipeline_peer import RECORD, peer_ingest
from cns.engine import NewsValidator
from cns.engine.validator import DEFAULT_SHAPES
from cns.market.newsgen import generate_news
from cns.news.binary import parse_binary_chunk, read_layout, write_binary
from cns.news.sentiment import load_lexicon, score_records
from cns.signals.dtypes import FLAG_HAS_EVIDENCE, FLAG_STATISTICAL, FLAG_TEST, NEWS_DTYPE
from cns.trading.config import load_config
from cns.trading.corroborate import Corroborator
from cns.trading.corroborate_kernels import ACTION_NAMES
from cns.trading.credibility import CredibilityTable

BATCH = 1_000  # small wire chunks: the end-of-chunk flushes matter


def _cns_ingest(path: Path, batch: int) -> dict[str, object]:
    """The replay's ingest stages, in-process (no actors)."""
    cfg = load_config(None)
    raw = np.fromfile(path, np.uint8)
    layout = read_layout(raw)
    known = dict(cfg.credibility.sources)
    cred = np.array(
        [-1] + [round(known[s]) if s in known else -1 for s in layout.sources.strings()[1:]], np.int16
    )
    dicts = {"source": layout.sources, "ticker": layout.tickers, "data_source": layout.data_sources}
    v = NewsValidator.load(DEFAULT_SHAPES, dictionaries=dicts, tables={"credibility": cred})
    corr = Corroborator(
        cfg.corroboration,
        CredibilityTable.for_dictionary(layout.sources, cfg.credibility),
        n_tickers=len(layout.tickers) + 1,
    )
    blob = raw[layout.blob_offset : layout.blob_offset + layout.blob_len]
    lex = load_lexicon()
    counts = dict.fromkeys(("events", "quarantined", "zero_tick", "validated", "violations"), 0)
    decisions = []
    for start in range(0, layout.n_records, batch):
        count = min(batch, layout.n_records - start)
        out = np.empty(count, NEWS_DTYPE)
        status = np.zeros(count, np.uint8)
        k = parse_binary_chunk(raw, layout, start, count, out, status)
        recs = out[:k]
        score_records(recs, blob, lex)
        verdict, code = np.empty(k, np.uint8), np.empty(k, np.uint16)
        st = v.process(recs, verdict, code)
        counts["events"] += st.signals
        counts["quarantined"] += count - k
        counts["zero_tick"] += st.elided
        counts["violations"] += st.violations
        counts["validated"] += st.signals - st.elided - st.violations
        decisions.append(corr.process(recs, mask=verdict == 0))
        if k:
            decisions.append(corr.flush(int(recs["receive_ns"][-1])))
    decisions.append(corr.flush(None))
    d = np.concatenate(decisions)
    counts["signals"] = len(d)
    counts["decisions"] = {
        name: int(c)
        for name, c in zip(ACTION_NAMES, np.bincount(d["action"], minlength=len(ACTION_NAMES)), strict=True)
    }
    return counts


@pytest.fixture(scope="module")
def news_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world with rule violations and corrupt wire records planted in it."""
    gen = generate_news(6_000, 6.0, 3)
    r = gen.batch.records
    rng = np.random.default_rng(5)
    live = np.flatnonzero(r["kind"] != 0)
    pick = rng.choice(live, 80, replace=False).reshape(8, 10)
    r["publish_ns"][pick[0]] = r["receive_ns"][pick[0]] + 1  # publish after receive
    r["event_ns"][pick[1]] = r["publish_ns"][pick[1]] + 5  # event after publish
    r["flags"][pick[2]] |= FLAG_STATISTICAL  # statistical claim, no data source
    r["data_source"][pick[2]] = 0
    r["flags"][pick[3]] |= FLAG_HAS_EVIDENCE  # evidence without type / digest
    r["evidence_type"][pick[3]] = 0
    r["flags"][pick[4]] |= FLAG_TEST  # test traffic: elided
    r["confidence"][pick[5]] = 0.0  # zero confidence: elided
    r["source"][pick[6]] = 0  # no source
    r["kind"][pick[7]] = 1  # earnings without EPS
    r["eps_actual"][pick[7]] = math.nan
    path = tmp_path_factory.mktemp("peer") / "news.cnsb"
    write_binary(gen.batch, path)
    raw = bytearray(path.read_bytes())
    lay = read_layout(np.frombuffer(bytes(raw), np.uint8))
    for i, (off, fmt, value) in enumerate(((57, "<B", 9), (64, "<d", 1.5), (40, "<I", 10**6), (8, "<q", -5))):
        at = lay.records_offset + (100 + 7 * i) * RECORD.size + off  # bad kind, confidence, ticker code, time
        struct.pack_into(fmt, raw, at, value)
    rec = 300  # a headline that is not UTF-8
    hoff = struct.unpack_from("<Q", raw, lay.records_offset + rec * RECORD.size + 112)[0]
    hlen = struct.unpack_from("<I", raw, lay.records_offset + rec * RECORD.size + 108)[0]
    assert hlen > 0
    raw[lay.blob_offset + hoff] = 0xFF
    path.write_bytes(bytes(raw))
    return path


def test_peer_does_the_same_work_as_cns_on_the_same_file(news_file: Path) -> None:
    cns = _cns_ingest(news_file, BATCH)
    peer = peer_ingest(news_file, batch=BATCH)
    assert cns["quarantined"] >= 5 and cns["violations"] >= 60 and cns["signals"] > 0
    for key in ("events", "quarantined", "zero_tick", "validated", "violations", "signals", "decisions"):
        assert peer[key] == cns[key], (key, peer[key], cns[key])
    assert peer["wire_records"] == 6_000 and peer["events_per_s"] > 0
