"""``cns bench journal --quick`` shape (smoke): every section present, headline rows, goals recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from cns.bench import journal as B
from cns.journal import FsyncPolicy


@pytest.mark.smoke
@pytest.mark.timeout(300)
def test_bench_journal_pieces(tmp_path: Path) -> None:
    a = B.bench_append(tmp_path, FsyncPolicy.os(), 256, 256 * 200)
    assert a["records"] == 256 * 200 and a["records_per_s"] > 0 and a["per_record_ns"]["p50"] > 0
    g = B.bench_append(tmp_path, FsyncPolicy.group(500), 256, 256 * 50)
    assert g["wall_s_until_durable"] > 0
    r = B.bench_recovery(tmp_path, 5000, 1)
    assert r["entries"] == 5000 and r["entries_per_s"] > 0
    s = B.bench_sqlite(tmp_path, 256, 256 * 20)
    f = B.bench_file(tmp_path, 256, 256 * 20, fsync=True)
    assert s["records"] == f["records"] == 256 * 20
    assert not list(tmp_path.glob("peer*"))
