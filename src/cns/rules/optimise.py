"""Binding-independent optimiser passes over :class:`~cns.rules.ir.ShapesIR`.

Every pass is pure (IR in, IR out) and preserves the validation report exactly:

* :func:`fold_constants` — drops constraints that can never produce a result (``sh:minCount 0``, a
  qualified shape with neither count, ``sh:node``/``sh:property`` of a shape that always conforms, an
  ``sh:or`` with an always-conforming member, ``sh:and`` members that always conform), to a fixpoint.
  A shape "always conforms" if it is deactivated or has no constraints left.
* :func:`eliminate_dead_shapes` — removes deactivated or constraint-free roots and every shape not
  reachable from an active targeted shape.
* :func:`mark_static` — finds the shapes/constraints whose outcome depends only on the focus node itself and
  on a caller-given set of "static" predicates (fields fixed per entity, e.g. a source's credibility), so a
  record back end can hoist them to ingress.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from rdflib import RDF, RDFS, URIRef

from cns.rules import ir

__all__ = [
    "shape_refs",
    "fold_constants",
    "eliminate_dead_shapes",
    "optimise",
    "StaticMarks",
    "mark_static",
    "constraint_predicates",
]


def shape_refs(c: ir.Constraint) -> tuple[ir.ShapeRef, ...]:
    """The shapes a constraint refers to (empty for value/count constraints)."""
    if isinstance(c, (ir.NotConstraint, ir.NodeConstraint, ir.PropertyConstraint)):
        return (c.shape,)
    if isinstance(c, (ir.AndConstraint, ir.OrConstraint, ir.XoneConstraint)):
        return c.shapes
    if isinstance(c, ir.QualifiedValueShapeConstraint):
        return (c.shape, *c.siblings)
    return ()


def _always_conforms(shapes: dict[ir.ShapeRef, ir.Shape], ref: ir.ShapeRef) -> bool:
    s = shapes.get(ref)
    return s is not None and (s.deactivated or not s.constraints)


def _fold(c: ir.Constraint, shapes: dict[ir.ShapeRef, ir.Shape]) -> ir.Constraint | None:
    if isinstance(c, ir.MinCountConstraint) and c.count == 0:
        return None
    if isinstance(c, ir.QualifiedValueShapeConstraint):
        if not c.min_count and c.max_count is None:
            return None
        return c
    if isinstance(c, (ir.NodeConstraint, ir.PropertyConstraint)) and _always_conforms(shapes, c.shape):
        return None
    if isinstance(c, ir.OrConstraint) and any(_always_conforms(shapes, r) for r in c.shapes):
        return None
    if isinstance(c, ir.AndConstraint):
        kept = tuple(r for r in c.shapes if not _always_conforms(shapes, r))
        return ir.AndConstraint(kept) if kept else None
    return c


def fold_constants(shapes_ir: ir.ShapesIR) -> ir.ShapesIR:
    """Drop constraints that can never fail (see module doc), repeating until nothing changes."""
    shapes = dict(shapes_ir.shapes)
    changed = True
    while changed:
        changed = False
        for ref, s in shapes.items():
            if s.deactivated:
                continue
            folded = tuple(f for c in s.constraints if (f := _fold(c, shapes)) is not None)
            if folded != s.constraints:
                shapes[ref] = replace(s, constraints=folded)
                changed = True
    return replace(shapes_ir, shapes=shapes)


def eliminate_dead_shapes(shapes_ir: ir.ShapesIR) -> ir.ShapesIR:
    """Keep only active targeted shapes with constraints and the shapes they (transitively) refer to."""
    live: set[ir.ShapeRef] = set()
    stack = [s.id for s in shapes_ir.shapes.values() if s.targets and not s.deactivated and s.constraints]
    while stack:
        ref = stack.pop()
        if ref in live or ref not in shapes_ir.shapes:
            continue
        live.add(ref)
        s = shapes_ir.shapes[ref]
        if s.deactivated:
            continue
        for c in s.constraints:
            stack.extend(shape_refs(c))
    kept = {ref: s for ref, s in shapes_ir.shapes.items() if ref in live}
    return replace(shapes_ir, shapes=kept)


def optimise(shapes_ir: ir.ShapesIR) -> ir.ShapesIR:
    """The default pipeline: constant folding, then dead-shape elimination."""
    return eliminate_dead_shapes(fold_constants(shapes_ir))


# ---- static-dependency analysis ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StaticMarks:
    """Result of :func:`mark_static`. ``shapes``: ids of shapes whose conformance depends only on the focus
    node and static predicates. ``constraints``: ``(shape id, index into Shape.constraints)`` pairs with the
    same property (a static constraint of a non-static shape can still be hoisted on its own)."""

    shapes: frozenset[ir.ShapeRef]
    constraints: frozenset[tuple[ir.ShapeRef, int]]

    def is_static(self, shape: ir.ShapeRef, index: int | None = None) -> bool:
        """Whether ``shape`` (``index`` None) or its constraint ``constraints[index]`` is static."""
        return shape in self.shapes if index is None else (shape, index) in self.constraints


def constraint_predicates(c: ir.Constraint, shape: ir.Shape) -> frozenset[URIRef] | None:
    """Data predicates a constraint reads besides the shape's own path; None means "any predicate"
    (``sh:closed`` reads every outgoing triple). Shape references are not followed here."""
    if isinstance(c, ir.ClassConstraint):
        return frozenset((RDF.type, RDFS.subClassOf))
    if isinstance(
        c, (ir.EqualsConstraint, ir.DisjointConstraint, ir.LessThanConstraint, ir.LessThanOrEqualsConstraint)
    ):
        return frozenset((c.predicate,))
    if isinstance(c, ir.ClosedConstraint):
        return None
    return frozenset()


def mark_static(shapes_ir: ir.ShapesIR, static_predicates: Iterable[URIRef]) -> StaticMarks:
    """Mark shapes/constraints that depend only on the focus node and ``static_predicates``.

    A constraint is static if the predicates it reads (its shape's path, :func:`constraint_predicates`,
    and, for shape-based constraints, everything the referenced shapes read) are all static. Recursive
    references are treated as non-static (greatest safe answer).
    """
    static = frozenset(static_predicates)
    memo: dict[ir.ShapeRef, bool] = {}
    marks: set[tuple[ir.ShapeRef, int]] = set()

    def shape_static(ref: ir.ShapeRef, visiting: frozenset[ir.ShapeRef]) -> bool:
        if ref in memo:
            return memo[ref]
        if ref in visiting or ref not in shapes_ir.shapes:
            return False
        s = shapes_ir.shapes[ref]
        base = s.path is None or ir.path_predicates(s.path) <= static
        ok = base
        for i, c in enumerate(s.constraints):
            preds = constraint_predicates(c, s)
            c_ok = base and preds is not None and preds <= static
            c_ok = c_ok and all(shape_static(r, visiting | {ref}) for r in shape_refs(c))
            if c_ok:
                marks.add((ref, i))
            ok = ok and c_ok
        memo[ref] = ok
        return ok

    result = frozenset(ref for ref in shapes_ir.shapes if shape_static(ref, frozenset()))
    return StaticMarks(shapes=result, constraints=frozenset(marks))
