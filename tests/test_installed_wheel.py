"""CNS installed as users install it (a built wheel, not the source tree) runs and finds its shipped files.

How, offline and in a few minutes:

1. The sources (``pyproject.toml``, ``README.md``, ``src/cns``) are copied to a temporary directory and the
   wheel is built there with ``pip wheel --no-deps --no-build-isolation --no-index`` (setuptools and wheel
   come from this venv; building in the shared work tree would leave ``build/`` and ``*.egg-info`` behind).
2. A fresh venv (``--without-pip``) gets the wheel via this venv's pip (``pip --python``), ``--no-deps``.
3. The dependencies (numpy, numba, rdflib, ...) are taken from this venv by a ``.pth`` line naming its
   site-packages. A ``.pth`` entry is appended after the fresh venv's own site-packages and the editable
   install's ``__editable__*.pth`` in that directory is not processed, so ``import cns`` is the installed
   wheel; the test checks that before relying on it.
4. From a directory with no ``rules/`` or ``scenarios/``: a tiny ``cns run`` (numba compiles the kernels of
   the installed copy cold, ~1 min) and ``cns validate`` of the shipped example against the shipped shapes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_installed_wheel_runs_and_validates_from_another_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["CNS_CACHE_DIR"] = str(tmp_path / "cache")

    copy = tmp_path / "source"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    shutil.copytree(
        ROOT / "src" / "cns",
        copy / "src" / "cns",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"),
    )
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path / "dist"),
            str(copy),
        ],
        tmp_path,
        env,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("cns-*.whl")

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    inst = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        tmp_path,
        env,
    )
    assert inst.returncode == 0, inst.stderr[-3000:]
    purelib = _run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env
    )
    (Path(purelib.stdout.strip()) / "zz_project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(
        [
            str(py),
            "-c",
            "import cns, cns.resources as r; print(cns.__file__); print(r.shipped_rules()); "
            "print(r.shipped_rules('news-example.ttl')); print(r.shipped_scenario('config.toml'))",
        ],
        elsewhere,
        env,
    )
    assert where.returncode == 0, where.stderr[-3000:]
    cns_file, shapes, example, config = where.stdout.split()
    for p in (cns_file, shapes, example, config):
        assert Path(p).is_relative_to(venv), f"{p} is not the installed copy"

    cns = str(venv / "bin" / "cns")
    out = tmp_path / "out"
    run = _run(
        [
            cns,
            "run",
            "--events",
            "20000",
            "--seconds",
            "2",
            "--no-slow-baseline",
            "--no-progress",
            "--out",
            str(out),
        ],
        elsewhere,
        env,
        timeout=480,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "report.json").is_file() and (out / "latency.png").is_file()

    val = _run([cns, "validate", "--shapes", shapes, "--data", example], elsewhere, env)
    assert val.returncode == 1, val.stderr[-3000:]  # 1: the example does not conform, by design
    assert "sh:ValidationReport" in val.stdout and "sh:conforms false" in val.stdout
