"""What ``cns bench signals`` reports: what each figure includes, its goals, the README headline rows and the
printed table (the measuring is :mod:`cns.bench.signals`).
"""

from __future__ import annotations

from typing import Any

from cns.bench.common import fmt_ns, fmt_rate, print_table
from cns.bench.readme import headline_row
from cns.bench.runs import fmt_spread

__all__ = ["INCLUDES", "goal", "headline", "print_report"]


INCLUDES = {
    "stream_validations_per_s": "records / wall of one pass over 2M records from DRAM (caches flushed first), "
    "BATCH-record process() calls with each batch's header columns (kernel + Python dispatch per batch); the "
    "kernel reads the 2-byte tag of every record, the 4-byte source of the non-elided and, of the live "
    "records only, the cache lines their "
    "handlers read; it writes verdict + code for every record into per-record arrays. Writing the header is "
    "the parse stage's (header_cost), not in this figure; median of --runs passes",
    "stream_cycles_per_signal": "kernel cycle counter per record on that pass: elision scan of every header + "
    "hoisted checks of the non-elided + handlers of the live",
    "stream_kernel_validations_per_s": "records / kernel time (cycle counter) on that pass: the rate without the "
    "Python call per batch",
    "stream_median_batch_cycles_per_signal": "median over the pass's batches of kernel cycles per record (a "
    "batch preempted by another process on a shared machine does not move it)",
    "zero_tick_ns_per_signal": "elision scan cycles / signals on the DRAM stream: all an elided record costs "
    "(tag read, zero-tick test, its outputs, the list of the others)",
    "elided_stream_ns_per_signal": "wall ns per record of a DRAM stream where every record is a heartbeat "
    "(header columns given), Python call per batch included",
    "stream_no_header_validations_per_s": "as stream, without the header columns: the kernel derives the header "
    "words from the records (reads their kind/flags/source/confidence lines)",
    "header_cost": "binary parse kernel with vs without writing the header columns (interleaved, best of 7 each), and the "
    "NumPy news_header() pass",
    "validations_per_s": "as stream, over 8 batches cycling in the last-level cache",
    "bind_s": "NewsValidator.bind: per-entry tables of every dictionary + the ingress table (median of 3)",
    "subset": "same fixed records for CNS and pySHACL, best of 3 after a warm-up each; pySHACL on their RDF "
    "view (conversion not timed); CNS validate-only (header columns given) and with one bind added",
    "single_event_ns_p99": "validate_one from Python per record, the call included",
    "load_cached_s": "a fresh process loading the cached artifact + binding + the first kernel run",
}


def goal(value: float | None, target: float, op: str) -> dict[str, Any]:
    """The goal record of one figure: its value, the target (``op`` and number) and whether it is met (None: not measured)."""
    met = None if value is None else {">=": value >= target, "<=": value <= target, "<": value < target}[op]
    return {"value": value, "target": f"{op} {target:g}", "met": met}


def _x(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}x"


