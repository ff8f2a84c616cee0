"""Resource limits of :mod:`cns.rules`: the bounds that keep hostile shapes and data from exhausting the stack,
the CPU or memory.

Every limit is a module constant, read at call time (a test or an application may lower or raise it by
assigning the attribute). Exceeding one is never a crash and never a "does not conform": the shapes are
refused with :class:`~cns.rules.errors.ShapeCompileError`, the data with
:class:`~cns.rules.errors.LimitExceeded` (a :class:`~cns.rules.errors.DataError`), and ``cns validate`` exits 2
with a message naming the shape and the limit.
"""

from __future__ import annotations

__all__ = ["MAX_SHAPE_DEPTH", "MAX_SHAPE_UNFOLD", "MAX_PATH_DEPTH", "MAX_PATH_SIZE", "MAX_PATH_PAIRS"]

MAX_SHAPE_DEPTH = 64
"""Longest chain of shape references (``sh:node``, ``sh:property``, ``sh:not``, ``sh:and``/``sh:or``/``sh:xone``
members, ``sh:qualifiedValueShape``), counted in shapes, the referring shape included. Validation recurses
along these chains; real shapes graphs nest a handful of levels."""

MAX_SHAPE_UNFOLD = 100_000
"""Most property-shape evaluations one shape may unfold into: ``sh:property`` results are not memoised, so a
shape holding two property shapes that each hold the same two, level after level, costs 2**levels."""

MAX_PATH_DEPTH = 64
"""Deepest nesting of property-path constructors (``sh:inversePath``, ``sh:alternativePath``, sequence lists,
``sh:zeroOrMorePath``, ``sh:oneOrMorePath``, ``sh:zeroOrOnePath``) in one ``sh:path``."""

MAX_PATH_SIZE = 4_096
"""Most path nodes one ``sh:path`` may expand to when shared blank nodes are counted once per use (a path
whose alternatives reuse the same sub-path at every level doubles per level)."""

MAX_PATH_PAIRS = 20_000_000
"""Most (focus, value) pairs one path evaluation may produce, including intermediate joins of a sequence
path and transitive closures (``sh:zeroOrMorePath`` over a long chain is quadratic in its length)."""
