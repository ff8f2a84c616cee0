"""The replay's input: a CNS binary news image on disk (memory-mapped), plus the hidden stories if generated.

Both kinds of cached input live in one place, the private data cache (:func:`cns.market.newsgen.data_cache_dir`:
``$CNS_CACHE_DIR/data`` or ``~/.cache/cns/data``, mode 0700; ``ReplayOptions.cache_dir`` overrides it):

* the default world, generated once per (events, seconds, seed) — see :func:`cns.market.newsgen.cached_world`;
* ``--news`` JSON Lines, converted once to the binary format (``user-<digest>.cnsb``) with its quarantine
  (``user-<digest>.rejects.jsonl``) kept next to it, so every run — first or cached — reports the same
  rejects and writes them to ``<out>/rejects.jsonl``. The digest covers the file's bytes, the converter
  version and the time window.

Each cache entry is committed by a manifest (sizes + CRC-32) and verified on load; a truncated or corrupted
entry is rebuilt with a warning. A CNS binary ``--news`` file is mapped as it is (a bad header is the
user's :class:`~cns.news.errors.NewsFormatError`; corrupt records are quarantined by the parse stage).

The replay's time span follows the data: it starts at the earliest accepted receive time and must fit the
exchange simulator's ``SimConfig.max_span_ns`` (with a margin for decision latency and exits); a file whose
times span more, or a ``seconds`` that is not a finite positive span within it, is refused up front
(:class:`~cns.venue.errors.SimClockError`) instead of simulating decades of market.
"""

from __future__ import annotations

import hashlib
import logging
import math
import mmap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from cns.market.dtypes import STORY_DTYPE
from cns.market.exchange import SimConfig
from cns.market.newsgen import EPOCH_NS, cached_world, data_cache_dir
from cns.news.batch import DEFAULT_TIME_WINDOW, Reject
from cns.news.binary import (
    RECORD_SIZE,
    BinaryLayout,
    is_binary,
    parse_binary_chunk,
    read_layout,
    write_binary,
)
from cns.news.errors import NewsError, NewsFormatError
from cns.news.fileio import verify_manifest, write_manifest
from cns.news.jsonl import read_jsonl, write_rejects
from cns.signals.dtypes import NEWS_DTYPE
from cns.venue.errors import SimClockError

if TYPE_CHECKING:
    from cns.replay.driver import ReplayOptions

CONVERTER_VERSION = 2  # bump when the JSONL -> binary conversion or its quarantine rules change
SPAN_MARGIN_NS = 60 * 1_000_000_000  # room past the data for decision latency, exits and the last slice
_SPAN_CHUNK = 1 << 16  # records parsed per step while finding the data's time span
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NewsSource:
    """A mapped ``.cnsb`` image and what the replay needs around it (times in ns since epoch).

    ``start_ns``/``end_ns``: the earliest/latest receive time of a record that parses (the generated world:
    its opening and ``opening + seconds``). ``input_rejects``: quarantined input lines by reason code (JSON
    Lines only; the same on every run of the same file); ``input_reject_list``: those rejects themselves."""

    path: Path
    raw: np.ndarray
    layout: BinaryLayout
    stories: np.ndarray
    start_ns: int
    from_cache: bool
    input_rejects: dict[str, int] = field(default_factory=dict)
    end_ns: int = 0
    input_reject_list: list[Reject] = field(default_factory=list)
    story_of: Path | None = (
        None  # the generated world's story of each record (groups public reports by event)
    )


class _RejectLine(msgspec.Struct):
    line: int
    reason: str
    raw: str


def _map(path: Path) -> tuple[np.ndarray, BinaryLayout]:
    if not path.stat().st_size:
        return np.zeros(0, np.uint8), read_layout(np.zeros(0, np.uint8), str(path))  # raises NewsFormatError
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    return raw, read_layout(raw, str(path))


_PAGE = mmap.PAGESIZE


def release_pages(raw: np.ndarray, start: int, stop: int) -> None:
    """Drop this process's resident pages of bytes ``start .. stop`` of a mapped image ``raw`` (an
    ``np.memmap`` of the whole file; anything else is left alone). The kernel's page cache keeps them: a later
    read faults them back in from memory. This is what bounds the replay's resident set by the chunk, not the
    file: the image is streamed through the mapping and each chunk's pages are dropped once it is parsed."""
    mm = getattr(raw, "_mmap", None)
    if mm is None or getattr(raw, "offset", 0) != 0:
        return
    a = max(0, start) // _PAGE * _PAGE
    b = min(stop, len(mm))
    if b > a:
        try:
            mm.madvise(mmap.MADV_DONTNEED, a, b - a)
        except (OSError, ValueError):  # a platform without madvise: the pages stay resident, nothing breaks
            pass


