"""``cns bench startup --quick`` shape (smoke) and the warm-up world's cut (types kept, work removed)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from cns.bench import startup as B


@pytest.mark.smoke
@pytest.mark.timeout(900)
def test_bench_startup_quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("CNS_CACHE_DIR", str(cache))
    doc = B.run(events=3000, seconds=2.0, runs=1, batch=1024, tmp_dir=str(tmp_path))
    (r,) = doc["cold"]["runs"]
    assert r["data_from_cache"] and r["first_batch_events"] == 1024
    assert r["cold_start_s"] > 0 and r["to_first_event_s"] >= r["cold_start_s"] - 1e-6
    assert r["kernel_loads"].get("first_batch", {}).get("new", 0) == 0  # warm-up loaded them all
    (d,) = doc["data"]["runs"]
    assert d["generated"] and d["news_bytes"] > 0 and d["datagen_write_s"] >= d["generate_s"]
    assert len(doc["headline"]) == 2
    assert all(set(r) >= {"figure", "cns", "goal", "met"} for r in doc["headline"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("cns-startup-")]  # temp dirs removed


def test_bench_startup_parser_and_bad_args() -> None:
    ap = argparse.ArgumentParser()
    B.add_parser(ap.add_subparsers(dest="what"))
    a = ap.parse_args(["startup", "--quick", "--runs", "2", "--only", "data"])
    assert a.key == "bench startup" and a.runs == 2 and a.only == "data" and a.quick
    with pytest.raises(ValueError, match="runs"):
        B.run(runs=0)
    assert os.environ.get("CNS_CACHE_DIR") != ""
