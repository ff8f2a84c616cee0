"""The compiled-kernel cache executes what it holds, so it must be private, verified and written atomically.

No test here runs a kernel (no JIT compile): importing a generated module is what executes its top-level code,
so a planted ``MARKER`` write at module level shows whether a tampered artifact or module was executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from cns.cachedir import CacheDirError
from cns.rules import codegen
from cns.rules.codegen import compile_artifact, compile_shapes_file, default_cache_dir, load_artifact
from cns.rules.errors import ArtifactIntegrityError, RuleError
from cns.rules.shapes import load_shapes

SHAPES = """@prefix cns: <https://w3id.org/cns/ns#> . @prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
cns:E a sh:NodeShape ; sh:targetClass cns:EarningsReport ;
  sh:property [ sh:path cns:epsActual ; sh:minCount 1 ] .
"""

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    p = tmp_path / "e.ttl"
    p.write_text(SHAPES)
    return p


@pytest.fixture(autouse=True)
def _forget_generated_modules():
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("cns_rules_"):
            del sys.modules[name]


def _plant(marker: Path) -> str:
    return f"\nopen({str(marker)!r}, 'w').write('executed')\n"


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


# ---- location and permissions ---------------------------------------------------------------------------------
def test_default_cache_dir_is_a_private_kernels_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNS_CACHE_DIR", str(tmp_path / "root"))
    d = default_cache_dir()
    assert d == tmp_path / "root" / "kernels"
    assert d.is_dir() and _mode(d) == 0o700 and not _mode(tmp_path / "root") & 0o022


def test_group_writable_cache_dir_is_refused(
    tmp_path: Path, shapes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernels = tmp_path / "root" / "kernels"
    kernels.mkdir(parents=True)
    os.chmod(tmp_path / "root", 0o700)
    os.chmod(kernels, 0o777)
    monkeypatch.setenv("CNS_CACHE_DIR", str(tmp_path / "root"))
    with pytest.raises(CacheDirError, match="writable by group or others"):
        compile_shapes_file(shapes)
    explicit = tmp_path / "explicit"
    explicit.mkdir(mode=0o775)
    os.chmod(explicit, 0o775)
    with pytest.raises(CacheDirError):
        compile_shapes_file(shapes, explicit)


def test_cache_files_are_private(tmp_path: Path, shapes: Path) -> None:
    cache = tmp_path / "cache"
    art, _ = compile_shapes_file(shapes, cache)
    assert _mode(cache) == 0o700
    assert _mode(art.path) == 0o600
    assert _mode(cache / f"cns_rules_{art.key}_kernels.py") == 0o600
    assert not list(cache.glob("*.tmp*"))  # no temp files left behind


# ---- verification before execution ----------------------------------------------------------------------------
def test_tampered_cached_artifact_is_recompiled_not_executed(tmp_path: Path, shapes: Path) -> None:
    cache = tmp_path / "cache"
    art, cached = compile_shapes_file(shapes, cache)
    assert not cached
    genuine = art.path.read_text()
    marker = tmp_path / "MARKER"
    doc = json.loads(genuine)
    doc["source"] += _plant(marker)  # the hashes are left as they were
    art.path.write_text(json.dumps(doc))
    for name in [n for n in sys.modules if n.startswith("cns_rules_")]:
        del sys.modules[name]
    art2, cached2 = compile_shapes_file(shapes, cache)
    assert not marker.exists()
    assert cached2 is False  # a mismatch is a cache miss: recompiled and overwritten
    assert json.loads(art2.path.read_text())["source"] == json.loads(genuine)["source"]


def test_artifact_for_other_shapes_under_the_right_name_is_not_used(tmp_path: Path, shapes: Path) -> None:
    # an artifact whose hashes are self-consistent but which was compiled from other shapes (or forged with
    # recomputed hashes) is not the artifact of *these* shapes
    cache = tmp_path / "cache"
    art, _ = compile_shapes_file(shapes, cache)
    other = tmp_path / "other.ttl"
    other.write_text(SHAPES.replace("sh:minCount 1", "sh:maxCount 1"))
    forged = compile_artifact(load_shapes(other), other, tmp_path / "forged.cnsk")
    os.replace(forged, art.path)
    for name in [n for n in sys.modules if n.startswith("cns_rules_")]:
        del sys.modules[name]
    art2, cached2 = compile_shapes_file(shapes, cache)
    assert cached2 is False
    assert (
        json.loads(art2.path.read_text())["shapes_sha256"] == hashlib.sha256(shapes.read_bytes()).hexdigest()
    )


def test_tampered_module_file_is_not_executed(tmp_path: Path, shapes: Path) -> None:
    cache = tmp_path / "cache"
    art, _ = compile_shapes_file(shapes, cache)
    module_file = cache / f"cns_rules_{art.key}_kernels.py"
    marker = tmp_path / "MARKER"
    module_file.write_text(module_file.read_text() + _plant(marker))
    for name in [n for n in sys.modules if n.startswith("cns_rules_")]:
        del sys.modules[name]
    art2, cached2 = compile_shapes_file(shapes, cache)
    assert cached2 is True
    assert not marker.exists()
    assert "MARKER" not in module_file.read_text()  # rewritten from the verified artifact


def test_stale_bytecode_is_not_executed(tmp_path: Path, shapes: Path) -> None:
    # a .pyc planted next to the module (matching its size and mtime, as the import system checks) is ignored
    import importlib.util
    import py_compile

    cache = tmp_path / "cache"
    art, _ = compile_shapes_file(shapes, cache)
    module_file = cache / f"cns_rules_{art.key}_kernels.py"
    marker = tmp_path / "MARKER"
    evil = tmp_path / "evil.py"
    evil.write_text(module_file.read_text() + _plant(marker))
    pyc = Path(importlib.util.cache_from_source(str(module_file)))
    pyc.parent.mkdir(exist_ok=True)
    py_compile.compile(str(evil), cfile=str(pyc), dfile=str(module_file))
    # forge the header: source mtime and size of the genuine module
    data = bytearray(pyc.read_bytes())
    st = module_file.stat()
    data[8:12] = int(st.st_mtime).to_bytes(4, "little")
    data[12:16] = (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    pyc.write_bytes(bytes(data))
    for name in [n for n in sys.modules if n.startswith("cns_rules_")]:
        del sys.modules[name]
    compile_shapes_file(shapes, cache)
    assert not marker.exists()


def test_explicit_tampered_artifact_is_refused(tmp_path: Path, shapes: Path) -> None:
    out = compile_artifact(load_shapes(shapes), shapes, tmp_path / "e.cnsk")
    marker = tmp_path / "MARKER"
    doc = json.loads(out.read_text())
    doc["source"] += _plant(marker)
    out.write_text(json.dumps(doc))
    with pytest.raises(ArtifactIntegrityError, match="e.cnsk"):
        load_artifact(out, tmp_path / "cache")
    assert not marker.exists()
    doc = json.loads(compile_artifact(load_shapes(shapes), shapes, tmp_path / "e.cnsk").read_text())
    doc["handlers"]["constant"] = []  # metadata the binder trusts
    out.write_text(json.dumps(doc))
    with pytest.raises(ArtifactIntegrityError):
        load_artifact(out, tmp_path / "cache")
    del doc["sha256"]
    out.write_text(json.dumps(doc))
    with pytest.raises(RuleError):
        load_artifact(out, tmp_path / "cache")


def test_genuine_artifact_round_trips(tmp_path: Path, shapes: Path) -> None:
    out = compile_artifact(load_shapes(shapes), shapes, tmp_path / "e.cnsk")
    art = load_artifact(out, tmp_path / "cache")
    assert hasattr(art.module, "tick") and art.meta["source_sha256"]
    art2, cached = compile_shapes_file(shapes, tmp_path / "cache2")
    art3, cached3 = compile_shapes_file(shapes, tmp_path / "cache2")
    assert (cached, cached3) == (False, True) and art3.key == art2.key


# ---- atomic writes --------------------------------------------------------------------------------------------
def test_artifact_write_is_atomic_and_synced(
    tmp_path: Path, shapes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = compile_artifact(load_shapes(shapes), shapes, tmp_path / "e.cnsk")
    before = out.read_bytes()
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])

    def crash(*a: object, **k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(codegen.os, "replace", crash)
    other = tmp_path / "other.ttl"
    other.write_text(SHAPES.replace("sh:minCount 1", "sh:maxCount 1"))
    with pytest.raises(OSError, match="disk full"):
        compile_artifact(load_shapes(other), other, out)
    assert out.read_bytes() == before  # the old artifact is intact
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("e.cnsk")) == ["e.cnsk"]
    assert synced  # the temp file was fsynced before the rename


# ---- generated source ------------------------------------------------------------------------------------------
def test_shapes_file_name_cannot_inject_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    p = tmp_path / 'x"""\nopen("MARKER", "w").write("x")\n""".ttl'  # the name closes a """ docstring
    p.write_text(SHAPES)
    art, _ = compile_shapes_file(p, tmp_path / "cache")
    assert not marker.exists() and hasattr(art.module, "tick")


@pytest.mark.parametrize(
    "bound",
    [
        '"NaN"^^xsd:double',
        '"INF"^^xsd:double',
        '"-INF"^^xsd:double',
        '"1e999999999"^^xsd:decimal',
        "99999999999999999999999",
        '"abc"^^xsd:integer',
        '"x"^^<http://ex.org/Foo>',
    ],
)
def test_record_range_bounds_generate_resolvable_code(tmp_path: Path, bound: str) -> None:
    import ast
    import builtins

    p = tmp_path / "r.ttl"
    p.write_text(SHAPES.replace("sh:minCount 1", f"sh:minInclusive {bound} ; sh:maxExclusive {bound}"))
    out = compile_artifact(load_shapes(p), p, tmp_path / "r.cnsk")
    source = json.loads(out.read_text())["source"]
    tree = ast.parse(source)
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef):
            defined.add(node.name)
            defined |= {a.arg for a in node.args.args}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    undefined = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    } - defined
    assert not undefined, undefined  # e.g. a bare `nan` / `inf` that Numba cannot resolve
    for node in ast.walk(tree):  # every integer constant fits the int64 Numba types it as
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            assert -(2**63) <= node.value < 2**63, node.value
