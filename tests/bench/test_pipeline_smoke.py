"""``cns bench pipeline --quick``: both sides read the same file, do the same work, and headline rows exist."""

import argparse
import json
from pathlib import Path

import pytest

from cns.bench import pipeline


@pytest.mark.smoke
@pytest.mark.slow  # ~5 s warm; a cold JIT cache or a first generation of the quick world adds ~20 s
def test_bench_pipeline_quick_same_input_and_headline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "bench.json"
    assert pipeline.main(argparse.Namespace(quick=True, json=str(out), runs=None)) == 0
    doc = json.loads(out.read_text())
    for key in (
        "cpu",
        "events",
        "wall_s",
        "events_per_s",
        "latency_ns",
        "peer",
        "ratios",
        "goals",
        "includes",
    ):
        assert key in doc, key
    events, _ = pipeline.QUICK
    # the peer ran on the same input: same file, same record count, same counts out
    assert doc["input"]["events"] == events and doc["events"] == events
    assert doc["peer"]["wire_records"] == events and doc["peer"]["events"] == events
    same = doc["same_work"]
    assert same["all_match"], {k: v for k, v in same["counts"].items() if not v["match"]}
    assert same["counts"]["signals"]["cns"] > 0 and same["counts"]["zero_tick"]["cns"] > 0
    assert doc["peer"]["events_per_s"] > 0 and doc["ratios"]["ingest_vs_python_peer"] > 0
    rows = doc["headline"]
    assert 3 <= len(rows) <= 6
    assert all(r["figure"] and r["cns"] and "n/a" not in r["cns"] for r in rows)
    assert "same file" in rows[0]["peer"] and rows[0]["ratio"].endswith("CNS/peer")
    printed = capsys.readouterr().out
    assert "Per-event in-kernel latency" in printed and "Same work" in printed
