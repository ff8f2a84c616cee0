"""The replay report: ``report.json``, ``report.md`` and PNG plots written to the output directory.

The report dict is built by the replay driver in two parts that never mix: ``trading`` — what the run traded,
a pure function of its inputs, stored canonically (:func:`canonical`) and hashed (:func:`trading_sha256`,
``report["trading_sha256"]``) — and ``measured`` — what this host measured (wall times, throughput, sampled
in-kernel latency stamps), labelled as such and never used by the simulation. Latency figures say how they
were measured: ``measured.latency_ns`` holds per-event figures from sampled in-kernel clock stamps; batch
throughput (``measured.batch_events_per_s``) is a batch average and says so.

The files of one run are published together (:func:`write_report`): they are written to a run directory
under ``<out>/.report/`` and made visible by swapping one symlink, so a crash or ``kill -9`` at any moment
leaves ``<out>`` showing either the previous complete set or the new complete set, never a mix. Every file
carries the run id (:func:`run_id_of` reads it back) so a reader can check what it read belongs together.
"""

from __future__ import annotations

import hashlib
import json
import math
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
_MEASURED = "measured on this host, not used by the simulation"


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if v != v:  # NaN
            return "n/a"
        if abs(v) >= 1e6:
            return f"{v:,.0f}"
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def canonical(obj: Any) -> Any:
    """``obj`` as plain JSON data with every float rounded to 10 significant digits and NaN/±inf as None.

    The trading section is stored this way so that its bytes (and :func:`trading_sha256`) do not depend on
    the last bits of a float, which a different CPU's vectorised ``exp``/``log`` or summation order may
    change; 10 digits keep cents of any P&L below 10^7 USD. Dict key order is kept; tuples become lists."""
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return float(f"{x:.10g}") if math.isfinite(x) else None
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"canonical: cannot store {type(obj).__name__} in the trading section")


