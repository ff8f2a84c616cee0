"""Numba kernels of the news generator: the report pass (sources, delays, distortion of every story's
reports), a stable near-linear time sort, and the record pass that writes every item's final NEWS_DTYPE
record and headline (``prefix + ticker + suffix``) in receive order (item pass, then a gather of one
64-byte item line per record, so every write is sequential)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def assemble_headlines(
    order: np.ndarray,
    tmpl: np.ndarray,
    tick: np.ndarray,
    pre_off: np.ndarray,
    pre_len: np.ndarray,
    suf_off: np.ndarray,
    suf_len: np.ndarray,
    pieces: np.ndarray,
    tk_off: np.ndarray,
    tk_len: np.ndarray,
    tk_blob: np.ndarray,
    out_off: np.ndarray,
    blob: np.ndarray,
) -> None:
    """Headline of output item ``i`` (input item ``order[i]``) = piece ``pre[t]`` + ticker + piece ``suf[t]``
    at ``blob[out_off[i]:]``, ``t = tmpl[order[i]]``; template -1 means "no headline" (zero bytes)."""
    for i in range(len(order)):
        j = order[i]
        t = tmpl[j]
        if t < 0:
            continue
        p = out_off[i]
        for k in range(pre_len[t]):
            blob[p] = pieces[pre_off[t] + k]
            p += 1
        c = tick[j]
        for k in range(tk_len[c]):
            blob[p] = tk_blob[tk_off[c] + k]
            p += 1
        for k in range(suf_len[t]):
            blob[p] = pieces[suf_off[t] + k]
            p += 1


@njit(cache=True)
def argsort_times(t: np.ndarray, span: int) -> np.ndarray:
    """Stable argsort of times ``0 <= t < span``: counting sort into ~1 bucket per item, then insertion sort
    inside each bucket. O(n) for the near-uniform times the generator draws; same result as a stable sort."""
    n = len(t)
    width = max(span, 1) // max(n, 1) + 1  # ns per bucket: t // width, never t * n (which overflows int64)
    nb = max(span, 1) // width + 1
    counts = np.zeros(nb + 1, np.int64)
    for i in range(n):
        if t[i] < 0 or t[i] > span:
            raise ValueError("argsort_times: a time outside 0..span")
        counts[t[i] // width + 1] += 1
    for b in range(nb):
        counts[b + 1] += counts[b]
    order = np.empty(n, np.int64)
    fill = counts[:-1].copy()
    for i in range(n):
        b = t[i] // width
        order[fill[b]] = i
        fill[b] += 1
    for b in range(nb):
        lo = counts[b]
        hi = counts[b + 1]
        for k in range(lo + 1, hi):
            x = order[k]
            v = t[x]
            q = k - 1
            while q >= lo and t[order[q]] > v:
                order[q + 1] = order[q]
                q -= 1
            order[q + 1] = x
    return order


@njit(cache=True)
def report_items(
    sizes: np.ndarray,
    st_true: np.ndarray,
    s_first: np.ndarray,
    claim: np.ndarray,
    cred: np.ndarray,
    cred_pool: np.ndarray,
    low_pool: np.ndarray,
    u_cred: np.ndarray,
    i_cred: np.ndarray,
    i_low: np.ndarray,
    expo: np.ndarray,
    u_flip: np.ndarray,
    z: np.ndarray,
    c_true: np.ndarray,
    c_false: np.ndarray,
    span: int,
    sid: np.ndarray,
    src: np.ndarray,
    recv: np.ndarray,
    moved: np.ndarray,
    conf: np.ndarray,
) -> None:
    """The reports of every story, one pass, from pre-drawn random columns (item ``j`` = report ``rank`` of
    story ``s``, stories back to back). Writes ``sid/src/recv[:m]`` and ``moved/conf[:m]``; ``sid[m:] = -1``.

    Credible source (first report of a true story always, later ones 55 %, false stories 10 %); delay scale
    ``(50 + (100 - cred) * 20)`` ms for ``rank > 0``; distortion ``claim * (1 + z * (1 - f) * 0.8)`` with a
    sign flip at ``(1 - f) * 0.3`` for true stories; confidence ``clip(f * c_true, 0.05, 1)`` (true) or
    ``c_false``. Same float expressions as the former NumPy code, so the same bytes for a seed.
    """
    j = 0
    for s in range(len(sizes)):
        tru = st_true[s]
        for rank in range(sizes[s]):
            p_cred = (1.0 if rank == 0 else 0.55) if tru else 0.1
            sc = cred_pool[i_cred[j]] if u_cred[j] < p_cred else low_pool[i_low[j]]
            cr = cred[sc]
            f = cr / 100.0
            scale_ns = (50.0 + (100.0 - cr) * 20.0) * 1e6
            delay = np.int64(expo[j] * scale_ns) if rank > 0 else np.int64(0)
            recv[j] = min(s_first[s] + delay, span - 1)
            src[j] = sc
            sid[j] = s
            mv = claim[s] * (1.0 + z[j] * (1.0 - f) * 0.8)
            if tru and u_flip[j] < (1.0 - f) * 0.3:
                mv = -mv
            moved[j] = mv
            conf[j] = min(max(f * c_true[j], 0.05), 1.0) if tru else c_false[j]
            j += 1
    for k in range(j, len(sid)):
        sid[k] = -1


@njit(cache=True)
def mark_below(u: np.ndarray, threshold: float, bits: np.ndarray, bit: int) -> None:
    """``bits[i] |= bit`` where ``u[i] < threshold`` (lets one draw buffer be reused for several columns)."""
    for i in range(len(u)):
        if u[i] < threshold:
            bits[i] |= bit


@njit(cache=True)
def _eps_actual(eps: float, mv: float) -> float:
    return np.round(eps * (1.0 + mv * 0.03), 2)


@njit(cache=True)
def _item_kind_tick(
    j: int,
    m: int,
    n_hb: int,
    s: int,
    s_kind: np.ndarray,
    s_instr: np.ndarray,
    test_kind: np.ndarray,
    test_tick: np.ndarray,
) -> tuple[int, int]:
    if s >= 0:
        return np.int64(s_kind[s]), np.int64(s_instr[s])
    if j < m + n_hb:
        return 0, 0  # heartbeat
    return np.int64(test_kind[j - m - n_hb]), np.int64(test_tick[j - m - n_hb])


ITEM_DTYPE = np.dtype(
    [
        ("recv", np.int64),  # receive time, ns since the world's start
        ("event_ns", np.int64),  # the record's event_ns (0 unless a true report)
        ("story", np.int64),  # story id, -1 for heartbeats and test traffic
        ("conf", np.float64),  # the record's confidence
        ("x", np.float64),  # eps_actual (earnings), rate (central bank), move_pct (other reports), NaN
        ("lat", np.int32),  # receive - publish, ns
        ("source", np.uint32),
        ("tick", np.uint32),
        ("kind", np.uint8),
        ("evidence", np.uint8),
        ("flags", np.uint8),
        ("tmpl", np.int8),  # headline template, -1 = no headline
        ("sentiment", np.float32),
        ("hl_len", np.uint32),
    ],
    align=True,
)  # one 64-byte line per item: the gather pass reads one line per output record
assert ITEM_DTYPE.itemsize == 64


GATHER_BLOCK = 256  # item lines gathered per block in the record pass


def item_table(n: int) -> tuple[np.ndarray, np.ndarray]:
    """An uninitialised ``ITEM_DTYPE`` table of ``n`` items whose rows start on 64-byte boundaries, and the
    same memory as an ``(n, 8)`` uint64 array (what :func:`build_items` takes as ``items, items_u64``)."""
    raw = np.empty(n * 64 + 64, np.uint8)
    skip = (-raw.ctypes.data) % 64
    mem = raw[skip : skip + n * 64]
    return mem.view(ITEM_DTYPE), mem.view(np.uint64).reshape(n, 8)


@njit(cache=True)
def build_items(
    out: np.ndarray,
    story_of: np.ndarray,
    order: np.ndarray,
    items: np.ndarray,
    items_u64: np.ndarray,
    block: np.ndarray,
    block_u64: np.ndarray,
    m: int,
    n_hb: int,
    epoch_ns: int,
    sid: np.ndarray,
    src: np.ndarray,
    recv: np.ndarray,
    moved: np.ndarray,
    conf: np.ndarray,
    test_kind: np.ndarray,
    test_tick: np.ndarray,
    lat_draw: np.ndarray,
    draw_bits: np.ndarray,
    u_tmpl: np.ndarray,
    st_true: np.ndarray,
    s_kind: np.ndarray,
    s_instr: np.ndarray,
    s_first: np.ndarray,
    s_lead: np.ndarray,
    s_eps: np.ndarray,
    s_rate: np.ndarray,
    s_hash: np.ndarray,
    cred: np.ndarray,
    official: np.ndarray,
    credible_threshold: float,
    bls: int,
    t_first: np.ndarray,
    t_count: np.ndarray,
    test_tmpl: int,
    pieces: np.ndarray,
    pre_off: np.ndarray,
    pre_len: np.ndarray,
    suf_off: np.ndarray,
    suf_len: np.ndarray,
    tk_off: np.ndarray,
    tk_len: np.ndarray,
    tk_blob: np.ndarray,
    sent: np.ndarray,
) -> np.ndarray:
    """Every item's final NEWS_DTYPE record, headline and ``story_of``, in receive order.

    Item ``j`` (reports ``< m``, then ``n_hb`` heartbeats, then test traffic) becomes output record ``i``
    where ``order[i] == j``. Pass 1 reads every input column sequentially (item order, so the story columns
    too) and packs what each record needs into ``items[j]`` (``ITEM_DTYPE``, 64-byte rows, see
    :func:`item_table`); pass 2 walks the output in order, gathers one item line per record and writes
    records, ``story_of`` and headline bytes (``prefix + ticker + suffix``) sequentially — no scattered
    writes. ``draw_bits``: bit 1 = evidence draw < 0.7, bit 2 = expert draw < 0.2, bit 4 =
    neutral-headline draw. ``sent[t, c]`` is the polarity of template ``t`` with ticker ``c`` (0 when
    sentiment is off). Returns the headline blob. Same expressions as the former NumPy column code, so the
    same bytes for a seed.
    """
    n = len(order)
    g = len(block)
    if len(items) < n or items_u64.shape[0] < n or g == 0 or block_u64.shape[0] < g:
        raise ValueError("build_items: item table shorter than the items, or an empty gather block")
    total = 0
    for j in range(n):
        s = sid[j]
        rep = s >= 0
        kind, tick = _item_kind_tick(j, m, n_hb, s, s_kind, s_instr, test_kind, test_tick)
        it = items[j]
        t = -1
        mv = moved[j] if rep else np.nan
        if kind != 0:
            if not rep:
                t = test_tmpl
            else:
                pol = 1 if (np.isnan(mv) or mv >= 0) else -1
                if kind == 1:  # KIND_EARNINGS: the EPS surprise decides
                    d = _eps_actual(s_eps[s], mv) - s_eps[s]
                    if d > 0:
                        pol = 1
                    elif d < 0:
                        pol = -1
                if draw_bits[j] & 4:
                    pol = 0
                cnt = t_count[kind, pol + 1]
                if cnt == 0:
                    pol = 0
                    cnt = t_count[kind, 1]
                t = t_first[kind, pol + 1] + np.int64(u_tmpl[j] * max(cnt, 1))
        it.tmpl = t
        hl = 0
        if t >= 0:
            hl = pre_len[t] + tk_len[tick] + suf_len[t]
            it.sentiment = sent[t, tick]
        else:
            it.sentiment = 0.0
        it.hl_len = hl
        total += hl
        sc = src[j]
        true_rep = rep and st_true[s] != 0
        earn = rep and kind == 1
        cb = rep and kind == 6
        macro = rep and kind == 2
        it.recv = recv[j]
        it.lat = lat_draw[j] + np.int64((100.0 - cred[sc]) * 100_000)
        it.event_ns = epoch_ns + s_first[s] - s_lead[s] if true_rep else 0
        it.source = sc
        it.tick = tick
        it.kind = kind
        it.story = s
        has_ev = true_rep and cred[sc] >= credible_threshold and (draw_bits[j] & 1) != 0
        flags = 0
        if macro:
            flags |= 4  # FLAG_STATISTICAL
        if cb:
            flags |= 2  # FLAG_DIRECT_QUOTE
        if not rep and kind != 0:
            flags |= 1  # FLAG_TEST
        if has_ev:
            flags |= 8  # FLAG_HAS_EVIDENCE
        it.flags = flags
        ev = 0
        if has_ev:
            ev = 1 if official[sc] else 2  # EVIDENCE_PRIMARY / SECONDARY
        if macro:
            ev = 4  # EVIDENCE_STATISTICAL
        if rep and not true_rep and (draw_bits[j] & 2) != 0:
            ev = 3  # EVIDENCE_EXPERT
        it.evidence = ev
        it.conf = conf[j] if rep else 1.0
        if earn:
            it.x = _eps_actual(s_eps[s], mv)
        elif cb:
            it.x = s_rate[s]
        else:
            it.x = mv  # NaN unless a report
    blob = np.empty(total, np.uint8)
    p = 0
    for i in range(n):
        b = i % g
        if b == 0:  # gather the next block's item lines first: independent loads, no branches between them
            for k in range(min(g, n - i)):
                src_row = items_u64[order[i + k]]
                dst_row = block_u64[k]
                for w in range(8):
                    dst_row[w] = src_row[w]
        it = block[b]
        s = it.story
        rep = s >= 0
        kind = it.kind
        tick = it.tick
        flags = it.flags
        earn = rep and kind == 1
        cb = rep and kind == 6
        o = out[i]
        o.id = i + 1
        o.receive_ns = epoch_ns + it.recv
        o.publish_ns = epoch_ns + it.recv - np.int64(it.lat)
        o.event_ns = it.event_ns
        o.source = it.source
        o.data_source = bls if flags & 4 else 0
        o.tickers[0] = tick
        for k in range(1, 4):
            o.tickers[k] = 0
        o.n_tickers = 1 if tick > 0 else 0
        o.kind = kind
        o.flags = flags
        o.evidence_type = it.evidence
        o.confidence = it.conf
        x = it.x
        o.eps_expected = s_eps[s] if earn else np.nan
        o.eps_actual = x if earn else np.nan
        o.move_pct = x if (rep and not earn and not cb) else np.nan
        o.rate = x if cb else np.nan
        if flags & 8:
            for k in range(32):
                o.evidence_hash[k] = s_hash[s, k]
        story_of[i] = s
        o.headline_off = p
        o.headline_len = it.hl_len
        o.sentiment = it.sentiment
        t = it.tmpl
        if t < 0:
            continue
        for k in range(pre_len[t]):
            blob[p] = pieces[pre_off[t] + k]
            p += 1
        for k in range(tk_len[tick]):
            blob[p] = tk_blob[tk_off[tick] + k]
            p += 1
        for k in range(suf_len[t]):
            blob[p] = pieces[suf_off[t] + k]
            p += 1
    return blob
