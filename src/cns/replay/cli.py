"""``cns run``: the production replay (see :mod:`cns.replay.driver`)."""

from __future__ import annotations

import argparse
import sys

from cns.replay.driver import ReplayError, ReplayOptions, run_replay
from cns.replay.report import render_markdown, write_report
from cns.trading.errors import ConfigError


def options_from_args(args: argparse.Namespace) -> ReplayOptions:
    if args.events < 1:
        raise SystemExit("cns run: --events must be >= 1")
    if args.seconds <= 0:
        raise SystemExit("cns run: --seconds must be > 0")
    return ReplayOptions(
        events=args.events, seconds=args.seconds, seed=args.seed, news_path=args.news, market_path=args.market,
        config_path=args.config, out_dir=args.out, slow_baseline=not args.no_slow_baseline,
        progress=not args.no_progress and sys.stderr.isatty(),
    )


def main(args: argparse.Namespace) -> int:
    opts = options_from_args(args)
    try:
        outcome = run_replay(opts)
    except (FileNotFoundError, ValueError, ConfigError) as e:
        print(f"cns run: {e}", file=sys.stderr)
        return 2
    except ReplayError as e:
        print(f"cns run: {e}", file=sys.stderr)
        return 1
    # all report files appear together or not at all (see write_report); a failure is a ReportWriteError
    paths = write_report(outcome.report, opts.out_dir, outcome.pnl_series, outcome.latency_samples,
                         wire_rejects=outcome.wire_rejects)
    print(render_markdown(outcome.report))
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0