def canonical_json(obj: Any) -> bytes:
    """The canonical bytes of ``obj``: :func:`canonical`, keys sorted, no whitespace, ASCII."""
    return json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def trading_sha256(trading: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of a report's trading section: equal on every machine for the same
    inputs (news, config, seed, options)."""
    return hashlib.sha256(canonical_json(trading)).hexdigest()


def flat_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report's figures under the flat keys of report schema 1 (``events``, ``orders``, ``pnl``, ``wall_s``,
    ``latency_ns``, ...), for readers written against it: the trading section's ingest counts and fast desk,
    then the measured section (a key of both: the trading one). Read-only convenience; ``report.json`` keeps
    the two sections apart."""
    t = report.get("trading") or {}
    fast = t.get("fast") or {}
    out: dict[str, Any] = {**(report.get("measured") or {})}
    out.update({k: v for k, v in fast.items() if k not in ("latency",)})
    out.update({k: v for k, v in t.items() if k not in ("fast", "slow", "inputs", "fast_vs_slow")})
    out["wire_records"] = (t.get("inputs") or {}).get("wire_records")
    out["slow_baseline"] = t.get("slow")
    return out


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


def _ns_label(ns: Any) -> str:
    from cns.replay.latency import fmt_ns

    return "n/a" if ns is None else fmt_ns(float(ns))


def _latency_model_table(fast: Mapping[str, Any], slow: Mapping[str, Any] | None, measured_p50: Any) -> list[str]:
    fl, sl = fast.get("latency") or {}, (slow or {}).get("latency") or {}
    fd, sd = fast.get("decision_latency_drawn_ns") or {}, (slow or {}).get("decision_latency_drawn_ns") or {}

    def pair(key: str) -> str:
        return f"{_ns_label(fl.get(key))} | {_ns_label(sl.get(key)) if slow else ''}"

    lines = [
        "## Latency model (simulation inputs, the same on every machine)",
        "",
        "| hop | CNS desk | slow baseline |",
        "|---|---:|---:|",
        f"| decision (news at CNS → order stamped) | `{fl.get('decision', '?')}` | "
        f"{'`' + str(sl.get('decision', '?')) + '`' if slow else ''} |",
        f"| decision, drawn p50 / p99 | {_ns_label(fd.get('p50'))} / {_ns_label(fd.get('p99'))} | "
        + (f"{_ns_label(sd.get('p50'))} / {_ns_label(sd.get('p99'))}" if slow else "") + " |",
        f"| feed (receive stamp → ingest) | {pair('feed_ns')} |",
        f"| order entry (stamp → venue) | {pair('entry_ns')} |",
        f"| market data (quote → desk) | {pair('md_ns')} |",
        f"| execution report (venue → desk) | {pair('return_ns')} |",
        "",
        f"Decision latency {_MEASURED}: {_ns_label(measured_p50)} (p50 of the in-kernel stamps: ingest + signal "
        "+ risk). It is reported, never fed into the simulation.",
        "",
    ]
    return lines


def _risk_limits_table(fast: Mapping[str, Any], slow: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Risk limits that bound (first / last time a candidate was dropped, s since the open)", "",
             "| desk | check | entries dropped | exits dropped | first (s) | last (s) | note |",
             "|---|---|---:|---:|---:|---:|---|"]
    n = 0
    for name, desk in (("CNS", fast), ("slow", slow)):
        for check, v in ((desk or {}).get("risk_limits") or {}).items():
            note = ""
            if "day_pnl_at_first_usd" in v:
                note = f"day P&L {_fmt(v['day_pnl_at_first_usd'])} USD when it first bound"
            lines.append(f"| {name} | {check} | {_fmt(v['entries_dropped'])} | {_fmt(v['exits_dropped'])} | "
                         f"{v['first_ns'] / 1e9:,.3f} | {v['last_ns'] / 1e9:,.3f} | {note} |")
            n += 1
    if not n:
        lines.append("| | (no limit bound) | 0 | 0 | | | |")
    return lines + [""]


def _credibility_lines(cred: Mapping[str, Any] | None) -> list[str]:
    """Which credibility tables were used (the desk's and the simulated street's)."""
    if not cred:
        return []
    lines = ["## Source credibility tables used", ""]
    for who, label in (("desk", "CNS desk (corroboration, validation)"),
                       ("street", "simulated market (market maker, competitors; each adds its own noise)")):
        c = cred.get(who) or {}
        lines.append(f"- {label}: {c.get('provenance', '?')} (scores sha256 `{str(c.get('scores_sha256', '?'))[:12]}`)")
    return lines + [""]


def _market_table(fast: Mapping[str, Any], slow: Mapping[str, Any] | None) -> list[str]:
    """The simulated market of each pass: every owner's P&L and fees, the spreads the desk saw."""
    mk = fast.get("market") or {}
    if not mk.get("pnl"):
        return []
    smk = (slow or {}).get("market") or {}
    sp = mk.get("spread_bp") or {}
    lines = ["## The simulated market (CNS pass" + (" / slow pass" if smk else "") + ")", "",
             f"Quoted spread the desk saw at its P&L snapshots: p10 / p50 / p90 {_fmt(sp.get('p10'))} / "
             f"{_fmt(sp.get('p50'))} / {_fmt(sp.get('p90'))} bp ({_fmt(sp.get('n'))} instrument-snapshots); "
             f"median |mid / hidden value − 1| at the end {_fmt(mk.get('mid_vs_hidden_value_bp_p50_at_end'))} bp; "
             f"public reports {_fmt(mk.get('public_reports'))}.", "",
             "| owner | P&L (USD, marked) | fees paid (USD) | rebates (USD) |" + (" P&L, slow pass |" if smk else ""),
             "|---|---:|---:|---:|" + ("---:|" if smk else "")]
    for owner, v in mk["pnl"].items():
        f = (mk.get("fees") or {}).get(owner) or {}
        row = f"| {owner} | {_fmt(v)} | {_fmt(f.get('paid'))} | {_fmt(f.get('rebates'))} |"
        if smk:
            row += f" {_fmt((smk.get('pnl') or {}).get(owner))} |"
        lines.append(row)
    return lines + [""]


def render_markdown(report: Mapping[str, Any]) -> str:
    """The human-readable report (also printed by ``cns run``); ``report`` as built by the replay driver."""
    r = report
    t = r["trading"]
    m = r.get("measured") or {}
    inp = t.get("inputs") or {}
    fast = t["fast"]
    slow = t.get("slow") or None
    pnl = fast["pnl"]
    cpu = (r.get("machine") or {}).get("cpu") or m.get("cpu", "unknown")
    lines = [
        "# CNS replay report",
        "",
        f"CPU: {cpu} · seed {inp.get('seed')} · {inp.get('simulated_s', 0):,.0f} simulated s"
        + (f" · run `{r['run_id']}`" if r.get("run_id") else ""),
        "",
        f"## What was traded (reproducible: same inputs + seed → same figures on any machine; trading sha256 "
        f"`{r.get('trading_sha256', '?')[:16]}…`)",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| events | {_fmt(t['events'])} |",
        f"| quarantined (malformed input) | {_fmt(sum(t.get('quarantined', {}).values()))} |",
        f"| zero-tick (elided at ingress) | {_fmt(t['zero_tick'])} ({t['zero_tick_ratio']:.1%}) |",
        f"| validated (conform to rules/news.ttl) | {_fmt(t['validated'])} |",
        f"| rejected by validation | {_fmt(sum(t.get('rejected', {}).values()))} |",
        f"| corroboration decisions (signals; strategy {inp.get('strategy', '?')}) | {_fmt(t['signals'])} |",
        f"| orders sent | {_fmt(fast['orders'])} |",
        f"| fills | {_fmt(fast['fills'])} |",
        f"| rejected by pre-trade risk | {_fmt(sum(fast['risk_rejects'].values()))} |",
        f"| P&L realised (USD) | {_fmt(pnl['realized'])} |",
        f"| P&L unrealised (USD, marked on the desk's delayed quotes) | {_fmt(pnl['unrealized'])} |",
        f"| hit rate | {_fmt(fast.get('hit_rate'))} |",
        f"| fees paid / rebates earned (USD, in realised P&L) | {_fmt((fast.get('fees') or {}).get('paid'))} / "
        f"{_fmt((fast.get('fees') or {}).get('rebates'))} |",
        "",
    ]
    lines += _credibility_lines(inp.get("credibility"))
    lines += _market_table(fast, slow)
    lines += _latency_model_table(fast, slow, m.get("decision_latency_ns_p50"))
    lines += _risk_limits_table(fast, slow)
    lines += _counts_table("Quarantined input by reason", t.get("quarantined", {}))
    lines += _counts_table("Validation rejects by constraint", t.get("rejected", {}))
    lines += _counts_table("Pre-trade risk rejects by check (CNS desk)", fast["risk_rejects"])
    lines += _counts_table("Corroboration decisions by action", t.get("decisions", {}))
    if slow:
        cmp_ = t.get("fast_vs_slow") or {}
        lines += [
            "## Same market, decision path slowed to an LLM desk",
            "",
            "| | CNS | slow baseline |",
            "|---|---:|---:|",
            f"| decision latency (model) | `{fast['latency'].get('decision')}` | `{slow['latency'].get('decision')}` |",
            f"| fills | {_fmt(fast['fills'])} | {_fmt(slow['fills'])} |",
            f"| P&L total (USD) | {_fmt(pnl['total'])} | {_fmt(slow['pnl']['total'])} |",
            f"| fill rate | {_fmt(fast.get('fill_rate'))} | {_fmt(slow.get('fill_rate'))} |",
            f"| hit rate | {_fmt(fast.get('hit_rate'))} | {_fmt(slow.get('hit_rate'))} |",
            f"| fees paid (USD) | {_fmt((fast.get('fees') or {}).get('paid'))} | "
            f"{_fmt((slow.get('fees') or {}).get('paid'))} |",
            f"| rebates earned (USD) | {_fmt((fast.get('fees') or {}).get('rebates'))} | "
            f"{_fmt((slow.get('fees') or {}).get('rebates'))} |",
            "",
            f"P&L ratio fast/slow: {_pnl_ratio(pnl['total'], slow['pnl']['total'])} · "
            f"fill-rate ratio fast/slow: {_fmt(cmp_.get('fill_rate_ratio'))}",
            "",
        ]
    att, slow_att = fast.get("attribution") or {}, (slow or {}).get("attribution") or {}
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
        for k in ("entry_edge", "exit_edge", "hold_informed", "hold_luck", "hold_random_walk", "fees", "residual",
                  "total"):
            lines.append(f"| {k} | {_fmt(att.get(k))} | {_fmt(slow_att.get(k))} |")
        lines += [f"| entry edge, mean bp | {_fmt(att.get('entry_edge_bp_mean'))} | "
                  f"{_fmt(slow_att.get('entry_edge_bp_mean'))} |", ""]
    if m:
        lines += _measured_lines(m)
    notes = r.get("notes")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def _measured_lines(m: Mapping[str, Any]) -> list[str]:
    lines = [
        f"## Measured on this host ({_MEASURED})",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| data generation / load (s) | {_fmt(m.get('data_s'))} |",
        f"| cold start: JIT compile / cache load (s) | {_fmt(m.get('warmup_s'))} |",
        f"| replay wall time (s) | {_fmt(m.get('wall_s'))} |",
        f"| events/s (replay wall) | {_fmt(m.get('events_per_s'))} |",
        f"| × real time | {_fmt(m.get('realtime_factor'))} |",
        "",
        "### Per-stage latency, per event (ns)",
        "",
        "Sampled in-kernel stamps (the CPU cycle counter read inside the compiled kernels, calibrated to ns) around each",
        f"stage for every {m.get('sample_every', '?')}-th event. `total` = parse + validate + corroborate of the same event;",
        "an event that leads to an order adds its signal + risk (see the signal and risk rows, per decision/order).",
        "",
        "| stage | samples | p50 | p99 | p99.9 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage in LATENCY_STAGES:
        s = (m.get("latency_ns") or {}).get(stage)
        if s:
            lines.append(f"| {stage} | {_fmt(s.get('samples', 0))} | {_fmt(s['p50'])} | {_fmt(s['p99'])} | "
                         f"{_fmt(s['p999'])} | {_fmt(s['max'])} |")
    lines += ["", "### Batch throughput (batch averages, not per-event latency)", "", "| stage | events/s |",
              "|---|---:|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in (m.get("batch_events_per_s") or {}).items()]
    return lines + [""]


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
