"""Record binding of the SHACL compiler: :class:`~cns.rules.ir.ShapesIR` + a record schema -> a check plan.

The plan is what :mod:`cns.rules.codegen` turns into Numba source. Every constraint instance that can fail
gets a violation code (1, 2, ...; :class:`ConstraintInfo` says which shape/path/component). Passes, on top of
the binding-independent :func:`cns.rules.optimise.optimise` (constant folding, dead shapes, sh:deactivated):

* **dtype folding** — constraints the record layout proves true are dropped (``sh:maxCount 1`` on a scalar
  field, ``sh:datatype`` equal to the field's datatype, the hex pattern of a digest field, ...).
* **dead shapes** — roots whose targets bind to no record class, or only to elided kinds, are dropped.
* **hoisting** — checks that read only the kind and the link field (event type list, source presence, class
  and credibility of the source) become :attr:`Check.static`: codegen evaluates them once per
  ``(kind, source code)`` pair into the ingress table instead of per record.
* **per-entry tables** — string constraints on dictionary-coded fields and all constraints on the linked
  node are evaluated once per dictionary/table entry (:class:`LutSpec`), kernels index the result by code.

Shapes whose focus is the linked node itself (e.g. ``cns:SourceShape``) are compiled to
:attr:`RecordPlan.linked_roots`: they are validated per linked entry, not per record (exact SHACL focus
semantics: their violations are about the source, not the article).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rdflib import Literal
from rdflib.namespace import XSD

from cns.rules import ir
from cns.rules.errors import UnsupportedComponent
from cns.rules.optimise import optimise
from cns.rules.xsd import compile_pattern
from cns.signals.schema import NODE_LINKED, NODE_RECORD, ClassBinding, FieldBinding, RecordSchema

__all__ = ["ConstraintInfo", "Check", "LutSpec", "RecordPlan", "bind_record", "UNKNOWN_CODE_VIOLATION"]

UNKNOWN_CODE_VIOLATION = (
    0xFFFF  # a dictionary/table code outside the bound tables (corrupt or unbound record)
)

# the comparison a value-range component asks of a number (value OP bound)
_RANGE_OPS = {
    ir.MinInclusiveConstraint: ">=",
    ir.MinExclusiveConstraint: ">",
    ir.MaxInclusiveConstraint: "<=",
    ir.MaxExclusiveConstraint: "<",
}


@dataclass(frozen=True, slots=True)
class ConstraintInfo:
    """What violation ``code`` means: the shape (``where``), path IRI, component IRI and message."""

    code: int
    shape: str
    path: str | None
    component: str
    message: str


@dataclass(frozen=True, slots=True)
class LutSpec:
    """A per-entry table ``name``: ``source`` is ``"dict:<dictionary>"``, ``"enum:<field>"`` or ``"linked"``.

    ``checks`` are JSON-able ``[code, op, param]`` (dict/enum: op in pattern/min_length/max_length/in/
    range/never/always; linked: op ``"conforms"`` with ``param`` a list of ``[prop, op, param]`` value checks,
    ``"conforms_if"`` with ``[class IRI, checks]`` (only instances of the class are checked: a targeted
    root), or ``"class"`` with a class IRI). The table holds the first failing code per entry (0 = passes).
    """

    name: str
    source: str
    checks: tuple[tuple[int, str, Any], ...]


@dataclass(frozen=True, slots=True)
class Check:
    """One generated check: ``cond`` is a Python expression over record ``r`` that is true when the check
    fails, ``value`` the expression of the violation code then (an int literal, or a table lookup).

    ``kind_value``/``flag`` guard when it applies (None/0 = every processed record); ``static`` checks read
    only ``r.<kind field>`` and ``r.<link field>`` and are hoisted to the ingress table.
    """

    cond: str
    value: str
    kind_value: int | None
    flag: int
    static: bool
    codes: tuple[int, ...]
    luts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordPlan:
    """Everything codegen needs, plus a log of what the optimiser removed (``notes``)."""

    schema: str
    checks: tuple[Check, ...]
    luts: tuple[LutSpec, ...]
    constraints: tuple[ConstraintInfo, ...]
    linked_roots: tuple[LutSpec, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def _path_iri(shape: ir.Shape) -> str:
    if not isinstance(shape.path, ir.PredicatePath):
        raise UnsupportedComponent(f"{shape.where}: the record binding supports predicate paths only")
    return str(shape.path.predicate)


def _lit_py(v: ir.Term) -> Any:
    """The Python value of a constant: int/float/bool/str; a Decimal becomes a float; anything that is no
    number (a date, an ill-typed or unknown-datatype literal, an IRI) its string, which compares with no number."""
    if isinstance(v, Literal):
        p = v.toPython()
        if isinstance(p, (int, float, str, bool)):
            return p
        try:
            return float(p)
        except (TypeError, ValueError, OverflowError):
            return str(v)
    return str(v)


_BIG = 2**62  # beyond any entry count; keeps generated integer constants in Numba's int64


def number_source(v: int | float) -> str:
    """Source text of a numeric bound in generated (Numba) code; never a bare ``nan``/``inf`` (not names).

    Non-finite floats become ``np.nan`` / ``np.inf`` / ``-np.inf`` (the generated module imports numpy as
    ``np``); an int beyond int64 becomes the nearest double (XPath compares it with a double field as doubles;
    with an integer field only values within 2**10 of 2**63 could compare differently), or +-``np.inf`` when it
    exceeds the double range.
    """
    if isinstance(v, float):
        if math.isnan(v):
            return "np.nan"
        if math.isinf(v):
            return "np.inf" if v > 0 else "-np.inf"
        return repr(v)
    if -(2**63) <= v < 2**63:
        return repr(int(v))
    try:
        return number_source(float(v))
    except OverflowError:
        return "np.inf" if v > 0 else "-np.inf"


def _is_string_lit(v: ir.Term) -> bool:
    return isinstance(v, Literal) and v.datatype in (None, XSD.string) and v.language is None


def digest_pattern_mask(pattern: str, flags: str, n_chars: int) -> list[bool] | None:
    """For a pattern of the form ``^[class]{lo,hi}$``: which of the 16 hex digits it allows when applied to a
    ``n_chars``-long lowercase hex string (None if the length is outside ``lo..hi``). Raises
    :class:`ValueError` for other forms (the compiler cannot discharge them on raw bytes)."""
    rx = compile_pattern(pattern, flags)
    import re._parser as sre  # noqa: PLC0415 - stdlib regex parser, used to prove the pattern's shape

    items = list(sre.parse(rx.pattern, rx.flags))
    ops = [str(op) for op, _ in items]
    if (
        (ops[:1] == ["AT"])
        and (ops[-1:] == ["AT"])
        and len(items) == 3
        and ops[1] in ("MAX_REPEAT", "MIN_REPEAT")
    ):
        lo, hi, sub = items[1][1]
        if len(sub) == 1 and str(sub[0][0]) in ("IN", "LITERAL", "ANY"):
            if not lo <= n_chars <= hi:
                return None
            return [rx.fullmatch(c * n_chars) is not None for c in "0123456789abcdef"]
    raise ValueError(f"pattern {pattern!r} is not of the form ^[class]{{m,n}}$")


class _Binder:
    def __init__(self, shapes: ir.ShapesIR, schema: RecordSchema) -> None:
        self.ir = shapes
        self.schema = schema
        self.infos: list[ConstraintInfo] = []
        self.checks: list[Check] = []
        self.luts: list[LutSpec] = []
        self.linked_roots: list[LutSpec] = []
        self.notes: list[str] = []
        self.memo: dict[tuple[Any, Any], int] = {}
        self.link_field = schema.binding(schema.link_property).field if schema.link_property else None

    # -- codes -----------------------------------------------------------------------------------------------
    def code(self, shape: ir.Shape, c: Any, msg: str = "") -> int:
        key = (shape.id, c)
        if key in self.memo:  # the same constraint reached through another target class keeps its code
            return self.memo[key]
        code = self.memo[key] = len(self.infos) + 1
        path = _path_iri(shape) if shape.path is not None else None
        m = msg or (str(shape.messages[0]) if shape.messages else f"{type(c).__name__[:-10]} failed")
        self.infos.append(ConstraintInfo(code, shape.where, path, str(c.component), m))
        return code

    def lut(self, source: str, checks: list[tuple[int, str, Any]]) -> str:
        name = f"lut{len(self.luts)}"
        self.luts.append(LutSpec(name, source, tuple(checks)))
        return name

    # -- roots -----------------------------------------------------------------------------------------------
    def bind(self) -> None:
        for shape in self.ir.targeted():
            if shape.deactivated:
                self.notes.append(f"{shape.where}: deactivated, removed")
                continue
            classes: list[ClassBinding] = []
            for t in shape.targets:
                cb = self.schema.classes.get(str(t.term)) if t.kind == ir.TARGET_CLASS else None
                if cb is None:
                    self.notes.append(f"{shape.where}: target {t.term} binds to no record class, dropped")
                elif cb.node == NODE_RECORD and cb.kind_value in self.schema.elided_kinds:
                    self.notes.append(f"{shape.where}: target {t.term} is elided at ingress, dropped")
                else:
                    classes.append(cb)
            if not classes:
                self.notes.append(f"{shape.where}: dead shape (no live target), eliminated")
                continue
            for cb in classes:
                if cb.node == NODE_LINKED:
                    code = self.code(shape, ir.NodeConstraint(shape.id), f"{shape.where} violated")
                    self.linked_roots.append(
                        LutSpec(
                            f"linked_root{len(self.linked_roots)}",
                            "linked",
                            ((code, "conforms_if", [cb.cls, self.linked_checks(shape, ())]),),
                        )
                    )
                else:
                    self.node_shape(shape, cb.kind_value, cb.flag)

    def node_shape(self, shape: ir.Shape, kind_value: int | None, flag: int) -> None:
        if shape.path is not None:  # a targeted property shape: its focus node is the record
            self.property_shape(shape, kind_value, flag)
            return
        for c in shape.constraints:
            if isinstance(c, ir.PropertyConstraint):
                self.property_shape(self.ir[c.shape], kind_value, flag)
            elif isinstance(c, ir.NodeConstraint):
                self.node_shape(self.ir[c.shape], kind_value, flag)
            else:
                raise UnsupportedComponent(
                    f"{shape.where}: {type(c).__name__} on a record node is not supported"
                )

    # -- property shapes on the record node ------------------------------------------------------------------
    def property_shape(self, shape: ir.Shape, kind_value: int | None, flag: int) -> None:
        if shape.deactivated:
            self.notes.append(f"{shape.where}: deactivated, removed")
            return
        b = self.schema.binding(_path_iri(shape))
        if b.node != NODE_RECORD:
            raise UnsupportedComponent(f"{shape.where}: <{b.property}> is not a property of the record node")
        static_field = b.field in (self.schema.kind_field, self.link_field)
        lut_checks: list[tuple[int, str, Any]] = []
        link_checks: list[tuple[int, str, Any]] = []
        f = f"r.{b.field}"
        present = self.present_expr(b)
        for c in shape.constraints:
            stmt = None
            if isinstance(c, ir.MinCountConstraint):
                if c.count == 0:
                    continue
                if b.kind == "codes":
                    stmt = f"{f_count(b)} < {min(c.count, _BIG)}"
                elif c.count == 1:
                    stmt = f"not ({present})" if present != "True" else None
                else:
                    stmt = "True"
            elif isinstance(c, ir.MaxCountConstraint):
                if b.kind == "codes":
                    stmt = f"{f_count(b)} > {min(c.count, _BIG)}"
                elif c.count >= 1:
                    self.notes.append(f"{shape.where}: sh:maxCount {c.count} on scalar {b.field} folded")
                    continue
                else:
                    stmt = present
            elif isinstance(c, ir.DatatypeConstraint):
                if b.kind != "link" and b.datatype == str(c.datatype):
                    self.notes.append(f"{shape.where}: sh:datatype on {b.field} proven by the dtype, folded")
                    continue
                stmt = present if b.kind != "codes" else f"{f_count(b)} > 0"
            elif isinstance(c, ir.VALUE_RANGE_CONSTRAINTS) and b.kind == "number":
                op = _RANGE_OPS[type(c)]
                lit = _lit_py(c.value)
                if isinstance(lit, (int, float)) and not isinstance(lit, bool):
                    stmt = f"({present}) and not ({f} {op} {number_source(lit)})"
                else:
                    stmt = present
            elif isinstance(c, (ir.LessThanConstraint, ir.LessThanOrEqualsConstraint)) and b.kind == "number":
                o = self.schema.binding(str(c.predicate))
                if o.node != NODE_RECORD or o.kind != "number":
                    raise UnsupportedComponent(
                        f"{shape.where}: sh:{c.param.fragment} needs a numeric record field"
                    )
                op = "<" if isinstance(c, ir.LessThanConstraint) else "<="
                stmt = f"({present}) and ({self.present_expr(o)}) and not ({f} {op} r.{o.field})"
            elif b.kind in ("code", "codes", "enum") and isinstance(
                c,
                (
                    ir.PatternConstraint,
                    ir.MinLengthConstraint,
                    ir.MaxLengthConstraint,
                    ir.InConstraint,
                    ir.ClassConstraint,
                    ir.NodeKindConstraint,
                    *ir.VALUE_RANGE_CONSTRAINTS,
                ),
            ):
                lut_checks.append((self.code(shape, c), *string_op(c, shape)))
                continue
            elif b.kind == "digest" and isinstance(
                c, (ir.PatternConstraint, ir.MinLengthConstraint, ir.MaxLengthConstraint)
            ):
                stmt = self.digest(shape, b, c, f, present, kind_value, flag)
                if stmt is None:
                    continue
            elif b.kind == "link" and isinstance(c, (ir.ClassConstraint, ir.NodeConstraint)):
                if isinstance(c, ir.ClassConstraint):
                    link_checks.append((self.code(shape, c), "class", str(c.cls)))
                else:
                    link_checks.append(
                        (self.code(shape, c), "conforms", self.linked_checks(self.ir[c.shape], ()))
                    )
                continue
            elif isinstance(c, ir.NodeKindConstraint):
                kind_bit = ir.NODE_KIND_IRI if b.kind == "link" else ir.NODE_KIND_LITERAL
                if c.mask & kind_bit:
                    continue
                stmt = present
            else:
                raise UnsupportedComponent(
                    f"{shape.where} / sh:{c.param.fragment}: not supported on {b.kind} field {b.field!r}"
                )
            if stmt is not None:
                code = self.code(shape, c)
                self.checks.append(
                    Check(stmt, str(code), kind_value, flag, static_field and flag == 0, (code,))
                )
        for checks, src in ((lut_checks, self.lut_source(b)), (link_checks, "linked")):
            if not checks:
                continue
            name = self.lut(src, checks)
            codes = tuple(x[0] for x in checks)
            if (
                b.kind == "codes"
            ):  # the test without a branch per code; the first failing code only on failure
                val = f"codes_lookup(luts, {name}_o, {name}_n, {f}, {f_count(b)})"
                test = f"codes_any(luts, {name}_o, {name}_n, {f}, {f_count(b)})"
            else:
                val = f"lookup(luts, {name}_o, {name}_n, {f})"
                test = f"{val} != 0"
            self.checks.append(Check(test, val, kind_value, flag, static_field and flag == 0, codes, (name,)))

    def lut_source(self, b: FieldBinding) -> str:
        return f"enum:{b.field}" if b.kind == "enum" else f"dict:{b.dictionary}"

    def present_expr(self, b: FieldBinding) -> str:
        f = f"r.{b.field}"
        if b.kind == "digest":
            return f"any_nonzero({f})"
        if b.kind == "codes":
            return f"{f_count(b)} > 0"
        return {"nan": f"{f} == {f}", "zero": f"{f} != 0", "never": "True"}.get(b.absent, "True")

    def digest(
        self,
        shape: ir.Shape,
        b: FieldBinding,
        c: Any,
        f: str,
        present: str,
        kind_value: int | None,
        flag: int,
    ) -> str | None:
        n_chars = 2 * int(self.schema.dtype[b.field].shape[0])
        if isinstance(c, ir.MinLengthConstraint):
            ok = n_chars >= c.length
        elif isinstance(c, ir.MaxLengthConstraint):
            ok = n_chars <= c.length
        else:
            try:
                mask = digest_pattern_mask(c.pattern, c.flags, n_chars)
            except ValueError as e:
                raise UnsupportedComponent(
                    f"{shape.where} / sh:pattern: {e} (field {b.field} is raw bytes)"
                ) from e
            if mask is not None and not all(mask):
                code = self.code(shape, c)
                allowed = sum(1 << i for i, m in enumerate(mask) if m)
                s = f"({present}) and not hex_ok({f}, {allowed})"
                self.checks.append(Check(s, str(code), kind_value, flag, False, (code,)))
                return None
            ok = mask is not None
        if ok:
            self.notes.append(
                f"{shape.where}: sh:{c.param.fragment} holds for every hex-encoded {b.field}, folded"
            )
            return None
        return present

    # -- linked node: flattened value checks evaluated per entry ---------------------------------------------
    def linked_checks(self, shape: ir.Shape, seen: tuple[Any, ...]) -> list[list[Any]]:
        if shape.id in seen:
            raise UnsupportedComponent(
                f"{shape.where}: recursive shapes are not supported by the record binding"
            )
        out: list[list[Any]] = []
        if shape.deactivated:
            return out
        if shape.path is None:
            for c in shape.constraints:
                if isinstance(c, ir.PropertyConstraint):
                    out += self.linked_checks(self.ir[c.shape], (*seen, shape.id))
                elif isinstance(c, ir.NodeConstraint):
                    out += self.linked_checks(self.ir[c.shape], (*seen, shape.id))
                elif isinstance(c, ir.ClassConstraint):
                    out.append(["", "class", str(c.cls)])
                else:
                    raise UnsupportedComponent(
                        f"{shape.where}: {type(c).__name__} on a linked node is not supported"
                    )
            return out
        b = self.schema.binding(_path_iri(shape))
        if b.node != NODE_LINKED:
            raise UnsupportedComponent(f"{shape.where}: <{b.property}> is not a property of the linked node")
        for c in shape.constraints:
            if isinstance(c, ir.MinCountConstraint):
                out.append([b.property, "min_count", c.count])
            elif isinstance(c, ir.MaxCountConstraint):
                out.append([b.property, "max_count", c.count])
            elif isinstance(c, ir.DatatypeConstraint):
                out.append([b.property, "datatype", str(c.datatype) == b.datatype])
            else:
                out.append([b.property, *string_op(c, shape)])
        return out


def f_count(b: FieldBinding) -> str:
    return f"r.{b.count_field}"


def string_op(c: Any, shape: ir.Shape) -> tuple[str, Any]:
    """JSON-able ``(op, param)`` of a value constraint evaluated per entry (strings, table values)."""
    if isinstance(c, ir.PatternConstraint):
        compile_pattern(c.pattern, c.flags)  # fail at compile time, not at bind time
        return "pattern", [c.pattern, c.flags]
    if isinstance(c, ir.MinLengthConstraint):
        return "min_length", c.length
    if isinstance(c, ir.MaxLengthConstraint):
        return "max_length", c.length
    if isinstance(c, ir.InConstraint):
        return "in", [str(v) for v in c.values if _is_string_lit(v) or isinstance(v, Literal)]
    if isinstance(c, ir.ClassConstraint):
        return "never", None  # literal values are never class instances
    if isinstance(c, ir.NodeKindConstraint):
        return "never" if not c.mask & ir.NODE_KIND_LITERAL else "always", None
    if isinstance(c, ir.VALUE_RANGE_CONSTRAINTS):
        op = _RANGE_OPS[type(c)]
        return "range", [op, _lit_py(c.value)]
    raise UnsupportedComponent(f"{shape.where} / sh:{c.param.fragment}: not supported on a per-entry value")


def eval_value(op: str, param: Any, values: list[Any]) -> bool:
    """True when ``values`` (Python str/int/float of one node's property) pass the value check ``op``."""
    if op == "min_count":
        return len(values) >= param
    if op == "max_count":
        return len(values) <= param
    if op == "datatype":
        return bool(param) or not values
    if op == "always":
        return True
    if op == "never":
        return not values
    for v in values:
        if op == "pattern":
            ok = isinstance(v, str) and compile_pattern(*param).search(v) is not None
        elif op == "min_length":
            ok = len(str(v)) >= param
        elif op == "max_length":
            ok = len(str(v)) <= param
        elif op == "in":
            ok = str(v) in param and isinstance(v, str)
        elif op == "range":
            cmp, lit = param
            if isinstance(v, str) != isinstance(lit, str):
                ok = False
            else:
                ok = {">=": v >= lit, ">": v > lit, "<=": v <= lit, "<": v < lit}[cmp]
        else:
            raise ValueError(f"unknown value check {op!r}")
        if not ok:
            return False
    return True


def bind_record(shapes: ir.ShapesIR, schema: RecordSchema) -> RecordPlan:
    """Bind ``shapes`` to record ``schema``; raises :class:`UnsupportedComponent` (with the shape's location)
    for a constraint the record binding cannot express."""
    b = _Binder(optimise(shapes), schema)
    removed = sorted(set(shapes.shapes) - set(b.ir.shapes), key=lambda r: r.n3())
    b.notes += [
        f"{shapes[r].where}: removed by the IR optimiser (deactivated or unreachable)" for r in removed
    ]
    b.bind()
    return RecordPlan(
        schema.name, tuple(b.checks), tuple(b.luts), tuple(b.infos), tuple(b.linked_roots), tuple(b.notes)
    )
