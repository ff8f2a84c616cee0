"""The files of ``cns study`` (:mod:`cns.replay.study`): ``study.json``, ``study.md`` and ``latency-value.png``.

Each file is written to a temporary name in the output directory and renamed over the old one, so a reader
never sees half a file; the three carry the same ``run_id``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cns.replay.latency import fmt_ns
from cns.replay.report import ReportWriteError, new_run_id
from cns.telemetry.facts import write_json

STRATEGY_LABELS = {
    "first_credible": "act on the first credible report",
    "corroborate": "wait for corroboration",
}


def _usd(x: Any) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _ci(s: Mapping[str, Any], fmt: Any = _usd) -> str:
    """``mean [low, high]`` of a :func:`cns.replay.study.mean_ci` block."""
    if s.get("mean") is None:
        return "n/a"
    if s.get("ci_low") is None:
        return f"{fmt(s['mean'])} (n={s['n']})"
    return f"{fmt(s['mean'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"


def _frac(x: Any) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _count(x: Any) -> str:
    return "n/a" if x is None else f"{x:,.1f}"


def headline_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """README rows (see :func:`cns.bench.readme.headline_row`): fast minus slow P&L, and P&L at the fastest and
    slowest latency of the sweep per strategy, each a mean with its 95 % CI over the seeds."""
    from cns.bench.readme import headline_row

    w = doc["world"]
    where = f"{len(w['seeds'])} seeds, {w['events']:,} events / {w['simulated_s']:g} s each"
    d = doc["desks"]
    rows = [
        headline_row(
            f"P&L, CNS desk ({d['fast']['latency']['decision']}) minus slow desk ({d['slow']['latency']['decision']}), "
            f"USD, mean [95 % CI] over {where}",
            _ci(d["fast_minus_slow"]["pnl"]),
            peer=f"slow desk P&L {_ci(d['slow']['pnl'])}",
        )
    ]
    lv = doc["latency_value"]
    lats = lv["latencies_ns"]
    for strategy, points in lv["strategies"].items():
        best = max(range(len(points)), key=lambda k: points[k]["pnl"]["mean"] or -math.inf)
        rows.append(
            headline_row(
                f"P&L vs decision latency, {STRATEGY_LABELS.get(strategy, strategy)}: USD at {fmt_ns(lats[0])} / best "
                f"({fmt_ns(lats[best])}) / {fmt_ns(lats[-1])}, mean [95 % CI] over {where}",
                f"{_ci(points[0]['pnl'])} / {_ci(points[best]['pnl'])} / {_ci(points[-1]['pnl'])}",
            )
        )
    return rows


def render_study_markdown(doc: Mapping[str, Any]) -> str:
    """The study as Markdown: fast vs slow (mean [95 % CI]) and the P&L-vs-latency table."""
    w, d = doc["world"], doc["desks"]
    seeds = w["seeds"]
    lines = [
        "# CNS study: P&L over seeded worlds, and what decision latency is worth",
        "",
        f"{len(seeds)} worlds (seeds {seeds[0]}..{seeds[-1]}), {w['events']:,} news events over "
        f"{w['simulated_s']:g} simulated s each · CPU {(doc.get('machine') or {}).get('cpu', '?')}"
        + (f" · run `{doc['run_id']}`" if doc.get("run_id") else ""),
        "",
        f"Every figure: mean [{doc['confidence']:.0%} CI] over the seeds ({doc['ci_method']}). Latencies are model "
        "inputs, the same on every machine; every other hop: "
        + ", ".join(
            f"{k.removesuffix('_ns')} {fmt_ns(v)}"
            for k, v in doc["latency_model"].items()
            if k in ("feed_ns", "entry_ns", "md_ns", "return_ns")
        )
        + ".",
        "",
        f"## Fast vs slow desk (strategy {d['strategy']})",
        "",
        f"| figure | CNS (`{d['fast']['latency']['decision']}`) | slow (`{d['slow']['latency']['decision']}`) | "
        "fast − slow (paired) |",
        "|---|---:|---:|---:|",
    ]
    fmts = {"pnl": _usd, "fills": _count, "orders": _count, "hit_rate": _frac, "fill_rate": _frac}
    labels = {
        "pnl": "P&L total (USD)",
        "fills": "fills",
        "orders": "orders",
        "hit_rate": "hit rate",
        "fill_rate": "fill rate",
        "fees_net": "fees paid − rebates (USD)",
        "mm_pnl": "market maker's P&L (USD)",
    }
    for m in (
        "pnl",
        "fills",
        "orders",
        "hit_rate",
        "fill_rate",
        "fees_net",
        "mm_pnl",
        "entry_edge",
        "exit_edge",
        "hold_informed",
        "hold_luck",
        "hold_random_walk",
        "fees",
        "residual",
    ):
        if m not in d["fast"]:  # a study written before the metric existed
            continue
        f = fmts.get(m, _usd)
        label = labels.get(m, f"attribution: {m} (USD)")
        lines.append(
            f"| {label} | {_ci(d['fast'][m], f)} | {_ci(d['slow'][m], f)} | "
            f"{_ci(d['fast_minus_slow'][m], f)} |"
        )
    lv = doc["latency_value"]
    strategies = list(lv["strategies"])
    lines += [
        "",
        "## P&L vs decision latency (constant decision latency; USD, mean [95 % CI])",
        "",
        "| decision latency | "
        + " | ".join(f"{STRATEGY_LABELS.get(s, s)} (`{s}`)" for s in strategies)
        + " |",
        "|---:|" + "---:|" * len(strategies),
    ]
    for k, lat in enumerate(lv["latencies_ns"]):
        lines.append(
            f"| {fmt_ns(lat)} | " + " | ".join(_ci(lv["strategies"][s][k]["pnl"]) for s in strategies) + " |"
        )
    md_ns = doc["latency_model"].get("md_ns", 0)
    if any(lat < md_ns for lat in lv["latencies_ns"]):
        lines += [
            "",
            f"A decision latency below the market-data latency ({fmt_ns(md_ns)}) prices on quotes from "
            "before the news arrived (the desk sees the book md_ns late), while its order reaches the book "
            "after the fastest competitors'.",
        ]
    lines += [
        "",
        "Fills per world at each latency (mean):",
        "",
        "| decision latency | " + " | ".join(f"`{s}`" for s in strategies) + " |",
        "|---:|" + "---:|" * len(strategies),
    ]
    for k, lat in enumerate(lv["latencies_ns"]):
        lines.append(
            f"| {fmt_ns(lat)} | "
            + " | ".join(_count(lv["strategies"][s][k]["fills"]["mean"]) for s in strategies)
            + " |"
        )
    wall = (doc.get("measured") or {}).get("wall_s")
    lines += [
        "",
        f"Wall time {wall:,.0f} s (measured on this host, not used by the simulation)." if wall else "",
        "Per-seed values: `study.json` (`per_seed`).",
        "",
    ]
    return "\n".join(lines)


def plot_latency_value(doc: Mapping[str, Any], path: Path, run_id: str) -> None:
    """P&L vs decision latency, one line + CI band per strategy, log x axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cns.replay.report import PNG_RUN_ID_KEY

    lv = doc["latency_value"]
    x = [max(v, 1) for v in lv["latencies_ns"]]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for strategy, points in lv["strategies"].items():
        mean = [p["pnl"]["mean"] for p in points]
        lo = [p["pnl"]["ci_low"] if p["pnl"]["ci_low"] is not None else p["pnl"]["mean"] for p in points]
        hi = [p["pnl"]["ci_high"] if p["pnl"]["ci_high"] is not None else p["pnl"]["mean"] for p in points]
        line = ax.plot(x, mean, marker="o", lw=1.5, label=STRATEGY_LABELS.get(strategy, strategy))[0]
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xticks(x, [fmt_ns(v) for v in lv["latencies_ns"]])
    ax.set_xlabel("decision latency (news at CNS → order stamped), simulated")
    ax.set_ylabel("P&L per world, USD")
    w = doc["world"]
    ax.set_title(
        f"P&L vs decision latency: mean and {doc['confidence']:.0%} CI over {len(w['seeds'])} seeds "
        f"({w['events']:,} events / {w['simulated_s']:g} s)",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={PNG_RUN_ID_KEY: run_id})
    plt.close(fig)


def write_study(doc: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``study.json``, ``study.md`` and ``latency-value.png`` into ``out_dir`` (each atomically, with a
    common ``run_id`` added to ``doc``); return ``{"json", "md", "png"}`` → paths. A refusal of the file
    system is a :class:`~cns.replay.report.ReportWriteError` naming ``out_dir``."""
    out = Path(out_dir)
    doc.setdefault("run_id", new_run_id())
    paths = {"json": out / "study.json", "md": out / "study.md", "png": out / "latency-value.png"}
    tmp = {k: p.with_name(f".{p.stem}.tmp-{os.getpid()}{p.suffix}") for k, p in paths.items()}
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_json(tmp["json"], doc)
        tmp["md"].write_text(render_study_markdown(doc) + "\n", encoding="utf-8")
        plot_latency_value(doc, tmp["png"], doc["run_id"])
        for k in ("png", "md", "json"):
            os.replace(tmp[k], paths[k])
    except OSError as e:
        raise ReportWriteError(f"cannot write the study to {out}: {e}") from e
    finally:
        for p in tmp.values():
            p.unlink(missing_ok=True)
    return paths


__all__ = ["headline_rows", "plot_latency_value", "render_study_markdown", "write_study"]
