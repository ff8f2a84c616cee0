"""Static checks of the shape-reference graph of a :class:`~cns.rules.ir.ShapesIR`: no recursion, bounded depth,
bounded unfolding.

Validation evaluates shape references recursively (``sh:node``, ``sh:property``, ``sh:not``, ``sh:and`` /
``sh:or`` / ``sh:xone`` members, ``sh:qualifiedValueShape`` and its disjoint siblings). :func:`check_structure`
refuses, before any data is read, the shapes graphs for which that recursion would not terminate or would
exhaust the stack or the CPU:

* a cycle of references between active shapes (recursive shapes; SHACL leaves their validation undefined) —
  the message spells the cycle, e.g. ``ex:A -> sh:node -> ex:B -> sh:not -> ex:A``;
* a reference chain longer than :data:`cns.rules.limits.MAX_SHAPE_DEPTH` shapes;
* a shape whose ``sh:property`` references unfold (property shapes are evaluated per use, not memoised) into
  more than :data:`cns.rules.limits.MAX_SHAPE_UNFOLD` evaluations.

References from a deactivated shape are not followed (it is never evaluated) and references to shapes missing
from the IR are ignored here. The check is iterative and linear in the number of references. Failures raise
:class:`~cns.rules.errors.ShapeCompileError` naming the source and the shape (``Shape.where``).
"""

from __future__ import annotations

from typing import Any

from rdflib import URIRef

from cns.rules import ir, limits
from cns.rules.errors import ShapeCompileError
from cns.rules.optimise import shape_refs

__all__ = ["check_structure"]

_PARAM = {
    ir.NodeConstraint: "sh:node",
    ir.PropertyConstraint: "sh:property",
    ir.NotConstraint: "sh:not",
    ir.AndConstraint: "sh:and",
    ir.OrConstraint: "sh:or",
    ir.XoneConstraint: "sh:xone",
    ir.QualifiedValueShapeConstraint: "sh:qualifiedValueShape",
}


def _edges(s: ir.Shape, shapes: dict[ir.ShapeRef, ir.Shape]) -> list[tuple[str, ir.ShapeRef]]:
    if s.deactivated:
        return []
    out: list[tuple[str, ir.ShapeRef]] = []
    for c in s.constraints:
        label = _PARAM.get(type(c), "")
        out.extend((label, r) for r in shape_refs(c) if r in shapes)
    return out


def _name(s: ir.Shape) -> str:
    return s.where or (s.id.n3() if isinstance(s.id, URIRef) else "[]")


def check_structure(shapes_ir: ir.ShapesIR) -> None:
    """Raise :class:`ShapeCompileError` if the shapes are recursive, nested deeper than ``MAX_SHAPE_DEPTH`` or
    unfold past ``MAX_SHAPE_UNFOLD`` (module doc); return None otherwise."""
    shapes = dict(shapes_ir.shapes)
    edges = {ref: _edges(s, shapes) for ref, s in shapes.items()}
    depth: dict[ir.ShapeRef, int] = {}  # longest chain starting here, in shapes
    unfold: dict[ir.ShapeRef, int] = {}  # evaluations of this shape's sh:property tree
    on_stack: dict[ir.ShapeRef, int] = {}  # ref -> index in the DFS stack
    for start in shapes:
        if start in depth:
            continue
        # iterative DFS: stack of (ref, index of the next edge to follow)
        stack: list[list[Any]] = [[start, 0]]
        on_stack[start] = 0
        while stack:
            frame = stack[-1]
            ref, i = frame
            out = edges[ref]
            if i < len(out):
                frame[1] = i + 1
                nxt = out[i][1]
                if nxt in on_stack:
                    raise _recursion(shapes_ir, stack, on_stack[nxt], edges)
                if nxt not in depth:
                    on_stack[nxt] = len(stack)
                    stack.append([nxt, 0])
                continue
            stack.pop()
            del on_stack[ref]
            d = 1 + max((depth[r] for _, r in out), default=0)
            u = 1 + sum(unfold[r] for label, r in out if label == "sh:property")
            depth[ref], unfold[ref] = d, u
            s = shapes[ref]
            if d > limits.MAX_SHAPE_DEPTH:
                raise ShapeCompileError(
                    f"{shapes_ir.source}: at {_name(s)}: shape references nested deeper "
                    f"than MAX_SHAPE_DEPTH ({limits.MAX_SHAPE_DEPTH}, cns.rules.limits)"
                )
            if u > limits.MAX_SHAPE_UNFOLD:
                raise ShapeCompileError(
                    f"{shapes_ir.source}: at {_name(s)}: sh:property references unfold into "
                    f"more than MAX_SHAPE_UNFOLD ({limits.MAX_SHAPE_UNFOLD}, "
                    "cns.rules.limits) evaluations"
                )


def _recursion(
    shapes_ir: ir.ShapesIR,
    stack: list[list[Any]],
    first: int,
    edges: dict[ir.ShapeRef, list[tuple[str, ir.ShapeRef]]],
) -> ShapeCompileError:
    parts: list[str] = []
    for ref, i in stack[first:]:
        label, _ = edges[ref][i - 1]
        parts += [_short(shapes_ir, ref), label]
    parts.append(_short(shapes_ir, stack[first][0]))
    shape = shapes_ir.shapes[stack[first][0]]
    cycle = " -> ".join(parts)
    if len(cycle) > 300:
        cycle = cycle[:300] + "..."
    return ShapeCompileError(
        f"{shapes_ir.source}: at {_name(shape)}: recursive shape reference ({cycle}); "
        "recursive shapes are not supported"
    )


def _short(shapes_ir: ir.ShapesIR, ref: ir.ShapeRef) -> str:
    s = shapes_ir.shapes[ref]
    if isinstance(ref, URIRef):
        best = max(
            ((p, ns) for p, ns in shapes_ir.prefixes.items() if p and str(ref).startswith(ns)),
            key=lambda pn: len(pn[1]),
            default=None,
        )
        return f"{best[0]}:{str(ref)[len(best[1]) :]}" if best else ref.n3()
    return f"[{s.where}]" if s.where else "[]"
