"""cns.resources finds the shipped rules and scenarios inside the package, never through the source tree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cns
from cns.errors import CNSError
from cns.resources import ShippedDataError, shipped_path, shipped_rules, shipped_scenario, shipped_scenarios

PACKAGE = Path(cns.__file__).resolve().parent


def test_shipped_files_live_inside_the_package() -> None:
    for p in (
        shipped_rules(),
        shipped_rules("news-example.ttl"),
        shipped_scenarios(),
        shipped_scenario("config.toml"),
    ):
        assert p.exists() and p.resolve().is_relative_to(PACKAGE), p
    assert "sh:NodeShape" in shipped_rules().read_text()
    assert len(list(shipped_scenarios().glob("*.jsonl"))) == 5


def test_a_missing_shipped_file_is_a_clear_cns_error() -> None:
    with pytest.raises(ShippedDataError, match=r"shipped file missing: .*nope\.ttl.*reinstall") as e:
        shipped_rules("nope.ttl")
    assert isinstance(e.value, CNSError) and isinstance(e.value, FileNotFoundError)
    with pytest.raises(ShippedDataError):
        shipped_path("scenarios", "missing.jsonl")


def test_default_shapes_are_the_shipped_ones() -> None:
    from cns.bench import signals
    from cns.engine.validator import DEFAULT_SHAPES

    assert DEFAULT_SHAPES == shipped_rules() == signals.SHAPES


def test_no_module_finds_shipped_data_through_the_source_tree() -> None:
    # a path built from __file__ up to the checkout, or from the current directory, to rules/ or scenarios/
    pattern = re.compile(
        r"parents\[\d+\][^\n]*[\"'](rules|scenarios)[\"/']|Path\([\"'](rules|scenarios)[\"/]"
    )
    offenders = [
        f"{p.relative_to(PACKAGE)}:{n}"
        for p in PACKAGE.rglob("*.py")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == [], "look shipped files up with cns.resources, not relative to the source tree"
