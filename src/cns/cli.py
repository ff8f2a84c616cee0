"""The ``cns`` command: parses arguments and hands them to the package that owns the subcommand.

Each handler is imported lazily, so ``cns --help`` stays fast and a subcommand pays only for what it uses.
Handlers take the parsed ``argparse.Namespace`` and return a process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from cns.errors import CNSError

# subcommand -> "module:function" taking the parsed Namespace and returning an exit code
_HANDLERS: dict[str, str] = {
    "run": "cns.replay.cli:main",
    "calibrate": "cns.trading.calibrate:main",
    "study": "cns.replay.study:main",
    "bench actors": "cns.bench.actors:main",
    "bench signals": "cns.bench.signals:main",
    "bench pipeline": "cns.bench.pipeline:main",
    "bench book": "cns.bench.book:main",
    "bench shacl": "cns.bench.shacl:main",
    "validate": "cns.rules.cli:validate_main",
    "compile": "cns.rules.cli:compile_main",
    "news convert": "cns.news.cli:convert_main",
    "demo": "cns.otp.demo:main",
    "report readme": "cns.bench.readme:main",
    "feed serve": "cns.feeds.cli:serve_main",
    "venue serve": "cns.gateway.cli:serve_main",
    "serve": "cns.serve.cli:serve_main",
    "demo live": "cns.serve.demo:demo_live_main",
    "bench live": "cns.bench.live:main",
    "journal inspect": "cns.journal.cli:inspect_main",
    "journal tail": "cns.journal.cli:tail_main",
    "journal export": "cns.journal.cli:export_main",
    "bench journal": "cns.bench.journal:main",
    "bench backtest": "cns.bench.backtest:main",
    "bench startup": "cns.bench.startup:main",
    "bench span": "cns.bench.span:main",
    "fuzz": "cns.fuzz:main",
    "chaos": "cns.serve.chaos:main",
    "monitor": "cns.ops.monitor:monitor_main",
}


def _handler(key: str) -> Callable[[argparse.Namespace], int]:
    module, _, func = _HANDLERS[key].partition(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def build_parser() -> argparse.ArgumentParser:
    """The ``cns`` argument parser with every subcommand."""
    p = argparse.ArgumentParser(prog="cns", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="generate (or load) news + market data and replay the whole pipeline")
    run.add_argument(
        "--events", type=int, default=4_565_400, help="news events to generate (default: %(default)s)"
    )
    run.add_argument("--seconds", type=float, default=300.0, help="simulated seconds (default: %(default)s)")
    run.add_argument("--seed", type=int, default=7, help="generator seed (default: %(default)s)")
    run.add_argument(
        "--news", metavar="PATH", help="your own news (JSONL or CNS binary) instead of generated"
    )
    run.add_argument("--market", metavar="PATH", help="your own quotes/trades (CSV or Parquet)")
    run.add_argument("--config", metavar="PATH", help="TOML config overriding thresholds and risk limits")
    run.add_argument("--out", metavar="DIR", default="out", help="report directory (default: %(default)s)")
    run.add_argument(
        "--no-slow-baseline", action="store_true", help="skip the 100 ms decision-latency replay"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--decision-latency",
        metavar="SPEC",
        help="simulated news-to-order latency of the CNS desk: "
        "500ns, 2us, 100ms or lognormal:p50=2us,p99=20us (default: [latency] of --config)",
    )
    run.add_argument(
        "--credibility",
        metavar="PATH",
        help="the desk's source credibility table, as written by "
        "cns calibrate (default: calibrated on held-out worlds of --seed, cached)",
    )
    run.add_argument(
        "--metrics-port",
        metavar="N",
        type=int,
        default=None,
        help="serve Prometheus metrics on 127.0.0.1:N while replaying (0: any free port)",
    )
    run.add_argument(
        "--book",
        metavar="MESSAGE.csv[,ORDERBOOK.csv]",
        action="append",
        help="trade against a recorded L3 day instead of the simulated market: a LOBSTER message file "
        "(with its orderbook file, to seed the resting orders) or a generic L3 CSV; repeat per instrument "
        "(docs/recorded-market.md)",
    )
    run.add_argument(
        "--book-ticker",
        metavar="TICKER",
        action="append",
        help="the ticker each --book trades as, in order (default: the file's)",
    )
    run.add_argument(
        "--book-tick-size", type=float, metavar="USD", help="price tick of a generic L3 CSV --book"
    )
    run.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="resume a killed run from its checkpoint in --out when every input matches (default); "
        "--no-resume recomputes every phase",
    )
    run.set_defaults(key="run")

    st = sub.add_parser(
        "study",
        help="seeded worlds through both desks: P&L with 95%% CIs, and P&L vs decision "
        "latency for two strategies (out/study.json, study.md, latency-value.png)",
    )
    st.add_argument(
        "--seeds", type=int, default=10, help="worlds (seeds first-seed..) (default: %(default)s)"
    )
    st.add_argument(
        "--first-seed", type=int, default=1, help="seed of the first world (default: %(default)s)"
    )
    st.add_argument(
        "--events", type=int, default=150_000, help="news events per world (default: %(default)s)"
    )
    st.add_argument(
        "--seconds", type=float, default=10.0, help="simulated seconds per world (default: %(default)s)"
    )
    st.add_argument(
        "--latencies",
        default="1us,10us,100us,1ms,10ms,100ms",
        metavar="LIST",
        help="decision latencies of the sweep (default: %(default)s)",
    )
    st.add_argument("--config", metavar="PATH", help="TOML config (its [latency] model is the fast desk's)")
    st.add_argument(
        "--decision-latency", metavar="SPEC", help="the fast desk's decision latency (as cns run)"
    )
    st.add_argument("--out", metavar="DIR", default="out", help="output directory (default: %(default)s)")
    st.add_argument("--no-progress", action="store_true", help="no progress bar")
    st.set_defaults(key="study")

    cal = sub.add_parser(
        "calibrate",
        help="learn per-source reliability (Beta-Binomial) from held-out worlds "
        "and/or a labelled history; writes the desk's credibility table",
    )
    cal.add_argument("--worlds", type=int, default=4, help="held-out generated worlds (default: %(default)s)")
    cal.add_argument(
        "--seed",
        type=int,
        default=7,
        help="the trading world's seed: held-out seeds are derived "
        "from it and never equal it (default: %(default)s)",
    )
    cal.add_argument(
        "--events", type=int, default=250_000, help="news events per world (default: %(default)s)"
    )
    cal.add_argument(
        "--seconds", type=float, default=300.0, help="simulated seconds per world (default: %(default)s)"
    )
    cal.add_argument(
        "--history",
        metavar="FILE",
        help='labelled outcomes, JSON Lines {"source": ..., "correct": true|false}',
    )
    cal.add_argument("--out", metavar="PATH", default="out/credibility.json", help="(default: %(default)s)")
    cal.set_defaults(key="calibrate")

    bench = sub.add_parser("bench", help="benchmarks against named peers, measured in the same run")
    bsub = bench.add_subparsers(dest="what", metavar="WHAT", required=True)
    for what, text in (
        ("actors", "actor runtime vs Pykka, Thespian, asyncio"),
        ("signals", "compiled SHACL kernels vs pySHACL"),
        ("pipeline", "news-to-order pipeline throughput and per-stage latency"),
        ("book", "sparse L3 order book: batch, LOBSTER replay, single-op latency vs hftbacktest"),
        ("shacl", "SHACL on RDF graphs (cns validate's path) vs shacl, pyrudof, pySHACL"),
    ):
        b = bsub.add_parser(what, help=text)
        b.add_argument(
            "--quick", action="store_true", help="small sizes: checks the benchmark, not the machine"
        )
        b.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
        b.add_argument(
            "--runs",
            type=int,
            metavar="N",
            help="repeat the measurement N times and report median "
            "and min-max (default: actors 5, 3 with --quick; signals 3; pipeline 1, 3 with --quick)",
        )
        b.set_defaults(key=f"bench {what}")
    bl = bsub.add_parser(
        "live", help="wire-to-wire latency of cns serve under open-loop load vs a websockets + QuickFIX peer"
    )
    bl.add_argument("--quick", action="store_true", help="short steps: checks the benchmark, not the machine")
    bl.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    bl.add_argument(
        "--rates",
        default="15200,100000,1000000",
        metavar="LIST",
        help="offered loads, events/s (default: %(default)s)",
    )
    bl.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="duration of each load step, s (default: 4, 1 with --quick)",
    )
    bl.add_argument("--no-peer", action="store_true", help="measure CNS only")
    bl.add_argument(
        "--profile",
        metavar="PATH",
        help="also sample CNS with py-spy during one step (collapsed "
        "stacks to PATH; the JSON names what dominates)",
    )
    bl.add_argument(
        "--realtime",
        type=int,
        default=0,
        metavar="PRIO",
        help="run the measured process and the "
        "load generator under SCHED_FIFO (PRIO 1..89; needs the privilege) so other load on the host "
        "does not delay their wake-ups (default: 0 = normal scheduling)",
    )
    bl.set_defaults(key="bench live")

    bj = bsub.add_parser(
        "journal",
        help="journal appends per fsync policy, recovery, vs SQLite WAL and "
        "file.write + fsync (docs/journal.md)",
    )
    bj.add_argument("--quick", action="store_true", help="small sizes: checks the benchmark, not the machine")
    bj.add_argument(
        "--repeats",
        type=int,
        default=3,
        metavar="N",
        help="runs of every section (median and min..max reported) (default: %(default)s)",
    )
    bj.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    bj.add_argument("--dir", metavar="DIR", help="where to write the journals (default: a temp dir)")
    bj.set_defaults(key="bench journal")

    bb = bsub.add_parser(
        "backtest",
        help="one generated L3 stream + the same strategy: CNS vs hftbacktest vs NautilusTrader "
        "(docs/bench/backtest.md)",
    )
    bb.add_argument("--quick", action="store_true", help="small sizes: checks the benchmark, not the machine")
    bb.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    bb.add_argument("--runs", type=int, metavar="N", help="repeats per engine (default: 3, 2 with --quick)")
    bb.add_argument(
        "--events", type=int, metavar="N", help="stream events (default: 2000000; 200000 with --quick)"
    )
    bb.add_argument(
        "--nautilus-events",
        type=int,
        metavar="N",
        help="NautilusTrader replays the first N events (default: 100000; 50000 with --quick; 0 = all)",
    )
    bb.add_argument("--timeout", type=float, metavar="S", help="per engine process, s (default: 600)")
    bb.set_defaults(key="bench backtest")

    bs = bsub.add_parser(
        "startup", help="cold start with cached kernels and data generation + write, in fresh processes"
    )
    bs.add_argument("--quick", action="store_true", help="small sizes: checks the benchmark, not the machine")
    bs.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    bs.add_argument(
        "--runs", type=int, default=3, metavar="N", help="fresh processes per workload (default: %(default)s)"
    )
    bs.add_argument("--only", choices=("cold", "data"), help="measure one workload only")
    bs.set_defaults(key="bench startup")

    bsp = bsub.add_parser(
        "span", help="what a news file's span costs the replay (clusters hours to days apart; idle gaps)"
    )
    bsp.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    bsp.add_argument(
        "--runs", type=int, default=1, metavar="N", help="fresh processes per workload (default: 1)"
    )
    bsp.add_argument("--quick", action="store_true", help="the first two workloads only")
    bsp.set_defaults(key="bench span")

    jr = sub.add_parser("journal", help="the durable journal: inspect, tail, export (docs/journal.md)")
    jsub = jr.add_subparsers(dest="what", metavar="WHAT", required=True)
    ji = jsub.add_parser("inspect", help="segments, entries by type, first/last index and time, torn tail")
    ji.add_argument("dir", metavar="DIR")
    ji.add_argument("--json", action="store_true", help="print JSON")
    ji.set_defaults(key="journal inspect")
    jt = jsub.add_parser("tail", help="the last entries, then (--follow) new ones as they are appended")
    jt.add_argument("dir", metavar="DIR")
    jt.add_argument("-n", type=int, default=10, help="entries (default: %(default)s)")
    jt.add_argument("--follow", action="store_true", help="keep printing appended entries until interrupted")
    jt.set_defaults(key="journal tail")
    je = jsub.add_parser("export", help="one Parquet file per entry type")
    je.add_argument("dir", metavar="DIR")
    je.add_argument("--parquet", required=True, metavar="OUT", help="output directory")
    je.set_defaults(key="journal export")

    ch = sub.add_parser(
        "chaos",
        help="kill a random stage / feed handler of a running shard every few ms; count every message",
    )
    ch.add_argument("--seconds", type=float, default=60.0, help="chaos duration, s (default: %(default)s)")
    ch.add_argument(
        "--kill-every-ms", type=float, default=5.0, help="interval between kills, ms (default: %(default)s)"
    )
    ch.add_argument("--rate", type=float, default=2000.0, help="news events/s (default: %(default)s)")
    ch.add_argument("--seed", type=int, default=1, help="(default: %(default)s)")
    ch.add_argument("--json", metavar="PATH", help="write the result as JSON to PATH")
    ch.set_defaults(key="chaos")

    fz = sub.add_parser(
        "fuzz", help="fuzz the JSONL, binary, feed-frame and FIX readers (hypothesis, atheris)"
    )
    fz.add_argument("--inputs", type=int, default=1_000_000, help="inputs per target (default: %(default)s)")
    fz.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    fz.add_argument(
        "--target",
        choices=("jsonl", "binary", "feed", "fix", "all"),
        default="all",
        help="(default: %(default)s)",
    )
    fz.add_argument(
        "--engine",
        choices=("hypothesis", "atheris", "both"),
        default="hypothesis",
        help="atheris runs where it is installed (default: %(default)s)",
    )
    fz.add_argument("--json", metavar="PATH", help="write the counts as JSON to PATH")
    fz.set_defaults(key="fuzz")

    shb = bsub.choices["shacl"]
    shb.add_argument(
        "--records",
        type=int,
        metavar="N",
        help="news records in the graph (default 20000, 1000 with --quick)",
    )
    shb.add_argument(
        "--format",
        choices=("ttl", "nt"),
        default="ttl",
        help="data file every engine reads (default: %(default)s)",
    )

    val = sub.add_parser(
        "validate", help="validate RDF data against SHACL shapes; prints a sh:ValidationReport"
    )
    val.add_argument("--shapes", required=True, metavar="S.ttl")
    val.add_argument("--data", required=True, metavar="D.ttl")
    val.set_defaults(key="validate")

    comp = sub.add_parser("compile", help="compile SHACL shapes ahead of time to a cached kernel artifact")
    comp.add_argument("shapes", metavar="SHAPES.ttl")
    comp.add_argument("-o", "--output", metavar="ARTIFACT", help="artifact path (default: SHAPES.cnsk)")
    comp.set_defaults(key="compile")

    news = sub.add_parser("news", help="news wire formats")
    nsub = news.add_subparsers(dest="what", metavar="WHAT", required=True)
    conv = nsub.add_parser("convert", help="convert news between JSON Lines and the CNS binary format")
    conv.add_argument("input", metavar="IN")
    conv.add_argument("output", metavar="OUT")
    conv.add_argument("--rejects", metavar="PATH", help="quarantine file (default: OUT.rejects.jsonl)")
    conv.set_defaults(key="news convert")

    demo = sub.add_parser("demo", help="a short demo of a supervised actor tree surviving crashes")
    demo.set_defaults(key="demo")
    dsub = demo.add_subparsers(dest="what", metavar="WHAT", required=False)
    dl = dsub.add_parser(
        "live",
        help="feed server + venue gateway + cns serve on loopback, trading for --seconds (docs/serve.md)",
    )
    dl.add_argument("--seconds", type=float, default=30.0, help="trading time, s (default: %(default)s)")
    dl.add_argument(
        "--rate", type=float, default=200.0, help="generated news events/s (default: %(default)s)"
    )
    dl.add_argument("--seed", type=int, default=7, help="news and market-maker seed (default: %(default)s)")
    dl.set_defaults(key="demo live")

    rep = sub.add_parser("report", help="documents rendered from measured JSON")
    rsub = rep.add_subparsers(dest="what", metavar="WHAT", required=True)
    rr = rsub.add_parser("readme", help="render README's headline table from out/*.json")
    rr.add_argument(
        "--out", default="out", metavar="DIR", help="where the JSON documents are (default: %(default)s)"
    )
    rr.add_argument(
        "--readme", default="README.md", metavar="PATH", help="README to update (default: %(default)s)"
    )
    rr.add_argument(
        "--check", action="store_true", help="exit 1 if README differs from the JSON, write nothing"
    )
    rr.set_defaults(key="report readme")

    feed = sub.add_parser("feed", help="live news feeds (docs/feeds.md)")
    fsub = feed.add_subparsers(dest="what", metavar="WHAT", required=True)
    fs = fsub.add_parser("serve", help="replay a news file as a live feed over binary TCP and JSON WebSocket")
    fs.add_argument("--news", required=True, metavar="FILE", help="news to replay: JSON Lines or CNS binary")
    fs.add_argument(
        "--speed",
        default="1",
        help="1 = real time by the records' receive_ns, 10 = 10x, max = as fast "
        "as clients read (default: %(default)s)",
    )
    fs.add_argument(
        "--port", type=int, default=7400, help="binary TCP port, 0 = any free (default: %(default)s)"
    )
    fs.add_argument(
        "--ws-port", type=int, default=None, help="JSON WebSocket port, 0 = any free (default: off)"
    )
    fs.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    fs.add_argument("--feed-id", type=int, default=1, help="feed id in every frame (default: %(default)s)")
    fs.add_argument(
        "--heartbeat", type=float, default=1.0, metavar="S", help="heartbeat period, s (default: %(default)s)"
    )
    fs.add_argument(
        "--frame-records", type=int, default=256, help="max records per DATA frame (default: %(default)s)"
    )
    fs.add_argument(
        "--replay-capacity", type=int, default=1 << 20, help="records kept for replay (default: %(default)s)"
    )
    fs.add_argument(
        "--wait-clients",
        type=int,
        default=0,
        help="start the playback once this many clients said hello (default: %(default)s = at once)",
    )
    fs.add_argument("--exit-at-end", action="store_true", help="stop once every record is published")
    fs.set_defaults(key="feed serve")

    venue = sub.add_parser("venue", help="the venue gateway: order books behind FIX 4.4 (docs/gateway.md)")
    vsub = venue.add_subparsers(dest="what", metavar="WHAT", required=True)
    vs = vsub.add_parser("serve", help="serve order books over a FIX 4.4 acceptor, with market data over TCP")
    vs.add_argument(
        "--port", type=int, default=None, help="FIX port, 0 = any free (default: config, else 9878)"
    )
    vs.add_argument(
        "--md-port", type=int, default=None, help="market-data port, 0 = any free (default: config, else off)"
    )
    vs.add_argument(
        "--config",
        metavar="PATH",
        help="venue TOML: instruments, sessions, market maker (default: "
        "5 instruments, one session with CompIDs from CNS_VENUE_COMP_ID / CNS_CLIENT_COMP_ID)",
    )
    vs.add_argument("--host", default=None, help="address to bind (default: config, else 127.0.0.1)")
    vs.add_argument(
        "--store-dir",
        default=None,
        metavar="DIR",
        help="FIX session stores (default: config, else in memory)",
    )
    vs.add_argument("--seed", type=int, default=None, help="market-maker seed (default: config)")
    vs.add_argument("--no-market-maker", action="store_true", help="no background quotes")
    vs.add_argument("-v", "--verbose", action="store_true", help="log session events to stderr")
    vs.set_defaults(key="venue serve")

    srv = sub.add_parser(
        "serve", help="the live pipeline of one shard: feeds -> stages -> desk -> FIX (docs/serve.md)"
    )
    srv.add_argument(
        "--config",
        required=True,
        metavar="PATH",
        help="serve TOML: feeds, FIX sessions, instruments, "
        "rules, risk limits (example: src/cns/shipped/serve.toml)",
    )
    srv.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="stop gracefully after this long (default: run until SIGTERM/SIGINT)",
    )
    srv.add_argument("--summary", metavar="PATH", help="write the stop summary as JSON to PATH")
    srv.add_argument(
        "-v", "--verbose", action="store_true", help="log feed, FIX and supervisor events to stderr"
    )
    srv.add_argument(
        "--ops-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics and "
        "the control API on PORT (0 = any free; token from $CNS_OPS_TOKEN; default: off)",
    )
    srv.set_defaults(key="serve")

    mon = sub.add_parser(
        "monitor",
        help="terminal dashboard of a running pipeline through its metrics endpoint and "
        "control API (docs/ops.md)",
    )
    mon.add_argument("--url", required=True, help="the ops endpoint, e.g. http://127.0.0.1:9464")
    mon.add_argument("--token", default=None, help="control API token (default: $CNS_OPS_TOKEN)")
    mon.add_argument(
        "--interval", type=float, default=1.0, help="seconds between readings (default: %(default)s)"
    )
    mon.set_defaults(key="monitor")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``cns`` command; exit status 0 success, 1 a negative result (e.g. data does not conform), 2 refused.

    Any :class:`~cns.errors.CNSError` a command lets escape (bad input, bad config, unsafe cache, ...) becomes
    one line on stderr and exit status 2, never a traceback; anything else is a bug and propagates.
    """
    args = build_parser().parse_args(argv)
    try:
        return _handler(args.key)(args)
    except CNSError as e:
        print(f"cns {args.key}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cns {args.key}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
