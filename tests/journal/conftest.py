"""A real PostgreSQL server for the operator-store tests: started once per session from Debian's
``postgresql`` package (installed with apt-get when missing and running as root, bounded time) with
``initdb`` + ``pg_ctl`` as the ``postgres`` user into a temp dir, listening only on a Unix socket; stopped at
the end. Skips with a message naming the package when it cannot be had."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_INSTALL_TIMEOUT = 600


def _bindir() -> Path | None:
    exe = shutil.which("pg_ctl")
    if exe:
        return Path(os.path.realpath(exe)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _install() -> str:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not root or no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(
            ["apt-get", "update", "-q"], check=False, capture_output=True, timeout=_INSTALL_TIMEOUT, env=env
        )
        r = subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
            capture_output=True,
            timeout=_INSTALL_TIMEOUT,
            env=env,
            text=True,
        )
        return "" if r.returncode == 0 else r.stderr[-500:]
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install 'psycopg[binary]')")
    bindir = _bindir()
    if bindir is None:
        why = _install()
        bindir = _bindir()
        if bindir is None:
            pytest.skip(f"PostgreSQL server not available: install the Debian package `postgresql` ({why})")
    root = Path(tempfile.mkdtemp(prefix="cns-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else ["su", "postgres", "-c"]
    port = _free_port()

    def run(*cmd: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        full = (
            list(cmd)
            if not as_user
            else (as_user + [" ".join(cmd)] if as_user[0] == "su" else as_user + list(cmd))
        )
        return subprocess.run(full, capture_output=True, text=True, timeout=timeout)

    r = run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb of the Debian package `postgresql` failed: {r.stderr[-300:]}")
    opts = f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off"
    r = run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        opts if not as_user or as_user[0] != "su" else f'"{opts}"',
        "-l",
        str(root / "log"),
        "-w",
        "-t",
        "60",
        "start",
    )
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL (Debian package `postgresql`) did not start: {r.stderr[-300:]}")
    try:
        yield f"postgresql://postgres@/postgres?host={sock}&port={port}"
    finally:
        with contextlib.suppress(Exception):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(root, ignore_errors=True)
