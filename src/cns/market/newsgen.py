"""Seeded, vectorised generator of a simulated news world: true stories reported by several sources, false
rumors, heartbeats and test traffic, with the hidden truth (``STORY_DTYPE``) kept for the price simulator.

Credible sources report a true story first and close to the truth; low-credibility sources report late (delay
scale grows as credibility falls) and distorted (noisy magnitude, sometimes the wrong sign). False rumors move
nothing and come mostly from blogs/social media. Headlines come from templates whose Loughran-McDonald words
follow the *reported* direction (12 % neutral). All timestamps are ns since the Unix epoch, starting at
``EPOCH_NS`` (2026-01-05 14:30 UTC); items are sorted by ``receive_ns``. Same parameters + seed = same bytes.

:func:`load_or_generate` caches a world in the private data cache (:func:`data_cache_dir`: ``$CNS_CACHE_DIR/data``
or ``~/.cache/cns/data``, mode 0700). Every file is written atomically and the entry is committed by a manifest
(sizes + CRC-32) written last; a hit is verified against it, and a missing, truncated or corrupted entry is
regenerated (with a warning) instead of failing.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cns.market._pages import small_pages
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
from cns.news.batch import NS_2100, NewsBatch
from cns.news.errors import NewsFormatError
from cns.news.fileio import atomic_writer, verify_manifest, write_manifest
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
from cns.signals.universe import (
    DEFAULT_SOURCES,
    InstrumentInfo,
    SourceInfo,
    default_instruments,
    source_dictionary,
    ticker_dictionary,
)
from cns.venue.errors import VenueConfigError

EPOCH_NS = 1_767_623_400 * 1_000_000_000  # 2026-01-05 14:30:00 UTC
GENERATOR_VERSION = 1
MAX_SECONDS = 10 * 365 * 86_400.0  # a generated world spans at most 10 years (and stays before 2100)
BYTES_PER_EVENT = (
    460  # rough peak memory of generate_news per event (records, blob, 64-byte item table, work columns)
)
_log = logging.getLogger(__name__)
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


def _check_size(n_events: int, seconds: float) -> None:
    """Refuse parameters that cannot make a world: :class:`VenueConfigError` (a ``ValueError``) naming them."""
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 0:
        raise VenueConfigError(f"generate_news: n_events must be an int >= 0, got {n_events!r}")
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise VenueConfigError(
            f"generate_news: seconds must be finite, > 0 and <= {MAX_SECONDS:.0f}, got {seconds!r}"
        )
    assert EPOCH_NS + int(MAX_SECONDS * 1e9) < NS_2100
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return
    need = int(n_events) * BYTES_PER_EVENT
    if phys > 0 and need > phys:
        raise VenueConfigError(
            f"generate_news: {n_events:,} events need about {need / 2**30:,.0f} GiB of memory, "
            f"this machine has {phys / 2**30:,.0f} GiB"
        )


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
    ``sentiment`` fills ``records['sentiment']`` with the LM polarity of the generated headlines. Its arrays
    are allocated without NumPy's huge-page advice (:func:`cns.market._pages.small_pages`, measured there).
    """
    _check_size(n_events, seconds)
    with small_pages():
        return _generate(
            n_events, seconds, seed, instruments or default_instruments(), sources, config, sentiment
        )


def _generate(
    n_events: int,
    seconds: float,
    seed: int,
    instruments: tuple[InstrumentInfo, ...],
    sources: tuple[SourceInfo, ...],
    cfg: NewsGenConfig,
    sentiment: bool,
) -> GeneratedNews:
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


