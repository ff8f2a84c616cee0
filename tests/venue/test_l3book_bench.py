"""Smoke test of ``cns bench book``: tiny sizes, checks the pieces run and report the right shape (not speed)."""

from __future__ import annotations

import numpy as np
import pytest

from cns.bench import book as bb
from cns.cli import build_parser
from cns.venue.l3book import L3Book


@pytest.mark.smoke
def test_bench_book_pieces_run() -> None:
    ops = bb.op_mix(6_000, seed=3)
    book = L3Book()
    reports = book.process(ops)
    assert len(reports) > 0 and book.check() == 0
    mix = bb.bench_mix(6_000, chunk=2_048)
    assert mix["ops_per_s"] > 0 and mix["check"] == 0
    lob = bb.bench_lobster(1)
    assert lob["passive_ops_per_s"] > 0 and lob["messages"] > 2_500
    assert lob["passive_book_only_ops_per_s"] > 0
    single = bb.bench_single(500)
    assert single["limit_ns"]["count"] == 500 and single["check"] == 0
    peer = bb.bench_peer(1)
    if "skipped" in peer:
        assert "hftbacktest" in peer["skipped"]
    else:  # the peer's book must end where ours does, or the comparison means nothing
        assert peer["cns_l3book"]["reports"] == peer["cns_l3book_into"]["reports"] > 0
        assert peer["cns_l3book_book_only"]["reports"] == 0
        for k, v in peer.items():
            if isinstance(v, dict):
                assert tuple(v["final_best"]) == tuple(lob["final_best"]), k


def test_cli_has_bench_book() -> None:
    args = build_parser().parse_args(["bench", "book", "--quick", "--json", "x.json"])
    assert args.key == "bench book" and args.quick and args.json == "x.json"
    msgs, active = bb.tiled_lobster(2)
    assert np.all(np.diff(msgs["time_ns"]) >= 0) and len(active) > 0
