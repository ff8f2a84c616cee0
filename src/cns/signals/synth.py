"""A small vectorised generator of news records for benchmarks and tests (not the news simulator).

Stream mix (fractions of records, independent draws, stated by :data:`DEFAULT_MIX`):

* ``heartbeat`` 0.40 — feed keep-alives (elided at ingress),
* ``test`` 0.05 — FLAG_TEST traffic (elided), ``zero_confidence`` 0.05 — confidence exactly 0 (elided),
* the rest are news items of kinds 1..7 (uniform), of which ``invalid`` 0.10 carry one defect drawn from:
  publish after receive, event after publish, confidence > 1, missing EPS on earnings, statistical claim
  without data source, unregistered source, no ticker on company news, evidence without a hash.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import (
    FLAG_HAS_EVIDENCE,
    FLAG_STATISTICAL,
    FLAG_TEST,
    KIND_CENTRAL_BANK,
    KIND_EARNINGS,
    KIND_HEARTBEAT,
    N_KINDS,
    empty_news,
)
from cns.signals.schema import default_news_inputs

__all__ = ["DEFAULT_MIX", "synth_news", "DATA_SOURCES", "extended_news_inputs"]

DEFAULT_MIX: Mapping[str, float] = {"heartbeat": 0.40, "test": 0.05, "zero_confidence": 0.05, "invalid": 0.10}
DATA_SOURCES = ("BLS", "Census Bureau", "FactSet", "X")  # "X" is too short (sh:minLength 2)
_T0 = 1_700_000_000_000_000_000  # ns since epoch


def synth_news(
    n: int,
    dictionaries: Mapping[str, Dictionary],
    *,
    seed: int = 7,
    mix: Mapping[str, float] = DEFAULT_MIX,
    unregistered_source: int | None = None,
) -> np.ndarray:
    """``n`` NEWS_DTYPE records drawn with ``mix``; codes come from ``dictionaries`` (source, ticker,
    data_source — data sources are interned here). ``unregistered_source`` is a source code whose credibility
    is -1 (used for the "unregistered source" defect; default: no such defect)."""
    rng = np.random.default_rng(seed)
    b = empty_news(n)
    n_src = len(dictionaries["source"]) - 1
    n_tick = len(dictionaries["ticker"]) - 1
    ds_codes = np.array([dictionaries["data_source"].intern(s) for s in DATA_SOURCES], dtype=np.uint32)
    b["id"] = np.arange(1, n + 1, dtype=np.uint64)
    kind = rng.integers(1, N_KINDS, size=n, dtype=np.uint8)
    u = rng.random(n)
    kind[u < mix["heartbeat"]] = KIND_HEARTBEAT
    b["kind"] = kind
    recv = _T0 + np.arange(n, dtype=np.int64) * 1000
    lag = rng.integers(1_000, 50_000_000, size=n)
    b["receive_ns"] = recv
    b["publish_ns"] = recv - lag
    b["event_ns"] = np.where(rng.random(n) < 0.5, recv - lag - rng.integers(0, 10**9, size=n), 0)
    b["source"] = rng.integers(1, n_src + 1, size=n, dtype=np.uint32)
    nt = rng.integers(1, 4, size=n, dtype=np.uint8)
    b["n_tickers"] = nt
    t = rng.integers(1, n_tick + 1, size=(n, 4), dtype=np.uint32)
    t[np.arange(4)[None, :] >= nt[:, None]] = 0
    b["tickers"] = t
    b["confidence"] = rng.uniform(0.05, 1.0, size=n)
    flags = np.zeros(n, dtype=np.uint16)
    flags[rng.random(n) < mix["test"]] |= FLAG_TEST
    stat = rng.random(n) < 0.2
    flags[stat] |= FLAG_STATISTICAL
    b["data_source"] = np.where(stat, ds_codes[rng.integers(0, 3, size=n)], 0)
    ev = rng.random(n) < 0.3
    flags[ev] |= FLAG_HAS_EVIDENCE
    b["evidence_type"] = np.where(ev, rng.integers(1, 5, size=n), 0)
    h = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    h[~ev] = 0
    b["evidence_hash"] = h
    b["flags"] = flags
    earn = kind == KIND_EARNINGS
    b["eps_actual"] = np.where(earn, rng.normal(1.5, 0.5, size=n), np.nan)
    b["eps_expected"] = np.where(earn, rng.normal(1.5, 0.5, size=n), np.nan)
    b["rate"] = np.where(kind == KIND_CENTRAL_BANK, rng.uniform(0.0, 6.0, size=n), np.nan)
    b["confidence"][rng.random(n) < mix["zero_confidence"]] = 0.0
    # defects
    bad = (rng.random(n) < mix["invalid"]) & (kind != KIND_HEARTBEAT)
    which = rng.integers(0, 8, size=n)
    sel = bad & (which == 0)
    b["publish_ns"][sel] = b["receive_ns"][sel] + 5
    sel = bad & (which == 1)
    b["event_ns"][sel] = b["publish_ns"][sel] + 1_000_000
    sel = bad & (which == 2)
    b["confidence"][sel] = 1.5
    sel = bad & (which == 3)
    b["kind"][sel] = KIND_EARNINGS
    b["eps_actual"][sel] = np.nan
    sel = bad & (which == 4)
    b["flags"][sel] |= FLAG_STATISTICAL
    b["data_source"][sel] = np.where(rng.random(int(sel.sum())) < 0.5, 0, ds_codes[3])
    sel = bad & (which == 5)
    if unregistered_source is not None:
        b["source"][sel] = unregistered_source
    sel = bad & (which == 6)
    b["kind"][sel] = KIND_EARNINGS
    b["eps_actual"][sel] = 1.0
    b["n_tickers"][sel] = 0
    b["tickers"][sel] = 0
    sel = bad & (which == 7)
    b["flags"][sel] |= FLAG_HAS_EVIDENCE
    b["evidence_type"][sel] = 1
    b["evidence_hash"][sel] = 0
    return b


def extended_news_inputs() -> tuple[dict[str, Dictionary], dict[str, np.ndarray], dict[str, int]]:
    """The default universe plus odd entries that exercise the rules: a low-credibility source (5), a source
    whose domain fails the pattern, an unregistered source (credibility -1) and a malformed ticker.
    Returns ``(dictionaries, tables, codes of the odd entries)``."""
    dicts, tables = default_news_inputs()
    src = dicts["source"]
    odd = {
        "low_credibility": src.intern("tinyblog.example"),
        "bad_domain": src.intern("no_tld"),
        "unregistered": src.intern("unknown-outlet.example"),
        "bad_ticker": dicts["ticker"].intern("bad_t"),
    }
    cred = np.full(len(src), -1, dtype=np.int16)
    cred[: len(tables["credibility"])] = tables["credibility"]
    cred[odd["low_credibility"]] = 5
    cred[odd["bad_domain"]] = 50
    tables = {"credibility": cred}
    for s in DATA_SOURCES:
        dicts["data_source"].intern(s)
    return dicts, tables, odd
