"""cns.rules — a SHACL Core compiler: shapes graph -> IR (:mod:`cns.rules.ir`) -> optimised IR ->
validation over an RDF graph bound to integer arrays (Numba kernels), or record kernels (``codegen``).

Public API: :func:`load_shapes`, the IR dataclasses (:mod:`cns.rules.ir`), the optimiser passes, and the
error tree. Validation of RDF graphs: :func:`validate_graph` -> :class:`ValidationReport`.
"""

from cns.rules import ir
from cns.rules.errors import DataError, RuleError, ShapeCompileError, UnsupportedComponent
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
]
