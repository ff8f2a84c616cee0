"""The BitActor tick loop (the engine's one kernel per batch), as Numba source spliced into each artifact
(kept in cns.rules so that cns.engine -> cns.rules -> cns.signals stays acyclic).

**Layout.** Ingress reads the *header columns* (:class:`cns.signals.dtypes.NewsHeader`) the parse stage writes
next to the records, never the records: a 2-byte ``tag`` per record (kind, the four flag bits, "confidence is
0") for every record and the 4-byte ``source`` for the non-elided. When the caller has none (``htag`` empty)
the kernel derives both from the records chunk by chunk into ``tscratch``/``sscratch`` (then the records are
read, as before). A full record is touched only when it is live, and then only the cache lines its handler
reads.

Per chunk of :data:`CHUNK` records, software-pipelined (ingress of chunk c, then dispatch of chunk c-1):

1. **Elision** (every record, branch-free, vectorised): the schema's zero-tick test on the tag (elided kinds,
   flag mask, "is zero" bits), the outputs of the record (``verdict`` 2 / ``handler`` 255 when elided, else
   provisional 0 / kind), its kind row or the "elided" key, then the list of the non-elided (no branch per
   record). Timed as ``stats[9]`` (part of ingress): all an elided record costs.
2. **Hoisted checks** (non-elided records): one read of ``static_tab[kind row, source]`` (first violated
   static constraint per (kind, source) pair); a violation rejects the record at ingress (verdict 1,
   handler 254). Live records go to a bucket per (kind row, combination of the flag bits that guard handler
   checks) — so the handlers' guarded branches go the same way within a bucket — each with the byte span its
   handler will read (``PF_SPAN``: per kind row and guard combination). Buckets are appended to ``ring`` in
   order: the dispatch order.
3. **Dispatch** (live records of the previous chunk, bucket by bucket): while handling the record at ring
   position q the kernel prefetches every cache line of the span of the record at ``q + params[3]`` (so
   DRAM latency overlaps the handlers; the ring always holds the next chunk too), then runs the kind's
   compiled handler, spliced inline by codegen as an if/elif chain on the kind row (constant handlers are
   folded to ``code = 0``). Every ``sample_every``-th live record is timed with the cycle counter around its
   handler (minus the measured counter overhead), charged to its handler and compared with the budget.

Per-event latency (``stamps`` non-empty): the caller marks records to time with ``stamps[i] = 0`` (others
``-1``); those records — and only those, in place of every ``sample_every``-th — get a timed re-run of their
ingress step (tag, elision, source and static table, the same output writes) and, when live, a timed handler;
``stamps[i]`` gets the sum in cycles (each read pair minus the counter overhead, clamped at 0). The wrapper
converts cycles to ns.

Outputs per record: ``verdict`` (0 conforms, 1 violates, 2 elided), ``vcode`` (violated constraint code, 0 if
none) and, when ``handler`` is non-empty, ``handler`` (kind of the handler that ran; 254 = rejected at ingress,
255 = elided). Scratch (sized by the engine): ``buckets`` (int64, buckets x BSTRIDE), ``counts`` (int64, two
chunks x buckets), ``key`` (uint16, CHUNK), ``live_ix`` (int32, CHUNK), ``ring`` (int64, 2 x CHUNK, a power of
two; entry = record index | span << 32), ``tscratch`` (uint16, CHUNK), ``sscratch`` (uint32, CHUNK).
``luts``/``lut_off``: every per-entry table concatenated (uint16) and ``[start, length]`` pairs;
``params`` (int64): [0] sample every N live records, [1] budget cycles, [2] counter overhead cycles,
[3] prefetch distance (ring positions). ``stats`` (int64, written): [0] ingress cycles, [1] dispatch cycles,
[2] signals, [3] processed, [4] elided, [5] rejected at ingress, [6] violations (ingress + handlers),
[7] sampled, [8] budget violations, [9] elision cycles (part of [0]).
``hstats[k]`` (int64, zeroed by the kernel): [0] sampled cycles, [1] samples, [2] over-budget samples.
"""

