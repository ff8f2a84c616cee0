"""``cns journal inspect|tail|export`` through cns.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cns.cli import main
from cns.journal import TYPE_NEWS, JournalWriter
from cns.journal.example import write_session
from cns.journal.segments import list_segments
from cns.signals.dtypes import empty_news

pytestmark = pytest.mark.timeout(120)


@pytest.fixture()
def journal(tmp_path: Path) -> Path:
    d = tmp_path / "j"
    with JournalWriter(d, segment_bytes=1 << 16, pretouch_bytes=0) as w:
        write_session(w, 300, seed=2)
        n = empty_news(2)
        n["headline_off"] = [0, 5]
        n["headline_len"] = [5, 6]
        w.append(TYPE_NEWS, n, b"helloworld!")
    return d


def test_inspect(journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["journal", "inspect", str(journal), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["first_index"] == 1 and info["last_index"] == info["entries"] > 100
    assert info["types"]["news"] == {"code": 1, "entries": 1, "records": 2}
    assert info["types"]["order"]["records"] == 300 and info["end"] == "clean"
    assert len(info["segments"]) == len(list_segments(journal)) >= 2
    seg = list_segments(journal)[-1][1]
    raw = bytearray(seg.read_bytes())
    last_used = info["segments"][-1]["used_bytes"]
    raw[last_used - 16] ^= 0xFF  # damage the last entry (past its padding)
    seg.write_bytes(bytes(raw))
    assert main(["journal", "inspect", str(journal)]) == 0
    assert "torn tail" in capsys.readouterr().out


def test_tail_and_export(journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["journal", "tail", str(journal), "-n", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and "news" in lines[-1]
    out = tmp_path / "pq"
    assert main(["journal", "export", str(journal), "--parquet", str(out)]) == 0
    import pyarrow.parquet as pq

    news = pq.read_table(out / "news.parquet")
    assert news.column("headline").to_pylist() == ["hello", "world!"]
    orders = pq.read_table(out / "order.parquet")
    assert orders.num_rows == 300 and orders.column("qty").to_numpy().min() >= 100
    ent = pq.read_table(out / "entries.parquet")
    assert np.array_equal(ent.column("index").to_numpy(), np.arange(1, ent.num_rows + 1))
