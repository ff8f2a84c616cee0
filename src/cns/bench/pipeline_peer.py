"""The peer of ``cns bench pipeline``: the replay's ingest path as a per-record Python feed handler.

It reads **the same ``.cnsb`` file** the replay maps (header and dictionaries with :mod:`struct`, each
152-byte record with ``struct.Struct.iter_unpack``, headline bytes sliced from the blob) and runs **the same
stages with the same rules**, one record at a time in plain Python:

1. **parse** — every check of :func:`cns.news.binary_kernels.parse_records` (kind, lengths, dictionary codes
   and ticker padding, evidence type / flags / reserved bytes / infinities / sentiment range, confidence,
   the reader's time window, strict UTF-8 of the headline); a failing record is quarantined (counted).
2. **sentiment** — the Loughran-McDonald polarity of :mod:`cns.news.sentiment`: ASCII-lowercased
   ``[a-z]+`` tokens looked up in a dict of the same surface words, ``(pos - neg) / (pos + neg + 1e-6)``
   rounded to float32 like the record field.
3. **validate** — zero-tick elision (heartbeat, test flag, confidence 0) and every per-record constraint of
   the shipped ``rules/news.ttl`` as Python conditionals (source present / registered / credibility >= 10,
   publish and receive times present and ordered, event time not after publish, ticker pattern, company news
   names a ticker, earnings EPS, central-bank rate range, confidence range, statistical claims cite a data
   source of >= 2 characters, evidence type and digest). Checks on dictionary strings (ticker pattern, data
   source length) are evaluated once per dictionary code at setup, as the compiled engine's binding does
   (SourceShape is per source node, not per record, in both).
4. **corroborate** — a line-by-line Python port of :func:`cns.trading.corroborate_kernels.corroborate_batch`
   (per-(ticker, kind) clusters, the same per-kind rule table :func:`cns.trading.corroborate.kind_params`,
   the same credibility table) over the conforming records, with the replay's end-of-batch ``flush`` at the
   same wire-chunk boundaries and a final close of every cluster.

The result carries the counts the replay reports (wire records, quarantined, events, zero-tick elided,
conforming, violations, decisions by action) so a reader can check both sides did the same work.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RECORD", "peer_ingest"]

_HEADER = struct.Struct("<8sHHIQQQQQQ")
RECORD = struct.Struct("<QqqqII4IBBBBHHdddddfIQ32s")  # the 152-byte wire record (docs/news-binary.md)
assert RECORD.size == 152
_ZERO32 = bytes(32)
_TOKEN = re.compile(rb"[a-z]+")
_TICKER_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
_F32 = struct.Struct("<f")

# parse status bits (the same as cns.news.binary_kernels.ST_*)
_ST_KIND, _ST_LENGTH, _ST_CODE, _ST_FIELD, _ST_CONF, _ST_UTF8, _ST_TIME = 1, 2, 4, 8, 16, 32, 64


def _dictionaries(buf: bytes) -> list[list[str]]:
    """The three dictionaries (source, ticker, data source) as string lists, index = code (0 = absent)."""
    out, p = [], 0
    for _ in range(3):
        (count,) = struct.unpack_from("<I", buf, p)
        p += 4
        strings = [""]
        for _ in range(count):
            (n,) = struct.unpack_from("<H", buf, p)
            p += 2
            strings.append(buf[p : p + n].decode("utf-8"))
            p += n
        out.append(strings)
    return out


def _lexicon() -> dict[bytes, int]:
    """Surface word (lowercase ASCII bytes) -> +1/-1: the same word list the kernel's hash table is built from."""
    from cns.news import sentiment

    pairs: list[tuple[str, int]] | None = None
    try:  # the cached list the CNS table was built from (built on first use by load_lexicon)
        sentiment.load_lexicon()
        with np.load(sentiment._cache_path(None), allow_pickle=False) as z:
            pairs = list(zip((str(w) for w in z["words"]), z["scores"].tolist(), strict=True))
    except Exception:  # noqa: BLE001 - private helper moved or cache unreadable: rebuild the list (~2 s)
        pairs = None
    if pairs is None:
        words, scores = sentiment.build_lexicon()
        pairs = list(zip(words, scores.tolist(), strict=True))
    return {w.encode("ascii"): int(s) for w, s in pairs}


