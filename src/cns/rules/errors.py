"""Error tree of :mod:`cns.rules`.

``RuleError`` is the root; callers that only want "the rules refused this" catch it. Every message says where
the problem is (file, shape, parameter), e.g. ``shapes.ttl: at ex:PersonShape / sh:property[2] / sh:minCount``.
"""

from __future__ import annotations

from cns.errors import CNSError

__all__ = [
    "RuleError",
    "ShapeCompileError",
    "UnsupportedComponent",
    "DataError",
    "UnsafeInput",
    "LimitExceeded",
    "ArtifactIntegrityError",
]


class RuleError(CNSError):
    """Root of every error raised by :mod:`cns.rules`."""


class ShapeCompileError(RuleError):
    """The shapes graph is ill-formed (a W3C ``sht:Failure`` case): wrong parameter type, malformed list, ..."""


class UnsupportedComponent(ShapeCompileError):
    """The shapes graph uses a feature outside the supported profile (SPARQL-based constraints, SHACL-AF)."""


class DataError(RuleError):
    """The data graph (or a shapes file as a file) cannot be read or parsed."""


class UnsafeInput(DataError):
    """The input asks for something CNS never does while reading it: a network or file fetch named by the data
    (remote JSON-LD ``@context``, ``@import``, a URL given as a file), a DTD or entity declaration in RDF/XML."""


class LimitExceeded(DataError):
    """Validating the data would exceed a resource limit of :mod:`cns.rules.limits` (e.g. a path producing more
    than ``MAX_PATH_PAIRS`` pairs). The message names the shape and the limit."""


class ArtifactIntegrityError(RuleError):
    """A kernel artifact's recorded hashes do not match its contents (corrupt or tampered); it is never executed."""
