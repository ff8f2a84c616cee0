"""Smoke test of ``cns bench shacl`` (quick sizes): it runs, the engines agree, the JSON has its shape."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cns.bench import shacl as bench

pytestmark = pytest.mark.smoke


def test_quick_run_writes_json_with_headline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench-shacl.json"
    rc = bench.main(argparse.Namespace(quick=True, records=150, runs=1, json=str(out), format="ttl"))
    printed = capsys.readouterr().out
    assert rc == 0, printed
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "shacl" and doc["records"] == 150 and doc["quick"] is True
    assert doc["cpu"] and doc["triples"] > 150
    cns = doc["engines"]["cns"]
    for key in ("with_parse", "validate_only"):
        sp = cns[key]["records_per_s"]
        assert sp["runs"] == 1 and sp["median"] > 0
        assert cns[key]["wall_s"]["count"] == 1  # percentiles from cns.telemetry.stats.summarize
    assert cns["violations"] > 0  # the synthetic stream carries defects
    assert doc["violations_agree"] is True
    for name in ("shacl", "pyrudof", "pyshacl"):  # each peer ran or was skipped with a message
        assert (name in doc["engines"]) != (name in doc["skipped"])
        if name in doc["skipped"]:
            assert "not installed" in printed
    rows = doc["headline"]
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"figure", "cns", "peer", "ratio", "goal", "met"}
        assert "records/s" in row["figure"]
    assert "violations cns=" in printed or not (set(doc["engines"]) - {"cns"})


def test_news_graph_files_hold_the_same_graph(tmp_path: Path) -> None:
    pytest.importorskip("pyoxigraph")
    from rdflib import Graph
    from rdflib.compare import isomorphic

    g = bench.make_news_graph(40, tmp_path)
    a = Graph().parse(g["ttl"], format="turtle")
    b = Graph().parse(g["nt"], format="nt")
    assert len(a) == len(b) == g["triples"] and isomorphic(a, b)


def test_cli_has_the_subcommand() -> None:
    from cns.cli import build_parser

    args = build_parser().parse_args(["bench", "shacl", "--quick", "--records", "10", "--format", "nt"])
    assert args.key == "bench shacl" and args.records == 10 and args.format == "nt"