def headline(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The README headline rows of one ``cns bench signals`` document (:func:`cns.bench.readme.headline_row`)."""
    g = doc["goals"]
    sp = doc["spread"]
    sub = doc["subset"]
    sizes = doc["dictionary_sizes"]
    n = sub["records"]
    ps = sub.get("pyshacl_per_s")
    agree = sub.get("verdicts_agree_on_non_elided")
    load = doc["load_average_1m"]
    return [
        headline_row(
            f"validations/s/core, stream from DRAM ({doc['stream_records']:,} records + their header "
            f"columns (2-byte tag + 4-byte source), {doc['batch_records']}-record batches, wall incl. Python dispatch; header written by the parse, not timed "
            f"here; median of {doc['runs']} passes; load avg {load['before']:.1f})",
            f"{fmt_spread(sp['stream_validations_per_s'], fmt_rate)}; kernel only "
            f"{fmt_spread(sp['stream_kernel_validations_per_s'], fmt_rate)}",
            goal=">= 100 M/s",
            met=g["stream_validations_per_s"]["met"],
        ),
        headline_row(
            "kernel cycles/record on that stream (elision scan of every header + hoisted checks + handlers of "
            f"the live; {doc['zero_tick_ratio']:.0%} elided at ingress) / elided record (elision scan per signal)",
            f"{fmt_spread(sp['stream_cycles_per_signal'], lambda x: f'{x:.1f}')} cycles / "
            f"{fmt_spread(sp['zero_tick_ns_per_signal'], lambda x: f'{x:.2f}')} ns",
            goal="elided <= 1 ns",
            met=g["zero_tick_ns_per_signal"]["met"],
        ),
        headline_row(
            f"same {n:,} records for both, records/s (best of 3 after a warm-up each; pySHACL on their RDF "
            "view, conversion not timed)",
            f"{fmt_rate(sub['cns_per_s'])} validate only; {fmt_rate(sub['cns_with_bind_per_s'])} "
            "incl. one dictionary bind",
            peer=f"pySHACL {fmt_rate(ps)}"
            + ("" if agree is None else f"; verdicts {'agree' if agree else 'DIFFER'} (non-elided)"),
            ratio=f"{_x(sub.get('speedup_validate_only'))} validate only; "
            f"{_x(sub.get('speedup_with_bind'))} incl. bind",
            goal=">= 10,000x",
            met=g["speedup_vs_pyshacl"]["met"],
        ),
        headline_row(
            f"dictionary binding: per-entry tables for {sizes.get('source', 0)} sources, "
            f"{sizes.get('ticker', 0)} tickers, {sizes.get('data_source', 0)} data sources + ingress table",
            fmt_spread(sp["bind_s"], lambda x: fmt_ns(x * 1e9)),
        ),
        headline_row(
            "one record from Python (validate_one, call included) p50 / p99",
            f"{fmt_ns(doc['single_event_ns_p50'])} / {fmt_ns(doc['single_event_ns_p99'])}",
            goal="p99 < 1 µs",
            met=g["single_event_ns_p99"]["met"],
        ),
        headline_row(
            "rules compile cold (codegen + JIT) / load cached in a fresh process (bind + first run)",
            f"{doc['compile_cold_s']:.2f} s / {doc['load_cached_s']:.2f} s",
            goal="load <= 1 s",
            met=doc["load_cached_s"] <= 1.0,
        ),
    ]


def print_report(doc: dict[str, Any]) -> None:
    """Print the document's table to stdout."""
    g = doc["goals"]
    sp = doc["spread"]
    sub = doc["subset"]
    hc = doc["header_cost"]
    mark = {True: "met", False: "MISSED", None: "n/a"}

    def row(figure: str, value: str, goal: str = "", key: str | None = None) -> dict[str, str]:
        return {"figure": figure, "value": value, "goal": goal, "status": mark[g[key]["met"]] if key else ""}

    def cyc(x: float) -> str:
        return f"{x:.1f}"

    rows = [
        row(
            "validations/s/core, stream from DRAM + header columns (headline)",
            fmt_spread(sp["stream_validations_per_s"], fmt_rate),
            ">= 100 M/s",
            "stream_validations_per_s",
        ),
        row("  same stream, kernel time only", fmt_spread(sp["stream_kernel_validations_per_s"], fmt_rate)),
        row("  cycles / record (kernel)", fmt_spread(sp["stream_cycles_per_signal"], cyc)),
        row("  cycles / record, median batch", fmt_spread(sp["stream_median_batch_cycles_per_signal"], cyc)),
        row(
            "  elision / ingress / dispatch cycles per record",
            f"{doc['stream_elision_cycles_per_signal']:.1f} / {doc['stream_ingress_cycles_per_signal']:.1f} / "
            f"{doc['stream_dispatch_cycles_per_signal']:.1f}",
        ),
        row(
            "elided record (zero-tick): elision scan per signal, DRAM stream",
            fmt_spread(sp["zero_tick_ns_per_signal"], lambda x: f"{x:.2f} ns"),
            "<= 1 ns",
            "zero_tick_ns_per_signal",
        ),
        row(
            "all-heartbeat stream from DRAM, wall per signal",
            fmt_spread(sp["elided_stream_ns_per_signal"], lambda x: f"{x:.2f} ns"),
        ),
        row(
            "stream from DRAM without the header columns (kernel derives them)",
            f"{fmt_spread(sp['stream_no_header_validations_per_s'], fmt_rate)}, "
            f"{fmt_spread(sp['stream_no_header_cycles_per_signal'], cyc)} cycles",
        ),
        row(
            "header columns in the binary parse: + ns/record (parse alone)",
            f"+{hc['header_in_parse_ns_per_record']:.2f} ns ({hc['parse_ns_per_record']:.1f} ns)",
        ),
        row(
            "validations/s/core (8 batches, in L3)",
            fmt_spread(sp["validations_per_s"], fmt_rate),
            ">= 100 M/s",
            "validations_per_s",
        ),
        row("validations/s/core (one batch in L2)", fmt_spread(sp["l2_validations_per_s"], fmt_rate)),
        row(
            "processed record (L3 pool)",
            f"{doc['processed_ns_per_signal']:.2f} ns ({doc['processed_cycles_per_signal']:.1f} cyc)",
        ),
        row("zero-tick ratio of the stream", f"{doc['zero_tick_ratio']:.3f}"),
        row("dictionary bind (all per-entry tables)", fmt_spread(sp["bind_s"], lambda x: fmt_ns(x * 1e9))),
        row(
            "single event p50 / p99",
            f"{fmt_ns(doc['single_event_ns_p50'])} / {fmt_ns(doc['single_event_ns_p99'])}",
            "p99 < 1 µs",
            "single_event_ns_p99",
        ),
        {
            "figure": "compile cold / load cached",
            "value": f"{doc['compile_cold_s']:.2f} s / {doc['load_cached_s']:.2f} s",
            "goal": "load <= 1 s",
            "status": mark[doc["load_cached_s"] <= 1.0],
        },
        row(
            f"same {sub['records']:,} records: CNS validate only / incl. bind",
            f"{fmt_rate(sub['cns_per_s'])} / {fmt_rate(sub['cns_with_bind_per_s'])}",
        ),
        row(
            f"same {sub['records']:,} records: pySHACL (best of 3, warm)", fmt_rate(sub.get("pyshacl_per_s"))
        ),
        row(
            "speedup vs pySHACL, validate only / incl. bind",
            f"{_x(sub.get('speedup_validate_only'))} / {_x(sub.get('speedup_with_bind'))}",
            ">= 10,000x",
            "speedup_vs_pyshacl",
        ),
        row(
            "verdicts agree with pySHACL (non-elided records)",
            {True: "yes", False: "NO", None: "n/a"}[sub.get("verdicts_agree_on_non_elided")],
        ),
    ]
    load = doc["load_average_1m"]
    print_table(
        f"cns bench signals ({'quick' if doc['quick'] else 'full'}, {doc['runs']} run(s)) on {doc['cpu']}, "
        f"load average {load['before']:.1f} -> {load['after']:.1f}",
        rows,
    )
