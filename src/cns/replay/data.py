"""The replay's input: a CNS binary news image on disk (memory-mapped), plus the hidden stories if generated.

The default world is generated once per (events, seconds, seed) and cached in ``cache_dir``; a second run maps
the cached file without reading it into memory. ``--news`` accepts JSON Lines (converted once to the binary
format next to the cache, malformed lines quarantined to ``<out>/rejects.jsonl``) or a CNS binary file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cns.market.dtypes import STORY_DTYPE
from cns.market.newsgen import EPOCH_NS, NewsGenConfig, cache_key, load_or_generate
from cns.news.binary import BinaryLayout, is_binary, parse_binary_chunk, read_layout, write_binary
from cns.news.jsonl import read_jsonl
from cns.signals.dtypes import NEWS_DTYPE
from cns.signals.universe import DEFAULT_SOURCES

if TYPE_CHECKING:
    from cns.replay.driver import ReplayOptions


@dataclass(frozen=True, slots=True)
class NewsSource:
    """A mapped ``.cnsb`` image and what the replay needs around it (times in ns since epoch)."""

    path: Path
    raw: np.ndarray
    layout: BinaryLayout
    stories: np.ndarray
    start_ns: int
    from_cache: bool
    input_rejects: dict[str, int] = field(default_factory=dict)


def _map(path: Path) -> tuple[np.ndarray, BinaryLayout]:
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    return raw, read_layout(raw, str(path))


def _first_receive_ns(raw: np.ndarray, layout: BinaryLayout) -> int:
    out = np.empty(1, NEWS_DTYPE)
    status = np.zeros(1, np.uint8)
    for start in range(min(layout.n_records, 1024)):
        if parse_binary_chunk(raw, layout, start, 1, out, status):
            return int(out["receive_ns"][0])
    return EPOCH_NS


def _generated(opts: ReplayOptions) -> NewsSource:
    cache = Path(opts.cache_dir)
    key = cache_key(opts.events, opts.seconds, opts.seed, None, DEFAULT_SOURCES, NewsGenConfig())
    news, stories = cache / f"news-{key}.cnsb", cache / f"stories-{key}.npy"
    hit = news.exists() and stories.exists()
    if not hit:
        load_or_generate(opts.events, opts.seconds, opts.seed, cache_dir=cache)
    raw, layout = _map(news)
    st = np.load(stories)
    if st.dtype != STORY_DTYPE:
        raise ValueError(f"{stories}: not a story table (dtype {st.dtype}); delete the cache directory {cache}")
    return NewsSource(news, raw, layout, st, EPOCH_NS, hit)


def _user_news(opts: ReplayOptions) -> NewsSource:
    path = Path(opts.news_path or "")
    if not path.exists():
        raise FileNotFoundError(f"--news {path}: no such file")
    rejects: dict[str, int] = {}
    hit = True
    if not is_binary(path):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
        converted = Path(opts.cache_dir) / f"user-{digest}.cnsb"
        if not converted.exists():
            hit = False
            Path(opts.out_dir).mkdir(parents=True, exist_ok=True)
            batch = read_jsonl(path, rejects_path=Path(opts.out_dir) / "rejects.jsonl")
            rejects = batch.reject_counts()
            converted.parent.mkdir(parents=True, exist_ok=True)
            tmp = converted.with_name(converted.name + ".tmp")
            write_binary(batch, tmp)
            tmp.replace(converted)
        path = converted
    raw, layout = _map(path)
    return NewsSource(path, raw, layout, np.zeros(0, STORY_DTYPE), _first_receive_ns(raw, layout), hit, rejects)


def prepare_news(opts: ReplayOptions) -> NewsSource:
    """The news image for ``opts``: the user's file when given, else the cached (or new) default world."""
    return _user_news(opts) if opts.news_path else _generated(opts)
