"""The CI slice of ``cns fuzz``: a few hundred inputs per target (seconds), plus atheris where installed."""

from __future__ import annotations

import argparse

import pytest

from cns.fuzz import TARGETS, main, run_atheris, run_target

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_slice(target: str) -> None:
    c = run_target(target, 300, seed=3, per_example=24, progress=False)
    assert c.inputs >= 300 and c.accepted + c.quarantined == c.inputs
    assert c.accepted > 0 and c.quarantined > 0  # both paths exercised


def test_cli_entry(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    ns = argparse.Namespace(target="fix", inputs=50, seed=1, engine="hypothesis", json=None)
    assert main(ns) == 0
    assert "fix" in capsys.readouterr().out


@pytest.mark.parametrize("target", ["jsonl", "fix"])
def test_atheris_slice(target: str) -> None:
    pytest.importorskip("atheris", reason="atheris is not installed")
    r = run_atheris(target, 300, seed=2)
    assert r["returncode"] == 0, r.get("failure")
