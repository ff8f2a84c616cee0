import argparse
import json
from pathlib import Path

import pytest

from cns.bench import pipeline


@pytest.mark.smoke
def test_bench_pipeline_quick_writes_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "bench.json"
    assert pipeline.main(argparse.Namespace(quick=True, json=str(out))) == 0
    doc = json.loads(out.read_text())
    for key in ("cpu", "events", "wall_s", "events_per_s", "latency_ns", "peer", "ratios", "goals"):
        assert key in doc
    assert doc["events"] == 300_000
    assert doc["peer"]["events"] == 20_000 and doc["peer"]["events_per_s"] > 0
    assert doc["ratios"]["ingest_vs_python_peer"] > 0
    assert "Per-event in-kernel latency" in capsys.readouterr().out
