"""The replay report: ``report.json``, ``report.md`` and PNG plots written to the output directory.

The report dict is built by the replay driver from measured values only. Latency figures are labelled by how
they were measured: ``latency_ns`` holds per-event figures from sampled in-kernel clock stamps; batch throughput
(``batch_events_per_s``) is a batch average and says so.

The files of one run are published together (:func:`write_report`): they are written to a run directory
under ``<out>/.report/`` and made visible by swapping one symlink, so a crash or ``kill -9`` at any moment
leaves ``<out>`` showing either the previous complete set or the new complete set, never a mix. Every file
carries the run id (:func:`run_id_of` reads it back) so a reader can check what it read belongs together.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from cns.news.batch import Reject
from cns.news.jsonl import write_rejects
from cns.replay.errors import ReplayError
from cns.telemetry.facts import write_json

try:
    import fcntl
except ImportError:  # not POSIX: concurrent writers are not serialised (each set is still complete)
    fcntl = None  # type: ignore[assignment]

LATENCY_STAGES: tuple[str, ...] = ("parse", "validate", "corroborate", "signal", "risk", "total")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return "n/a"
        if abs(v) >= 1e6:
            return f"{v:,.0f}"
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _pnl_ratio(fast: float, slow: float) -> str:
    """fast/slow P&L, or why a ratio would mislead (a ratio of two losses reads backwards)."""
    if fast < 0 or slow <= 0:
        return f"n/a (CNS {_fmt(fast)} USD, slow {_fmt(slow)} USD; difference {_fmt(fast - slow)} USD)"
    return _fmt(fast / slow)


def _counts_table(title: str, counts: Mapping[str, int]) -> list[str]:
    lines = [f"### {title}", "", "| reason | count |", "|---|---:|"]
    rows = sorted(counts.items(), key=lambda kv: -kv[1])
    lines += [f"| {k} | {v:,} |" for k, v in rows] or ["| (none) | 0 |"]
    return lines + [""]


def render_markdown(report: Mapping[str, Any]) -> str:
    """The human-readable report (also printed by ``cns run``)."""
    r = report
    pnl = r["pnl"]
    slow = r.get("slow_baseline") or {}
    lines = [
        "# CNS replay report",
        "",
        f"CPU: {r.get('cpu', 'unknown')} · seed {r.get('seed')} · {r.get('simulated_s', 0):,.0f} simulated s"
        + (f" · run `{r['run_id']}`" if r.get("run_id") else ""),
        "",
        "| measure | value |",
        "|---|---:|",
        f"| events | {_fmt(r['events'])} |",
        f"| quarantined (malformed input) | {_fmt(sum(r.get('quarantined', {}).values()))} |",
        f"| zero-tick (elided at ingress) | {_fmt(r['zero_tick'])} ({r['zero_tick_ratio']:.1%}) |",
        f"| validated (conform to rules/news.ttl) | {_fmt(r['validated'])} |",
        f"| rejected by validation | {_fmt(sum(r.get('rejected', {}).values()))} |",
        f"| corroboration decisions (signals) | {_fmt(r['signals'])} |",
        f"| orders sent | {_fmt(r['orders'])} |",
        f"| fills | {_fmt(r['fills'])} |",
        f"| rejected by pre-trade risk | {_fmt(sum(r['risk_rejects'].values()))} |",
        f"| P&L realised (USD) | {_fmt(pnl['realized'])} |",
        f"| P&L unrealised (USD) | {_fmt(pnl['unrealized'])} |",
        f"| hit rate | {_fmt(r.get('hit_rate', float('nan')))} |",
        f"| data generation / load (s) | {_fmt(r.get('data_s', float('nan')))} |",
        f"| replay wall time (s) | {_fmt(r['wall_s'])} |",
        f"| events/s (replay wall) | {_fmt(r['events_per_s'])} |",
        f"| × real time | {_fmt(r.get('realtime_factor', float('nan')))} |",
        "",
        "## Per-stage latency, per event (ns)",
        "",
        "Sampled in-kernel stamps (the CPU cycle counter read inside the compiled kernels, calibrated to ns) around each",
        f"stage for every {r.get('sample_every', '?')}-th event. `total` = parse + validate + corroborate of the same event;",
        "an event that leads to an order adds its signal + risk (see the signal and risk rows, per decision/order).",
        "",
        "| stage | samples | p50 | p99 | p99.9 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage in LATENCY_STAGES:
        s = r["latency_ns"].get(stage)
        if s:
            lines.append(
                f"| {stage} | {_fmt(s.get('samples', 0))} | {_fmt(s['p50'])} | {_fmt(s['p99'])} | "
                f"{_fmt(s['p999'])} | {_fmt(s['max'])} |"
            )
    lines += ["", "## Batch throughput (batch averages, not per-event latency)", "", "| stage | events/s |",
              "|---|---:|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in r.get("batch_events_per_s", {}).items()]
    lines.append("")
    lines += _counts_table("Quarantined input by reason", r.get("quarantined", {}))
    lines += _counts_table("Validation rejects by constraint", r.get("rejected", {}))
    lines += _counts_table("Pre-trade risk rejects by check", r["risk_rejects"])
    lines += _counts_table("Corroboration decisions by action", r.get("decisions", {}))
    if slow:
        lines += [
            "## Same market, decision path slowed to an LLM desk",
            "",
            "| | CNS | slow baseline |",
            "|---|---:|---:|",
            f"| decision latency (ns) | {_fmt(r.get('decision_latency_ns_p50', float('nan')))} (p50, measured) "
            f"| {_fmt(slow['decision_latency_ns'])} |",
            f"| fills | {_fmt(r['fills'])} | {_fmt(slow['fills'])} |",
            f"| P&L total (USD) | {_fmt(pnl['total'])} | {_fmt(slow['pnl']['total'])} |",
            f"| fill rate | {_fmt(r.get('fill_rate', float('nan')))} | {_fmt(slow.get('fill_rate', float('nan')))} |",
            "",
            f"P&L ratio fast/slow: {_pnl_ratio(pnl['total'], slow['pnl']['total'])} · "
            f"fill-rate ratio fast/slow: {_fmt(slow.get('fill_rate_ratio', float('nan')))}",
            "",
        ]
    att, slow_att = r.get("attribution") or {}, (slow or {}).get("attribution") or {}
    if att:
        lines += [
            "## Where the P&L came from (against the simulator's hidden fundamental, USD)",
            "",
            "`hold_informed`: impacts of stories already reported when the entry filled (what speed and judging",
            "sources earn); `hold_luck`: impacts of stories not yet reported; `entry/exit_edge`: price paid vs value.",
            "",
            "| part | CNS | slow baseline |",
            "|---|---:|---:|",
        ]
        for k in ("entry_edge", "exit_edge", "hold_informed", "hold_luck", "hold_random_walk", "residual", "total"):
            lines.append(f"| {k} | {_fmt(att.get(k, float('nan')))} | {_fmt(slow_att.get(k, float('nan')))} |")
        lines += [f"| entry edge, mean bp | {_fmt(att.get('entry_edge_bp_mean', float('nan')))} | "
                  f"{_fmt(slow_att.get('entry_edge_bp_mean', float('nan')))} |", ""]
    notes = r.get("notes")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def _plot_pnl(path: Path, series: Mapping[str, tuple[np.ndarray, np.ndarray]], run_id: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, (t_s, pnl) in series.items():
        ax.plot(t_s, pnl, label=label, lw=1.2)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("P&L, realised + unrealised (USD)")
    ax.set_title("P&L over the replay")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={PNG_RUN_ID_KEY: run_id})
    plt.close(fig)


def _plot_latency(path: Path, samples: Mapping[str, np.ndarray], run_id: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in LATENCY_STAGES if s in samples and len(samples[s])]
    fig, axes = plt.subplots(len(stages), 1, figsize=(9, 1.9 * max(len(stages), 1)), squeeze=False)
    for ax, stage in zip(axes[:, 0], stages, strict=False):
        v = np.maximum(samples[stage].astype(np.float64), 1.0)
        bins = np.logspace(0, np.log10(v.max()) + 0.1, 80)
        ax.hist(v, bins=bins, color="tab:blue", alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel(stage)
        ax.axvline(float(np.percentile(v, 99)), color="tab:red", lw=0.8, label="p99")
        ax.legend(loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel("ns per event (sampled in-kernel stamps)")
    fig.suptitle("Per-stage latency histograms")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={PNG_RUN_ID_KEY: run_id})
    plt.close(fig)


# --- writing the report set: all files of one run appear together, or not at all -------------------------


class ReportWriteError(ReplayError):
    """The report set could not be written or published; the previous complete set is still in place."""


def new_run_id() -> str:
    """A fresh run id, ``<UTC yyyymmddThhmmssZ>-<pid>-<8 hex>``: sortable by start time, unique per call."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}-{secrets.token_hex(4)}"


