"""``cns run``: the production replay (see :mod:`cns.replay.driver`).

Every option is checked before any heavy work (:class:`~cns.replay.driver.ReplayOptions` at construction,
the config and the desk values before the news is prepared): a bad value is one line on stderr and exit 2
(``cns`` prints any :class:`~cns.errors.CNSError` that way). A replay that cannot produce a trustworthy
report (a stage crashed) exits 1.

Killed and restarted, ``cns run`` resumes: every completed phase (ingest, fast pass, slow pass) is journalled
in ``<out>/.checkpoint/`` under a hash of all the run's inputs (:mod:`cns.replay.checkpoint`), and a run with
the same inputs loads those phases instead of recomputing them (``--no-resume``: recompute everything; the
journal is written again). The report is the same as an uninterrupted run's (``trading`` byte for byte;
``measured.resumed`` names the loaded phases); the journal is removed once the report is published.
"""

from __future__ import annotations

import argparse
import sys

from cns.replay.driver import ReplayError, ReplayOptionError, ReplayOptions, replay
from cns.replay.latency import LatencySpecError
from cns.replay.report import build_outcome, render_markdown, write_report
from cns.trading.errors import ConfigError


def options_from_args(args: argparse.Namespace) -> ReplayOptions:
    """The :class:`ReplayOptions` of ``cns run``'s arguments; :class:`ReplayOptionError` or
    :class:`LatencySpecError` (both :class:`~cns.errors.CNSError`, exit 2) naming a bad one."""
    return ReplayOptions(
        events=args.events,
        seconds=args.seconds,
        seed=args.seed,
        news_path=args.news,
        market_path=args.market,
        config_path=args.config,
        out_dir=args.out,
        slow_baseline=not args.no_slow_baseline,
        progress=not args.no_progress and sys.stderr.isatty(),
        decision_latency=getattr(args, "decision_latency", None),
        credibility_path=getattr(args, "credibility", None),
        metrics_port=getattr(args, "metrics_port", None),
        checkpoint=True,
        resume=bool(getattr(args, "resume", True)),
        books=tuple(getattr(args, "book", None) or ()),
        book_tickers=tuple(getattr(args, "book_ticker", None) or ()),
        book_tick_size=getattr(args, "book_tick_size", None),
    )


def main(args: argparse.Namespace) -> int:
    """Run ``cns run``: replay, write the report files, print the Markdown report; return the exit code.

    0 on success; 2 (one line on stderr) for a missing file, a bad value or a :class:`ConfigError`; 1 for a
    :class:`ReplayError`. :class:`ReplayOptionError` / :class:`LatencySpecError` (exit 2, the caller prints
    them) and :class:`ReportWriteError` propagate.
    """
    opts = options_from_args(args)  # refused before any work: the caller prints one line, exit 2
    try:
        run = replay(opts)
        outcome = build_outcome(run)
    except (ReplayOptionError, LatencySpecError):
        raise
    except (FileNotFoundError, ValueError, ConfigError) as e:
        print(f"cns run: {e}", file=sys.stderr)
        return 2
    except ReplayError as e:
        print(f"cns run: {e}", file=sys.stderr)
        return 1
    # all report files appear together or not at all (see write_report); a failure is a ReportWriteError
    paths = write_report(
        outcome.report,
        opts.out_dir,
        outcome.pnl_series,
        outcome.latency_samples,
        wire_rejects=outcome.wire_rejects,
    )
    if run.journal is not None:
        run.journal.discard()  # published: a new run starts from scratch
    print(render_markdown(outcome.report))
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0
