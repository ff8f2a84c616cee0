"""The BitActor tick loop (the engine's one kernel per batch), as Numba source spliced into each artifact
(kept in cns.rules so that cns.engine -> cns.rules -> cns.signals stays acyclic).

One kernel per batch; per chunk of :data:`CHUNK` records (so the second pass finds them in L2), two passes:

1. **Ingress** (every record): zero-tick elision (the schema's elided kinds, flag mask, zero fields) and the
   hoisted static checks as one table read ``static_tab[kind, source]`` (first violated static constraint per
   (kind, source) pair). Live record indices go to per-kind buckets in ``scratch``.
2. **Dispatch** (live records, kind by kind): the kind's compiled handler, spliced inline by codegen as an
   if/elif chain on the kind (constant handlers are folded to ``code = 0``). Every ``sample_every``-th live
   record is timed with the cycle counter around its handler (minus the measured counter overhead), charged
   to its handler and compared with the budget.

Per-event latency (``stamps`` non-empty): the caller marks records to time with ``stamps[i] = 0`` (others
``-1``); those records — and only those, in place of every ``sample_every``-th — are timed around their
ingress step and, when live, around their handler, and ``stamps[i]`` gets the sum in cycles (each read pair
minus the counter overhead, clamped at 0). The wrapper converts cycles to ns.

Outputs per record: ``verdict`` (0 conforms, 1 violates, 2 elided), ``vcode`` (violated constraint code, 0 if
none) and ``handler`` (kind of the handler that ran; 254 = rejected at ingress, 255 = elided).
``scratch`` (int64, ``n_kind_rows * CHUNK + n_kind_rows``): per-kind index buckets of the live records of a
chunk plus their counts, so dispatch runs kind by kind (the kind branch is predicted, not guessed).
``luts``/``lut_off``: every per-entry table concatenated (uint16) and ``[start, length]`` pairs;
``params`` (int64): [0] sample every N live records, [1] budget cycles, [2] counter overhead cycles.
``stats`` (int64, cumulative): [0] ingress cycles, [1] dispatch cycles, [2] signals, [3] processed,
[4] elided, [5] rejected at ingress, [6] violations (ingress + handlers), [7] sampled, [8] budget violations.
``hstats[k]`` (int64): [0] sampled cycles, [1] samples, [2] over-budget samples.
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
N_STATS = 9
N_HSTATS = 3
CHUNK = 512  # records per ingress/dispatch round: 80 KB of NEWS records stay in L2 between the passes

TICK_LOOP_TEMPLATE = """
@njit(cache=True)
def tick(batch, verdict, vcode, handler, stamps, scratch, static_tab, luts, lut_off, params, hstats, stats):
    sample_every = params[0]
    budget = params[1]
    overhead = params[2]
{lut_setup}
    n = batch.shape[0]
    nk = static_tab.shape[0]
    ns = static_tab.shape[1]
    ingress_cycles = np.int64(0)
    dispatch_cycles = np.int64(0)
    live_total = 0
    rejected = 0
    elided = 0
    countdown = sample_every
    sampled = 0
    over = 0
    bad = 0
    want_stamps = stamps.shape[0] > 0
    cnt0 = nk * CHUNK
    for base in range(0, n, CHUNK):
        end = min(n, base + CHUNK)
        c0 = read_cycles()
        for kr in range(nk):
            scratch[cnt0 + kr] = 0
        for i in range(base, end):
            st = want_stamps and stamps[i] >= 0
            t_in = read_cycles() if st else np.uint64(0)
            r = batch[i]
            k = r.{kind_field}
            s = r.{link_field}
            e = {elide_expr}
            kr = min(k, nk - 1)
            sc = static_tab[kr, min(s, ns - 1)]
            verdict[i] = 2 if e else (1 if sc != 0 else 0)
            vcode[i] = 0 if e else sc
            handler[i] = 255 if e else (254 if sc != 0 else k)
            go = (not e) and sc == 0
            c = scratch[cnt0 + kr]
            scratch[kr * CHUNK + c] = i
            scratch[cnt0 + kr] = c + (1 if go else 0)
            elided += 1 if e else 0
            rejected += 1 if (sc != 0 and not e) else 0
            if st:
                stamps[i] = max(np.int64(0), np.int64(read_cycles() - t_in) - overhead)
        c1 = read_cycles()
        live = 0
        for kr in range(nk):
            m = scratch[cnt0 + kr]
            live += m
            for j in range(m):
                i = scratch[kr * CHUNK + j]
                r = batch[i]
                k = r.{kind_field}
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
                    kk = min(k, hstats.shape[0] - 1)
                    hstats[kk, 0] += dt
                    hstats[kk, 1] += 1
                    if dt > budget:
                        hstats[kk, 2] += 1
                        over += 1
                    sampled += 1
                    if want_stamps:
                        stamps[i] += max(np.int64(0), dt)
                else:
{dispatch}
                vcode[i] = code
                verdict[i] = 1 if code != 0 else 0
                bad += 1 if code != 0 else 0
        c2 = read_cycles()
        ingress_cycles += np.int64(c1 - c0)
        dispatch_cycles += np.int64(c2 - c1)
        live_total += live
    stats[0] += ingress_cycles
    stats[1] += dispatch_cycles
    stats[2] += n
    stats[3] += live_total
    stats[4] += elided
    stats[5] += rejected
    stats[6] += rejected + bad
    stats[7] += sampled
    stats[8] += over
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