def cache_key(
    n_events: int,
    seconds: float,
    seed: int,
    instruments: tuple[InstrumentInfo, ...] | None,
    sources: tuple[SourceInfo, ...],
    config: NewsGenConfig,
) -> str:
    """A stable hex key of every parameter that changes the generated bytes."""
    text = repr(
        (
            GENERATOR_VERSION,
            n_events,
            float(seconds),
            seed,
            instruments or default_instruments(),
            sources,
            config,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def data_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The data cache directory: ``cache_dir`` when given, else ``cns.cachedir.private_dir("data")``. Created
    mode 0700 where missing and checked safe either way (:class:`cns.cachedir.CacheDirError` otherwise)."""
    from cns.cachedir import private_dir

    return private_dir("data") if cache_dir is None else private_dir(root=Path(cache_dir))


@dataclass(frozen=True, slots=True)
class WorldFiles:
    """The files of one cached world (``key``: :func:`cache_key`); ``manifest`` commits the other three."""

    news: Path
    stories: Path
    story_of: Path
    manifest: Path

    @classmethod
    def at(cls, d: Path, key: str) -> WorldFiles:
        """The files of world ``key`` in cache directory ``d`` (not checked to exist)."""
        return cls(
            d / f"news-{key}.cnsb",
            d / f"stories-{key}.npy",
            d / f"story_of-{key}.npy",
            d / f"world-{key}.json",
        )

    @property
    def data(self) -> tuple[Path, Path, Path]:
        """The three data files (news binary, stories, story_of) that the manifest covers."""
        return self.news, self.stories, self.story_of


def _verify_world(files: WorldFiles, key: str) -> None:
    """Raise :class:`NewsFormatError` unless the cached world is complete and as written (see module doc)."""
    from cns.news.binary import read_layout

    meta = verify_manifest(files.manifest, files.data)
    if meta.get("key") != key:
        raise NewsFormatError(f"{files.manifest}: manifest of another world ({meta.get('key')!r})")
    raw = np.memmap(files.news, dtype=np.uint8, mode="r")
    n = read_layout(raw, str(files.news)).n_records
    del raw
    try:
        st = np.load(files.stories, mmap_mode="r", allow_pickle=False)
        so = np.load(files.story_of, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise NewsFormatError(f"{files.stories.parent}: unreadable story table ({exc})") from None
    if st.dtype != STORY_DTYPE or st.ndim != 1 or so.dtype != np.int64 or so.shape != (n,):
        raise NewsFormatError(f"{files.stories}: story tables do not match the {n}-record news file")


def cached_world(
    n_events: int = 4_565_400,
    seconds: float = 300.0,
    seed: int = 7,
    cache_dir: str | Path | None = None,
    instruments: tuple[InstrumentInfo, ...] | None = None,
    sources: tuple[SourceInfo, ...] = DEFAULT_SOURCES,
    config: NewsGenConfig = NewsGenConfig(),
    *,
    force: bool = False,
    timings: dict[str, float] | None = None,
) -> tuple[WorldFiles, GeneratedNews | None]:
    """The verified cache files of the world of these parameters, generating and caching it when missing,
    damaged or ``force``. Returns ``(files, None)`` on a verified hit, ``(files, world)`` when it was just made.

    Writing: each file atomically (temp + fsync + rename), then the manifest; the old manifest is removed
    first, so a crash mid-way leaves an entry that fails verification and is made again. Raises
    :class:`cns.cachedir.CacheDirError` for an unsafe directory, ``OSError`` when the disk refuses the write
    (nothing partial is left under a final name). ``timings``, when given, receives the measured wall
    seconds of a generation: ``generate_s`` (:func:`generate_news`) and ``write_s`` (files and manifest).
    """
    _check_size(n_events, seconds)
    d = data_cache_dir(cache_dir)
    key = cache_key(n_events, seconds, seed, instruments, sources, config)
    files = WorldFiles.at(d, key)
    if not force and files.manifest.exists():
        try:
            _verify_world(files, key)
            return files, None
        except NewsFormatError as exc:
            _log.warning("regenerating the cached news world: %s", exc)
    t0 = time.perf_counter()
    gen = generate_news(n_events, seconds, seed, instruments, sources, config)
    from cns.news.binary import write_binary

    t1 = time.perf_counter()
    files.manifest.unlink(missing_ok=True)
    for path, arr in ((files.stories, gen.stories), (files.story_of, gen.story_of)):
        with atomic_writer(path) as fh:
            np.save(fh, arr, allow_pickle=False)
    write_binary(gen.batch, files.news, durable=False)  # a cache: its manifest is checked on every load
    write_manifest(files.manifest, files.data, {"key": key, "generator": GENERATOR_VERSION})
    if timings is not None:
        timings.update(generate_s=t1 - t0, write_s=time.perf_counter() - t1)
    return files, gen


def load_or_generate(
    n_events: int = 4_565_400,
    seconds: float = 300.0,
    seed: int = 7,
    cache_dir: str | Path | None = None,
    instruments: tuple[InstrumentInfo, ...] | None = None,
    sources: tuple[SourceInfo, ...] = DEFAULT_SOURCES,
    config: NewsGenConfig = NewsGenConfig(),
) -> GeneratedNews:
    """:func:`generate_news`, cached in ``cache_dir`` (default: :func:`data_cache_dir`) as ``news-<key>.cnsb`` +
    ``stories-<key>.npy`` + ``story_of-<key>.npy`` + the manifest ``world-<key>.json`` (key: :func:`cache_key`).
    A verified hit reads the files (``from_cache=True``); a damaged entry is regenerated (see
    :func:`cached_world`)."""
    from cns.news.binary import read_binary

    files, gen = cached_world(n_events, seconds, seed, cache_dir, instruments, sources, config)
    if gen is None:
        batch = read_binary(files.news)
        stories, story_of = np.load(files.stories), np.load(files.story_of)
        if stories.dtype == STORY_DTYPE and len(story_of) == len(batch) and not batch.rejects:
            return GeneratedNews(batch, stories, story_of, from_cache=True)
        _log.warning("regenerating the cached news world: %s does not parse cleanly", files.news)
        files, gen = cached_world(
            n_events, seconds, seed, cache_dir, instruments, sources, config, force=True
        )
    assert gen is not None
    return gen


_MALFORMED = (
    b'{"id": 1, "source": "reuters.com", "publish_ns": ',  # truncated JSON
    b'{"id": 2, "source": "x", "publish_ns": 1, "receive_ns": 1, "tickers": [], "type": "weather", '
    b'"headline": "", "confidence": 1}',  # unknown type
    b'{"id": 3, "source": "x", "publish_ns": 1, "receive_ns": 1, "tickers": [], "type": "rumor", '
    b'"headline": "", "confidence": 1.7}',  # confidence out of range
    b'{"id": 4, "source": "x", "publish_ns": 1, "receive_ns": 1, "tickers": [], "type": "rumor", '
    b'"headline": "", "confidence": 1, "evidence_hash": "not-hex"}',  # bad hash
    b'{"id": 5, "source": "x", "headline": "\\xff"}'.replace(b"\\xff", b"\xff"),  # not UTF-8
    b'["not", "an", "object"]',
)


def write_generated_jsonl(
    gen: GeneratedNews, path: str | Path, malformed_share: float = 0.0, seed: int = 0
) -> int:
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
