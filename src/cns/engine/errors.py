"""Error tree of :mod:`cns.engine`: ``EngineError`` is the root (invalid use of the validator API)."""

from __future__ import annotations

from cns.errors import CNSError

__all__ = ["EngineError"]


class EngineError(CNSError):
    """Invalid use of the engine: wrong dtype/output arrays, missing dictionaries or tables, unknown code."""
