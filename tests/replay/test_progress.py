"""``cns run``'s progress display: rich on a terminal, tqdm otherwise, nothing when disabled."""

from __future__ import annotations

import io

import pytest

from cns.replay import progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rich_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Tty()
    monkeypatch.setattr(progress.sys, "stderr", err)
    bar = progress.progress_bar(10, "replay", "ev", True)
    assert isinstance(bar, progress._RichBar)
    bar.update(4)
    bar.set_postfix_str("seed 7")
    bar.update(6)
    bar.close()
    assert "replay seed 7" in err.getvalue()


def test_tqdm_when_not_a_terminal_or_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress.sys, "stderr", io.StringIO())
    bar = progress.progress_bar(10, "replay", "ev", True)
    assert not isinstance(bar, progress._RichBar)
    bar.close()
    off = progress.progress_bar(10, "replay", "ev", False)
    assert not isinstance(off, progress._RichBar) and getattr(off, "disable", False)
    off.close()


def test_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress.sys, "stderr", _Tty())
    monkeypatch.setattr(progress, "_rich_available", lambda: False)
    bar = progress.progress_bar(10, "replay", "ev", True)
    assert not isinstance(bar, progress._RichBar)
    bar.close()