def release_chunk(
    raw: np.ndarray, layout: BinaryLayout, start: int, count: int, blob: tuple[int, int] = (0, 0)
) -> None:
    """:func:`release_pages` of wire records ``start .. start+count`` and of the blob bytes ``blob``
    (``(lo, hi)`` offsets into the headline blob) once a chunk is parsed."""
    a = layout.records_offset + start * RECORD_SIZE
    release_pages(raw, a, a + count * RECORD_SIZE)
    if blob[1] > blob[0]:
        release_pages(raw, layout.blob_offset + blob[0], layout.blob_offset + blob[1])


def _max_span_ns() -> int:
    return int(SimConfig().max_span_ns) - SPAN_MARGIN_NS


def _check_seconds(opts: ReplayOptions) -> int:
    """``opts.seconds`` in ns, or :class:`SimClockError` unless finite, > 0 and within the simulator's span."""
    s = opts.seconds
    limit = _max_span_ns()
    if not (isinstance(s, (int, float)) and math.isfinite(s) and 0 < s * 1e9 <= limit):
        raise SimClockError(
            f"seconds = {s!r}: the replay simulates a finite span > 0 of at most "
            f"{limit / 1e9:,.0f} s (SimConfig.max_span_ns minus a {SPAN_MARGIN_NS // 10**9} s margin)"
        )
    return int(s * 1e9)


def _time_span(raw: np.ndarray, layout: BinaryLayout) -> tuple[int, int, int]:
    """``(first, last, count)`` receive time and number of the records that parse (``EPOCH_NS`` twice when
    none does), by the parse kernel in chunks: records it would quarantine never set the span."""
    lo, hi, good = EPOCH_NS, EPOCH_NS, 0
    out = np.empty(min(layout.n_records, _SPAN_CHUNK), NEWS_DTYPE)
    status = np.zeros(len(out), np.uint8)
    for start in range(0, layout.n_records, _SPAN_CHUNK):
        n = parse_binary_chunk(raw, layout, start, _SPAN_CHUNK, out, status)
        if n:
            rec = out["receive_ns"][:n]
            a, b = int(rec.min()), int(rec.max())
            lo, hi = (a, b) if not good else (min(lo, a), max(hi, b))
            good += n
        release_chunk(raw, layout, start, _SPAN_CHUNK)
    return lo, hi, good


def _check_span(where: str, start: int, end: int, seconds_ns: int) -> None:
    limit = _max_span_ns()
    if max(end - start, seconds_ns) > limit:
        raise SimClockError(
            f"{where}: receive times span {(end - start) / 1e9:,.0f} s ({start} .. {end} ns), more than the "
            f"{limit / 1e9:,.0f} s the exchange simulator runs (SimConfig.max_span_ns minus a "
            f"{SPAN_MARGIN_NS // 10**9} s margin); split the file or fix its times"
        )


def _generated(opts: ReplayOptions) -> NewsSource:
    seconds_ns = _check_seconds(opts)
    files, made = cached_world(opts.events, opts.seconds, opts.seed, opts.cache_dir)
    raw, layout = _map(files.news)
    st = np.load(files.stories, allow_pickle=False)
    if st.dtype != STORY_DTYPE:  # verified on load: only a concurrent writer could get here
        raise NewsFormatError(f"{files.stories}: not a story table (dtype {st.dtype})")
    return NewsSource(
        files.news,
        raw,
        layout,
        st,
        EPOCH_NS,
        made is None,
        end_ns=EPOCH_NS + seconds_ns,
        story_of=files.story_of,
    )


def _digest(path: Path) -> str:
    """Cache key of a JSON Lines file: its bytes (streamed), the converter version and the time window."""
    with open(path, "rb") as fh:
        content = hashlib.file_digest(fh, "sha256").hexdigest()
    key = f"{content}|converter={CONVERTER_VERSION}|window={DEFAULT_TIME_WINDOW}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _load_rejects(path: Path) -> list[Reject]:
    dec = msgspec.json.Decoder(_RejectLine)
    try:
        return [Reject(r.line, r.reason, r.raw) for r in map(dec.decode, path.read_bytes().splitlines())]
    except (msgspec.DecodeError, OSError) as exc:
        raise NewsFormatError(f"{path}: unreadable quarantine file ({exc})") from None


