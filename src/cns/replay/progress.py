"""The progress display of ``cns run`` / ``cns study``: a rich progress bar when :mod:`rich` is importable and
stderr is a terminal, else tqdm (which prints plain lines when stderr is not a terminal). Disabled: nothing.

Progress is shown on stderr only and never feeds the simulation.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

from tqdm import tqdm


class Progress(Protocol):
    """What the replay needs of a progress display."""

    def update(self, n: int = 1) -> Any:
        """Advance the count by ``n`` items."""
        ...

    def set_postfix_str(self, s: str = "") -> Any:
        """Show ``s`` after the description (empty: the description alone)."""
        ...

    def close(self) -> None:
        """Stop the display; no further calls follow."""
        ...


class _RichBar:
    """A rich progress bar (one task) on stderr: description, bar, count, rate, elapsed / remaining."""

    def __init__(self, total: int, desc: str, unit: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self._desc = desc
        self._task = self._progress.add_task(desc, total=total)
        self._progress.start()

    def update(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)

    def set_postfix_str(self, s: str = "") -> None:
        self._progress.update(self._task, description=f"{self._desc} {s}" if s else self._desc)

    def close(self) -> None:
        self._progress.stop()


def _rich_available() -> bool:
    try:
        import rich.progress  # noqa: F401
    except ImportError:
        return False
    return True


def progress_bar(total: int, desc: str, unit: str, enabled: bool) -> Progress:
    """A progress display of ``total`` ``unit``\\ s named ``desc``: rich on a terminal (when installed), else tqdm;
    a disabled tqdm (prints nothing) when ``enabled`` is false."""
    if enabled and sys.stderr.isatty() and _rich_available():
        return _RichBar(total, desc, unit)
    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, disable=not enabled)  # type: ignore[no-any-return]
