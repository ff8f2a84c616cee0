"""Validate an RDF data graph against compiled shapes: :func:`validate_graph`.

Orchestration is per shape and per constraint in Python; every per-value or per-(focus, value) step is a
vectorised NumPy operation or a Numba kernel from :mod:`cns.rules.graph_kernels`. Per-term string predicates
(``sh:pattern``, ``sh:languageIn``) run once per *distinct* value term. Shape-based components
(``sh:node``/``not``/``and``/``or``/``xone``/``qualifiedValueShape``) ask :meth:`_Evaluator.conforms`, which
memoises each shape's conformance per term (bottom-up, on demand).

Hostile input is refused, never crashes: recursive shapes, reference chains and property paths past the
bounds of :mod:`cns.rules.limits` are refused before any data is bound
(:func:`cns.rules.structure.check_structure`, also applied to an IR given directly to :func:`validate_ir`); a
path evaluation that would exceed ``MAX_PATH_PAIRS`` raises :class:`~cns.rules.errors.LimitExceeded` naming the shape. Integer parameters
beyond the int64 range (``sh:minLength 10**30``) are clamped where that cannot change a result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from rdflib import RDF, RDFS, Graph, Literal, URIRef
from rdflib.term import Node

from cns.rules import graph_kernels as gk
from cns.rules import ir
from cns.rules.encode import read_bound
from cns.rules.errors import LimitExceeded, RuleError
from cns.rules.graph import BoundGraph, bind_graph, eval_path, sorted_unique
from cns.rules.optimise import optimise
from cns.rules.report import ValidationReport, ValidationResult
from cns.rules.shapes import load_shapes
from cns.rules.structure import check_structure
from cns.rules.xsd import compile_pattern, lang_matches

__all__ = ["validate_graph", "validate_ir", "bind_data", "shape_terms"]

_RANGE_OPS = {
    ir.MinExclusiveConstraint: gk.OP_GT,
    ir.MinInclusiveConstraint: gk.OP_GE,
    ir.MaxExclusiveConstraint: gk.OP_LT,
    ir.MaxInclusiveConstraint: gk.OP_LE,
}
_NO_VALUE = -1
_BIG = 2**62  # beyond any count or length of a graph held in memory; keeps Numba arguments in int64


def _clamp(n: int) -> int:
    return min(n, _BIG)


def validate_graph(
    shapes: ir.ShapesIR | Graph | str | os.PathLike[str], data: Graph | BoundGraph | str | os.PathLike[str]
) -> ValidationReport:
    """Validate ``data`` (Graph, bound graph or RDF file) against ``shapes`` (IR, shapes Graph or file).

    A Turtle or N-Triples file is read straight into arrays (:func:`cns.rules.encode.read_bound`: pyoxigraph
    and Numba, no rdflib graph); other formats through rdflib (:func:`cns.rules.rdfio.read_rdf`).

    Raises :class:`~cns.rules.errors.DataError` for unreadable/unparsable files and
    :class:`~cns.rules.errors.ShapeCompileError` for ill-formed or unsupported shapes.
    """
    shapes_ir = optimise(shapes if isinstance(shapes, ir.ShapesIR) else load_shapes(shapes))
    if isinstance(data, (Graph, BoundGraph)):
        return validate_ir(shapes_ir, data)
    check_structure(shapes_ir)  # refuse bad shapes before reading the data
    return validate_ir(shapes_ir, read_bound(data, shape_terms(shapes_ir)))


def bind_data(shapes_ir: ir.ShapesIR, data: Graph | str | os.PathLike[str]) -> BoundGraph:
    """``data`` (Graph or RDF file) bound to arrays with the constants of ``shapes_ir``: the input
    :func:`validate_ir` takes to validate without parsing or binding (benchmarks, repeated validation)."""
    if isinstance(data, Graph):
        return bind_graph(data, shape_terms(shapes_ir))
    return read_bound(data, shape_terms(shapes_ir))


def validate_ir(shapes_ir: ir.ShapesIR, data: Graph | BoundGraph) -> ValidationReport:
    """Validate ``data`` against already compiled (and possibly optimised) shapes. A :class:`BoundGraph` must
    have been bound with these shapes' constants (:func:`bind_data`).

    Raises :class:`~cns.rules.errors.ShapeCompileError` for recursive or too deeply nested shapes and
    :class:`~cns.rules.errors.LimitExceeded` when a path evaluation exceeds ``MAX_PATH_PAIRS``.
    """
    check_structure(shapes_ir)
    g = data if isinstance(data, BoundGraph) else bind_graph(data, shape_terms(shapes_ir))
    ev = _Evaluator(shapes_ir, g)
    blocks: list[_Block] = []
    for shape in shapes_ir.shapes.values():
        if shape.targets and not shape.deactivated:
            blocks.extend(ev.validate_shape(shape, ev.focus_nodes(shape)))
    results = _materialise(g, blocks)  # sorted by _result_key
    return ValidationReport(conforms=not results, results=tuple(results))


def shape_terms(shapes_ir: ir.ShapesIR) -> list[Node]:
    """Every RDF term of the shapes that the data binding must be able to encode."""
    out: list[Node] = [RDF.type, RDFS.subClassOf]
    for s in shapes_ir.shapes.values():
        out.extend(t.term for t in s.targets)
        if s.path is not None:
            out.extend(ir.path_predicates(s.path))
        for c in s.constraints:
            if isinstance(c, ir.ClassConstraint):
                out.append(c.cls)
            elif isinstance(c, ir.DatatypeConstraint):
                out.append(c.datatype)
            elif isinstance(c, ir.VALUE_RANGE_CONSTRAINTS) or isinstance(c, ir.HasValueConstraint):
                out.append(c.value)
            elif isinstance(c, ir.InConstraint):
                out.extend(c.values)
            elif isinstance(
                c,
                (
                    ir.EqualsConstraint,
                    ir.DisjointConstraint,
                    ir.LessThanConstraint,
                    ir.LessThanOrEqualsConstraint,
                ),
            ):
                out.append(c.predicate)
            elif isinstance(c, ir.ClosedConstraint):
                out.extend(c.allowed + c.ignored)
    return out


@dataclass(slots=True)
class _Block:
    """Results of one constraint: parallel arrays; ``value``/``path_pred`` entries -1 mean "none"."""

    shape: ir.Shape
    component: URIRef
    focus: np.ndarray
    value: np.ndarray
    path_pred: np.ndarray | None = None


class _Evaluator:
    def __init__(self, shapes_ir: ir.ShapesIR, g: BoundGraph) -> None:
        self.ir = shapes_ir
        self.g = g
        self.type_code = g.code(RDF.type)
        self._state: dict[ir.ShapeRef, np.ndarray] = {}
        self._busy: set[ir.ShapeRef] = set()
        self._class_masks: dict[Node, np.ndarray] = {}

    # ---- targets -----------------------------------------------------------------------------------------
    def class_mask(self, cls: Node) -> np.ndarray:
        """Boolean mask over term codes: ``cls`` and its rdfs:subClassOf descendants in the data graph."""
        m = self._class_masks.get(cls)
        if m is None:
            m = np.zeros(self.g.n_terms, np.bool_)
            path = ir.ZeroOrMorePath(ir.InversePath(ir.PredicatePath(RDFS.subClassOf)))
            _, subs = eval_path(self.g, path, np.array([self.g.code(cls)], np.int32))
            m[subs] = True
            self._class_masks[cls] = m
        return m

    def focus_nodes(self, shape: ir.Shape) -> np.ndarray:
        g = self.g
        parts: list[np.ndarray] = []
        for t in shape.targets:
            if t.kind == ir.TARGET_NODE:
                parts.append(np.array([g.code(t.term)], np.int32))
            elif t.kind == ir.TARGET_CLASS:
                classes = np.flatnonzero(self.class_mask(t.term)).astype(np.int32)
                _, inst = eval_path(g, ir.InversePath(ir.PredicatePath(RDF.type)), classes)
                parts.append(inst)
            elif t.kind == ir.TARGET_SUBJECTS_OF:
                parts.append(g.subjects_with(g.code(t.term)))
            else:
                parts.append(g.objects_with(g.code(t.term)))
        return sorted_unique(np.concatenate(parts)).astype(np.int32) if parts else np.empty(0, np.int32)

    # ---- conformance (shape-based components) --------------------------------------------------------------
    def conforms(self, ref: ir.ShapeRef, nodes: np.ndarray) -> np.ndarray:
        """Boolean per node: does it conform to shape ``ref`` (no results)? Memoised per term."""
        shape = self.ir.shapes[ref]
        if shape.deactivated:
            return np.ones(nodes.shape[0], np.bool_)
        st = self._state.get(ref)
        if st is None:
            st = self._state[ref] = np.zeros(self.g.n_terms, np.int8)
        unknown = sorted_unique(nodes[st[nodes] == 0])
        if unknown.shape[0]:
            if ref in self._busy:
                raise RuleError(f"{self.ir.source}: at {shape.where}: recursive shapes are not supported")
            self._busy.add(ref)
            try:
                blocks = self.validate_shape(shape, unknown)
            finally:
                self._busy.discard(ref)
            st[unknown] = 1
            for b in blocks:
                st[b.focus] = 2
        return st[nodes] == 1

    # ---- validation ----------------------------------------------------------------------------------------
    def validate_shape(self, shape: ir.Shape, focus: np.ndarray) -> list[_Block]:
        if shape.deactivated or focus.shape[0] == 0:
            return []
        if shape.path is not None:
            try:
                src, dst = eval_path(self.g, shape.path, focus)
            except LimitExceeded as e:
                raise LimitExceeded(f"{self.ir.source}: at {shape.where}: sh:path: {e}") from None
        else:
            src, dst = focus, focus
        out: list[_Block] = []
        for c in shape.constraints:
            out.extend(self._constraint(shape, c, focus, src, dst))
        return out

    def _value_fail(
        self,
        shape: ir.Shape,
        c: ir.Constraint,
        src: np.ndarray,
        dst: np.ndarray,
        uv: np.ndarray,
        ok: np.ndarray,
    ) -> list[_Block]:
        bad = uv[~ok]
        if bad.shape[0] == 0:
            return []
        mask = np.isin(dst, bad)
        return [_Block(shape, c.component, src[mask], dst[mask])]

    def _focus_fail(self, shape: ir.Shape, component: URIRef, focus: np.ndarray) -> list[_Block]:
        if focus.shape[0] == 0:
            return []
        return [_Block(shape, component, focus, np.full(focus.shape[0], _NO_VALUE, np.int32))]

    def _constraint(
        self, shape: ir.Shape, c: ir.Constraint, focus: np.ndarray, src: np.ndarray, dst: np.ndarray
    ) -> list[_Block]:  # noqa: C901 - one arm per component
        g = self.g
        uv = sorted_unique(dst)
        if isinstance(c, ir.ClassConstraint):
            ok = gk.has_type_in(uv, g.s_ptr, g.s_pred, g.s_obj, self.type_code, self.class_mask(c.cls))
        elif isinstance(c, ir.DatatypeConstraint):
            ok = gk.check_datatype(uv, g.kind, g.datatype, g.ill_formed, g.code(c.datatype))
        elif isinstance(c, ir.NodeKindConstraint):
            ok = gk.check_node_kind(uv, g.kind, c.mask)
        elif isinstance(c, ir.VALUE_RANGE_CONSTRAINTS):
            ok = gk.check_range(
                uv, g.order_cat, g.order_key, g.exact_rank, g.code(c.value), _RANGE_OPS[type(c)]
            )
        elif isinstance(c, (ir.MinLengthConstraint, ir.MaxLengthConstraint)):
            ok = gk.check_length(uv, g.lexlen, _clamp(c.length), isinstance(c, ir.MinLengthConstraint))
        elif isinstance(c, ir.PatternConstraint):
            rx = compile_pattern(c.pattern, c.flags)
            ok = np.zeros(uv.shape[0], np.bool_)
            named = np.flatnonzero(g.kind[uv] != gk.KIND_BNODE)  # a blank node never matches
            search = rx.search
            ok[named] = [search(t) is not None for t in g.terms.texts(uv[named])]
        elif isinstance(c, ir.LanguageInConstraint):
            lang_ok = np.array([any(lang_matches(t, r) for r in c.languages) for t in g.langs] + [False])
            ok = lang_ok[g.lang[uv]]  # lang -1 picks the trailing False
        elif isinstance(c, ir.InConstraint):
            ok = np.isin(uv, [g.code(v) for v in c.values])
        elif isinstance(c, ir.NotConstraint):
            ok = ~self.conforms(c.shape, uv)
        elif isinstance(c, ir.NodeConstraint):
            ok = self.conforms(c.shape, uv)
        elif isinstance(c, ir.AndConstraint):
            ok = np.ones(uv.shape[0], np.bool_)
            for r in c.shapes:
                ok &= self.conforms(r, uv)
        elif isinstance(c, ir.OrConstraint):
            ok = np.zeros(uv.shape[0], np.bool_)
            for r in c.shapes:
                ok |= self.conforms(r, uv)
        elif isinstance(c, ir.XoneConstraint):
            n = np.zeros(uv.shape[0], np.int64)
            for r in c.shapes:
                n += self.conforms(r, uv)
            ok = n == 1
        else:
            return self._focus_constraint(shape, c, focus, src, dst, uv)
        return self._value_fail(shape, c, src, dst, uv, ok)

    def _focus_constraint(
        self,
        shape: ir.Shape,
        c: ir.Constraint,
        focus: np.ndarray,
        src: np.ndarray,
        dst: np.ndarray,
        uv: np.ndarray,
    ) -> list[_Block]:
        g = self.g
        n = g.n_terms
        if isinstance(c, (ir.MinCountConstraint, ir.MaxCountConstraint)):
            counts = gk.values_of_focus(focus, src)
            bound = _clamp(c.count)
            bad = counts < bound if isinstance(c, ir.MinCountConstraint) else counts > bound
            return self._focus_fail(shape, c.component, focus[bad])
        if isinstance(c, ir.HasValueConstraint):
            has = sorted_unique(src[dst == g.code(c.value)])
            return self._focus_fail(shape, c.component, focus[~np.isin(focus, has)])
        if isinstance(c, ir.UniqueLangConstraint):
            lang = g.lang[dst]
            m = lang >= 0
            keys, counts = np.unique(
                src[m].astype(np.int64) * (len(g.langs) + 1) + lang[m], return_counts=True
            )
            dup = keys[counts > 1] // (len(g.langs) + 1)
            return self._focus_fail(shape, c.component, dup.astype(np.int32))
        if isinstance(c, (ir.EqualsConstraint, ir.DisjointConstraint)):
            b_src, b_dst = eval_path(g, ir.PredicatePath(c.predicate), focus)
            a_key = src.astype(np.int64) * n + dst
            b_key = b_src.astype(np.int64) * n + b_dst
            if isinstance(c, ir.DisjointConstraint):
                keys = np.intersect1d(sorted_unique(a_key), sorted_unique(b_key), assume_unique=True)
            else:
                keys = np.setxor1d(sorted_unique(a_key), sorted_unique(b_key), assume_unique=True)
            return [_Block(shape, c.component, (keys // n).astype(np.int32), (keys % n).astype(np.int32))]
        if isinstance(c, (ir.LessThanConstraint, ir.LessThanOrEqualsConstraint)):
            b_src, b_dst = eval_path(g, ir.PredicatePath(c.predicate), focus)
            op = gk.OP_LT if isinstance(c, ir.LessThanConstraint) else gk.OP_LE
            f, v = gk.compare_pairs(src, dst, b_src, b_dst, g.order_cat, g.order_key, g.exact_rank, op)
            return [_Block(shape, c.component, f, v)]
        if isinstance(c, ir.PropertyConstraint):
            blocks = self.validate_shape(self.ir.shapes[c.shape], uv)
            if shape.path is None:
                return blocks
            # a value node reached from k (focus, value) pairs is validated k times (W3C property-001)
            mult = np.bincount(dst, minlength=n)
            return [
                _Block(
                    b.shape,
                    b.component,
                    np.repeat(b.focus, mult[b.focus]),
                    np.repeat(b.value, mult[b.focus]),
                    None if b.path_pred is None else np.repeat(b.path_pred, mult[b.focus]),
                )
                for b in blocks
            ]
        if isinstance(c, ir.QualifiedValueShapeConstraint):
            good = self.conforms(c.shape, uv)
            for sib in c.siblings:
                good &= ~self.conforms(sib, uv)
            good_pairs = np.isin(dst, uv[good])
            counts = gk.values_of_focus(focus, src[good_pairs])
            out: list[_Block] = []
            if c.min_count is not None:
                out += self._focus_fail(shape, c.min_component, focus[counts < _clamp(c.min_count)])
            if c.max_count is not None:
                out += self._focus_fail(shape, c.max_component, focus[counts > _clamp(c.max_count)])
            return out
        if isinstance(c, ir.ClosedConstraint):
            allowed = np.zeros(n, np.bool_)
            allowed[[g.code(p) for p in c.allowed + c.ignored]] = True
            f, p, o = gk.closed_violations(uv, g.s_ptr, g.s_pred, g.s_obj, allowed)
            if shape.path is None:
                return [_Block(shape, c.component, f, o, p)]
            # property shape: report against the focus nodes whose value node is not closed
            idx = np.arange(f.shape[0], dtype=np.int32)
            order = np.argsort(f, kind="stable")
            fs, js = gk.join_pairs(src, dst, f[order], idx[order])
            return [_Block(shape, c.component, fs, o[js], p[js])]
        raise RuleError(f"{self.ir.source}: at {shape.where}: no evaluator for {type(c).__name__}")


def _materialise(g: BoundGraph, blocks: list[_Block]) -> list[ValidationResult]:
    """The results of every block, sorted by :func:`_result_key` (one rdflib term and one N3 string per
    distinct term, however many results mention it)."""
    rows: list[tuple[tuple[str, ...], ValidationResult]] = []
    terms = g.terms
    node: dict[int, tuple[Node, str]] = {}

    def term(c: int) -> tuple[Node, str]:
        t = node.get(c)
        if t is None:
            x = terms[c]
            t = node[c] = (x, x.n3())
        return t

    for b in blocks:
        s = b.shape
        msgs = s.messages or (Literal(_default_message(b.component)),)
        shape_s, comp_s = str(s.id), str(b.component)
        values = b.value.tolist()
        preds = None if b.path_pred is None else b.path_pred.tolist()
        for i, f in enumerate(b.focus.tolist()):
            v = values[i]
            path = s.path
            if preds is not None:
                path = ir.PredicatePath(terms[preds[i]])  # type: ignore[arg-type]
            focus, focus_s = term(f)
            value, value_s = term(v) if v >= 0 else (None, "")
            rows.append(
                (
                    (focus_s, shape_s, comp_s, value_s),
                    ValidationResult(
                        focus_node=focus,
                        result_path=path,
                        value=value,
                        severity=s.severity,
                        component=b.component,
                        source_shape=s.id,
                        messages=msgs,
                    ),
                )
            )
    rows.sort(key=lambda kr: kr[0])
    return [r for _, r in rows]


def _default_message(component: URIRef) -> str:
    name = str(component).rsplit("#", 1)[-1].removesuffix("ConstraintComponent")
    return f"{name} constraint violated"


def _result_key(r: ValidationResult) -> tuple[str, ...]:
    return (
        r.focus_node.n3(),
        str(r.source_shape),
        str(r.component),
        r.value.n3() if r.value is not None else "",
    )
