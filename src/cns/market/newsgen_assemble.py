"""Assembly of a generated news world in memory (the generator proper behind :mod:`cns.market.newsgen`).

:func:`assemble_world` draws the stories (kind, instrument, claimed move, truth), their reports by credible
and low-credibility sources, heartbeats and test traffic from one seeded NumPy generator, in a fixed order,
and has the kernels of :mod:`cns.market.newsgen_kernels` combine them into ``NEWS_DTYPE`` records sorted by
``receive_ns`` with their headlines (templates of :mod:`cns.market.newsgen_templates` around the ticker) and
the hidden truth (``STORY_DTYPE``). The order of the random draws is part of the output: same parameters +
seed = same bytes. Parameters are checked by :func:`cns.market.newsgen.generate_news`, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cns.market.dtypes import STORY_DTYPE
from cns.market.newsgen_kernels import (
    GATHER_BLOCK,
    argsort_times,
    assemble_headlines,
    build_items,
    item_table,
    mark_below,
    report_items,
)
from cns.market.newsgen_templates import TEMPLATES, TEST_TEMPLATE
from cns.news.batch import NewsBatch
from cns.signals.dtypes import (
    KIND_CENTRAL_BANK,
    KIND_EARNINGS,
    KIND_GUIDANCE,
    KIND_MACRO,
    KIND_MNA,
    KIND_RUMOR,
    KIND_SUPPLY,
    N_KINDS,
    NEWS_DTYPE,
)
from cns.signals.universe import InstrumentInfo, SourceInfo, source_dictionary, ticker_dictionary

__all__ = ["EPOCH_NS", "GeneratedNews", "NewsGenConfig", "assemble_world"]

EPOCH_NS = 1_767_623_400 * 1_000_000_000  # 2026-01-05 14:30:00 UTC
_TRUE_KINDS = np.array([KIND_EARNINGS, KIND_MACRO, KIND_GUIDANCE, KIND_MNA, KIND_SUPPLY, KIND_CENTRAL_BANK])
_TRUE_KIND_P = np.array([0.35, 0.10, 0.15, 0.10, 0.15, 0.15])
_FALSE_KINDS = np.array([KIND_RUMOR, KIND_MNA, KIND_GUIDANCE, KIND_SUPPLY])
_FALSE_KIND_P = np.array([0.6, 0.2, 0.1, 0.1])


@dataclass(frozen=True, slots=True)
class NewsGenConfig:
    """Mix and behaviour of the generated world. Shares are fractions of all items (the rest are reports of
    true stories); delays in ms; ``impact_pct_median`` in percent."""

    heartbeat_share: float = 0.40
    test_share: float = 0.01
    rumor_share: float = 0.09
    mean_reports_true: float = 5.0
    mean_reports_false: float = 2.0
    neutral_headline_share: float = 0.12
    impact_pct_median: float = 0.8
    impact_delay_ms_median: float = 25.0  # news reaches prices in tens of ms (informed flow), not seconds
    credible_threshold: int = 80


@dataclass(frozen=True, slots=True)
class GeneratedNews:
    """A generated world. ``story_of[i]`` is the index into ``stories`` of item ``batch.records[i]`` (-1 for
    heartbeats and test traffic). ``from_cache`` says whether :func:`cns.market.newsgen.load_or_generate`
    read it from disk."""

    batch: NewsBatch
    stories: np.ndarray
    story_of: np.ndarray
    from_cache: bool = False


def _story_sizes(rng: np.random.Generator, n_items: int, mean: float) -> np.ndarray:
    """Reports per story (>= 1 each) summing exactly to ``n_items``."""
    if n_items <= 0:
        return np.zeros(0, np.int64)
    m = min(n_items, int(n_items / mean * 1.5) + 16)
    k = 1 + rng.poisson(max(mean - 1.0, 0.0), m)
    c = np.cumsum(k)
    if c[-1] < n_items:
        k = np.concatenate([k, np.ones(n_items - int(c[-1]), np.int64)])
        c = np.cumsum(k)
    last = int(np.searchsorted(c, n_items))
    k = k[: last + 1].copy()
    k[-1] -= int(c[last]) - n_items
    return k


def _template_tables() -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:
    """Template byte pieces and the (kind, polarity+1) -> first template id / count lookup."""
    texts = [t for _, _, t in TEMPLATES] + [TEST_TEMPLATE]
    pre = [t.split("{T}")[0].encode() for t in texts]
    suf = [t.split("{T}")[1].encode() for t in texts]
    pieces = b"".join(p + s for p, s in zip(pre, suf))
    pre_len = np.array([len(p) for p in pre], np.int64)
    suf_len = np.array([len(s) for s in suf], np.int64)
    pair = pre_len + suf_len
    pre_off = np.cumsum(pair) - pair
    suf_off = pre_off + pre_len
    first = np.full((N_KINDS, 3), -1, np.int64)
    count = np.zeros((N_KINDS, 3), np.int64)
    for i, (kind, pol, _) in enumerate(TEMPLATES):
        if first[kind, pol + 1] < 0:
            first[kind, pol + 1] = i
        count[kind, pol + 1] += 1
    return np.frombuffer(pieces, np.uint8), pre_off, pre_len, suf_off, suf_len, first, count


def _template_sentiment(
    pieces: np.ndarray,
    pre_off: np.ndarray,
    pre_len: np.ndarray,
    suf_off: np.ndarray,
    suf_len: np.ndarray,
    tk_off: np.ndarray,
    tk_len: np.ndarray,
    tk_blob: np.ndarray,
    sentiment: bool,
) -> np.ndarray:
    """``sent[t, c]`` = LM polarity of the headline of template ``t`` with ticker code ``c`` (float32).

    A generated headline is exactly ``prefix[t] + ticker[c] + suffix[t]``, so scoring each of the
    (templates x tickers) distinct headlines once with the sentiment kernel gives every record's polarity
    without scoring millions of copies. All zeros when ``sentiment`` is off.
    """
    n_t, n_c = len(pre_len), len(tk_len)
    sent = np.zeros((n_t, n_c), np.float32)
    if not sentiment:
        return sent
    from cns.news.sentiment import score_records

    tt = np.repeat(np.arange(n_t, dtype=np.int64), n_c)
    cc = np.tile(np.arange(n_c, dtype=np.int64), n_t)
    ln = pre_len[tt] + tk_len[cc] + suf_len[tt]
    off = np.cumsum(ln) - ln
    blob = np.empty(int(ln.sum()), np.uint8)
    assemble_headlines(
        np.arange(len(tt), dtype=np.int64),
        tt,
        cc,
        pre_off,
        pre_len,
        suf_off,
        suf_len,
        pieces,
        tk_off,
        tk_len,
        tk_blob,
        off,
        blob,
    )
    recs = np.zeros(len(tt), NEWS_DTYPE)
    recs["headline_off"] = off
    recs["headline_len"] = ln
    score_records(recs, blob)
    sent[tt, cc] = recs["sentiment"]
    return sent


def assemble_world(
    n_events: int,
    seconds: float,
    seed: int,
    instruments: tuple[InstrumentInfo, ...],
    sources: tuple[SourceInfo, ...],
    cfg: NewsGenConfig,
    sentiment: bool,
) -> GeneratedNews:
    """The world of ``n_events`` items over ``seconds`` s for ``seed`` (see the module doc); ``sentiment``
    scores the headlines' LM polarity into ``records['sentiment']``. Assumes checked parameters."""
    rng = np.random.default_rng(seed)
    span = int(seconds * 1e9)
    cred = np.array([0] + [s.credibility for s in sources], np.float64)  # by source code
    official = np.array([False] + [s.category == "official" for s in sources])
    codes = np.arange(1, len(sources) + 1)
    cred_pool = codes[cred[1:] >= cfg.credible_threshold]
    low_pool = codes[cred[1:] < cfg.credible_threshold]
    if len(cred_pool) == 0 or len(low_pool) == 0:
        cred_pool = low_pool = codes
    is_index = np.array([i.is_index for i in instruments])
    index_code = int(np.flatnonzero(is_index)[0]) + 1 if is_index.any() else 1
    stock_codes = np.flatnonzero(~is_index) + 1 if (~is_index).any() else np.arange(1, len(instruments) + 1)
    src_dict = source_dictionary(sources)
    data_dict = source_dictionary(sources)
    bls = data_dict.intern("bls.gov")

    # ---- item counts and stories -------------------------------------------------------------------------
    n_hb = int(n_events * cfg.heartbeat_share)
    n_test = int(n_events * cfg.test_share)
    n_false_items = int(n_events * cfg.rumor_share)
    n_true_items = n_events - n_hb - n_test - n_false_items
    k_true = _story_sizes(rng, n_true_items, cfg.mean_reports_true)
    k_false = _story_sizes(rng, n_false_items, cfg.mean_reports_false)
    st_true = np.concatenate([np.ones(len(k_true), bool), np.zeros(len(k_false), bool)])
    sizes = np.concatenate([k_true, k_false])
    n_st = len(sizes)
    s_kind = np.where(
        st_true,
        rng.choice(_TRUE_KINDS, n_st, p=_TRUE_KIND_P),
        rng.choice(_FALSE_KINDS, n_st, p=_FALSE_KIND_P),
    ).astype(np.uint8)
    on_index = (s_kind == KIND_MACRO) | (s_kind == KIND_CENTRAL_BANK)
    s_instr = np.where(on_index, index_code, stock_codes[rng.integers(0, len(stock_codes), n_st)])
    s_first = rng.integers(0, span, n_st)
    sign = np.where(rng.random(n_st) < 0.5, 1.0, -1.0)
    sign = np.where(s_kind == KIND_SUPPLY, np.where(rng.random(n_st) < 0.85, -1.0, 1.0), sign)
    sign = np.where(s_kind == KIND_MNA, np.where(rng.random(n_st) < 0.8, 1.0, -1.0), sign)
    mag = cfg.impact_pct_median * rng.lognormal(0.0, 0.6, n_st) * np.where(on_index, 0.4, 1.0)
    claim = sign * np.clip(mag, 0.05, 15.0)  # the move the story implies; the truth only when st_true
    s_delay = np.clip(cfg.impact_delay_ms_median * rng.lognormal(0.0, 0.7, n_st), 2.0, 1000.0) * 1e6
    s_eps = np.round(rng.uniform(0.5, 5.0, n_st), 2)
    s_rate = 4.25 + 0.25 * np.where(claim > 0, -1.0, 1.0)  # rate cuts lift prices
    s_lead = rng.integers(0, 2_000_000_000, n_st)
    s_hash = rng.integers(0, 256, (n_st, 32), dtype=np.uint8)

    # ---- reports (random columns drawn in a fixed order, combined in one kernel pass) --------------------
    m = int(sizes.sum())
    n_all = m + n_hb + n_test
    u_cred = rng.random(m)
    i_cred = rng.integers(0, len(cred_pool), m)
    i_low = rng.integers(0, len(low_pool), m)
    expo = rng.exponential(1.0, m)
    u_flip = rng.random(m)
    z = rng.normal(0.0, 1.0, m)
    c_true = rng.uniform(0.85, 1.05, m)
    c_false = rng.uniform(0.2, 0.75, m)
    sid = np.empty(n_all, np.int64)
    srcs = np.empty(n_all, np.int64)
    recv_all = np.empty(n_all, np.int64)
    moved = np.empty(m, np.float64)
    conf = np.empty(m, np.float64)
    report_items(
        sizes,
        st_true,
        s_first,
        claim,
        cred,
        cred_pool.astype(np.int64),
        low_pool.astype(np.int64),
        u_cred,
        i_cred,
        i_low,
        expo,
        u_flip,
        z,
        c_true,
        c_false,
        span,
        sid,
        srcs,
        recv_all,
        moved,
        conf,
    )
    del u_cred, i_cred, i_low, expo, u_flip, z, c_true, c_false

    # ---- heartbeats and test traffic, then the receive order ---------------------------------------------
    srcs[m : m + n_hb] = rng.integers(1, len(sources) + 1, n_hb)
    srcs[m + n_hb :] = cred_pool[rng.integers(0, len(cred_pool), n_test)]
    recv_all[m : m + n_hb] = rng.integers(0, span, n_hb)
    recv_all[m + n_hb :] = rng.integers(0, span, n_test)
    order = argsort_times(recv_all, span)
    test_kind = rng.integers(KIND_EARNINGS, KIND_CENTRAL_BANK + 1, n_test)
    test_tick = stock_codes[rng.integers(0, len(stock_codes), n_test)].astype(np.int64)
    lat_draw = rng.integers(500_000, 5_000_000, n_all)
    # four uniform columns drawn in turn into one buffer (same stream as four rng.random(n_all) calls)
    u = np.empty(n_all, np.float64)
    draw_bits = np.zeros(n_all, np.uint8)
    rng.random(out=u)
    mark_below(u, 0.7, draw_bits, 1)  # evidence attached (true reports from credible sources)
    rng.random(out=u)
    mark_below(u, 0.2, draw_bits, 2)  # "expert" evidence claimed by false reports
    rng.random(out=u)
    mark_below(u, cfg.neutral_headline_share, draw_bits, 4)  # neutral headline
    rng.random(out=u)  # template among those of (kind, polarity)

    # ---- records, headlines (template from the reported direction, EPS surprise for earnings) -------------
    pieces, pre_off, pre_len, suf_off, suf_len, first, count = _template_tables()
    assert len(pre_len) < 128  # template ids are int8 in the kernel
    tk_strings = [x.encode() for x in ticker_dictionary(instruments).strings()]
    tk_len = np.array([len(x) for x in tk_strings], np.int64)
    tk_off = np.cumsum(tk_len) - tk_len
    tk_blob = np.frombuffer(b"".join(tk_strings) or b"\0", np.uint8)
    sent = _template_sentiment(pieces, pre_off, pre_len, suf_off, suf_len, tk_off, tk_len, tk_blob, sentiment)
    r = np.zeros(n_all, NEWS_DTYPE)  # zeroed: padding bytes are deterministic
    story_of = np.empty(n_all, np.int64)
    items, items_u64 = item_table(n_all)
    block, block_u64 = item_table(GATHER_BLOCK)
    blob = build_items(
        r,
        story_of,
        order,
        items,
        items_u64,
        block,
        block_u64,
        m,
        n_hb,
        EPOCH_NS,
        sid,
        srcs,
        recv_all,
        moved,
        conf,
        test_kind,
        test_tick,
        lat_draw,
        draw_bits,
        u,
        st_true,
        s_kind,
        s_instr,
        s_first,
        s_lead,
        s_eps,
        s_rate,
        s_hash,
        cred,
        official,
        float(cfg.credible_threshold),
        bls,
        first,
        count,
        len(TEMPLATES),
        pieces,
        pre_off,
        pre_len,
        suf_off,
        suf_len,
        tk_off,
        tk_len,
        tk_blob,
        sent,
    )

    stories = np.zeros(n_st, STORY_DTYPE)
    stories["story_id"] = np.arange(n_st)
    stories["instrument"] = s_instr
    stories["kind"] = s_kind
    stories["first_report_ns"] = EPOCH_NS + s_first
    stories["impact_pct"] = np.where(st_true, claim, 0.0)
    stories["impact_delay_ns"] = np.where(st_true, s_delay.astype(np.int64), 0)
    stories["is_true"] = st_true
    batch = NewsBatch(r, blob, src_dict, ticker_dictionary(instruments), data_dict, [])
    return GeneratedNews(batch, stories, story_of)
