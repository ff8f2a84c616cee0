"""The files CNS ships inside its package: SHACL rules and the news scenarios, found wherever CNS is installed.

Layout (package data, listed in ``pyproject.toml`` ``[tool.setuptools.package-data]``)::

    src/cns/shipped/rules/news.ttl            ontology + shapes the replay validates against
    src/cns/shipped/rules/news-example.ttl    example data that fails in the documented ways
    src/cns/shipped/scenarios/*.jsonl         the five news scenarios; config.toml pins their thresholds

Every lookup goes through :func:`importlib.resources.files`, never through ``__file__`` arithmetic or the
current directory, so it works the same from a source checkout, an editable install and an installed wheel.

Failure rules: a shipped file that is missing (an incomplete install) raises :class:`ShippedDataError` naming
the file; so does a CNS imported from somewhere without real files (e.g. a zip archive), because the callers
(rdflib, the kernel compiler, subprocesses) need a path on disk. Nothing here creates or writes files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from cns.errors import CNSError

__all__ = ["ShippedDataError", "shipped_path", "shipped_rules", "shipped_scenario", "shipped_scenarios"]

_PACKAGE = "cns"
_ROOT = "shipped"


class ShippedDataError(CNSError, FileNotFoundError):
    """A file CNS ships is missing or not on the file system (an incomplete or zipped install)."""


def _root() -> Path:
    base = files(_PACKAGE)
    if not isinstance(base, Path):  # e.g. zipimport: a Traversable without a file-system path
        raise ShippedDataError(
            f"the cns package at {base!s} is not on the file system; install CNS unpacked (pip install)"
        )
    return base / _ROOT


def shipped_path(*parts: str) -> Path:
    """The absolute path of ``shipped/<parts...>`` inside the installed package; it must exist.

    Raises :class:`ShippedDataError` when it does not (the message names the path and says to reinstall).
    """
    path = _root().joinpath(*parts)
    if not path.exists():
        raise ShippedDataError(
            f"shipped file missing: {path} (incomplete CNS install? reinstall the package)"
        )
    return path


def shipped_rules(name: str = "news.ttl") -> Path:
    """A shipped SHACL file: ``news.ttl`` (the replay's shapes, the default) or ``news-example.ttl``."""
    return shipped_path("rules", name)


def shipped_scenarios() -> Path:
    """The directory of the shipped news scenarios (``*.jsonl`` plus ``config.toml``)."""
    return shipped_path("scenarios")


def shipped_scenario(name: str) -> Path:
    """One shipped scenario file, e.g. ``2-earnings-beat.jsonl`` or ``config.toml``."""
    return shipped_path("scenarios", name)
