"""The ops dependencies are installed (else every ops test is skipped: see conftest.py)."""

from __future__ import annotations

import pytest

from .conftest import MISSING


def test_ops_dependencies_are_installed() -> None:
    if MISSING:
        pytest.skip(
            f"cns.ops tests need the Python packages prometheus-client and textual (missing: {MISSING})"
        )
