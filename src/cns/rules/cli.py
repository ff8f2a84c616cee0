"""``cns validate`` and ``cns compile`` handlers.

Exit codes: 0 the data conforms (validate) / artifact written (compile); 1 the data does not conform;
2 anything else — bad or refused input (unreadable file, unparsable RDF, a remote fetch or DTD the input asks
for, ill-formed, recursive or too deeply nested shapes, a resource limit of :mod:`cns.rules.limits`), and
for ``cns validate`` also any unexpected failure: exit 1 must only ever mean "does not conform", so a crash
(a bug, stack or memory exhaustion) is reported on stderr (with its traceback when it is a bug) and exits 2.
Messages go to stderr; the report (validate) to stdout, only when validation completed.
"""

from __future__ import annotations

import argparse
import importlib
import pickle
import sys
import traceback
from pathlib import Path

from cns.errors import CNSError
from cns.rules.errors import RuleError
from cns.rules.shapes import load_shapes
from cns.rules.validate import validate_graph

__all__ = ["validate_main", "compile_main"]


def validate_main(args: argparse.Namespace) -> int:
    """``cns validate --shapes S.ttl --data D.ttl``: print the sh:ValidationReport (Turtle) to stdout.

    Returns 0 (conforms), 1 (does not conform) or 2 (refused or failed; one message on stderr, see module doc).
    """
    try:
        shapes_ir = load_shapes(args.shapes)
        report = validate_graph(shapes_ir, args.data)
        text = report.to_turtle(shapes_ir.prefixes)
    except RuleError as e:
        print(f"cns validate: {e}", file=sys.stderr)
        return 2
    except RecursionError:
        print("cns validate: error: RecursionError: the input is nested too deeply", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "cns validate: error: MemoryError: the input is too large for the available memory",
            file=sys.stderr,
        )
        return 2
    except CNSError:
        raise  # cns.cli prints it on one line and exits 2
    except Exception as e:  # a bug: keep the traceback for the report, but never exit 1 ("does not conform")
        print(
            f"cns validate: internal error (a bug, please report it): {type(e).__name__}: {e}\n"
            f"{traceback.format_exc()}",
            file=sys.stderr,
            end="",
        )
        return 2
    sys.stdout.write(text)
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