class _Slot:
    """One (ticker, kind) cluster: the kernel's SLOT_DTYPE row plus its entry row as lists."""

    __slots__ = (
        "active",
        "agree",
        "exps",
        "last_id",
        "last_ts",
        "level",
        "n_neutral",
        "n_qual",
        "n_reports",
        "n_verified",
        "sent_sum",
        "srcs",
        "t0",
        "vals",
    )

    def __init__(self) -> None:
        self.active = False
        self.t0 = self.last_id = self.last_ts = self.n_reports = self.n_qual = 0
        self.n_neutral = self.n_verified = self.level = 0
        self.sent_sum = 0.0
        self.vals: list[float] = []
        self.exps: list[float] = []
        self.srcs: list[int] = []
        self.agree: list[int] = []

    def open(self, t0: int) -> None:
        self.t0 = t0
        self.active = True
        self.level = self.n_reports = self.n_qual = self.n_neutral = self.n_verified = 0
        self.sent_sum = 0.0
        self.vals, self.exps, self.srcs, self.agree = [], [], [], []


class _Corroborator:
    """Python port of the corroboration kernel (same rules, same order of checks, same decisions)."""

    def __init__(self, cfg: Any, sources: list[str]) -> None:
        from cns.signals.dictionary import Dictionary
        from cns.trading import corroborate_kernels as ck
        from cns.trading.corroborate import kind_params
        from cns.trading.credibility import CredibilityTable

        self.ck = ck
        table = CredibilityTable.for_dictionary(Dictionary(sources[1:]), cfg.credibility)
        self.scores = table.scores.tolist()
        self.verified = table.category_mask(cfg.corroboration.rumor_verified_categories).tolist()
        kp = kind_params(cfg.corroboration)
        names = kp.dtype.names or ()
        self.kp: list[dict[str, Any] | None] = [
            None if int(r["mode"]) == ck.MODE_OFF else {n: r[n].item() for n in names} for r in kp
        ]
        self.window = int(cfg.corroboration.window_ns)
        self.rate_expect = float(cfg.corroboration.rate_expectation_pct)
        self.ignore = float(cfg.corroboration.rumor_ignore_below_pct)
        self.monitor = float(cfg.corroboration.rumor_monitor_below_pct)
        self.slots: dict[int, _Slot] = {}
        # (news_id, ts, ticker, kind, action, direction)
        self.decisions: list[tuple[int, int, int, int, int, int]] = []

    @staticmethod
    def _tol(kp: dict[str, Any], a: float, b: float) -> float:
        return float(max(kp["tol_abs"], kp["tol_rel"] * max(abs(a), abs(b))))

    def _emit(
        self, slot: _Slot, kp: dict[str, Any], ticker: int, kind: int, action: int, rec_id: int, ts: int
    ) -> None:
        ck = self.ck
        best, best_a = -1, 0
        for j, v in enumerate(slot.vals):
            if v == v and slot.agree[j] > best_a:
                best_a, best = slot.agree[j], j
        consensus = expected = math.nan
        if best >= 0:
            s = se = 0.0
            c = ce = 0
            vb = slot.vals[best]
            for j, v in enumerate(slot.vals):
                if v == v and abs(v - vb) <= self._tol(kp, v, vb):
                    s += v
                    c += 1
                    x = slot.exps[j]
                    if x == x:
                        se += x
                        ce += 1
            consensus = s / c
            if ce > 0:
                expected = se / ce
        if kp["value_field"] == ck.VALUE_EPS:
            surprise = (
                100.0 * (consensus - expected) / abs(expected)
                if expected == expected and expected != 0.0
                else math.nan
            )
        elif kp["value_field"] == ck.VALUE_RATE:
            surprise = consensus - self.rate_expect
        else:
            surprise = consensus
        counted = slot.n_verified if kp["mode"] == ck.MODE_RUMOR else slot.n_qual
        sent = slot.sent_sum / counted if counted > 0 else 0.0
        direction = 0
        if surprise == surprise:
            sig = -surprise if kp["value_field"] == ck.VALUE_RATE else surprise
            direction = 1 if sig > 0 else (-1 if sig < 0 else 0)
        if direction == 0:
            direction = 1 if sent > 0 else (-1 if sent < 0 else 0)
        if direction == 0 and kp["mode"] == ck.MODE_COUNT:
            direction = -1
        self.decisions.append((rec_id, ts, ticker, kind, action, direction))

    def _close(self, slot: _Slot, kp: dict[str, Any], ticker: int, kind: int) -> None:
        ck = self.ck
        if slot.active and kp["mode"] == ck.MODE_RUMOR and slot.n_reports > 0:
            pct = 100.0 * slot.n_verified / slot.n_reports
            action = (
                ck.ACTION_IGNORE
                if pct < self.ignore
                else (ck.ACTION_MONITOR if pct < self.monitor else ck.ACTION_ALERT)
            )
            self._emit(slot, kp, ticker, kind, action, slot.last_id, slot.last_ts)
        slot.active = False

    def record(
        self,
        rid: int,
        pub: int,
        recv: int,
        src: int,
        tickers: tuple[int, ...],
        nt: int,
        kind: int,
        flags: int,
        eps_a: float,
        eps_e: float,
        move: float,
        rate: float,
        sent: float,
    ) -> None:
        ck = self.ck
        kp = self.kp[kind] if kind < len(self.kp) else None
        if kp is None:
            return
        cred = self.scores[src] if src < len(self.scores) else 0.0
        is_verified = self.verified[src] if src < len(self.verified) else 0
        vf = kp["value_field"]
        value = (
            move
            if vf == ck.VALUE_MOVE
            else eps_a
            if vf == ck.VALUE_EPS
            else rate
            if vf == ck.VALUE_RATE
            else math.nan
        )
        req = kp["req_flags"]
        qualifies = cred > kp["qual_above"] and (flags & req) == req
        mode = kp["mode"]
        window = self.window
        for t in range(max(nt, 1)):
            ticker = tickers[t] if nt > 0 else 0
            key = ticker * 8 + kind
            slot = self.slots.get(key)
            if slot is None:
                slot = self.slots[key] = _Slot()
            if slot.active and pub > slot.t0 + window:
                self._close(slot, kp, ticker, kind)
            if not slot.active:
                slot.open(pub)
            elif pub < slot.t0 - window:
                continue
            slot.n_reports += 1
            slot.last_id = rid
            slot.last_ts = recv
            if mode == ck.MODE_RUMOR:
                if is_verified:
                    slot.n_verified += 1
                    slot.sent_sum += sent
                continue
            if not qualifies or src in slot.srcs:
                continue
            slot.n_qual += 1
            slot.sent_sum += sent
            n = len(slot.srcs)
            if n >= ck.MAX_CLUSTER_SOURCES:
                continue
            vals, agree = slot.vals, slot.agree
            slot.srcs.append(src)
            vals.append(value)
            slot.exps.append(eps_e)
            if value != value:
                slot.n_neutral += 1
                agree.append(0)
            else:
                a = 1
                for j in range(n):
                    v = vals[j]
                    if v == v and abs(v - value) <= max(
                        kp["tol_abs"], kp["tol_rel"] * max(abs(v), abs(value))
                    ):
                        agree[j] += 1
                        a += 1
                agree.append(a)
            best_a = best_j = 0
            for j in range(n + 1):
                if vals[j] == vals[j] and agree[j] > best_a:
                    best_a, best_j = agree[j], j
            support = slot.n_qual if mode == ck.MODE_COUNT else best_a + slot.n_neutral
            action = 0
            if kp["trade_at"] > 0 and support >= kp["trade_at"]:
                action = ck.ACTION_TRADE
            elif kp["contingency_at"] > 0 and support >= kp["contingency_at"]:
                action = ck.ACTION_CONTINGENCY
            elif kp["monitor_at"] > 0 and support >= kp["monitor_at"]:
                action = ck.ACTION_MONITOR
            if support == 1 and best_a == 1 and action > 0 and kp["single_max"] < math.inf:
                surprise = vals[best_j]
                if vf == ck.VALUE_EPS:
                    x = slot.exps[best_j]
                    surprise = 100.0 * (surprise - x) / abs(x) if x != 0.0 else math.nan
                if surprise != surprise or abs(surprise) > kp["single_max"]:
                    action = 0
            if action > slot.level:
                slot.level = action
                self._emit(slot, kp, ticker, kind, action, rid, recv)

    def flush(self, now_ns: int | None) -> None:
        """Close clusters whose window ended before ``now_ns`` (every cluster when None), as ``flush_slots``."""
        for key, slot in self.slots.items():
            if slot.active and (now_ns is None or now_ns > slot.t0 + self.window):
                kind = key % 8
                kp = self.kp[kind]
                assert kp is not None  # a slot only exists for a clustered kind
                self._close(slot, kp, key // 8, kind)


def _credibility_for_validator(sources: list[str], cfg: Any) -> list[int]:
    """The validator's per-source credibility: rounded config score, -1 for a domain the config does not list
    (what the replay binds as the ``credibility`` table)."""
    known = dict(cfg.credibility.sources)
    return [-1] + [int(round(known[s])) if s in known else -1 for s in sources[1:]]


def peer_ingest(
    path: str | Path, *, batch: int = 65_536, config: Any = None, time_window: tuple[int, int] | None = None
) -> dict[str, Any]:
    """Run the per-record Python ingest over the ``.cnsb`` file ``path``; returns its counts and wall time.

    ``batch``: the replay's wire chunk (the corroborator's end-of-chunk flush happens at the same places).
    ``wall_ns`` covers everything from opening the file to the final flush: header and dictionary decode,
    setup of the per-code tables and the lexicon dict are timed separately (``setup_ns``, included in
    ``wall_ns``) except the lexicon load, which is the word list read from disk (``lexicon_ns``, excluded,
    as the replay's lexicon load is outside its ingest time)."""
    from cns.news.batch import DEFAULT_TIME_WINDOW
    from cns.trading.config import load_config

    cfg = config if config is not None else load_config(None)
    t_lex = time.perf_counter_ns()
    lexicon = _lexicon()
    lexicon_ns = time.perf_counter_ns() - t_lex
    min_ns, max_ns = time_window or (DEFAULT_TIME_WINDOW.min_ns, DEFAULT_TIME_WINDOW.max_ns)
    lex_get = lexicon.get
    findall = _TOKEN.findall
    isinf = math.isinf
    pol_cache: dict[tuple[int, int], float] = {}

    t0 = time.perf_counter_ns()
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        view = memoryview(mm)
        views = [view]
        try:
            magic, _ver, _hs, rsize, n_rec, d_off, d_len, r_off, b_off, b_len = _HEADER.unpack_from(view, 0)
            if magic != b"CNSNEWS\x00" or rsize != RECORD.size:
                raise ValueError(f"{path}: not a CNS binary news file")
            sources, tickers_d, data_sources = _dictionaries(bytes(view[d_off : d_off + d_len]))
            n_src, n_tick, n_ds = len(sources), len(tickers_d), len(data_sources)
            blob = view[b_off : b_off + b_len]
            recs = view[r_off : r_off + n_rec * RECORD.size]
            views += [blob, recs]
            # per-code checks, evaluated once per dictionary entry (the engine's bind does the same)
            cred = _credibility_for_validator(sources, cfg)
            ticker_ok = [True] + [bool(_TICKER_RE.match(s)) for s in tickers_d[1:]]
            ds_ok = [False] + [len(s) >= 2 for s in data_sources[1:]]
            corr = _Corroborator(cfg, sources)
            record = corr.record
            setup_ns = time.perf_counter_ns() - t0

            quarantined = events = elided = conforming = violations = 0
            last_recv = -1
            i = 0
            for (
                rid,
                pub,
                recv,
                evt,
                src,
                ds,
                t1,
                t2,
                t3,
                t4,
                nt,
                kind,
                etype,
                res0,
                flags,
                res1,
                conf,
                eps_a,
                eps_e,
                move,
                rate,
                _sent_wire,
                hlen,
                hoff,
                ehash,
            ) in RECORD.iter_unpack(recs):
                i += 1
                # ---- parse: the checks of parse_records ----
                st = 0
                if kind >= 8:
                    st |= _ST_KIND
                if nt > 4 or hoff > b_len or hlen > b_len - hoff or hlen > 0xFFFF:
                    st |= _ST_LENGTH
                if src >= n_src or ds >= n_ds:
                    st |= _ST_CODE
                tks = (t1, t2, t3, t4)
                for k in range(4):
                    t = tks[k]
                    if t >= n_tick or (k < nt and t == 0) or (k >= nt and t != 0):
                        st |= _ST_CODE
                if (
                    etype >= 5
                    or flags & ~0xF
                    or res0
                    or res1
                    or isinf(eps_a)
                    or isinf(eps_e)
                    or isinf(move)
                    or isinf(rate)
                    or not (-1.0 <= _sent_wire <= 1.0)
                ):
                    st |= _ST_FIELD
                if not (0.0 <= conf <= 1.0):
                    st |= _ST_CONF
                if (
                    not (min_ns <= pub < max_ns)
                    or not (min_ns <= recv < max_ns)
                    or (evt != 0 and not (min_ns <= evt < max_ns))
                ):
                    st |= _ST_TIME
                headline = b""
                if not st & _ST_LENGTH:
                    headline = bytes(blob[hoff : hoff + hlen])
                    try:
                        headline.decode("utf-8")
                    except UnicodeDecodeError:
                        st |= _ST_UTF8
                if st:
                    quarantined += 1
                else:
                    events += 1
                    last_recv = recv
                    # ---- sentiment ----
                    pos = neg = 0
                    for tok in findall(headline.lower()):
                        v = lex_get(tok)
                        if v is not None:
                            if v > 0:
                                pos += 1
                            else:
                                neg += 1
                    sent = pol_cache.get((pos, neg))
                    if sent is None:
                        sent = pol_cache[(pos, neg)] = _F32.unpack(
                            _F32.pack((pos - neg) / (pos + neg + 1e-6))
                        )[0]
                    # ---- validate: zero-tick elision, then the rules of news.ttl ----
                    if kind == 0 or flags & 1 or conf == 0.0:
                        elided += 1
                    elif (
                        src == 0
                        or cred[src] < 10  # Article-source
                        or pub == 0
                        or recv == 0
                        or pub > recv  # Article-publishedAt/receivedAt
                        or kind > 7
                        or nt > 4  # Article-eventType / ticker max
                        or not all(ticker_ok[t] for t in tks[:nt])  # Article-ticker pattern
                        or (nt == 0 and kind in (1, 3, 4, 5))  # CompanyNewsShape
                        or (kind == 1 and eps_a != eps_a)  # EarningsShape
                        or (kind == 6 and not (-5.0 <= rate <= 25.0))  # CentralBankQuoteShape (NaN fails)
                        or not (0.0 <= conf <= 1.0)  # Claim-confidence
                        or (evt != 0 and pub != 0 and evt > pub)  # Claim-eventTime
                        or (flags & 4 and not ds_ok[ds])  # StatisticalClaimShape
                        or (flags & 8 and (etype == 0 or etype > 4 or ehash == _ZERO32))  # EvidenceShape
                    ):
                        violations += 1
                    else:
                        conforming += 1
                        # ---- corroborate ----
                        record(rid, pub, recv, src, tks, nt, kind, flags, eps_a, eps_e, move, rate, sent)
                if i % batch == 0 and last_recv >= 0:  # end of a wire chunk: the replay's flush
                    corr.flush(last_recv)
                    last_recv = -1
            if last_recv >= 0:
                corr.flush(last_recv)
            corr.flush(None)
            wall_ns = time.perf_counter_ns() - t0
        finally:
            for mv in reversed(views):
                mv.release()
    from cns.trading.corroborate_kernels import ACTION_NAMES

    by_action = dict.fromkeys(ACTION_NAMES, 0)
    for d in corr.decisions:
        by_action[ACTION_NAMES[d[4]]] += 1
    return {
        "wire_records": n_rec,
        "quarantined": quarantined,
        "events": events,
        "zero_tick": elided,
        "validated": conforming,
        "violations": violations,
        "signals": len(corr.decisions),
        "decisions": by_action,
        "wall_ns": wall_ns,
        "setup_ns": setup_ns,
        "lexicon_ns": lexicon_ns,
        "events_per_s": n_rec / (wall_ns / 1e9) if wall_ns else math.nan,
        "ns_per_event": wall_ns / n_rec if n_rec else math.nan,
    }
