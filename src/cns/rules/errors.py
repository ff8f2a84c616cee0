"""Error tree of :mod:`cns.rules`.

``RuleError`` is the root; callers that only want "the rules refused this" catch it. Every message says where
the problem is (file, shape, parameter), e.g. ``shapes.ttl: at ex:PersonShape / sh:property[2] / sh:minCount``.
"""

from __future__ import annotations

from cns.errors import CNSError

__all__ = ["RuleError", "ShapeCompileError", "UnsupportedComponent", "DataError"]


class RuleError(CNSError):
    """Root of every error raised by :mod:`cns.rules`."""


class ShapeCompileError(RuleError):
    """The shapes graph is ill-formed (a W3C ``sht:Failure`` case): wrong parameter type, malformed list, ..."""


class UnsupportedComponent(ShapeCompileError):
    """The shapes graph uses a feature outside the supported profile (SPARQL-based constraints, SHACL-AF)."""


class DataError(RuleError):
    """The data graph (or a shapes file as a file) cannot be read or parsed."""
