"""Record back end, code generation: a :class:`~cns.rules.record.RecordPlan` -> Numba source -> artifact.

The artifact (``*.cnsk``, JSON) holds the generated Python source and the plan's data (per-entry table specs,
constraint infos, handler map). :func:`load_artifact` writes the source into a cache directory as a module
named by the artifact key and executes it; every kernel in it is ``@njit(cache=True)``, so a second start
loads machine code from Numba's cache instead of compiling. Key = sha256(shapes file bytes + record schema
fingerprint + :data:`COMPILER_VERSION` + Numba version).

**Artifacts are code.** Loading one executes its source, and Numba's cache files next to it
(``__pycache__/*.nbi``, ``*.nbc``) are unpickled. So (see also ``docs/kernel-cache.md``):

* The cache directory is :func:`cns.cachedir.private_dir` ``("kernels")`` — ``$CNS_CACHE_DIR/kernels`` or
  ``~/.cache/cns/kernels`` — or the ``cache_dir`` given, created mode 0700 and refused
  (:class:`~cns.cachedir.CacheDirError`) when group/other-writable or owned by another user; its
  ``__pycache__`` likewise.
* Every artifact records ``source_sha256`` (its source) and ``sha256`` (the canonical JSON of everything else).
  :func:`load_artifact` recomputes both before executing anything and raises
  :class:`~cns.rules.errors.ArtifactIntegrityError` on a mismatch. :func:`compile_shapes_file` also checks the
  cached artifact belongs to *these* shapes (its key and ``shapes_sha256`` against the shapes file's bytes)
  and treats any failed check as a cache miss: it recompiles and overwrites, never executes the bad one.
* The module is executed from the verified source string in memory (compiled with the cache file's name so
  Numba can locate its cache), never imported from the ``.py`` file or a ``.pyc``; the ``.py`` file is
  rewritten when it differs from the verified source.
* Files are written atomically: a unique temp file in the same directory, fsync, rename, fsync of the
  directory. Cache files are mode 0600.

The hashes detect corruption, stale or foreign artifacts and edits by anything that cannot also recompute
them; an attacker able to write the cache directory can do both, which is why the directory must be private.

Generated functions: one handler ``h_<k>`` per distinct check list (kinds with the same checks share it;
kinds with no dynamic check get no handler — dispatch returns 0 for them), ``dispatch``, ``static_code`` /
``fill_static`` (hoisted checks, evaluated per (kind, link code) pair at bind time) and the tick loop from
:mod:`cns.rules.codegen_tickloop`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import textwrap
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numba

from cns.cachedir import private_dir
from cns.rules import ir
from cns.rules.codegen_tickloop import BSTRIDE, CHUNK, ONE_TEMPLATE, TICK_LOOP_TEMPLATE
from cns.rules.errors import ArtifactIntegrityError, RuleError
from cns.rules.record import Check, RecordPlan, bind_record
from cns.signals.dtypes import NEWS_TAG_ZERO_FIELDS, TAG_FLAGS_MASK, TAG_FLAGS_SHIFT
from cns.signals.schema import REGISTRY, RecordSchema

__all__ = [
    "COMPILER_VERSION",
    "Artifact",
    "artifact_key",
    "generate_source",
    "compile_artifact",
    "load_artifact",
    "default_cache_dir",
]

COMPILER_VERSION = "record-2.1"
_FORMAT = "cns-kernel-artifact/2"
_KEY = re.compile(r"^[0-9a-f]{20}$")
_log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """The kernel cache, :func:`cns.cachedir.private_dir` ``("kernels")``: ``$CNS_CACHE_DIR/kernels`` or
    ``~/.cache/cns/kernels``, created 0700; :class:`~cns.cachedir.CacheDirError` if it is unsafe."""
    return private_dir("kernels")


def cache_dir_for(cache_dir: str | os.PathLike[str] | None) -> Path:
    """``cache_dir`` (created 0700 and checked like :func:`default_cache_dir`), or the default; its
    ``__pycache__`` (Numba's cache of machine code, unpickled on load) is made and checked too."""
    d = default_cache_dir() if cache_dir is None else private_dir(root=Path(cache_dir))
    private_dir("__pycache__", root=d)
    return d


def artifact_key(shapes_bytes: bytes, schema: RecordSchema) -> str:
    """Cache key of a compiled validator: 20 hex chars of SHA-256 over the shapes, the record schema's
    fingerprint, the compiler version and the Numba version (any change yields a new key).
    """
    h = hashlib.sha256()
    for part in (
        shapes_bytes,
        schema.fingerprint().encode(),
        COMPILER_VERSION.encode(),
        numba.__version__.encode(),
    ):
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:20]


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


