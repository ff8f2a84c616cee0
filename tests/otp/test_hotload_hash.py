"""reload_module loads the source as it is now, whatever the .pyc says; equal versions are flagged."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from cns.otp.gen_server import GenServer
from cns.otp.hotload import HotLoadWarning, reload_module, upgrade
from cns.runtime import Node

SRC = textwrap.dedent("""
    from cns.otp.gen_server import GenServer

    class Worker(GenServer):
        vsn = {vsn}

        def handle_call(self, request, from_):
            return {answer}
""")


def _write_same_stat(path: Path, text: str) -> None:
    """Rewrite ``path`` keeping its size and mtime: what an edit within the same second looks like."""
    st = path.stat()
    assert len(text.encode()) == st.st_size, "the edit must keep the size"
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.fixture
def hotmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    name = "hotmod_same_stat"
    path = tmp_path / f"{name}.py"
    path.write_text(SRC.format(vsn=1, answer=111))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    mod = importlib.import_module(name)
    assert Path(importlib.util.cache_from_source(str(path))).exists(), "the import left a .pyc"
    yield name, path, mod
    sys.modules.pop(name, None)


@pytest.mark.timeout(10)
def test_reload_sees_an_edit_that_keeps_size_and_mtime(hotmod: Any) -> None:
    name, path, mod = hotmod
    node = Node()
    pid = mod.Worker.start(node)
    assert node.call(pid, "?") == 111
    _write_same_stat(path, SRC.format(vsn=2, answer=222))
    (report,) = reload_module(node, name)
    assert report.ok and report.upgraded == (pid,)
    assert (report.old_vsn, report.new_vsn) == (1, 2)  # was (1, 1): the stale .pyc was loaded again
    assert node.call(pid, "?") == 222
    # the refreshed .pyc checks the source hash, so a fresh import of the file is right too
    sys.modules.pop(name)
    assert importlib.import_module(name).Worker.vsn == 2
    node.shutdown()


@pytest.mark.timeout(10)
def test_equal_versions_are_flagged(hotmod: Any) -> None:
    name, path, mod = hotmod
    node = Node()
    pid = mod.Worker.start(node)
    _write_same_stat(path, SRC.format(vsn=1, answer=333))  # new code, forgotten vsn bump
    with pytest.warns(HotLoadWarning, match="vsn"):
        (report,) = reload_module(node, name)
    assert report.ok and node.call(pid, "?") == 333

    class A(GenServer):
        vsn = 7

    class B(GenServer):
        vsn = 7

    with pytest.warns(HotLoadWarning, match="vsn 7"):
        upgrade(node, A, B)
    node.shutdown()


@pytest.mark.timeout(10)
def test_a_syntax_error_in_the_new_source_changes_nothing(hotmod: Any) -> None:
    from cns.otp.hotload import HotLoadError

    name, path, mod = hotmod
    node = Node()
    pid = mod.Worker.start(node)
    path.write_text(SRC.format(vsn=2, answer="(("))
    with pytest.raises(HotLoadError, match="SyntaxError"):
        reload_module(node, name)
    assert type(pid.actor) is mod.Worker and node.call(pid, "?") == 111
    assert sys.modules[name] is mod and mod.Worker.vsn == 1
    node.shutdown()
