"""Record back end, code generation proper: a :class:`~cns.rules.record.RecordPlan` -> Numba source.

:func:`generate_source` emits one module of ``@njit(cache=True)`` kernels and the handler map the binder
needs; :mod:`cns.rules.codegen` wraps both into a verified artifact and loads it. The source is a pure
function of the plan, the record schema and :data:`COMPILER_VERSION` (part of the artifact key): bump the
version whenever the emitted source changes.

Generated functions: one handler ``h_<k>`` per distinct check list (kinds with the same checks share it;
kinds with no dynamic check get no handler — dispatch returns 0 for them), ``dispatch``, ``static_code`` /
``fill_static`` (hoisted checks, evaluated per (kind, link code) pair at bind time) and the tick loop from
:mod:`cns.rules.codegen_tickloop`. :func:`header_plan` says how the tick loop derives and tests the ingress
tag of a record, :func:`prefetch_plan` which bytes of a live record it prefetches.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from typing import Any

from cns.rules.codegen_tickloop import BSTRIDE, CHUNK, ONE_TEMPLATE, TICK_LOOP_TEMPLATE
from cns.rules.errors import RuleError
from cns.rules.record import Check, RecordPlan
from cns.signals.dtypes import NEWS_TAG_ZERO_FIELDS, TAG_FLAGS_MASK, TAG_FLAGS_SHIFT
from cns.signals.schema import RecordSchema

__all__ = ["COMPILER_VERSION", "generate_source", "header_plan", "prefetch_plan"]

COMPILER_VERSION = "record-2.1"


def _indent(stmt: str, n: int) -> str:
    return textwrap.indent(stmt, " " * n)


def _kind_names_len(schema: RecordSchema) -> int:
    for b in schema.properties.values():
        if b.field == schema.kind_field and b.kind == "enum":
            return len(b.names)
    return 256


def _elide_expr(schema: RecordSchema) -> str:
    parts = [f"k == {k}" for k in schema.elided_kinds]
    mask = int(schema.extra.get("elide_flag_mask", 0))  # type: ignore[call-overload]
    if mask:
        parts.append(f"(r.{schema.flags_field} & {mask}) != 0")
    parts += [f"r.{f} == 0" for f in schema.extra.get("elide_zero_fields", ())]  # type: ignore[union-attr]
    return " or ".join(f"({p})" for p in parts) or "False"


def _unsigned_field(schema: RecordSchema, name: str, bits: int, what: str) -> bool:
    """True if ``name`` is an unsigned integer field of at most ``bits`` bits; False if absent; RuleError if wider."""
    fields: Mapping[str, Any] = schema.dtype.fields or {}
    if name not in fields:
        return False
    dt = fields[name][0]
    if dt.kind not in "ub" or dt.itemsize * 8 > bits or dt.shape:
        raise RuleError(
            f"record schema {schema.name!r}: the {what} field {name!r} ({dt}) does not fit the "
            f"{bits}-bit slot of the ingress tag or source column"
        )
    return True


# tag bits for "is zero" tests: NEWS_TAG_ZERO_FIELDS first (bit 12 = confidence)
_TAG_ZERO_BITS = (12, 14, 15)


def header_plan(schema: RecordSchema) -> dict[str, Any]:
    """How the tick loop builds and tests the ingress tag and source of a record (the layout of
    :class:`cns.signals.dtypes.NewsHeader`: tag = kind | (flags & 0xF) << 8 | zero bits | other-flags bit 13).

    ``derive_tag``/``derive_src``: the tag and the link code from record ``r`` (used when no header columns are
    given); ``elide``: the zero-tick test on tag ``t`` (kind ``k``); ``column``: True when the
    :class:`~cns.signals.dtypes.NewsHeader` the parse stage writes (:func:`cns.signals.dtypes.news_header`)
    holds exactly these values for the schema's records, so the engine may take it instead of deriving them.
    Raises :class:`RuleError` when the kind, flags or link field is not a narrow enough unsigned integer,
    elision tests a flag bit above 0xF or more than three zero fields."""
    kf = schema.kind_field
    link = schema.binding(schema.link_property).field if schema.link_property else None
    if not _unsigned_field(schema, kf, 8, "kind"):
        raise RuleError(f"record schema {schema.name!r}: no kind field {kf!r}")
    has_flags = _unsigned_field(schema, schema.flags_field, 16, "flags")
    has_link = link is not None and _unsigned_field(schema, link, 32, "link")
    zero_fields = [str(f) for f in schema.extra.get("elide_zero_fields", ())]  # type: ignore[attr-defined]
    order = [f for f in NEWS_TAG_ZERO_FIELDS if f in zero_fields] + [
        f for f in zero_fields if f not in NEWS_TAG_ZERO_FIELDS
    ]
    if len(order) > len(_TAG_ZERO_BITS):
        raise RuleError(
            f"record schema {schema.name!r}: elision tests more than {len(_TAG_ZERO_BITS)} zero fields"
        )
    bits = {
        f: _TAG_ZERO_BITS[NEWS_TAG_ZERO_FIELDS.index(f)] if f in NEWS_TAG_ZERO_FIELDS else None for f in order
    }
    spare = iter(b for b in _TAG_ZERO_BITS if b not in bits.values())
    bits = {f: b if b is not None else next(spare) for f, b in bits.items()}
    flag_mask = int(schema.extra.get("elide_flag_mask", 0)) if has_flags else 0  # type: ignore[call-overload]
    if flag_mask & ~TAG_FLAGS_MASK:
        raise RuleError(f"record schema {schema.name!r}: elision tests flag bits above 0x{TAG_FLAGS_MASK:x}")
    parts = [f"np.int64(r.{kf})"]
    if has_flags:
        fl = f"np.int64(r.{schema.flags_field})"
        parts.append(f"(({fl} & {TAG_FLAGS_MASK}) << {TAG_FLAGS_SHIFT})")
        parts.append(f"((1 if ({fl} & {~TAG_FLAGS_MASK & 0xFFFF}) != 0 else 0) << 13)")
    parts += [f"((1 if r.{f} == 0 else 0) << {b})" for f, b in bits.items()]
    mask = (flag_mask << TAG_FLAGS_SHIFT) | sum(1 << b for b in bits.values())
    tests = ([f"((t & {mask}) != 0)"] if mask else []) + [f"(k == {k})" for k in schema.elided_kinds]
    column = (
        kf == "kind"
        and has_flags
        and schema.flags_field == "flags"
        and (link == "source" or link is None)
        and all(f in NEWS_TAG_ZERO_FIELDS for f in zero_fields)
    )
    return {
        "derive_tag": f"np.uint16({' | '.join(parts)})",
        "derive_src": f"np.uint32(r.{link})" if has_link else "np.uint32(0)",
        "elide": " | ".join(tests) or "False",
        "column": column,
        "zero_bits": bits,
    }


_FIELD_REF = re.compile(r"\br\.([A-Za-z_][A-Za-z0-9_]*)")
_NO_SPAN = (0, 0)


def _span(schema: RecordSchema, sources: list[str]) -> tuple[int, int]:
    """``[lo, hi)``: the bytes of a record from the first to the last byte of the fields ``sources`` read."""
    fields: Mapping[str, Any] = schema.dtype.fields or {}
    spans = [
        (fields[f][1], fields[f][1] + fields[f][0].itemsize)
        for src in sources
        for f in set(_FIELD_REF.findall(src))
        if f in fields
    ]
    if not spans:
        return _NO_SPAN
    return min(a for a, _ in spans), max(b for _, b in spans)


def prefetch_plan(schema: RecordSchema, rows: list[list[Check]]) -> dict[str, Any]:
    """What the tick loop prefetches of a live record, per kind row: the byte span its handler reads for
    sure (``lo``/``hi``) and, per flag bit that guards checks, the span when that bit is set (the flag bits are
    in the tag, so ingress knows them; a guard outside the tag's four bits is always fetched). Dispatch prefetches ``n_lines`` offsets ``lo, lo+64, ..`` clamped
    to ``hi-1`` plus ``hi-1``: every cache line of the span, wherever the record starts. Constant rows: no
    span (0, 0), nothing fetched."""
    # guards the tag can tell apart (within its four flag bits) pick spans per record; others are always fetched
    flag_bits = sorted({c.flag for checks in rows for c in checks if c.flag and not c.flag & ~TAG_FLAGS_MASK})
    lo, hi, glo, ghi = [], [], [], []
    for checks in rows:
        base_src = [c.cond + " " + c.value for c in checks if c.flag not in flag_bits]
        if any(c.flag for c in checks):
            base_src.append(f"r.{schema.flags_field}")
        b = _span(schema, base_src)
        lo.append(b[0])
        hi.append(b[1])
        gl, gh = [], []
        for f in flag_bits:
            g = _span(schema, [c.cond + " " + c.value for c in checks if c.flag == f])
            gl.append(min(b[0], g[0]) if g != _NO_SPAN else b[0])
            gh.append(max(b[1], g[1]) if g != _NO_SPAN else b[1])
        glo.append(gl)
        ghi.append(gh)
    widest = max(
        [b - a for a, b in zip(lo, hi, strict=True)]
        + [b - a for gl, gh in zip(glo, ghi, strict=True) for a, b in zip(gl, gh, strict=True)]
    )
    if max(hi + [x for g in ghi for x in g], default=0) >= 4096:
        raise RuleError(f"record schema {schema.name!r}: handlers read past byte 4095 of a record")
    n_lines = len(range(0, max(widest - 1, 0), 64)) + 1 if widest > 0 else 0
    return {"flag_bits": flag_bits, "lo": lo, "hi": hi, "glo": glo, "ghi": ghi, "n_lines": n_lines}


def _prefetch_source(pp: dict[str, Any]) -> tuple[str, str, str]:
    """Module constants ``PF_SPAN[kind row, guard bits]`` (``lo << 32 | hi << 44``, ready to OR into a ring
    entry) and ``NCOMBO`` (guard-bit combinations: live records are bucketed by kind row and combination, so
    the handlers' flag-guarded branches go the same way within a bucket), the ingress statements that pick
    them (``combo``, ``span`` from kind row ``kr`` and flags ``fl``, no branch) and the prefetch statements of
    dispatch (record ``p``, span ``lo``/``hi``)."""
    bits = pp["flag_bits"]
    if len(bits) > 6:  # 2**6 combinations per kind row at most; beyond, every guarded span is always fetched
        bits = []
    table = []
    for r in range(len(pp["lo"])):
        row = []
        for combo in range(1 << len(bits)):
            lo, hi = pp["lo"][r], pp["hi"][r]
            for b in range(len(pp["flag_bits"])):
                if not bits or combo >> b & 1:
                    lo, hi = min(lo, pp["glo"][r][b]), max(hi, pp["ghi"][r][b])
            row.append(lo << 32 | hi << 44)
        table.append(row)
    consts = f"PF_SPAN = np.array({table!r}, dtype=np.int64)\nNCOMBO = {1 << len(bits)}"
    pick = " | ".join(f"((1 if (fl & {f}) != 0 else 0) << {b})" for b, f in enumerate(bits)) or "0"
    span = f"combo = {pick}\nspan = PF_SPAN[kr, combo]"
    n = pp["n_lines"]
    pf = [
        f"prefetch(batch, p, min(lo + {64 * j}, hi - 1))" if j else "prefetch(batch, p, lo)"
        for j in range(n - 1)
    ]
    pf.append("prefetch(batch, p, hi - 1)" if n else "pass")
    return consts, span, "\n".join(pf)


def generate_source(plan: RecordPlan, schema: RecordSchema, origin: str = "") -> tuple[str, dict[str, Any]]:
    """Python source of the rule kernels and the handler map (``{"handlers": [...], "constant": [...]}``)."""
    lut_names = [lt.name for lt in plan.luts]
    setup = "".join(
        f"    {n}_o = lut_off[{2 * i}]\n    {n}_n = lut_off[{2 * i + 1}]\n" for i, n in enumerate(lut_names)
    )
    setup = setup or "    pass\n"
    nrows = _kind_names_len(schema) + 1
    link_field = schema.binding(schema.link_property).field if schema.link_property else schema.kind_field
    kf = schema.kind_field
    out = [  # the docstring is a repr: no file name can close it and inject code
        repr(
            f"Generated by cns.rules.codegen {COMPILER_VERSION} from {origin}, schema {schema.name}. Do not edit."
        ),
        "import numpy as np",
        "from numba import njit",
        "from cns.signals.clock import read_cycles, monotonic_ns",
        "from cns.rules.codegen_kernels import lookup, codes_lookup, codes_any, any_nonzero, hex_ok, prefetch",
        "",
    ]
    static = [c for c in plan.checks if c.static]
    dynamic = [c for c in plan.checks if not c.static]
    # hoisted checks: the record fields they read become the (kind, link code) arguments
    chain = _chain(static, static=True).replace(f"r.{kf}", "kind_").replace(f"r.{link_field}", "src_")
    out += [
        "@njit(cache=True)",
        "def static_code(kind_, src_, luts, lut_off):",
        setup.rstrip("\n"),
        "    k = kind_",
        _indent(chain, 4) + "    return code",
        "",
    ]
    out += [
        "@njit(cache=True)",
        "def fill_static(tab, luts, lut_off):",
        "    for kk in range(tab.shape[0]):",
        "        for ss in range(tab.shape[1]):",
        "            tab[kk, ss] = static_code(kk, ss, luts, lut_off)",
        "",
    ]
    # handlers by kind; kinds with equal check lists share one branch; empty lists are constant (code = 0)
    groups: dict[tuple[int, ...], list[int]] = {}
    rows_checks: list[tuple[int, ...]] = []
    for k in range(nrows):
        kv = k if k < nrows - 1 else -1
        mine = tuple(i for i, c in enumerate(dynamic) if c.kind_value is None or c.kind_value == kv)
        rows_checks.append(mine)
        groups.setdefault(() if k in schema.elided_kinds else mine, []).append(k)
    kind_handler: list[int | None] = [None] * nrows
    lines: list[str] = []
    for hid, (mine, kinds) in enumerate(groups.items()):
        if not mine:
            continue
        for k in kinds:
            kind_handler[k] = hid
        cond = " or ".join(f"k == {k}" if k < nrows - 1 else f"k >= {k}" for k in kinds)
        lines.append(f"{'elif' if lines else 'if'} {cond}:")
        lines.append(_indent(_chain([dynamic[i] for i in mine], static=False), 4).rstrip("\n"))
    if lines:
        dispatch = "\n".join(lines) + "\nelse:\n    code = 0  # constant handler, elided at dispatch\n"
    else:
        dispatch = "code = 0\n"
    fmt = dict(
        lut_setup=setup.rstrip("\n"), kind_field=kf, link_field=link_field, elide_expr=_elide_expr(schema)
    )
    if nrows > 0xFFFF:
        raise RuleError(f"record schema {schema.name!r}: {nrows} kind rows")
    hp = header_plan(schema)
    pp = prefetch_plan(
        schema,
        [[] if kind_handler[k] is None else [dynamic[i] for i in rows_checks[k]] for k in range(nrows)],
    )
    consts, span, pf = _prefetch_source(pp)
    out.append(f"CHUNK = {CHUNK}\nBSTRIDE = {BSTRIDE}")
    out.append(consts)
    out.append(
        TICK_LOOP_TEMPLATE.format(
            dispatch=_indent(dispatch, 24).rstrip("\n"),
            dispatch_sampled=_indent(dispatch, 24).rstrip("\n"),
            derive_tag=hp["derive_tag"],
            derive_src=hp["derive_src"],
            elide_t=hp["elide"],
            span=_indent(span, 16).rstrip("\n"),
            prefetch=_indent(pf, 28).rstrip("\n"),
            **fmt,
        )
    )
    out.append(ONE_TEMPLATE.format(dispatch=_indent(dispatch, 4).rstrip("\n"), **fmt))
    hmap = {
        "handlers": kind_handler,
        "constant": [k for k, h in enumerate(kind_handler) if h is None],
        "n_kind_rows": nrows,
        "lut_order": lut_names,
        "header_column": hp["column"],
        "prefetch": pp,
    }
    return "\n".join(out) + "\n", hmap


def _chain(checks: list[Check], *, static: bool) -> str:
    """``code = 0`` then one if/elif arm per check (the first failing check wins)."""
    lines = ["code = 0"]
    for i, c in enumerate(checks):
        cond = c.cond
        if static and c.kind_value is not None:
            cond = f"k == {c.kind_value} and ({cond})"
        if c.flag:
            cond = f"(r.flags & {c.flag}) != 0 and ({cond})"
        lines.append(f"{'if' if i == 0 else 'elif'} {cond}:")
        lines.append(f"    code = {c.value}")
    return "\n".join(lines) + "\n"
