"""cns.rules — a SHACL Core compiler: shapes graph -> IR (:mod:`cns.rules.ir`) -> optimised IR ->
validation over an RDF graph bound to integer arrays (Numba kernels), or record kernels (``codegen``).

Public API: :func:`load_shapes`, the IR dataclasses (:mod:`cns.rules.ir`), the optimiser passes, and the
error tree. Validation of RDF graphs: :func:`validate_graph` -> :class:`ValidationReport`.

Hostile input is refused, never followed or crashed on: files are read by :func:`cns.rules.rdfio.read_rdf`
(no network or file fetches named by the data, no DTDs/entities), shapes structure and path evaluation are
bounded by :mod:`cns.rules.limits`, and kernel artifacts are verified before they run (:mod:`cns.rules.codegen`).
"""

from cns.rules import ir, limits
from cns.rules.errors import (
    ArtifactIntegrityError,
    DataError,
    LimitExceeded,
    RuleError,
    ShapeCompileError,
    UnsafeInput,
    UnsupportedComponent,
)
from cns.rules.optimise import (
    StaticMarks,
    eliminate_dead_shapes,
    fold_constants,
    mark_static,
    optimise,
    shape_refs,
)
from cns.rules.report import ValidationReport, ValidationResult
from cns.rules.shapes import load_shapes, parse_graph
from cns.rules.validate import validate_graph, validate_ir

__all__ = [
    "ir",
    "limits",
    "load_shapes",
    "parse_graph",
    "validate_graph",
    "validate_ir",
    "ValidationReport",
    "ValidationResult",
    "fold_constants",
    "eliminate_dead_shapes",
    "optimise",
    "mark_static",
    "shape_refs",
    "StaticMarks",
    "RuleError",
    "ShapeCompileError",
    "UnsupportedComponent",
    "DataError",
    "UnsafeInput",
    "LimitExceeded",
    "ArtifactIntegrityError",
]