@dataclass(frozen=True, slots=True)
class Artifact:
    """A loaded artifact: the imported kernel module and the plan data the binder needs."""

    key: str
    path: Path
    module: ModuleType
    schema: RecordSchema
    meta: dict[str, Any]


def _digest(doc: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``doc`` without its ``sha256`` entry."""
    body = {k: v for k, v in doc.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _document(
    shapes_ir: ir.ShapesIR, shapes_path: str | os.PathLike[str], shapes_bytes: bytes, sch: RecordSchema
) -> dict[str, Any]:
    """The artifact document (JSON-able, hashes included) for ``shapes_ir`` compiled from ``shapes_bytes``."""
    plan = bind_record(shapes_ir, sch)
    source, hmap = generate_source(plan, sch, origin=Path(shapes_path).name)
    doc: dict[str, Any] = {
        "format": _FORMAT,
        "compiler": COMPILER_VERSION,
        "numba": numba.__version__,
        "key": artifact_key(shapes_bytes, sch),
        "schema": sch.name,
        "shapes": str(shapes_path),
        "shapes_sha256": hashlib.sha256(shapes_bytes).hexdigest(),
        "handlers": hmap,
        "luts": [asdict(lt) for lt in plan.luts],
        "linked_roots": [asdict(lt) for lt in plan.linked_roots],
        "constraints": [asdict(ci) for ci in plan.constraints],
        "static_codes": sorted({c for ch in plan.checks if ch.static for c in ch.codes}),
        "notes": list(plan.notes),
        "source": source,
        "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
    }
    doc = json.loads(json.dumps(doc))  # the digest is over what a reader will see (tuples become lists)
    doc["sha256"] = _digest(doc)
    return doc


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically: unique temp file in the same directory, fsync, chmod ``mode``,
    rename over ``path``, fsync the directory. On failure the temp file is removed and ``path`` is untouched."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable; not every filesystem allows it
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _user_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def compile_artifact(
    shapes_ir: ir.ShapesIR,
    shapes_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    schema: RecordSchema | str = "news",
) -> Path:
    """Bind ``shapes_ir`` to the record schema, generate the kernels, write the artifact to ``output_path``.

    Raises :class:`~cns.rules.errors.UnsupportedComponent` (with the shape's location) when a shape cannot be
    bound to record fields. The file is written atomically (mode per umask: it is the user's file; the cache
    uses 0600). Returns the written path.
    """
    from cns.rules.rdfio import read_bytes  # noqa: PLC0415

    sch = REGISTRY.get(schema) if isinstance(schema, str) else schema
    doc = _document(shapes_ir, shapes_path, read_bytes(shapes_path), sch)
    out = Path(output_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(out, json.dumps(doc, indent=1).encode(), _user_file_mode())
    return out


def verify_document(doc: Any, where: str) -> dict[str, Any]:
    """Check an artifact document before anything in it is used; returns it.

    :class:`RuleError` if it is not an artifact of this format and compiler version, or names an unknown
    schema or a malformed key; :class:`ArtifactIntegrityError` if its source or metadata do not match the
    recorded ``source_sha256`` / ``sha256``.
    """
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if fmt != _FORMAT:
        raise RuleError(
            f"{where}: not a CNS kernel artifact of this version (format {fmt!r}, expected "
            f"{_FORMAT!r}); recompile"
        )
    if doc.get("compiler") != COMPILER_VERSION:
        raise RuleError(f"{where}: compiled by {doc.get('compiler')}, this is {COMPILER_VERSION}; recompile")
    source = doc.get("source")
    if not isinstance(source, str) or doc.get("source_sha256") != hashlib.sha256(source.encode()).hexdigest():
        raise ArtifactIntegrityError(
            f"{where}: the kernel source does not match its recorded sha256 "
            "(corrupt or tampered); refusing to execute it"
        )
    if doc.get("sha256") != _digest(doc):
        raise ArtifactIntegrityError(
            f"{where}: the artifact metadata does not match its recorded sha256 "
            "(corrupt or tampered); refusing to use it"
        )
    if not isinstance(doc.get("key"), str) or not _KEY.match(doc["key"]):
        raise RuleError(f"{where}: malformed artifact key {doc.get('key')!r}")
    if doc.get("schema") not in REGISTRY.names():
        raise RuleError(f"{where}: unknown record schema {doc.get('schema')!r}")
    verified: dict[str, Any] = doc
    return verified


def _read_document(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as e:
        raise RuleError(f"{path}: cannot read kernel artifact: {e}") from e
    return verify_document(doc, str(path))


def _materialise(doc: dict[str, Any], path: Path, cdir: Path) -> Artifact:
    """Execute the verified ``doc``'s source as module ``cns_rules_<key>_kernels`` (file in ``cdir``)."""
    key = doc["key"]
    mod_name = f"cns_rules_{key}_kernels"
    src_path = cdir / f"{mod_name}.py"
    source: str = doc["source"]
    try:
        current = src_path.read_text()
    except (OSError, UnicodeDecodeError):
        current = None
    if current != source:  # Numba keys its cache on this file's mtime and size: rewrite only when it differs
        _atomic_write(src_path, source.encode(), 0o600)
    module = sys.modules.get(mod_name)
    if (
        module is None
        or getattr(module, "__file__", None) != str(src_path)
        or getattr(module, "__cns_source_sha256__", None) != doc["source_sha256"]
    ):
        module = ModuleType(mod_name, None)
        module.__file__ = str(src_path)
        code = compile(source, str(src_path), "exec")  # from the verified string, never the file or a .pyc
        sys.modules[mod_name] = module
        try:
            exec(code, module.__dict__)
        except BaseException:
            del sys.modules[mod_name]
            raise
        module.__cns_source_sha256__ = doc["source_sha256"]  # type: ignore[attr-defined]
    return Artifact(key, path, module, REGISTRY.get(doc["schema"]), doc)


def load_artifact(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> Artifact:
    """Read and verify an artifact (:func:`verify_document`), then materialise its kernel module under
    ``cache_dir`` (default :func:`default_cache_dir`; checked private) and execute it.

    Raises :class:`~cns.rules.errors.RuleError` for a file that is not an artifact or was produced by another
    compiler version, :class:`~cns.rules.errors.ArtifactIntegrityError` when its hashes do not match (nothing
    is executed), :class:`~cns.cachedir.CacheDirError` for an unsafe cache directory."""
    p = Path(path)
    doc = _read_document(p)
    return _materialise(doc, p, cache_dir_for(cache_dir))


def _cached_document(art: Path, key: str, shapes_bytes: bytes, sch: RecordSchema) -> dict[str, Any] | None:
    """The verified cached artifact of exactly these shapes and schema, or None (missing or any check failed)."""
    if not art.exists():
        return None
    try:
        doc = _read_document(art)
    except RuleError as e:
        _log.warning("kernel cache: %s; recompiling", e)
        return None
    if (
        doc["key"] != key
        or doc["schema"] != sch.name
        or doc.get("shapes_sha256") != hashlib.sha256(shapes_bytes).hexdigest()
    ):
        _log.warning("kernel cache: %s was not compiled from these shapes; recompiling", art)
        return None
    return doc


def compile_shapes_file(
    shapes_path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    schema: RecordSchema | str = "news",
) -> tuple[Artifact, bool]:
    """Load the cached artifact of ``shapes_path`` or compile it first; returns ``(artifact, was_cached)``.

    The shapes file is read once; the cached artifact is used only if it verifies and was compiled from
    exactly these bytes (module doc), otherwise it is recompiled and overwritten atomically. Raises
    :class:`~cns.rules.errors.DataError` for an unreadable shapes file, the compile errors of
    :func:`compile_artifact`, and :class:`~cns.cachedir.CacheDirError` for an unsafe cache directory.
    """
    from cns.rules.rdfio import parse_rdf, read_bytes  # noqa: PLC0415 - rdflib parse only on a cache miss
    from cns.rules.shapes import load_shapes  # noqa: PLC0415

    sch = REGISTRY.get(schema) if isinstance(schema, str) else schema
    cdir = cache_dir_for(cache_dir)
    shapes_bytes = read_bytes(shapes_path)
    key = artifact_key(shapes_bytes, sch)
    art = cdir / f"{key}.cnsk"
    doc = _cached_document(art, key, shapes_bytes, sch)
    cached = doc is not None
    if doc is None:
        shapes_ir = load_shapes(parse_rdf(shapes_bytes, shapes_path), name=str(shapes_path))
        doc = _document(shapes_ir, shapes_path, shapes_bytes, sch)
        _atomic_write(art, json.dumps(doc, indent=1).encode(), 0o600)
    return _materialise(doc, art, cdir), cached