def run_id_of(path: str | Path) -> str | None:
    """The run id a report file carries, or ``None`` when it carries none (or is missing or unreadable).

    ``report.json``: the ``run_id`` key; ``report.md``: the ``run `<id>``` mark of its header line; a PNG: the
    ``CNS run id`` text chunk. Compare the ids of the files a reader opened to detect a mixed set.
    """
    p = Path(path)
    try:
        if p.suffix == ".json":
            value = json.loads(p.read_text(encoding="utf-8")).get("run_id")
            return str(value) if value else None
        if p.suffix == ".md":
            m = _MD_RUN_ID.search(p.read_text(encoding="utf-8"))
            return m.group(1) if m else None
        if p.suffix == ".png":
            return _png_text(p.read_bytes()).get(PNG_RUN_ID_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    return None


def write_report(
    report: Mapping[str, Any],
    out_dir: str | Path,
    pnl_series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    latency_samples: Mapping[str, np.ndarray],
    *,
    wire_rejects: Sequence[Reject] = (),
) -> dict[str, Path]:
    """Publish ``report.json``, ``report.md``, ``pnl.png``, ``latency.png`` (and ``rejects-wire.jsonl`` when
    ``wire_rejects`` is not empty) in ``out_dir`` as one set; return ``{"json", "md", "pnl_png",
    "latency_png"[, "rejects_wire"]}`` → the stable paths ``out_dir/<name>``.

    Layout (the "run directory + atomically replaced symlink" scheme)::

        out/report.json  -> .report/current/report.json     (stable relative links, made once)
        out/.report/current -> run-<pid>-<token>            (the one symlink swapped per run)
        out/.report/run-<pid>-<token>/report.json ...       (the complete set of one run; previous one kept)
        out/.report/tmp-<pid>-<token>/                      (staging, same file system as out/)

    Every file is written into a fresh staging directory under ``out/.report``, fsynced, the directory is
    renamed to ``run-…`` and then ``current`` is replaced by one ``rename(2)`` of a new symlink, so the
    names in ``out/`` show the previous complete set until that instant and the new complete set after it. A
    crash (exception, ``kill -9``, power loss after the fsyncs) before the swap leaves the previous set; a
    crash after it leaves the new one. Leftovers of dead writers are removed by the next successful write.
    Every file carries the report's ``run_id`` (see :func:`run_id_of`); one is made when ``report`` has none.
    A reader that must not straddle a swap resolves ``out/.report/current`` once and reads from there (the
    previous run directory is kept until the next write so such a reader can finish).

    Regular files with these names in ``out_dir`` (left by an older CNS) are replaced by the links on the
    first write; a stale ``rejects-wire.jsonl`` is removed when this run has none. Concurrent writers into
    the same ``out_dir`` are serialised around the swap by ``flock`` on ``out/.report/lock``; the last one
    to swap wins and both sets are complete.

    Failure rules: an ``OSError`` (disk full, permissions, ``out_dir`` a file, a name in it a directory)
    becomes :class:`ReportWriteError` naming ``out_dir``; any error before the swap removes this run's
    staging directory and leaves the previous set untouched. Clean-up after the swap is best effort and
    never fails the write.
    """
    run_id = str(report.get("run_id") or new_run_id())
    full = {**report, "run_id": run_id}
    out = Path(out_dir)
    area = out / REPORT_AREA
    swapped = False
    stage: Path | None = None
    tmp_link: Path | None = None
    try:
        area.mkdir(parents=True, exist_ok=True)
        stage = _mkdir_unique(area, f"tmp-{os.getpid()}-")
        write_json(stage / "report.json", full)
        (stage / "report.md").write_text(render_markdown(full) + "\n", encoding="utf-8")
        _plot_pnl(stage / "pnl.png", pnl_series, run_id)
        _plot_latency(stage / "latency.png", latency_samples, run_id)
        if wire_rejects:
            write_rejects(wire_rejects, stage / "rejects-wire.jsonl")
        for f in stage.iterdir():
            _fsync_path(f)
        _fsync_path(stage)
        with _locked(area / "lock"):
            run_dir, present, tmp_link = _prepare_swap(out, area, stage)
            previous = _link_target(area / "current")
            os.replace(tmp_link, area / "current")  # the commit point
            swapped = True
            _tidy(out, area, present, keep={run_dir.name, previous or ""})
    except OSError as e:
        raise ReportWriteError(f"cannot write the report to {out}: {e}") from e
    finally:
        if not swapped and stage is not None:  # nothing published: drop this run's files, keep the old set
            for leftover in (stage, _run_dir_for(stage)):
                shutil.rmtree(leftover, ignore_errors=True)
            if tmp_link is not None:
                tmp_link.unlink(missing_ok=True)
    names = {"json": "report.json", "md": "report.md", "pnl_png": "pnl.png", "latency_png": "latency.png"}
    if wire_rejects:
        names["rejects_wire"] = "rejects-wire.jsonl"
    return {key: out / name for key, name in names.items()}


REPORT_AREA = ".report"  # inside the output directory: run directories, the ``current`` link, the lock
PNG_RUN_ID_KEY = "CNS run id"
_OPTIONAL_FILES = ("rejects-wire.jsonl",)
_MD_RUN_ID = re.compile(r" · run `([^`]+)`")


def _run_dir_for(stage: Path) -> Path:
    return stage.with_name("run-" + stage.name.removeprefix("tmp-"))


def _prepare_swap(out: Path, area: Path, stage: Path) -> tuple[Path, set[str], Path]:
    """Everything before the swap (under the lock): return ``(run dir, its file names, new link to swap in)``.

    Order, so that the names in ``out`` never show a mixed set: rename the fsynced ``stage`` to ``run-…``;
    make the stable link of every file of the new set (they point through ``current``, so until the swap
    they show the previous set, or nothing for a name it lacks; ``report.json`` first, so a legacy
    regular-file set is never shown with a new ``report.json``; a legacy regular ``rejects-wire.jsonl`` is
    linked too, so it is gone once the new set shows); make the new ``current`` link beside the old.
    """
    run_dir = _run_dir_for(stage)
    os.rename(stage, run_dir)
    _fsync_path(area)
    present = {p.name for p in run_dir.iterdir()}
    # a legacy regular file of an optional name this run lacks becomes a link too (absent after the swap)
    linked = present | {n for n in _OPTIONAL_FILES if (out / n).is_file() and not (out / n).is_symlink()}
    for name in sorted(linked, key=lambda n: (n != "report.json", n)):
        _ensure_link(out / name, f"{REPORT_AREA}/current/{name}")
    _fsync_path(out)
    tmp_link = area / f"current.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    os.symlink(run_dir.name, tmp_link)
    return run_dir, present, tmp_link


def _tidy(out: Path, area: Path, present: set[str], keep: set[str]) -> None:
    """After the swap, best effort (never raises ``OSError``): make the swap durable, drop the links of
    optional files the new set lacks (already dangling, i.e. absent), remove run directories not in ``keep`` and staging leftovers of writers that are no longer alive."""
    try:
        _fsync_path(area)
        for name in _OPTIONAL_FILES:
            p = out / name
            if name not in present and p.is_symlink():
                p.unlink()
        _fsync_path(out)
        _prune(area, keep)
    except OSError:
        pass


def _ensure_link(path: Path, target: str) -> None:
    """Make ``path`` a symlink to ``target`` by one atomic rename (nothing to do when it already is)."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _link_target(path: Path) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _prune(area: Path, keep: set[str]) -> None:
    """Remove run directories not in ``keep`` and staging dirs / temporary links of writers no longer alive."""
    for entry in area.iterdir():
        name = entry.name
        if name in keep or name in ("current", "lock"):
            continue
        if name.startswith("run-"):
            shutil.rmtree(entry, ignore_errors=True)
        elif name.startswith(("tmp-", "current.tmp-")):
            pid = name.split("-")[1] if name.startswith("tmp-") else name.removeprefix("current.tmp-").split("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                if entry.is_symlink() or entry.is_file():
                    entry.unlink(missing_ok=True)
                else:
                    shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mkdir_unique(parent: Path, prefix: str) -> Path:
    """A new directory ``parent/<prefix><UTC time>-<hex>`` (default permissions, unlike ``mkdtemp``'s 0700)."""
    while True:
        path = parent / f"{prefix}{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def _fsync_path(path: Path) -> None:
    """fsync a file or directory (its data, or its entries), so a rename after it never publishes a hole."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the block; a no-op where flock is missing."""
    if fcntl is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _png_text(data: bytes) -> dict[str, str]:
    """The ``tEXt`` and uncompressed ``iTXt`` chunks of a PNG as ``{keyword: text}`` (empty if not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return {}
    out: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"tEXt":
            key, _, text = body.partition(b"\0")
            out[key.decode("latin-1")] = text.decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            if rest[:1] == b"\0":  # not compressed: flag, method, language\0, translated keyword\0, text
                _, _, rest = rest[2:].partition(b"\0")
                _, _, text = rest.partition(b"\0")
                out[key.decode("latin-1")] = text.decode("utf-8", errors="replace")
        elif kind == b"IEND":
            break
        pos += 12 + length
    return out
