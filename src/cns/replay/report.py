"""The replay report: ``report.json``, ``report.md`` and PNG plots written to the output directory.

The report dict is built by the replay driver from measured values only. Latency figures are labelled by how
they were measured: ``latency_ns`` holds per-event figures from sampled in-kernel clock stamps; batch throughput
(``batch_events_per_s``) is a batch average and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cns.telemetry.facts import write_json

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
        f"CPU: {r.get('cpu', 'unknown')} · seed {r.get('seed')} · {r.get('simulated_s', 0):,.0f} simulated s",
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


def _plot_pnl(path: Path, series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_latency(path: Path, samples: Mapping[str, np.ndarray]) -> None:
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    report: Mapping[str, Any],
    out_dir: str | Path,
    pnl_series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    latency_samples: Mapping[str, np.ndarray],
) -> dict[str, Path]:
    """Write ``report.json``, ``report.md``, ``pnl.png`` and ``latency.png`` to ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "report.json",
        "md": out / "report.md",
        "pnl_png": out / "pnl.png",
        "latency_png": out / "latency.png",
    }
    write_json(paths["json"], report)
    paths["md"].write_text(render_markdown(report) + "\n")
    _plot_pnl(paths["pnl_png"], pnl_series)
    _plot_latency(paths["latency_png"], latency_samples)
    return paths
