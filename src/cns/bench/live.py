"""``cns bench live``: wire-to-wire latency of ``cns serve`` under open-loop offered load, against a peer built
without CNS, measured in the same run.

**What is measured.** A news record's path through a running shard: its DATA frame read off the feed
socket (the feed handler's protocol, binary TCP), decode, validation, corroboration, signal, pre-trade
risk, and -- when the record triggers an order -- the NewOrderSingle bytes written to the FIX socket
(:class:`~cns.fix.FixSession`'s write returned; the desk stamps when the session's reply says so, one
mailbox hop later: an upper bound). Stamps are ``time.monotonic_ns`` in-process
(:class:`cns.serve.state.LatencyProbe`).

**Load.** :mod:`cns.serve.loadgen` in its own process sends record ``i`` at ``t0 + i / rate`` (busy-wait
schedule; frames hold whatever is due). Latency is taken **from the intended send time** (coordinated
omission corrected: a record the generator could only send late, because the consumer fell behind, carries
that wait) and, separately, from the socket read. Per step (``--rates``, default 15 200, 100 000 and
1 000 000 events/s, ``--seconds`` each): p50/p99/p99.9/max (:func:`cns.telemetry.stats.summarize`) of

- ``order``: intended send -> NewOrderSingle written (per order; the headline figure),
- ``order_from_read``: news frame read -> NewOrderSingle written,
- ``event``: intended send -> ingest done (per record: corroboration finished),

plus ``not_sent`` (records the generator could not send by the end of the step: it was blocked by TCP
back-pressure), ``loss`` (sent but not processed after a bounded drain), ``backlog_at_end`` (sent by the end
of the step but not yet processed then) and the achieved rate. The FIX counterparty is
:func:`cns.serve.loadgen.fix_sink` (its own process: accepts the Logon, swallows the orders).

**Peer** (:mod:`cns.bench.live_peer`, its own process): the same records as JSON over WebSocket, a
``websockets`` asyncio handler, a per-message Python decision and the order sent with QuickFIX
(``quickfix-ssl``) -- or a plain-socket FIX send when QuickFIX is missing (the JSON says which). Same
stamps, same schedule, same metrics.

**Goals** (recorded in the JSON, not asserted): at 15 200 events/s ``order`` p50 <= 20 µs and p99 <= 100 µs;
>= 1 M events/s sustained over binary TCP without loss (``not_sent`` = ``loss`` = 0 and a backlog at the end
of at most 1 % of the step); a p99 at least 10x lower than the peer's.

``--profile PATH`` additionally samples the CNS process with ``py-spy`` during one 15 200 events/s step and
writes the collapsed stacks to PATH; the JSON's ``profile`` names the functions that dominate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cns.bench.common import cpu_model, machine, write_json
from cns.bench.live_breakdown import breakdown, profile_summary
from cns.bench.live_verdict import GOALS, print_step, verdict
from cns.telemetry.stats import summarize

__all__ = ["GOALS", "main", "run"]

POOL_EVENTS, QUICK_POOL_EVENTS = 200_000, 40_000


def _instruments() -> list[tuple[str, float]]:
    from cns.signals.universe import default_instruments

    return [(i.ticker, i.price) for i in default_instruments(21)]


def make_pool(path: Path, n: int, seed: int = 11) -> None:
    """The generator's record pool: ``n`` generated events over ``n / 10 000`` s on SPX + 20 named stocks."""
    from cns.market.newsgen import generate_news
    from cns.news.binary import write_binary
    from cns.signals.universe import default_instruments

    write_binary(
        generate_news(n, max(1.0, n / 10_000), seed, instruments=default_instruments(21)).batch, path
    )


def bench_config(feed_port: int, sink_port: int, rate: float) -> dict[str, Any]:
    """The shard measured: one binary TCP feed, one FIX session to the sink, permissive risk (the sink never
    fills, so position/exposure/rate limits would stop trading early), no exits."""
    return {
        "serve": {"shard": "bench", "connect_timeout_s": 20.0, "stop_timeout_s": 1.0},
        "feeds": [
            {
                "name": "bench",
                "port": feed_port,
                "stale_after_s": 5.0,
                "batch_max": 16384 if rate >= 500_000 else 4096,
            }
        ],
        "fix": [
            {
                "name": "sink",
                "port": sink_port,
                "sender_comp_id": "CNSB",
                "target_comp_id": "SINK",
                "heartbeat_s": 30,
            }
        ],
        "instruments": [{"symbol": s, "price": p} for s, p in _instruments()],
        "signal": {"hold_ns": 0},
        "risk": {
            "disabled_checks": ["duplicate", "cooldown", "position", "gross_exposure", "daily_loss", "rate"]
        },
    }


