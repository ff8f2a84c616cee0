"""Record back end, code generation: a :class:`~cns.rules.record.RecordPlan` -> Numba source -> artifact.

The source comes from :mod:`cns.rules.codegen_source` (:func:`generate_source`, the generated functions are
listed there); this module wraps it into an artifact, caches, verifies and loads it.

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
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numba

from cns.cachedir import private_dir
from cns.rules import ir
from cns.rules.codegen_source import COMPILER_VERSION, generate_source
from cns.rules.codegen_source import header_plan as header_plan  # re-exported: imported from here
from cns.rules.codegen_source import prefetch_plan as prefetch_plan
from cns.rules.errors import ArtifactIntegrityError, RuleError
from cns.rules.record import bind_record
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
