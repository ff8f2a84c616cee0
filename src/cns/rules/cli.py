"""``cns validate`` and ``cns compile`` handlers.

Exit codes: 0 the data conforms (validate) / artifact written (compile); 1 the data does not conform;
2 bad input (unreadable file, unparsable RDF, ill-formed or unsupported shapes). Messages go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import pickle
import sys
from pathlib import Path

from cns.rules.errors import RuleError
from cns.rules.shapes import load_shapes
from cns.rules.validate import validate_graph

__all__ = ["validate_main", "compile_main"]


def validate_main(args: argparse.Namespace) -> int:
    """``cns validate --shapes S.ttl --data D.ttl``: print the sh:ValidationReport (Turtle) to stdout."""
    try:
        shapes_ir = load_shapes(args.shapes)
        report = validate_graph(shapes_ir, args.data)
    except RuleError as e:
        print(f"cns validate: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(report.to_turtle(shapes_ir.prefixes))
    return 0 if report.conforms else 1


def compile_main(args: argparse.Namespace) -> int:
    """``cns compile SHAPES.ttl [-o ARTIFACT]``: check the shapes, then hand the IR to the code generator.

    Uses ``cns.rules.codegen.compile_artifact(ir, shapes_path, output_path)`` when it exists; otherwise the
    artifact is the pickled (optimised) IR, which :func:`pickle.load` restores.
    """
    shapes_path = Path(args.shapes)
    output = Path(args.output) if args.output else shapes_path.with_suffix(".cnsk")
    try:
        shapes_ir = load_shapes(shapes_path)
    except RuleError as e:
        print(f"cns compile: {e}", file=sys.stderr)
        return 2
    try:
        compile_artifact = getattr(importlib.import_module("cns.rules.codegen"), "compile_artifact", None)
    except ModuleNotFoundError as e:
        if e.name != "cns.rules.codegen":
            raise
        compile_artifact = None
    try:
        if compile_artifact is not None:
            compile_artifact(shapes_ir, shapes_path, output)
        else:
            from cns.rules.optimise import optimise

            output.write_bytes(pickle.dumps(optimise(shapes_ir)))
    except RuleError as e:
        print(f"cns compile: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"cns compile: {output}: cannot write: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"cns compile: {len(shapes_ir.shapes)} shapes from {shapes_path} -> {output}", file=sys.stderr)
    return 0