def _spawn(args: list[str]) -> tuple[subprocess.Popen[str], int]:
    p = subprocess.Popen(
        [sys.executable, "-m", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line.startswith("port="):
        p.kill()
        raise RuntimeError(f"{args[0]} did not start: {line!r} {p.stderr.read() if p.stderr else ''}")
    return p, int(line.split("=", 1)[1])


def _stop(p: subprocess.Popen[str]) -> str:
    if p.poll() is None:
        p.terminate()
    try:
        out, _ = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return out or ""


def _cpus() -> tuple[int | None, int | None]:
    """(CPU of the system under test, CPU of the load tools) when two are available, else (None, None)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return None, None
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)


def _ms(d: dict[str, float]) -> dict[str, float]:
    return {k: (float(v) if k == "count" else round(float(v), 1)) for k, v in d.items()}


def _step_metrics(
    gen: dict[str, Any],
    seq: np.ndarray,
    done: np.ndarray,
    read: np.ndarray,
    o_seq: np.ndarray,
    o_read: np.ndarray,
    o_written: np.ndarray,
    drained_s: float,
) -> dict[str, Any]:
    """Latency and loss figures of one step from per-record and per-order stamps (monotonic ns)."""
    t0, iv = int(gen["t0_ns"]), float(gen["interval_ns"])
    end = t0 + int(gen["seconds"] * 1e9)
    intended = t0 + (seq.astype(np.float64) - 1.0) * iv
    o_int = t0 + (o_seq.astype(np.float64) - 1.0) * iv
    sent = int(gen["sent"])
    done_n = int(np.count_nonzero(seq <= sent))
    sent_by_end = sent
    done_by_end = int(np.count_nonzero((seq <= sent) & (done <= end)))
    last = float(done.max()) if len(done) else float(t0)
    return {
        "rate": gen["rate"],
        "seconds": gen["seconds"],
        "planned": gen["planned"],
        "sent": sent,
        "not_sent": gen["not_sent"],
        "frames": gen["frames"],
        "generator_lateness_ns": gen["lateness_ns"],
        "processed": done_n,
        "loss": sent - done_n,
        "backlog_at_end": sent_by_end - done_by_end,
        "drain_s": round(drained_s, 3),
        "achieved_events_per_s": round(done_n / max(1e-9, (last - t0) / 1e9), 1),
        "orders": len(o_seq),
        "order_ns": _ms(summarize(o_written - o_int)) if len(o_seq) else summarize([]),
        "order_from_read_ns": _ms(summarize(o_written - o_read)) if len(o_seq) else summarize([]),
        "event_ns": _ms(summarize(done - intended)) if len(seq) else summarize([]),
        "event_from_read_ns": _ms(summarize(done - read)) if len(seq) else summarize([]),
    }


async def _read_line(p: subprocess.Popen[str], timeout: float) -> str:
    assert p.stdout is not None
    return await asyncio.wait_for(
        asyncio.get_running_loop().run_in_executor(None, p.stdout.readline), timeout
    )


async def measure_cns(
    pool: Path,
    rate: float,
    seconds: float,
    sink_port: int,
    *,
    drain_s: float = 5.0,
    profile: Path | None = None,
    rt: int = 0,
) -> dict[str, Any]:
    """One CNS step: generator -> shard (this process) -> FIX sink; see the module doc."""
    from cns.serve.config import serve_config_from_dict
    from cns.serve.service import Service, prepare

    sut_cpu, tool_cpu = _cpus()
    gen_args = [
        "cns.serve.loadgen",
        "gen",
        "--pool",
        str(pool),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--linger",
        str(drain_s + 30),
        "--realtime",
        str(rt),
    ]
    if tool_cpu is not None:
        gen_args += ["--cpu", str(tool_cpu)]
    gen_p, port = _spawn(gen_args)
    old_aff = os.sched_getaffinity(0) if sut_cpu is not None else None
    old_sched = (os.sched_getscheduler(0), os.sched_getparam(0)) if rt else None
    spy: subprocess.Popen[str] | None = None
    try:
        cfg = serve_config_from_dict(bench_config(port, sink_port, rate))
        n_cap = int(rate * seconds * 1.2) + 1024
        state = prepare(cfg, probe_capacity=min(n_cap, 1 << 22))
        _warm_feed(pool)
        if sut_cpu is not None:
            os.sched_setaffinity(0, {sut_cpu})
        if rt:
            from cns.serve.loadgen import realtime

            realtime(rt + 10)
        svc = Service(cfg, state=state)
        await svc.start()
        spy_exe = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if profile is not None and spy_exe:
            spy = subprocess.Popen(
                [
                    spy_exe,
                    "record",
                    "--pid",
                    str(os.getpid()),
                    "--rate",
                    "997",
                    "--format",
                    "raw",
                    "--output",
                    str(profile),
                    "--duration",
                    str(max(1, int(seconds))),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        gen = json.loads(await _read_line(gen_p, seconds + 60))
        t_end = time.monotonic()
        st = state.feed_stats["bench"]
        while st.last_seq < gen["sent"] and time.monotonic() - t_end < drain_s:
            await asyncio.sleep(0.01)
        drained = time.monotonic() - t_end
        await asyncio.sleep(0.05)
        summary = await svc.stop()
    finally:
        if old_sched is not None:
            os.sched_setscheduler(0, old_sched[0], old_sched[1])
        if old_aff is not None:
            os.sched_setaffinity(0, old_aff)
        _stop(gen_p)
        if spy is not None:
            try:
                spy.wait(seconds + 30)
            except subprocess.TimeoutExpired:
                spy.kill()
    b, o = state.probe.batch_arrays(), state.probe.order_arrays()
    nb = len(b)
    lo, hi = b[:, 0], b[:, 1]
    counts = hi - lo + 1
    seq = np.repeat(lo, counts) + (
        np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    done = np.repeat(b[:, 3], counts)
    read = np.repeat(b[:, 2], counts)
    m = _step_metrics(gen, seq, done, read, o[:, 0], o[:, 1], o[:, 2], drained)
    m["batches"] = nb
    m["records_per_batch"] = round(float(counts.mean()), 2) if nb else 0.0
    m["feed"] = {
        k: summary["feeds"]["bench"][k]
        for k in (
            "frames",
            "events_delivered",
            "batches_delivered",
            "gaps_detected",
            "lost_records",
            "duplicates",
        )
    }
    m["counters"] = {
        k: summary["counters"][k]
        for k in (
            "decisions",
            "candidates",
            "risk_rejected",
            "orders_sent",
            "orders_refused",
            "batches_dropped",
        )
    }
    return m


def _warm_feed(pool: Path) -> None:
    """Load the feed's decode and sentiment kernels (public protocol functions) before the clock runs."""
    from cns.feeds.protocol import FrameDecoder, code_maps, decode_binary_records
    from cns.feeds.server import FeedSource
    from cns.news.batch import NewsBatch, new_dictionaries
    from cns.news.formats import read_news
    from cns.news.sentiment import score_records

    news = read_news(str(pool), sentiment=False)
    small = NewsBatch(news.records[:16].copy(), news.headlines, news.sources, news.tickers, news.data_sources)
    src = FeedSource(small)
    frame = FrameDecoder().feed(src.data_frame(0, len(src), feed_id=1))[0]
    strings = (news.sources.strings()[1:], news.tickers.strings()[1:], news.data_sources.strings()[1:])
    d = decode_binary_records(frame, code_maps(strings, new_dictionaries(None, None, None)))  # type: ignore[arg-type]
    score_records(d.records, d.blob)


def measure_peer(
    pool: Path, rate: float, seconds: float, sink_port: int, tmp: Path, *, drain_s: float = 2.0, rt: int = 0
) -> dict[str, Any]:
    """One peer step: generator (JSON over WebSocket) -> peer process -> FIX sink."""
    sut_cpu, tool_cpu = _cpus()
    gen_args = [
        "cns.serve.loadgen",
        "gen",
        "--ws",
        "--pool",
        str(pool),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--linger",
        "5",
        "--lead",
        "0.5",
        "--realtime",
        str(rt),
    ]
    if tool_cpu is not None:
        gen_args += ["--cpu", str(tool_cpu)]
    gen_p, port = _spawn(gen_args)
    out = tmp / f"peer-{int(rate)}.npz"
    cmd = [
        sys.executable,
        "-m",
        "cns.bench.live_peer",
        "--ws-port",
        str(port),
        "--fix-port",
        str(sink_port),
        "--out",
        str(out),
        "--drain",
        str(drain_s),
        "--deadline",
        str(seconds + 30 + drain_s),
        "--capacity",
        str(int(rate * seconds * 1.1) + 1024),
        "--realtime",
        str(rt + 10 if rt else 0),
    ]
    if sut_cpu is not None:
        cmd += ["--cpu", str(sut_cpu)]
    peer = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        pout, perr = peer.communicate(timeout=seconds + 90)
    except subprocess.TimeoutExpired:
        peer.kill()
        pout, perr = peer.communicate()
    gout = _stop(gen_p)
    lines = [json.loads(x) for x in gout.splitlines() if x.startswith("{")]
    info = [json.loads(x) for x in pout.splitlines() if x.startswith("{")]
    if not lines or not out.exists():
        raise RuntimeError(f"peer step at {rate:g}/s failed: {perr.strip()[-500:]}")
    gen = lines[0]
    z = np.load(out)
    m = _step_metrics(
        gen, z["seq"], z["t_done"], z["t_read"], z["o_seq"], z["o_read"], z["o_written"], drain_s
    )
    m["fix"] = info[-1].get("fix", "?") if info else "?"
    return m


def run(
    rates: list[float],
    seconds: float,
    *,
    quick: bool = False,
    peer: bool = True,
    profile: Path | None = None,
    rt: int = 0,
) -> dict[str, Any]:
    """Every step (CNS, then the peer) at each rate; the JSON document (see the module doc)."""
    with tempfile.TemporaryDirectory(prefix="cns-bench-live-") as d:
        tmp = Path(d)
        pool = tmp / "pool.cnsb"
        make_pool(pool, QUICK_POOL_EVENTS if quick else POOL_EVENTS)
        _, tool_cpu = _cpus()
        sink, sink_port = _spawn(
            ["cns.serve.loadgen", "sink"] + (["--cpu", str(tool_cpu)] if tool_cpu is not None else [])
        )
        cns_steps, peer_steps = [], []
        prof: dict[str, Any] | None = None
        try:
            # an unmeasured short step first: every kernel of the path is compiled or loaded from the cache
            # (the warm-up in prepare() cannot reach them all: OMS registration, the FIX encoder, ...)
            asyncio.run(measure_cns(pool, rates[0], 0.5, sink_port, drain_s=1.0, rt=rt))
            for r in rates:
                cns_steps.append(
                    asyncio.run(
                        measure_cns(pool, r, seconds, sink_port, drain_s=2.0 if quick else 5.0, rt=rt)
                    )
                )
                print_step("cns", cns_steps[-1])
                if peer:
                    try:
                        peer_steps.append(measure_peer(pool, r, seconds, sink_port, tmp, rt=rt))
                    except RuntimeError as e:
                        peer_steps.append({"rate": r, "error": str(e)})
                    print_step("peer", peer_steps[-1])
            if profile is not None:
                # sampled under normal scheduling: py-spy (not real-time) could not sample a SCHED_FIFO process
                # while it runs, only while it waits
                asyncio.run(measure_cns(pool, rates[0], seconds, sink_port, profile=profile))
                if profile.exists():
                    prof = profile_summary(profile)
            parts = breakdown(pool, bench_config(1, 1, 15_200.0), 500 if quick else 2000)
        finally:
            sink_counts = _stop(sink)
    doc: dict[str, Any] = {
        "benchmark": "live",
        "cpu": cpu_model(),
        "machine": machine(),
        "quick": quick,
        "load_average": os.getloadavg(),
        "seconds_per_step": seconds,
        "goals": GOALS,
        "realtime_priority": rt,
        "scheduling": (
            f"SCHED_FIFO: the shard (or the peer) at priority {rt + 10}, the generator at {rt}, one core each"
            if rt
            else "normal (CFS); the shard (or the peer) and the load tools on separate cores "
            "when two are available"
        ),
        "what": "news frame read off a TCP socket -> NewOrderSingle bytes written to a FIX socket; open loop, "
        "latency from the intended send time (coordinated omission corrected)",
        "cns": cns_steps,
        "peer": peer_steps,
        "peer_description": "asyncio websockets JSON handler + per-message Python decision + QuickFIX "
        "sendToTarget (plain-socket FIX when quickfix is not installed; see 'fix')",
        "fix_sink_counts": next((json.loads(x) for x in sink_counts.splitlines() if x.startswith("{")), {}),
    }
    doc["breakdown_ns"] = parts
    doc["breakdown_note"] = (
        "median CPU ns per one-record batch, each piece alone; the chain row drives the stage "
        "actors synchronously (no sockets)"
    )
    if prof is not None:
        doc["profile"] = prof
    doc["verdict"], doc["headline"] = verdict(cns_steps, peer_steps)
    return doc


def main(args: argparse.Namespace) -> int:
    """Entry point of ``cns bench live``."""
    rates = [float(x) for x in str(args.rates).split(",") if x.strip()]
    seconds = args.seconds if args.seconds is not None else (1.0 if args.quick else 4.0)
    profile = Path(args.profile) if getattr(args, "profile", None) else None
    rt = int(getattr(args, "realtime", 0) or 0)
    doc = run(rates, seconds, quick=bool(args.quick), peer=not args.no_peer, profile=profile, rt=rt)
    for row in doc["headline"]:
        print(
            f"{row['figure']}: CNS {row['cns']}; peer {row['peer'] or 'n/a'}; {row['ratio']} (goal: {row['goal']}"
            f"{'' if row['met'] is None else ', met' if row['met'] else ', MISSED'})"
        )
    print(
        "one-record batch, median CPU: "
        + ", ".join(f"{k} {v / 1e3:.1f} µs" for k, v in doc["breakdown_ns"].items())
    )
    if doc.get("profile"):
        print("profile (self time, % of samples):", json.dumps(doc["profile"]["by_area_pct"]))
    if args.json:
        write_json(args.json, doc)
    return 0
