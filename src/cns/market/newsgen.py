"""Seeded, vectorised generator of a simulated news world: true stories reported by several sources, false
rumors, heartbeats and test traffic, with the hidden truth (``STORY_DTYPE``) kept for the price simulator.

Credible sources report a true story first and close to the truth; low-credibility sources report late (delay
scale grows as credibility falls) and distorted (noisy magnitude, sometimes the wrong sign). False rumors move
nothing and come mostly from blogs/social media. Headlines come from templates whose Loughran-McDonald words
follow the *reported* direction (12 % neutral). All timestamps are ns since the Unix epoch, starting at
``EPOCH_NS`` (2026-01-05 14:30 UTC); items are sorted by ``receive_ns``. Same parameters + seed = same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cns.market.dtypes import STORY_DTYPE
from cns.market.newsgen_kernels import argsort_times, assemble_headlines, fill_records
from cns.market.newsgen_templates import TEMPLATES, TEST_TEMPLATE
from cns.market.universe import (
    DEFAULT_SOURCES,
    InstrumentInfo,
    SourceInfo,
    default_instruments,
    source_dictionary,
    ticker_dictionary,
)
from cns.news.batch import NewsBatch
from cns.signals.dtypes import (
    EVIDENCE_EXPERT,
    EVIDENCE_PRIMARY,
    EVIDENCE_SECONDARY,
    EVIDENCE_STATISTICAL,
    FLAG_DIRECT_QUOTE,
    FLAG_HAS_EVIDENCE,
    FLAG_STATISTICAL,
    FLAG_TEST,
    KIND_CENTRAL_BANK,
    KIND_EARNINGS,
    KIND_GUIDANCE,
    KIND_HEARTBEAT,
    KIND_MACRO,
    KIND_MNA,
    KIND_RUMOR,
    KIND_SUPPLY,
    N_KINDS,
    NEWS_DTYPE,
)

EPOCH_NS = 1_767_623_400 * 1_000_000_000  # 2026-01-05 14:30:00 UTC
GENERATOR_VERSION = 1
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
    impact_delay_ms_median: float = 300.0
    credible_threshold: int = 80


@dataclass(frozen=True, slots=True)
class GeneratedNews:
    """A generated world. ``story_of[i]`` is the index into ``stories`` of item ``batch.records[i]`` (-1 for
    heartbeats and test traffic). ``from_cache`` says whether :func:`load_or_generate` read it from disk."""

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


def _template_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                 np.ndarray]:
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


def generate_news(
    n_events: int = 4_565_400,
    seconds: float = 300.0,
    seed: int = 7,
    instruments: tuple[InstrumentInfo, ...] | None = None,
    sources: tuple[SourceInfo, ...] = DEFAULT_SOURCES,
    config: NewsGenConfig = NewsGenConfig(),
    *,
    sentiment: bool = True,
) -> GeneratedNews:
    """Generate ``n_events`` news items over ``seconds`` s of simulated time, deterministically for ``seed``.

    Codes use the canonical dictionaries of ``instruments``/``sources`` (data sources: the source dictionary).
    ``sentiment`` fills ``records['sentiment']`` with the LM polarity of the generated headlines.
    """
    if n_events < 0 or seconds <= 0:
        raise ValueError(f"generate_news: need n_events >= 0 and seconds > 0, got {n_events}, {seconds}")
    instruments = instruments or default_instruments()
    rng = np.random.default_rng(seed)
    span = int(seconds * 1e9)
    cfg = config
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
    s_kind = np.where(st_true, rng.choice(_TRUE_KINDS, n_st, p=_TRUE_KIND_P),
                      rng.choice(_FALSE_KINDS, n_st, p=_FALSE_KIND_P)).astype(np.uint8)
    on_index = (s_kind == KIND_MACRO) | (s_kind == KIND_CENTRAL_BANK)
    s_instr = np.where(on_index, index_code, stock_codes[rng.integers(0, len(stock_codes), n_st)])
    s_first = rng.integers(0, span, n_st)
    sign = np.where(rng.random(n_st) < 0.5, 1.0, -1.0)
    sign = np.where(s_kind == KIND_SUPPLY, np.where(rng.random(n_st) < 0.85, -1.0, 1.0), sign)
    sign = np.where(s_kind == KIND_MNA, np.where(rng.random(n_st) < 0.8, 1.0, -1.0), sign)
    mag = cfg.impact_pct_median * rng.lognormal(0.0, 0.6, n_st) * np.where(on_index, 0.4, 1.0)
    claim = sign * np.clip(mag, 0.05, 15.0)  # the move the story implies; the truth only when st_true
    s_delay = np.clip(cfg.impact_delay_ms_median * rng.lognormal(0.0, 0.7, n_st), 20.0, 5000.0) * 1e6
    s_eps = np.round(rng.uniform(0.5, 5.0, n_st), 2)
    s_rate = 4.25 + 0.25 * np.where(claim > 0, -1.0, 1.0)  # rate cuts lift prices
    s_lead = rng.integers(0, 2_000_000_000, n_st)
    s_hash = rng.integers(0, 256, (n_st, 32), dtype=np.uint8)

    # ---- reports ----------------------------------------------------------------------------------------
    s = np.repeat(np.arange(n_st), sizes)
    m = len(s)
    starts = np.cumsum(sizes) - sizes
    rank = np.arange(m) - np.repeat(starts, sizes)
    tru = st_true[s]
    p_cred = np.where(tru, np.where(rank == 0, 1.0, 0.55), 0.1)
    use_cred = rng.random(m) < p_cred
    src = np.where(use_cred, cred_pool[rng.integers(0, len(cred_pool), m)],
                   low_pool[rng.integers(0, len(low_pool), m)])
    f = cred[src] / 100.0
    scale_ns = (50.0 + (100.0 - cred[src]) * 20.0) * 1e6
    recv = np.minimum(s_first[s] + np.where(rank > 0, rng.exponential(1.0, m) * scale_ns, 0).astype(np.int64),
                      span - 1)
    flip = tru & (rng.random(m) < (1.0 - f) * 0.3)
    moved = claim[s] * (1.0 + rng.normal(0.0, 1.0, m) * (1.0 - f) * 0.8)
    moved = np.where(flip, -moved, moved)
    kind = s_kind[s]
    conf = np.where(tru, np.clip(f * rng.uniform(0.85, 1.05, m), 0.05, 1.0), rng.uniform(0.2, 0.75, m))

    # ---- all items (reports, heartbeats, test traffic) as unsorted columns ------------------------------
    n_all = m + n_hb + n_test

    def cat(rep: object, hb: object, test: object, dtype: type) -> np.ndarray:
        full = np.empty(n_all, dtype)
        full[:m] = rep
        full[m : m + n_hb] = hb
        full[m + n_hb :] = test
        return full

    srcs = cat(src, rng.integers(1, len(sources) + 1, n_hb), cred_pool[rng.integers(0, len(cred_pool), n_test)],
               np.int64)
    recv_all = cat(recv, rng.integers(0, span, n_hb), rng.integers(0, span, n_test), np.int64)
    order = argsort_times(recv_all, span)
    sid = cat(s, -1, -1, np.int64)
    kinds = cat(kind, KIND_HEARTBEAT, rng.integers(KIND_EARNINGS, KIND_CENTRAL_BANK + 1, n_test), np.uint8)
    tick = cat(s_instr[s], 0, stock_codes[rng.integers(0, len(stock_codes), n_test)], np.int64)
    conf_all = cat(conf, 1.0, 1.0, np.float64)
    mv = cat(moved, np.nan, np.nan, np.float64)
    rep = sid >= 0
    rs = np.where(rep, sid, 0)
    true_rep = rep & st_true[rs]
    event = np.where(true_rep, EPOCH_NS + s_first[rs] - s_lead[rs], 0)
    lat = rng.integers(500_000, 5_000_000, n_all) + ((100.0 - cred[srcs]) * 100_000).astype(np.int64)
    earn = rep & (kinds == KIND_EARNINGS)
    cb = rep & (kinds == KIND_CENTRAL_BANK)
    macro = rep & (kinds == KIND_MACRO)
    eps_exp = np.where(earn, s_eps[rs], np.nan)
    eps_act = np.where(earn, np.round(s_eps[rs] * (1.0 + mv * 0.03), 2), np.nan)
    rate = np.where(cb, s_rate[rs], np.nan)
    move = np.where(rep & ~earn & ~cb, mv, np.nan)
    flags = np.where(macro, FLAG_STATISTICAL, 0) | np.where(cb, FLAG_DIRECT_QUOTE, 0)
    flags |= np.where(~rep & (kinds != KIND_HEARTBEAT), FLAG_TEST, 0)
    has_ev = true_rep & (cred[srcs] >= cfg.credible_threshold) & (rng.random(n_all) < 0.7)
    flags = (flags | np.where(has_ev, FLAG_HAS_EVIDENCE, 0)).astype(np.uint16)
    dsrc = np.where(macro, bls, 0)
    ev = np.where(has_ev, np.where(official[srcs], EVIDENCE_PRIMARY, EVIDENCE_SECONDARY), 0)
    ev = np.where(macro, EVIDENCE_STATISTICAL, ev)
    ev = np.where(rep & ~true_rep & (rng.random(n_all) < 0.2), EVIDENCE_EXPERT, ev).astype(np.uint8)
    hash_idx = np.where(has_ev, sid, -1)

    # ---- headlines: template from the reported direction (EPS surprise for earnings), some neutral ---------
    pieces, pre_off, pre_len, suf_off, suf_len, first, count = _template_tables()
    pol = np.where(np.isnan(mv) | (mv >= 0), 1, -1)
    surprise = np.sign(np.where(earn, eps_act - eps_exp, 0.0)).astype(np.int64)
    pol = np.where(surprise != 0, surprise, pol)
    pol = np.where(rng.random(n_all) < cfg.neutral_headline_share, 0, pol)
    kk = kinds.astype(np.int64)
    cnt = count[kk, pol + 1]
    pol = np.where(cnt == 0, 0, pol)
    cnt = count[kk, pol + 1]
    tmpl = first[kk, pol + 1] + (rng.random(n_all) * np.maximum(cnt, 1)).astype(np.int64)
    tmpl = np.where(kinds == KIND_HEARTBEAT, -1, tmpl)
    tmpl = np.where(flags & FLAG_TEST, len(TEMPLATES), tmpl)
    tk_strings = [x.encode() for x in ticker_dictionary(instruments).strings()]
    tk_len = np.array([len(x) for x in tk_strings], np.int64)
    tk_off = np.cumsum(tk_len) - tk_len
    tk_blob = np.frombuffer(b"".join(tk_strings) or b"\0", np.uint8)
    tc = np.maximum(tmpl, 0)
    hl = np.where(tmpl >= 0, pre_len[tc] + tk_len[tick] + suf_len[tc], 0)[order]
    off = np.cumsum(hl) - hl
    blob = np.empty(int(hl.sum()), np.uint8)
    assemble_headlines(order, tmpl, tick, pre_off, pre_len, suf_off, suf_len, pieces, tk_off, tk_len, tk_blob,
                       off, blob)
    r = np.zeros(n_all, NEWS_DTYPE)
    fill_records(r, order, EPOCH_NS, recv_all, lat, event, srcs, dsrc, tick, kinds, ev, flags, conf_all,
                 eps_act, eps_exp, move, rate, hash_idx, s_hash, off, hl)
    story_of = sid[order]

    stories = np.zeros(n_st, STORY_DTYPE)
    stories["story_id"] = np.arange(n_st)
    stories["instrument"] = s_instr
    stories["kind"] = s_kind
    stories["first_report_ns"] = EPOCH_NS + s_first
    stories["impact_pct"] = np.where(st_true, claim, 0.0)
    stories["impact_delay_ns"] = np.where(st_true, s_delay.astype(np.int64), 0)
    stories["is_true"] = st_true
    if sentiment and n_all:
        from cns.news.sentiment import score_records

        score_records(r, blob)
    batch = NewsBatch(r, blob, src_dict, ticker_dictionary(instruments), data_dict, [])
    return GeneratedNews(batch, stories, story_of.astype(np.int64))


def cache_key(n_events: int, seconds: float, seed: int, instruments: tuple[InstrumentInfo, ...] | None,
              sources: tuple[SourceInfo, ...], config: NewsGenConfig) -> str:
    """A stable hex key of every parameter that changes the generated bytes."""
    text = repr((GENERATOR_VERSION, n_events, float(seconds), seed, instruments or default_instruments(),
                 sources, config))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def load_or_generate(
    n_events: int = 4_565_400,
    seconds: float = 300.0,
    seed: int = 7,
    cache_dir: str | Path = ".cache/cns",
    instruments: tuple[InstrumentInfo, ...] | None = None,
    sources: tuple[SourceInfo, ...] = DEFAULT_SOURCES,
    config: NewsGenConfig = NewsGenConfig(),
) -> GeneratedNews:
    """:func:`generate_news`, cached in ``cache_dir`` as ``news-<key>.cnsb`` + ``stories-<key>.npy`` +
    ``story_of-<key>.npy`` (key: :func:`cache_key`). A hit reads the files (``from_cache=True``)."""
    from cns.news.binary import read_binary, write_binary

    d = Path(cache_dir)
    key = cache_key(n_events, seconds, seed, instruments, sources, config)
    news, st, so = d / f"news-{key}.cnsb", d / f"stories-{key}.npy", d / f"story_of-{key}.npy"
    if news.exists() and st.exists() and so.exists():
        batch = read_binary(news)
        stories, story_of = np.load(st), np.load(so)
        if stories.dtype == STORY_DTYPE and len(story_of) == len(batch) and not batch.rejects:
            return GeneratedNews(batch, stories, story_of, from_cache=True)
    gen = generate_news(n_events, seconds, seed, instruments, sources, config)
    d.mkdir(parents=True, exist_ok=True)
    for path in (st, so, news):
        tmp = path.with_name(path.name + ".tmp")
        if path is news:
            write_binary(gen.batch, tmp)
        else:
            with open(tmp, "wb") as fh:
                np.save(fh, gen.stories if path is st else gen.story_of)
        tmp.replace(path)
    return gen


_MALFORMED = (
    b"{\"id\": 1, \"source\": \"reuters.com\", \"publish_ns\": ",  # truncated JSON
    b"{\"id\": 2, \"source\": \"x\", \"publish_ns\": 1, \"receive_ns\": 1, \"tickers\": [], \"type\": \"weather\", "
    b"\"headline\": \"\", \"confidence\": 1}",  # unknown type
    b"{\"id\": 3, \"source\": \"x\", \"publish_ns\": 1, \"receive_ns\": 1, \"tickers\": [], \"type\": \"rumor\", "
    b"\"headline\": \"\", \"confidence\": 1.7}",  # confidence out of range
    b"{\"id\": 4, \"source\": \"x\", \"publish_ns\": 1, \"receive_ns\": 1, \"tickers\": [], \"type\": \"rumor\", "
    b"\"headline\": \"\", \"confidence\": 1, \"evidence_hash\": \"not-hex\"}",  # bad hash
    b"{\"id\": 5, \"source\": \"x\", \"headline\": \"\\xff\"}".replace(b"\\xff", b"\xff"),  # not UTF-8
    b"[\"not\", \"an\", \"object\"]",
)


def write_generated_jsonl(gen: GeneratedNews, path: str | Path, malformed_share: float = 0.0,
                          seed: int = 0) -> int:
    """Write ``gen.batch`` as JSON Lines with about ``malformed_share`` of extra malformed lines mixed in
    (for exercising the quarantine); returns the number of malformed lines written."""
    from cns.news.jsonl import write_jsonl

    write_jsonl(gen.batch, path)
    if malformed_share <= 0:
        return 0
    lines = Path(path).read_bytes().split(b"\n")[:-1]
    rng = np.random.default_rng(seed)
    n_bad = max(1, int(len(lines) * malformed_share))
    at = np.sort(rng.integers(0, len(lines) + 1, n_bad))
    which = rng.integers(0, len(_MALFORMED), n_bad)
    out: list[bytes] = []
    prev = 0
    for pos, w in zip(at.tolist(), which.tolist()):
        out.extend(lines[prev:pos])
        out.append(_MALFORMED[w])
        prev = pos
    out.extend(lines[prev:])
    Path(path).write_bytes(b"\n".join(out) + b"\n")
    return n_bad
