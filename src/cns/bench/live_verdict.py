"""``cns bench live``'s verdict against its goals, its README rows and its per-step console line."""

from __future__ import annotations

from typing import Any

from cns.bench.readme import headline_row

__all__ = ["GOALS", "print_step", "verdict"]

GOALS = {
    "p50_ns": 20_000,
    "p99_ns": 100_000,
    "lossless_rate": 1_000_000,
    "peer_p99_ratio": 10.0,
    "backlog_fraction": 0.01,
}


def verdict(
    cns: list[dict[str, Any]], peer: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(verdict, README rows)`` of the CNS steps against :data:`GOALS`, the peer's step at the first rate
    beside it (order latency p50/p99 in ns, the fastest rate sustained without loss)."""
    first = cns[0] if cns else {}
    o = first.get("order_ns", {})
    p = next((s for s in peer if s.get("rate") == first.get("rate") and "order_ns" in s), None)
    po = p["order_ns"] if p else {}
    p50, p99 = o.get("p50", float("nan")), o.get("p99", float("nan"))
    ratio = (po.get("p99", float("nan")) / p99) if p and p99 and p99 == p99 else float("nan")
    top = max(cns, key=lambda s: s["rate"]) if cns else {}
    lossless = (
        bool(top)
        and top["rate"] >= GOALS["lossless_rate"]
        and top["not_sent"] == 0
        and top["loss"] == 0
        and top["backlog_at_end"] <= GOALS["backlog_fraction"] * max(1, top["sent"])
    )
    v = {
        "rate": first.get("rate"),
        "p50_ns": p50,
        "p99_ns": p99,
        "p50_met": bool(p50 <= GOALS["p50_ns"]),
        "p99_met": bool(p99 <= GOALS["p99_ns"]),
        "peer_p99_ns": po.get("p99"),
        "peer_p99_over_cns_p99": ratio,
        "ratio_met": bool(ratio >= GOALS["peer_p99_ratio"]),
        "lossless_rate": top.get("rate"),
        "lossless_met": lossless,
    }
    rows = [
        headline_row(
            f"news frame read -> NewOrderSingle written at {first.get('rate', 0):,.0f} events/s, open loop, from the "
            "intended send time (p50 / p99)",
            f"{_fmt(p50)} / {_fmt(p99)}",
            peer=f"websockets + {p.get('fix', '?') if p else '?'}: {_fmt(po.get('p50', float('nan')))} / "
            f"{_fmt(po.get('p99', float('nan')))}"
            if p
            else "",
            ratio=f"peer p99 / CNS p99 = {ratio:.1f}x" if ratio == ratio else "",
            goal="p50 <= 20 µs, p99 <= 100 µs, >= 10x lower p99 than the peer",
            met=v["p50_met"] and v["p99_met"] and v["ratio_met"],
        )
    ]
    if top:
        pt = next((s for s in peer if s.get("rate") == top["rate"] and "processed" in s), None)
        rows.append(
            headline_row(
                f"events processed of {top['rate']:,.0f}/s offered for {top['seconds']:g} s over binary TCP",
                f"{top['achieved_events_per_s']:,.0f}/s; not sent {top['not_sent']:,}, lost {top['loss']:,}, backlog "
                f"at end {top['backlog_at_end']:,}",
                peer=f"{pt['achieved_events_per_s']:,.0f}/s; not sent {pt['not_sent']:,}, lost {pt['loss']:,}"
                if pt
                else "",
                goal=">= 1 M events/s sustained without loss",
                met=lossless,
            )
        )
    return v, rows


def _fmt(ns: float) -> str:
    return f"{ns / 1e3:.1f} µs" if ns == ns else "n/a"


def _us(d: dict[str, float], k: str) -> str:
    return f"{d[k] / 1e3:9.1f}" if d.get("count") else "      n/a"


def print_step(who: str, s: dict[str, Any]) -> None:
    """One console line of a measured step (rate, order/event latency in µs, counts)."""
    if "error" in s:
        print(f"{who:5s} {s['rate']:>10,.0f}/s  error: {s['error'][:200]}", flush=True)
        return
    o, e = s["order_ns"], s["event_ns"]
    print(
        f"{who:5s} {s['rate']:>10,.0f}/s  order p50/p99/p99.9 µs{_us(o, 'p50')}{_us(o, 'p99')}{_us(o, 'p999')}  "
        f"event p50/p99 µs{_us(e, 'p50')}{_us(e, 'p99')}  orders {s['orders']:,}  processed {s['processed']:,}/"
        f"{s['planned']:,} not_sent {s['not_sent']:,} loss {s['loss']:,} backlog {s['backlog_at_end']:,}",
        flush=True,
    )
