"""README's headline table is rendered from the JSON the commands write, never typed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cns.bench.readme import BEGIN, END, ReadmeError, headline_row, render, update_readme
from cns.cli import main


def _readme(tmp_path: Path) -> Path:
    p = tmp_path / "README.md"
    p.write_text(f"# X\n\n{BEGIN}\nstale\n{END}\n\nrest\n")
    return p


def test_rows_come_from_json_and_missing_sources_say_so(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    doc = {
        "cpu": "Test CPU",
        "headline": [
            headline_row("one-way msg/s", "7.5 M", peer="Pykka 168k", ratio="44x", goal=">= 10x", met=True)
        ],
    }
    (out / "bench-actors.json").write_text(json.dumps(doc))
    text = render(out)
    assert "Test CPU" in text and "7.5 M" in text and ">= 10x (met)" in text
    assert "`cns bench signals --json out/bench-signals.json` | not measured" in text


def test_update_and_check(tmp_path: Path) -> None:
    readme, out = _readme(tmp_path), tmp_path / "out"
    out.mkdir()
    assert main(["report", "readme", "--out", str(out), "--readme", str(readme), "--check"]) == 1
    assert main(["report", "readme", "--out", str(out), "--readme", str(readme)]) == 0
    assert "stale" not in readme.read_text() and readme.read_text().endswith("rest\n")
    assert main(["report", "readme", "--out", str(out), "--readme", str(readme), "--check"]) == 0


def test_missing_markers_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "README.md"
    p.write_text("# no markers\n")
    with pytest.raises(ReadmeError):
        update_readme(p, tmp_path)
    assert main(["report", "readme", "--out", str(tmp_path), "--readme", str(p)]) == 2
