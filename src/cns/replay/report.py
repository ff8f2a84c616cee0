"""The replay report: ``report.json``, ``report.md`` and PNG plots written to the output directory.

The report dict is built from what the driver ran (:func:`build_outcome` of a
:class:`cns.replay.driver.ReplayRun`) in two parts that never mix: ``trading`` — what the run traded,
a pure function of its inputs, stored canonically (:func:`canonical`) and hashed (:func:`trading_sha256`,
``report["trading_sha256"]``) — and ``measured`` — what this host measured (wall times, throughput, sampled
in-kernel latency stamps), labelled as such and never used by the simulation. Latency figures say how they
were measured: ``measured.latency_ns`` holds per-event figures from sampled in-kernel clock stamps; batch
throughput (``measured.batch_events_per_s``) is a batch average and says so.

The files of one run are published together (:func:`write_report`): they are written to a run directory
under ``<out>/.report/`` and made visible by swapping one symlink, so a crash or ``kill -9`` at any moment
leaves ``<out>`` showing either the previous complete set or the new complete set, never a mix. Every file
carries the run id (:func:`run_id_of` reads it back) so a reader can check what it read belongs together.

Layout: this module builds the report dict and publishes the set; :mod:`cns.replay.report_md` renders
``report.md``, :mod:`cns.replay.report_plots` draws the PNGs, :mod:`cns.replay.report_files` holds the file
mechanics of the atomic swap.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cns.news.batch import Reject
from cns.news.jsonl import write_rejects
from cns.replay.errors import ReplayError
from cns.replay.latency import fmt_ns
from cns.replay.report_files import (
    MD_RUN_ID,
    REPORT_AREA,
    fsync_path,
    link_target,
    locked,
    mkdir_unique,
    png_text,
    prepare_swap,
    run_dir_for,
    tidy,
)
from cns.replay.report_md import LATENCY_STAGES, MEASURED_LABEL, render_markdown
from cns.replay.report_plots import PNG_RUN_ID_KEY, _plot_latency, _plot_pnl
from cns.replay.stages import INGEST_STAGES
from cns.telemetry.facts import cpu_model, write_json
from cns.telemetry.latency import LatencyRecorder
from cns.trading.corroborate_kernels import ACTION_NAMES

if TYPE_CHECKING:
    from cns.replay.desk import DeskResult
    from cns.replay.driver import ReplayRun
    from cns.replay.stages import StageLatencies
    from cns.trading.credibility import CredibilityTable

__all__ = [
    "LATENCY_STAGES",
    "MEASURED_LABEL",
    "PNG_RUN_ID_KEY",
    "REPORT_AREA",
    "ReplayOutcome",
    "ReportWriteError",
    "build_outcome",
    "canonical",
    "canonical_json",
    "desk_section",
    "flat_view",
    "latency_table",
    "measured_section",
    "new_run_id",
    "render_markdown",
    "run_id_of",
    "table_summary",
    "trading_section",
    "trading_sha256",
    "write_report",
]


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
    return json.dumps(
        canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


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


# --- building the report of a run (cns.replay.driver.replay → ReplayRun) ----------------------------------


@dataclass(slots=True)
class ReplayOutcome:
    """The report dict plus the raw series the plots are drawn from and the corrupt wire records of the run.

    Nothing here is on disk yet: :func:`write_report` publishes it all as one set (``wire_rejects`` as
    ``rejects-wire.jsonl``), so a run that dies early never leaves part of its output.
    """

    report: dict[str, Any]
    pnl_series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    latency_samples: dict[str, np.ndarray] = field(default_factory=dict)
    wire_rejects: list[Reject] = field(default_factory=list)


_CACHE_NOTE = re.compile(r" \[cached [^\]]*\]$")


def table_summary(table: CredibilityTable) -> dict[str, str]:
    """What the report says about a credibility table: its provenance (without the machine-specific cache
    path) and the sha256 of its scores."""
    return {
        "provenance": _CACHE_NOTE.sub("", table.provenance),
        "scores_sha256": hashlib.sha256(np.ascontiguousarray(table.scores).tobytes()).hexdigest(),
    }


def build_outcome(run: ReplayRun) -> ReplayOutcome:
    """The report of ``run`` (schema 2: ``trading`` hashed, ``measured`` apart) with its plot series."""
    latency, samples = latency_table(run.lat, run.fast)
    trading = canonical(trading_section(run))
    measured = measured_section(run, latency)
    report: dict[str, Any] = {
        "schema": 2,
        "run_id": new_run_id(),
        "machine": {"cpu": measured["cpu"]},
        "trading": trading,
        "trading_sha256": trading_sha256(trading),
        "measured": measured,
        "notes": run.prep.notes + _notes(run, measured["decision_latency_ns_p50"]),
    }
    report["headline"] = _headline(report, run.opts.seed, run.opts.seconds)
    model, slow = run.prep.model, run.slow
    series = {f"CNS ({model.decision.label()})": (run.fast.pnl_t_s, run.fast.pnl_usd)}
    if slow is not None:
        series[f"slow baseline ({run.slow_model.decision.label()})"] = (slow.pnl_t_s, slow.pnl_usd)
    return ReplayOutcome(report, series, samples, list(run.quarantine))


def trading_section(run: ReplayRun) -> dict[str, Any]:
    """What the run traded, a pure function of its inputs (not yet :func:`canonical`)."""
    opts, prep, fast, slow, totals = run.opts, run.prep, run.fast, run.slow, run.totals
    events = totals["events"]
    decisions = fast.decisions
    trading: dict[str, Any] = {
        "inputs": {
            "seed": opts.seed,
            "simulated_s": opts.seconds,
            "news": "generated" if not opts.news_path else "user",
            "wire_records": prep.news.layout.n_records,
            "strategy": prep.cfg.corroboration.strategy,
            "latency": prep.model.to_dict(),
            "slow_latency": run.slow_model.to_dict() if slow is not None else None,
            "slice_ns": prep.desk_cfg.slice_ns,
            "snapshot_ns": prep.desk_cfg.snapshot_ns,
            "hold_ns": fast.hold_ns,
            "credibility": {
                "desk": table_summary(prep.desk_table),
                "street": table_summary(prep.street_table),
            },
            "public_reports": prep.n_reports,
        },
        "events": events,
        "quarantined": quarantine_counts(prep.news.input_rejects, run.quarantine),
        "zero_tick": totals["zero_tick"],
        "zero_tick_ratio": totals["zero_tick"] / events if events else 0.0,
        "validated": totals["validated"],
        "rejected": run.rejected,
        "signals": int(len(decisions)),
        "decisions": {
            ACTION_NAMES[a]: int(c)
            for a, c in enumerate(np.bincount(decisions["action"], minlength=len(ACTION_NAMES)))
        },
        "fast": desk_section(fast),
        "slow": desk_section(slow) if slow is not None else None,
    }
    if slow is not None:
        trading["fast_vs_slow"] = {
            "pnl_difference": fast.pnl_total - slow.pnl_total,
            "pnl_ratio": fast.pnl_total / slow.pnl_total if slow.pnl_total else float("nan"),
            "fill_rate_ratio": fast.fill_rate / slow.fill_rate if slow.fill_rate else float("nan"),
        }
    return trading


def simulated_span_s(run: ReplayRun) -> float:
    """Simulated seconds the fast pass covered: from the news' first receive time to the venue time its
    result was marked at. At least ``--seconds``; more when decisions (a user's file spanning longer, exits)
    ran past it, since the desk trades every decision."""
    return (run.fast.end_ns - run.prep.desk_cfg.start_ns) / 1e9


def measured_section(run: ReplayRun, latency: dict[str, dict[str, float]]) -> dict[str, Any]:
    """What this host measured (wall times, in-kernel stamps, the CPU): reported, never used by the simulation."""
    opts, tm, totals, lat = run.opts, run.timings, run.totals, run.lat
    n_wire = run.prep.news.layout.n_records
    events = totals["events"]
    wall_s = tm["wall_s"]
    memory = run.memory.section()
    return {
        "what": "measured on this host: wall times and sampled in-kernel latency stamps; none of it is used by "
        "the simulation (report['trading'] is the same on every machine)",
        "cpu": cpu_model(),
        "data_s": tm["data_s"],
        "data_from_cache": run.prep.news.from_cache,
        "credibility_s": tm["credibility_s"],
        "credibility_cache": _CACHE_NOTE.search(run.prep.street_table.provenance) is not None,
        "public_reports_s": tm["public_reports_s"],
        "warmup_s": tm["warmup_s"],
        "ingest_s": tm["ingest_s"],
        "wall_s": wall_s,
        "events_per_s": n_wire / wall_s if wall_s else float("nan"),
        "simulated_span_s": simulated_span_s(run),
        "realtime_factor": simulated_span_s(run) / wall_s if wall_s else float("nan"),
        "sample_every": opts.sample_every,
        "latency_ns": latency,
        "decision_latency_ns_p50": measured_decision_ns(lat, run.fast),
        "decision_latency_label": MEASURED_LABEL,
        "batch_events_per_s": {s: n_wire / (ns / 1e9) for s, ns in lat.batch_ns.items() if ns},
        "ticks": {
            "ingress_cycles_per_event": totals["ingress_cycles"] / events if events else float("nan"),
            "dispatch_cycles_per_event": totals["dispatch_cycles"] / events if events else float("nan"),
        },
        "resumed": list(run.resumed),
        "peak_rss_bytes": memory["peak_rss_bytes"],
        "memory": {
            "what": "resident set of this process (bytes): peak_rss_bytes is getrusage ru_maxrss (whole process "
            "since start, includes resident pages of mapped files); per phase the RSS at its end and the peak so far",
            **memory,
        },
    }


def _notes(run: ReplayRun, measured_decision: float) -> list[str]:
    """The report's notes on the latency model and on how the measured figures were taken."""
    model, slow_model = run.prep.model, run.slow_model
    return [
        f"The fast desk acts {model.decision.label()} after receipt (+ feed {fmt_ns(model.feed_ns)}); the "
        f"slow baseline {slow_model.decision.label()}; orders reach the venue {fmt_ns(model.entry_ns)} after "
        f"they are stamped, quotes reach the desk {fmt_ns(model.md_ns)} after they change, execution "
        f"reports {fmt_ns(model.return_ns)} after the venue produced them. These are model inputs "
        "([latency] in the config, --decision-latency), the same on every machine.",
        f"Decision latency {MEASURED_LABEL}: {measured_decision:,.0f} ns (p50 ingest of this run + signal "
        "and risk p50 of the fast pass, in-kernel stamps).",
        "measured.latency_ns: per-event, in-kernel clock stamps of every "
        f"{run.opts.sample_every}-th event (signal/risk: every decision/order); 'total' = "
        "parse + validate + corroborate of the same event, an order adds signal + risk "
        "(latency_ns.total.decision_extra_p50).",
        "measured.batch_events_per_s: batch wall time per stage, a batch average (includes Python dispatch).",
    ] + _span_notes(run)


def _span_notes(run: ReplayRun) -> list[str]:
    """A note when the user's news spans more than ``--seconds``: the market ran on to the last decision."""
    news, opts = run.prep.news, run.opts
    span_s = (news.end_ns - news.start_ns) / 1e9
    if not opts.news_path or span_s <= opts.seconds:
        return []
    return [
        f"The news file's receive times span {span_s:,.1f} s, more than --seconds ({opts.seconds:,.1f} s): "
        f"the market ran on to the desk's last decision, {simulated_span_s(run):,.1f} simulated s "
        "(measured.simulated_span_s; × real time is taken on it). Idle gaps between news are simulated too."
    ]


def _headline(report: dict[str, Any], seed: int, seconds: float) -> list[dict[str, Any]]:
    """README rows (:func:`cns.bench.readme.headline_row`): the P&L of both desks (reproducible) and the
    replay's throughput (measured)."""
    from cns.bench.readme import headline_row

    t, m = report["trading"], report["measured"]
    fast, slow = t["fast"], t.get("slow")
    world = f"seed {seed}, {t['events']:,} events / {seconds:g} simulated s"
    rows = [
        headline_row(
            f"P&L total, CNS desk at decision latency {fast['latency']['decision']} (simulated), USD; {world}; "
            f"trading sha256 {report['trading_sha256'][:12]}",
            f"{fast['pnl']['total']:,.0f}",
            peer=f"slow desk ({slow['latency']['decision']}): {slow['pnl']['total']:,.0f}" if slow else "",
        )
    ]
    rows.append(
        headline_row(
            f"replay wall (ingest + CNS desk pass) and peak resident memory of the whole process, {world}",
            f"{m['wall_s']:.2f} s ({m['events_per_s']:,.0f} events/s); {m['peak_rss_bytes'] / 2**20:,.0f} MiB",
            goal="<= 1 GiB",
            met=m["peak_rss_bytes"] <= 2**30,
        )
    )
    return rows


def desk_section(r: DeskResult) -> dict[str, Any]:
    """What one desk pass traded (no host measurement in it): the report's ``trading.fast``/``trading.slow``."""
    return {
        "latency": r.latency,
        "fees": r.fees,
        "market": r.market,
        "decision_latency_drawn_ns": r.decision_latency_ns,
        "orders": r.orders,
        "fills": r.fills,
        "filled_orders": r.filled_orders,
        "fill_rate": r.fill_rate,
        "exit_orders": r.exit_orders,
        "exit_cancels": r.exit_cancels,
        "hold_ns": r.hold_ns,
        "pnl": {"realized": r.realized, "unrealized": r.unrealized, "total": r.pnl_total},
        "hit_rate": r.hit_rate,
        "risk_rejects": r.risk_rejects,
        "risk_limits": r.risk_limits,
        "reports_in_flight_at_end": r.reports_in_flight_at_end,
        "attribution": r.attribution,
        "venue": r.venue,
    }


def latency_table(
    lat: StageLatencies, desk: DeskResult
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Per-stage in-kernel latency (p50/p99/p999/max, samples; ns) of the sampled events and the samples."""
    samples: dict[str, np.ndarray] = {}
    for stage in INGEST_STAGES:
        a = getattr(lat, stage)
        samples[stage] = a[a >= 0]
    samples["signal"] = desk.signal_latency_ns[desk.signal_latency_ns >= 0]
    samples["risk"] = desk.risk_latency_ns[desk.risk_latency_ns >= 0]
    both = (lat.parse >= 0) & (lat.validate >= 0) & (lat.corroborate >= 0)
    samples["total"] = lat.parse[both] + lat.validate[both] + lat.corroborate[both]
    # events that led to an order also pay signal + risk: add their median to the ingest path of a decision
    decision_extra = 0
    if len(samples["signal"]) and len(samples["risk"]):
        decision_extra = int(np.median(samples["signal"]) + np.median(samples["risk"]))
    table = {}
    for stage, s in samples.items():
        rec = LatencyRecorder(stage)
        if len(s):
            rec.record_many(s)
        summ = rec.summary()
        table[stage] = {
            k: (float(summ[k]) if summ[k] is not None else float("nan"))
            for k in ("p50", "p99", "p999", "max")
        }
        table[stage]["samples"] = int(len(s))
    table["total"]["decision_extra_p50"] = float(decision_extra)
    return table, samples


def _median_or_zero(a: np.ndarray) -> float:
    a = a[a >= 0]
    return float(np.median(a)) if len(a) else 0.0


def measured_decision_ns(lat: StageLatencies, fast: DeskResult) -> float:
    """The in-kernel decision latency measured on this host (p50 ingest + signal + risk): reported, never used."""
    ingest = sum(_median_or_zero(a) for a in (lat.parse, lat.validate, lat.corroborate))
    return ingest + _median_or_zero(fast.signal_latency_ns) + _median_or_zero(fast.risk_latency_ns)


def quarantine_counts(input_rejects: Mapping[str, int], quarantine: Sequence[Reject]) -> dict[str, int]:
    """Quarantined input by reason: the JSONL conversion's rejects and the corrupt wire records of this run
    (the latter are written with the report, as ``<out>/rejects-wire.jsonl``, by :func:`write_report`)."""
    counts = dict(input_rejects)
    for r in quarantine:
        counts[r.code] = counts.get(r.code, 0) + 1
    return counts


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
            m = MD_RUN_ID.search(p.read_text(encoding="utf-8"))
            return m.group(1) if m else None
        if p.suffix == ".png":
            return png_text(p.read_bytes()).get(PNG_RUN_ID_KEY)
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
        stage = mkdir_unique(area, f"tmp-{os.getpid()}-")
        write_json(stage / "report.json", full)
        (stage / "report.md").write_text(render_markdown(full) + "\n", encoding="utf-8")
        _plot_pnl(stage / "pnl.png", pnl_series, run_id)
        _plot_latency(stage / "latency.png", latency_samples, run_id)
        if wire_rejects:
            write_rejects(wire_rejects, stage / "rejects-wire.jsonl")
        for f in stage.iterdir():
            fsync_path(f)
        fsync_path(stage)
        with locked(area / "lock"):
            run_dir, present, tmp_link = prepare_swap(out, area, stage)
            previous = link_target(area / "current")
            os.replace(tmp_link, area / "current")  # the commit point
            swapped = True
            tidy(out, area, present, keep={run_dir.name, previous or ""})
    except OSError as e:
        raise ReportWriteError(f"cannot write the report to {out}: {e}") from e
    finally:
        if not swapped and stage is not None:  # nothing published: drop this run's files, keep the old set
            for leftover in (stage, run_dir_for(stage)):
                shutil.rmtree(leftover, ignore_errors=True)
            if tmp_link is not None:
                tmp_link.unlink(missing_ok=True)
    names = {"json": "report.json", "md": "report.md", "pnl_png": "pnl.png", "latency_png": "latency.png"}
    if wire_rejects:
        names["rejects_wire"] = "rejects-wire.jsonl"
    return {key: out / name for key, name in names.items()}