def _converted(path: Path, opts: ReplayOptions) -> tuple[Path, list[Reject], bool]:
    """The binary conversion of the JSON Lines ``path`` in the data cache and its quarantine:
    ``(cnsb path, rejects, from_cache)``. A damaged entry is converted again."""
    d = data_cache_dir(opts.cache_dir)
    key = _digest(path)
    cnsb, rej, manifest = d / f"user-{key}.cnsb", d / f"user-{key}.rejects.jsonl", d / f"user-{key}.json"
    if manifest.exists():
        try:
            meta = verify_manifest(manifest, (cnsb, rej))
            rejects = _load_rejects(rej)
            if meta.get("n_rejects") != len(rejects):
                raise NewsFormatError(
                    f"{rej}: {len(rejects)} rejects, the manifest says {meta.get('n_rejects')}"
                )
            _map(cnsb)
            return cnsb, rejects, True
        except NewsFormatError as exc:
            _log.warning("converting %s again: %s", path, exc)
    manifest.unlink(missing_ok=True)
    batch = read_jsonl(path)
    write_rejects(batch.rejects, rej)
    write_binary(batch, cnsb, durable=False)  # a cache: its manifest is checked on every load
    write_manifest(manifest, (cnsb, rej), {"n_rejects": len(batch.rejects), "converter": CONVERTER_VERSION})
    return cnsb, batch.rejects, False


def _user_news(opts: ReplayOptions) -> NewsSource:
    path = Path(opts.news_path or "")
    if not path.exists():
        raise FileNotFoundError(f"--news {path}: no such file")
    seconds_ns = _check_seconds(opts)
    counts: dict[str, int] = {}
    rejects: list[Reject] = []
    hit = True
    if not is_binary(path):
        converted, rejects, hit = _converted(path, opts)
        Path(opts.out_dir).mkdir(parents=True, exist_ok=True)
        write_rejects(rejects, Path(opts.out_dir) / "rejects.jsonl")
        counts = dict(Counter(r.code for r in rejects))
        path = converted
    raw, layout = _map(path)
    start, end, n_good = _time_span(raw, layout)
    if n_good == 0:
        where = f"; reasons in {Path(opts.out_dir) / 'rejects.jsonl'}" if counts else ""
        raise NewsError(
            f"--news {opts.news_path}: no item to replay ({layout.n_records} records, "
            f"{sum(counts.values())} lines quarantined{where})"
        )
    _check_span(f"--news {opts.news_path}", start, end, seconds_ns)
    return NewsSource(path, raw, layout, np.zeros(0, STORY_DTYPE), start, hit, counts, end, rejects)


REPORTS_VERSION = 1  # bump when cns.market.public's reading of a record changes


def public_reports_of(news: NewsSource, cache_dir: str | Path | None = None) -> np.ndarray:
    """The public reports (:func:`cns.market.public.public_reports`, REPORT_DTYPE) of ``news``: what the
    simulated market trades on. A generated world groups them by its stories (public: a headline names its
    event); other news by (instrument, kind, 2 s window). Files in the data cache are content-addressed, so
    their reports are cached next to them (``reports-v<version>-<file stem>.npy``, written atomically, checked
    on load); the reading of a file elsewhere is not cached."""
    from cns.market.public import REPORT_DTYPE, load_public_reports
    from cns.news.fileio import atomic_writer

    d = data_cache_dir(cache_dir)
    cached = news.path.parent.resolve() == d.resolve()
    path = d / f"reports-v{REPORTS_VERSION}-{news.path.stem}.npy"
    if cached and path.exists():
        try:
            reps = np.load(path, allow_pickle=False)
            if reps.dtype == REPORT_DTYPE and reps.ndim == 1:
                return reps
            _log.warning("recomputing %s: not a report table", path)
        except (OSError, ValueError) as exc:
            _log.warning("recomputing %s: %s", path, exc)
    reps = load_public_reports(news.path, news.story_of)
    if cached:
        with atomic_writer(path) as fh:
            np.save(fh, reps, allow_pickle=False)
    return reps


def prepare_news(opts: ReplayOptions) -> NewsSource:
    """The news image for ``opts``: the user's file when given, else the cached (or new) default world.

    Raises :class:`SimClockError` for a span the simulator will not run, :class:`NewsFormatError` for a user
    binary file with a bad header, :class:`~cns.news.errors.NewsError` when no item of ``--news`` parses, ``FileNotFoundError`` for a missing ``--news`` file,
    :class:`cns.cachedir.CacheDirError` for an unsafe cache directory and ``OSError`` when the disk refuses
    a cache write (nothing partial is left behind)."""
    return _user_news(opts) if opts.news_path else _generated(opts)