from __future__ import annotations

__all__ = [
    "TICK_LOOP_TEMPLATE",
    "ONE_TEMPLATE",
    "VERDICT_CONFORMS",
    "VERDICT_VIOLATES",
    "VERDICT_ELIDED",
    "HANDLER_INGRESS",
    "HANDLER_ELIDED",
    "N_STATS",
    "N_HSTATS",
]

VERDICT_CONFORMS = 0
VERDICT_VIOLATES = 1
VERDICT_ELIDED = 2
HANDLER_INGRESS = 254
HANDLER_ELIDED = 255
N_STATS = 10
N_HSTATS = 3
CHUNK = 2048  # records per round; fewer rounds = fewer bucket switches in dispatch (each a mispredicted exit)
BSTRIDE = CHUNK + 8  # bucket stride (int64 entries): one cache line more than CHUNK, no aliasing in L1

TICK_LOOP_TEMPLATE = """
@njit(cache=True)
def tick(batch, htag, hsrc, verdict, vcode, handler, stamps, buckets, counts, key, live_ix, ring, tscratch,
         sscratch, static_tab, luts, lut_off, params, hstats, stats):
    sample_every = params[0]
    budget = params[1]
    overhead = params[2]
    dist = params[3]
{lut_setup}
    n = batch.shape[0]
    nk = static_tab.shape[0]
    ns = static_tab.shape[1]
    nrow = nk * NCOMBO
    hstats[:] = 0
    rmask = ring.shape[0] - 1
    derive = htag.shape[0] == 0
    want_handler = handler.shape[0] > 0
    want_stamps = stamps.shape[0] > 0
    elision_cycles = np.int64(0)
    ingress_cycles = np.int64(0)
    dispatch_cycles = np.int64(0)
    live_total = 0
    rejected = 0
    elided = 0
    countdown = sample_every
    sampled = 0
    over = 0
    bad = 0
    wp = 0  # ring: live records of the chunk being dispatched and of the next one, in dispatch order
    rp = 0
    pfp = 0  # ring position up to which records were prefetched
    nchunks = (n + CHUNK - 1) // CHUNK
    for c in range(nchunks + 1):
        if c < nchunks:
            # ---- ingress of chunk c: header columns only ----
            base = c * CHUNK
            m = min(n, base + CHUNK) - base
            par = (c & 1) * nrow
            c0 = read_cycles()
            if derive:
                for j in range(m):
                    r = batch[base + j]
                    tscratch[j] = {derive_tag}
                    sscratch[j] = {derive_src}
                tsrc = tscratch
                ssrc = sscratch
                hoff = 0
            else:  # sequential streams of 2- and 4-byte entries: the hardware prefetcher keeps ahead of them
                tsrc = htag
                ssrc = hsrc
                hoff = base
            ne = 0
            for j in range(m):  # elision: branch-free, every record, its 2-byte tag only
                t = np.int64(tsrc[hoff + j])
                k = t & 255
                e = {elide_t}
                key[j] = nk if e else min(k, nk - 1)
                verdict[base + j] = 2 if e else 0
                vcode[base + j] = 0
                ne += 1 if e else 0
            if want_handler:
                for j in range(m):
                    handler[base + j] = 255 if key[j] == nk else tsrc[hoff + j] & 255
            n_sv = 0
            for j in range(m):  # the non-elided, in order, without a branch per record
                live_ix[n_sv] = j
                n_sv += 1 if key[j] != nk else 0
            ca = read_cycles()
            for row in range(nrow):
                counts[par + row] = 0
            for t in range(n_sv):  # hoisted checks: one read of the (kind, source) table
                j = live_ix[t]
                i = base + j
                kr = key[j]
                sc = static_tab[kr, min(np.int64(ssrc[hoff + j]), ns - 1)]
                go = 1 if sc == 0 else 0
                verdict[i] = 1 - go
                vcode[i] = sc
                fl = (np.int64(tsrc[hoff + j]) >> 8) & 0xF  # the four flag bits of the tag
{span}
                row = kr * NCOMBO + combo
                cc = counts[par + row]
                buckets[row * BSTRIDE + cc] = np.int64(i) | span
                counts[par + row] = cc + go
            n_live = 0
            for row in range(nrow):  # live records to the ring, bucket by bucket (the dispatch order)
                mm = counts[par + row]
                n_live += mm
                for jj in range(mm):
                    ring[(wp + jj) & rmask] = buckets[row * BSTRIDE + jj]
                wp += mm
            if want_handler:
                for t in range(n_sv):
                    i = base + live_ix[t]
                    if vcode[i] != 0:
                        handler[i] = 254
            rejected += n_sv - n_live
            elided += ne
            if want_stamps:  # per-event latency: a timed re-run of the record's ingress step (same writes)
                for j in range(m):
                    i = base + j
                    if stamps[i] >= 0:
                        t_in = read_cycles()
                        t = np.int64(tsrc[hoff + j])
                        k = t & 255
                        e = {elide_t}
                        kr = min(k, nk - 1)
                        sc = static_tab[kr, min(np.int64(ssrc[hoff + j]), ns - 1)]
                        verdict[i] = 2 if e else (1 if sc != 0 else 0)
                        vcode[i] = 0 if e else sc
                        stamps[i] = max(np.int64(0), np.int64(read_cycles() - t_in) - overhead)
            c1 = read_cycles()
            elision_cycles += np.int64(ca - c0)
            ingress_cycles += np.int64(c1 - c0)
        if c > 0:
            # ---- dispatch of chunk c - 1; each record prefetches the one `dist` places ahead in the ring ----
            pb = ((c - 1) & 1) * nrow
            d0 = read_cycles()
            live = 0
            for row in range(nrow):
                mm = counts[pb + row]
                live += mm
                kr = row // NCOMBO
                k = kr
                for jj in range(mm):
                    i = ring[rp & rmask] & 0xFFFFFFFF
                    rp += 1
                    lim = min(rp + dist, wp)
                    while pfp < lim:
                        f = ring[pfp & rmask]
                        pfp += 1
                        p = f & 0xFFFFFFFF
                        lo = (f >> 32) & 4095
                        hi = (f >> 44) & 4095
                        if hi > 0:
{prefetch}
                    r = batch[i]
                    if want_stamps:
                        take = stamps[i] >= 0
                    else:
                        countdown -= 1
                        take = countdown == 0
                        if take:
                            countdown = sample_every
                    if take:
                        t0 = read_cycles()
{dispatch_sampled}
                        dt = np.int64(read_cycles() - t0) - overhead
                        hstats[kr, 0] += dt
                        hstats[kr, 1] += 1
                        if dt > budget:
                            hstats[kr, 2] += 1
                            over += 1
                        sampled += 1
                        if want_stamps:
                            stamps[i] += max(np.int64(0), dt)
                    else:
{dispatch}
                    vcode[i] = code
                    verdict[i] = 1 if code != 0 else 0
                    bad += 1 if code != 0 else 0
            d1 = read_cycles()
            dispatch_cycles += np.int64(d1 - d0)
            live_total += live
    stats[0] = ingress_cycles
    stats[1] = dispatch_cycles
    stats[2] = n
    stats[3] = live_total
    stats[4] = elided
    stats[5] = rejected
    stats[6] = rejected + bad
    stats[7] = sampled
    stats[8] = over
    stats[9] = elision_cycles
    return live_total
"""

ONE_TEMPLATE = """
@njit(cache=True)
def one(batch, i, static_tab, luts, lut_off):
{lut_setup}
    r = batch[i]
    k = r.{kind_field}
    s = r.{link_field}
    if {elide_expr}:
        return 2 << 16
    sc = static_tab[min(k, static_tab.shape[0] - 1), min(s, static_tab.shape[1] - 1)]
    if sc != 0:
        return (1 << 16) | sc
{dispatch}
    return ((1 if code != 0 else 0) << 16) | code
"""
