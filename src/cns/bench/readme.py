"""``cns report readme``: README's headline table, rendered from the JSON the benchmark commands write.

Every ``cns bench …`` command (and ``cns run`` / ``cns study``) writes a JSON document; each that has a
figure worth a README line carries a ``"headline"`` list of rows (see :func:`headline_row`). This module
reads ``out/*.json``, and replaces the text between ``<!-- headline:begin -->`` and ``<!-- headline:end -->``
in README.md with one table: the command that regenerates the row, the figure, CNS's value, the peer's value
measured in the same invocation, the ratio and the goal. A JSON that is absent is listed as "not measured"
with its command, so README never shows a figure no command regenerated.

``--check`` renders without writing and exits 1 when README differs (for CI or a pre-commit hook).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cns.errors import CNSError

__all__ = ["BEGIN", "END", "SOURCES", "ReadmeError", "headline_row", "render", "update_readme", "main"]

BEGIN = "<!-- headline:begin (rendered by `cns report readme` from out/*.json; do not edit by hand) -->"
END = "<!-- headline:end -->"


class ReadmeError(CNSError):
    """README lacks the headline markers, or a JSON document is unreadable."""


@dataclass(frozen=True, slots=True)
class Source:
    """One JSON document and the command that writes it."""

    file: str
    command: str


SOURCES: tuple[Source, ...] = (
    Source("report.json", "cns run"),
    Source("study.json", "cns study"),
    Source("bench-pipeline.json", "cns bench pipeline --json out/bench-pipeline.json"),
    Source("bench-signals.json", "cns bench signals --json out/bench-signals.json"),
    Source("bench-actors.json", "cns bench actors --json out/bench-actors.json"),
    Source("bench-shacl.json", "cns bench shacl --json out/bench-shacl.json"),
    Source("bench-book.json", "cns bench book --json out/bench-book.json"),
    Source("bench-live.json", "cns bench live --json out/bench-live.json"),
    Source("bench-journal.json", "cns bench journal --json out/bench-journal.json"),
    Source("bench-backtest.json", "cns bench backtest --json out/bench-backtest.json"),
    Source("bench-startup.json", "cns bench startup --json out/bench-startup.json"),
    Source("bench-span.json", "cns bench span --json out/bench-span.json"),
)


def headline_row(
    figure: str, cns: str, *, peer: str = "", ratio: str = "", goal: str = "", met: bool | None = None
) -> dict[str, Any]:
    """One README row: ``figure`` (what is measured, with what it includes), ``cns`` (CNS's value, units
    spelled out), ``peer`` (the peer and its value in the same invocation), ``ratio`` (CNS/peer, the
    direction stated), ``goal`` and ``met`` (None when there is no goal)."""
    return {"figure": figure, "cns": cns, "peer": peer, "ratio": ratio, "goal": goal, "met": met}


def _cell(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render(out_dir: Path) -> str:
    """The Markdown table (with the machine line) for every source in ``out_dir``."""
    lines = ["| command | figure | CNS | peer, same run | ratio | goal |", "|---|---|---|---|---|---|"]
    cpus: set[str] = set()
    for src in SOURCES:
        path = out_dir / src.file
        if not path.exists():
            lines.append(f"| `{src.command}` | not measured in this checkout | | | | |")
            continue
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ReadmeError(f"{path}: unreadable JSON ({e})") from None
        cpu = doc.get("cpu") or (doc.get("machine") or {}).get("cpu")
        if cpu:
            cpus.add(str(cpu))
        rows = doc.get("headline") or []
        if not rows:
            lines.append(f"| `{src.command}` | (no headline rows in {src.file}) | | | | |")
        for row in rows:
            goal = row.get("goal") or ""
            met = row.get("met")
            if goal and met is not None:
                goal = f"{goal} ({'met' if met else 'MISSED'})"
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"`{src.command}`",
                        *(_cell(row.get(k, "")) for k in ("figure", "cns", "peer", "ratio")),
                        _cell(goal),
                    ]
                )
                + " |"
            )
    machine = "; ".join(sorted(cpus)) or "no measurement"
    return "\n".join(
        [
            f"Measured on: {machine}. Peers run in the same invocation; every row regenerates "
            "with its command.",
            "",
            *lines,
        ]
    )


def update_readme(readme: Path, out_dir: Path, *, check: bool = False) -> bool:
    """Replace the headline block of ``readme``; returns True when the text changed (``check``: not written)."""
    text = readme.read_text()
    try:
        head, rest = text.split(BEGIN, 1)
        _old, tail = rest.split(END, 1)
    except ValueError:
        raise ReadmeError(f"{readme} lacks the markers {BEGIN!r} ... {END!r}") from None
    new = f"{head}{BEGIN}\n{render(out_dir)}\n{END}{tail}"
    if new == text:
        return False
    if not check:
        tmp = readme.with_suffix(readme.suffix + ".tmp")
        tmp.write_text(new)
        tmp.replace(readme)
    return True


def main(args: argparse.Namespace) -> int:
    """Entry point of ``cns report readme [--out DIR] [--readme PATH] [--check]``."""
    changed = update_readme(Path(args.readme), Path(args.out), check=bool(args.check))
    if args.check:
        print("README headline is up to date" if not changed else "README headline differs from out/*.json")
        return 1 if changed else 0
    print(
        f"{args.readme}: headline {'updated' if changed else 'unchanged'} from {args.out}/*.json",
        file=sys.stderr,
    )
    return 0
