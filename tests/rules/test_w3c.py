"""W3C SHACL Core conformance (node/ and property/): every manifest case through ``cns validate``."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from cns.rules.cli import validate_main
from tests.rules.w3c_manifest import W3C_DIR, load_cases, parse_turtle, report_of_graph

CASES = load_cases()


def test_manifests_list_all_cases() -> None:
    assert len(CASES) == 70


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_w3c_case(case, capsys) -> None:
    rc = validate_main(argparse.Namespace(shapes=str(case.shapes), data=str(case.data)))
    out = capsys.readouterr()
    if case.expect_failure:
        assert rc == 2, out.out
        assert out.err.strip()
        return
    assert case.expected is not None
    got = report_of_graph(parse_turtle(data=out.out))
    expected_conforms, expected_results = case.expected
    assert got[0] == expected_conforms
    assert rc == (0 if expected_conforms else 1)
    assert got[1] == expected_results


@pytest.mark.parametrize("name, code", [("node/class-001", 1), ("property/uniqueLang-002", 0)])
def test_exit_codes_via_subprocess(name: str, code: int) -> None:
    case = next(c for c in CASES if c.name == name)
    proc = subprocess.run(
        [sys.executable, "-m", "cns", "validate", "--shapes", str(case.shapes), "--data", str(case.data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == code, proc.stderr
    assert "sh:ValidationReport" in proc.stdout


def test_subprocess_bad_input_exit_2(tmp_path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix ex: <http://ex/> . ex:a ex:b")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cns",
            "validate",
            "--shapes",
            str(bad),
            "--data",
            str(W3C_DIR / "node/class-001.ttl"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "bad.ttl" in proc.stderr
