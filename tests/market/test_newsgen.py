from __future__ import annotations

import numpy as np
import pytest

from cns.market.dtypes import STORY_DTYPE
from cns.market.newsgen import EPOCH_NS, NewsGenConfig, generate_news, load_or_generate
from cns.signals.dtypes import FLAG_HAS_EVIDENCE, FLAG_TEST, KIND_HEARTBEAT, KIND_RUMOR
from cns.signals.universe import DEFAULT_SOURCES

N, SECONDS = 60_000, 20.0


@pytest.fixture(scope="module")
def world():
    return generate_news(N, SECONDS, 42)


def test_story_dtype_contract():
    assert STORY_DTYPE.names == (
        "story_id",
        "instrument",
        "kind",
        "first_report_ns",
        "impact_pct",
        "impact_delay_ns",
        "is_true",
    )
    assert STORY_DTYPE["story_id"] == np.uint64 and STORY_DTYPE["instrument"] == np.uint32
    assert STORY_DTYPE["impact_delay_ns"] == np.int64 and STORY_DTYPE["is_true"] == np.uint8


def test_deterministic_for_a_seed(world):
    again = generate_news(N, SECONDS, 42)
    assert world.batch.records.tobytes() == again.batch.records.tobytes()
    assert np.array_equal(world.batch.headlines, again.batch.headlines)
    assert world.stories.tobytes() == again.stories.tobytes()
    other = generate_news(N, SECONDS, 43)
    assert other.batch.records.tobytes() != world.batch.records.tobytes()


def test_shape_order_and_window(world):
    r = world.batch.records
    assert len(r) == N and len(world.story_of) == N
    assert np.all(np.diff(r["receive_ns"]) >= 0)
    assert r["receive_ns"].min() >= EPOCH_NS and r["receive_ns"].max() < EPOCH_NS + int(SECONDS * 1e9)
    assert np.all(r["publish_ns"] < r["receive_ns"])
    assert np.array_equal(r["id"], np.arange(1, N + 1))
    assert np.all(world.story_of < len(world.stories))


def test_mix_matches_config(world):
    cfg = NewsGenConfig()
    r, so = world.batch.records, world.story_of
    hb = r["kind"] == KIND_HEARTBEAT
    test = (r["flags"] & FLAG_TEST) != 0
    assert abs(hb.mean() - cfg.heartbeat_share) < 0.01 and abs(test.mean() - cfg.test_share) < 0.005
    assert np.all(so[hb | test] == -1) and np.all(so[~hb & ~test] >= 0)
    assert np.all(r["headline_len"][hb] == 0) and np.all(r["headline_len"][~hb] > 0)
    st = world.stories
    rep_true = st["is_true"][so[so >= 0]] == 1
    assert abs((~rep_true).sum() / N - cfg.rumor_share) < 0.01
    assert np.all(st["impact_pct"][st["is_true"] == 0] == 0) and np.all(
        st["impact_pct"][st["is_true"] == 1] != 0
    )
    assert np.all(st["kind"][st["is_true"] == 1] != KIND_RUMOR)


def test_stories_agree_with_their_reports(world):
    r, so, st = world.batch.records, world.story_of, world.stories
    rep = np.flatnonzero(so >= 0)
    first = np.full(len(st), np.iinfo(np.int64).max)
    np.minimum.at(first, so[rep], r["receive_ns"][rep])
    assert np.array_equal(first, st["first_report_ns"])
    assert np.all(r["tickers"][rep, 0] == st["instrument"][so[rep]])
    assert np.all(r["kind"][rep] == st["kind"][so[rep]])


def test_credible_sources_first_and_rumors_from_low_credibility(world):
    r, so, st = world.batch.records, world.story_of, world.stories
    cred = np.array([0] + [s.credibility for s in DEFAULT_SOURCES])
    rep = np.flatnonzero(so >= 0)
    is_first = r["receive_ns"][rep] == st["first_report_ns"][so[rep]]
    true_rep = st["is_true"][so[rep]] == 1
    assert np.mean(cred[r["source"][rep[is_first & true_rep]]] >= 80) > 0.99
    assert np.mean(cred[r["source"][rep[~true_rep]]] < 80) > 0.85
    assert np.all((r["flags"][rep[~true_rep]] & FLAG_HAS_EVIDENCE) == 0)


def test_headline_sentiment_follows_the_true_direction(world):
    r, so, st = world.batch.records, world.story_of, world.stories
    rep = np.flatnonzero((so >= 0) & (np.abs(r["sentiment"]) > 0.5))
    true_rep = rep[st["is_true"][so[rep]] == 1]
    agree = np.sign(r["sentiment"][true_rep]) == np.sign(st["impact_pct"][so[true_rep]])
    assert 0.7 < agree.mean() < 1.0  # consistent with the impact, but noisy


def test_cache_hit_returns_the_same_world(tmp_path):
    a = load_or_generate(5_000, 5.0, 9, cache_dir=tmp_path)
    assert not a.from_cache and len(list(tmp_path.iterdir())) == 4  # news, stories, story_of, manifest
    b = load_or_generate(5_000, 5.0, 9, cache_dir=tmp_path)
    assert b.from_cache
    assert a.stories.tobytes() == b.stories.tobytes() and np.array_equal(a.story_of, b.story_of)
    for f in a.batch.records.dtype.names:
        assert np.array_equal(a.batch.records[f], b.batch.records[f], equal_nan=True), f
    c = load_or_generate(5_000, 5.0, 10, cache_dir=tmp_path)
    assert not c.from_cache and len(list(tmp_path.iterdir())) == 8


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="generate_news"):
        generate_news(10, 0.0, 1)


def test_jsonl_with_malformed_lines_is_quarantined_not_lost(tmp_path):
    from cns.market.newsgen import write_generated_jsonl
    from cns.news import read_jsonl

    g = generate_news(2_000, 2.0, 5)
    n_bad = write_generated_jsonl(g, tmp_path / "g.jsonl", malformed_share=0.01, seed=1)
    b = read_jsonl(tmp_path / "g.jsonl")
    assert n_bad == 20 and len(b.rejects) == n_bad and len(b) == 2_000
    assert np.array_equal(b.records["id"], g.batch.records["id"])
    assert set(b.reject_counts()) <= {
        "bad_json",
        "unknown_kind",
        "confidence_range",
        "bad_hash",
        "not_utf8",
        "not_object",
        "missing_field",
    }


def test_the_receive_time_sort_holds_for_long_days_of_many_items():
    """``n * span`` past int64 (20 M events over 1,314 s overflowed the bucket index and segfaulted)."""
    from cns.market.newsgen_kernels import argsort_times

    rng = np.random.default_rng(3)
    for n, span in ((1000, 1 << 62), (5000, 1_314_200_000_000), (7, 1), (0, 10)):
        t = rng.integers(0, span, n) if span > 1 else np.zeros(n, np.int64)
        t[: n // 10] = t[n // 10 : 2 * (n // 10)]  # ties: the sort must be stable
        assert np.array_equal(argsort_times(t, span), np.argsort(t, kind="stable"))
    with pytest.raises(ValueError, match="outside"):
        argsort_times(np.array([5, -1], np.int64), 10)
