"""``cns news convert IN OUT [--rejects PATH]``: JSON Lines <-> CNS binary, direction from the extensions.

Exit codes: 0 = every item converted; 1 = output written but some items were quarantined (see the rejects
file); 2 = nothing converted (unreadable input, bad binary header, unknown extension, same format both sides).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cns.news.errors import NewsError
from cns.news.formats import format_of, read_news, write_news
from cns.news.jsonl import write_rejects

EXIT_OK = 0
EXIT_REJECTS = 1
EXIT_FAILED = 2


def convert_main(args: argparse.Namespace) -> int:
    """Convert ``args.input`` to ``args.output``; rejects go to ``args.rejects`` or ``OUT.rejects.jsonl``
    (written only when there are rejects). Prints one summary line to stdout, errors to stderr."""
    src, dst = Path(args.input), Path(args.output)
    rejects_path = Path(args.rejects) if getattr(args, "rejects", None) else Path(f"{dst}.rejects.jsonl")
    try:
        fin = format_of(src)
        fout = format_of(dst, for_write=True)
        if fin == fout:
            raise NewsError(f"{src} and {dst} are both {fin}: nothing to convert")
        t0 = time.perf_counter_ns()
        batch = read_news(src, sentiment=False)
        t1 = time.perf_counter_ns()
        write_news(batch, dst)
        t2 = time.perf_counter_ns()
    except (NewsError, OSError) as exc:
        print(f"cns news convert: {exc}", file=sys.stderr)
        return EXIT_FAILED
    n_rej = len(batch.rejects)
    line = (
        f"converted {len(batch)} items {src} ({fin}) -> {dst} ({fout}); read {(t1 - t0) / 1e6:.1f} ms, "
        f"write {(t2 - t1) / 1e6:.1f} ms; {n_rej} rejected"
    )
    if n_rej:
        write_rejects(batch.rejects, rejects_path)
        counts = ", ".join(f"{k}={v}" for k, v in sorted(batch.reject_counts().items()))
        line += f" ({counts}) -> {rejects_path}"
    print(line)
    return EXIT_REJECTS if n_rej else EXIT_OK
