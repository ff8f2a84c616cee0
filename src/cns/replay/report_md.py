"""``report.md``: the human-readable replay report (also printed by ``cns run``), rendered from the report dict
built by :func:`cns.replay.report.build_outcome`; reads only, never changes a figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LATENCY_STAGES: tuple[str, ...] = ("parse", "validate", "corroborate", "signal", "risk", "total")
MEASURED_LABEL = "measured on this host, not used by the simulation"


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


def _latency_model_table(
    fast: Mapping[str, Any], slow: Mapping[str, Any] | None, measured_p50: Any
) -> list[str]:
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
        + (f"{_ns_label(sd.get('p50'))} / {_ns_label(sd.get('p99'))}" if slow else "")
        + " |",
        f"| feed (receive stamp → ingest) | {pair('feed_ns')} |",
        f"| order entry (stamp → venue) | {pair('entry_ns')} |",
        f"| market data (quote → desk) | {pair('md_ns')} |",
        f"| execution report (venue → desk) | {pair('return_ns')} |",
        "",
        f"Decision latency {MEASURED_LABEL}: {_ns_label(measured_p50)} (p50 of the in-kernel stamps: ingest + signal "
        "+ risk). It is reported, never fed into the simulation.",
        "",
    ]
    return lines


def _risk_limits_table(fast: Mapping[str, Any], slow: Mapping[str, Any] | None) -> list[str]:
    lines = [
        "## Risk limits that bound (first / last time a candidate was dropped, s since the open)",
        "",
        "| desk | check | entries dropped | exits dropped | first (s) | last (s) | note |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    n = 0
    for name, desk in (("CNS", fast), ("slow", slow)):
        for check, v in ((desk or {}).get("risk_limits") or {}).items():
            note = ""
            if "day_pnl_at_first_usd" in v:
                note = f"day P&L {_fmt(v['day_pnl_at_first_usd'])} USD when it first bound"
            lines.append(
                f"| {name} | {check} | {_fmt(v['entries_dropped'])} | {_fmt(v['exits_dropped'])} | "
                f"{v['first_ns'] / 1e9:,.3f} | {v['last_ns'] / 1e9:,.3f} | {note} |"
            )
            n += 1
    if not n:
        lines.append("| | (no limit bound) | 0 | 0 | | | |")
    return lines + [""]


def _credibility_lines(cred: Mapping[str, Any] | None) -> list[str]:
    """Which credibility tables were used (the desk's and the simulated street's)."""
    if not cred:
        return []
    lines = ["## Source credibility tables used", ""]
    for who, label in (
        ("desk", "CNS desk (corroboration, validation)"),
        ("street", "simulated market (market maker, competitors; each adds its own noise)"),
    ):
        c = cred.get(who) or {}
        lines.append(
            f"- {label}: {c.get('provenance', '?')} (scores sha256 `{str(c.get('scores_sha256', '?'))[:12]}`)"
        )
    return lines + [""]


def _idle_line(venue: Mapping[str, Any]) -> list[str]:
    """What the market skipped: the simulated time it idled between news (nothing when it never did)."""
    if not venue.get("wakes") and not venue.get("idle_s"):
        return []
    return [
        f"The market idled {_fmt(venue.get('idle_s'))} s between news (no background flow simulated; woken "
        f"{_fmt(venue.get('wakes'))} times, a minute before the next known activity): docs/backtest.md.",
        "",
    ]


def _market_table(fast: Mapping[str, Any], slow: Mapping[str, Any] | None) -> list[str]:
    """The simulated market of each pass: every owner's P&L and fees, the spreads the desk saw."""
    mk = fast.get("market") or {}
    if not mk.get("pnl"):
        return []
    smk = (slow or {}).get("market") or {}
    sp = mk.get("spread_bp") or {}
    lines = [
        "## The simulated market (CNS pass" + (" / slow pass" if smk else "") + ")",
        "",
        f"Quoted spread the desk saw at its P&L snapshots: p10 / p50 / p90 {_fmt(sp.get('p10'))} / "
        f"{_fmt(sp.get('p50'))} / {_fmt(sp.get('p90'))} bp ({_fmt(sp.get('n'))} instrument-snapshots); "
        f"median |mid / hidden value − 1| at the end {_fmt(mk.get('mid_vs_hidden_value_bp_p50_at_end'))} bp; "
        f"public reports {_fmt(mk.get('public_reports'))}.",
        "",
        *_idle_line(fast.get("venue") or {}),
        "| owner | P&L (USD, marked) | fees paid (USD) | rebates (USD) |"
        + (" P&L, slow pass |" if smk else ""),
        "|---|---:|---:|---:|" + ("---:|" if smk else ""),
    ]
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
    lines = _traded_lines(r, t, m)
    lines += _credibility_lines(inp.get("credibility"))
    lines += _market_table(fast, slow)
    lines += _latency_model_table(fast, slow, m.get("decision_latency_ns_p50"))
    lines += _risk_limits_table(fast, slow)
    lines += _counts_table("Quarantined input by reason", t.get("quarantined", {}))
    lines += _counts_table("Validation rejects by constraint", t.get("rejected", {}))
    lines += _counts_table("Pre-trade risk rejects by check (CNS desk)", fast["risk_rejects"])
    lines += _counts_table("Corroboration decisions by action", t.get("decisions", {}))
    if slow:
        lines += _fast_vs_slow_lines(fast, slow, t.get("fast_vs_slow") or {})
    lines += _attribution_lines(fast.get("attribution") or {}, (slow or {}).get("attribution") or {})
    if m:
        lines += _measured_lines(m)
    notes = r.get("notes")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def _traded_lines(r: Mapping[str, Any], t: Mapping[str, Any], m: Mapping[str, Any]) -> list[str]:
    """The title, the run line and the table of what the CNS desk traded."""
    inp = t.get("inputs") or {}
    fast = t["fast"]
    pnl = fast["pnl"]
    cpu = (r.get("machine") or {}).get("cpu") or m.get("cpu", "unknown")
    return [
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


def _fast_vs_slow_lines(
    fast: Mapping[str, Any], slow: Mapping[str, Any], cmp_: Mapping[str, Any]
) -> list[str]:
    """The CNS desk next to the slow (LLM-desk) baseline on the same market."""
    pnl = fast["pnl"]
    return [
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


def _attribution_lines(att: Mapping[str, Any], slow_att: Mapping[str, Any]) -> list[str]:
    """Where the P&L came from (both desks; nothing when the run has no attribution)."""
    if not att:
        return []
    lines = [
        "## Where the P&L came from (against the simulator's hidden fundamental, USD)",
        "",
        "`hold_informed`: impacts of stories already reported when the entry filled (what speed and judging",
        "sources earn); `hold_luck`: impacts of stories not yet reported; `entry/exit_edge`: price paid vs value.",
        "",
        "| part | CNS | slow baseline |",
        "|---|---:|---:|",
    ]
    for k in (
        "entry_edge",
        "exit_edge",
        "hold_informed",
        "hold_luck",
        "hold_random_walk",
        "fees",
        "residual",
        "total",
    ):
        lines.append(f"| {k} | {_fmt(att.get(k))} | {_fmt(slow_att.get(k))} |")
    return lines + [
        f"| entry edge, mean bp | {_fmt(att.get('entry_edge_bp_mean'))} | "
        f"{_fmt(slow_att.get('entry_edge_bp_mean'))} |",
        "",
    ]


def _mib(b: Any) -> str:
    return _fmt(b / 2**20) if isinstance(b, (int, float)) else "n/a"


def _measured_lines(m: Mapping[str, Any]) -> list[str]:
    lines = [
        f"## Measured on this host ({MEASURED_LABEL})",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| data generation / load (s) | {_fmt(m.get('data_s'))} |",
        f"| cold start: JIT compile / cache load (s) | {_fmt(m.get('warmup_s'))} |",
        f"| replay wall time (s) | {_fmt(m.get('wall_s'))} |",
        f"| events/s (replay wall) | {_fmt(m.get('events_per_s'))} |",
        f"| simulated span (s) | {_fmt(m.get('simulated_span_s'))} |",
        f"| × real time (simulated span / replay wall) | {_fmt(m.get('realtime_factor'))} |",
        f"| peak resident memory (MiB, whole process) | {_mib(m.get('peak_rss_bytes'))} |",
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
            lines.append(
                f"| {stage} | {_fmt(s.get('samples', 0))} | {_fmt(s['p50'])} | {_fmt(s['p99'])} | "
                f"{_fmt(s['p999'])} | {_fmt(s['max'])} |"
            )
    lines += [
        "",
        "### Batch throughput (batch averages, not per-event latency)",
        "",
        "| stage | events/s |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in (m.get("batch_events_per_s") or {}).items()]
    return lines + [""]
