"""``cns bench shacl [--records N] [--quick] [--runs R] [--format ttl|nt] [--json PATH]``: CNS's SHACL
validation of RDF graphs (``cns validate``'s path) against the SHACL validators on PyPI, in one invocation.

The data is the news graph: ``N`` synthetic news records (:func:`cns.signals.synth.synth_news`, default
20,000; 1,000 with ``--quick``) in their RDF view (:func:`cns.signals.rdf.records_to_graph`: about 11 triples
per record, with the source nodes), written once as Turtle (subjects grouped, prefixes) and N-Triples; the
shapes are the shipped ``news.ttl``. Every engine reads the same file (``--format``, Turtle by default) and
compiles the shapes once, outside the timings.

Engines and figures (records per second; median of ``--runs`` runs, default 3, with the min–max range, after
one untimed warm-up run each; the engines take turns run by run, so a change in the machine's load hits all
of them alike):

* ``cns`` — ``with_parse``: :func:`cns.rules.validate.bind_data` (parse + dictionary-encode + bind) then
  :func:`cns.rules.validate.validate_ir` (report objects included); ``validate_only``: ``validate_ir`` over the
  bound graph.
* ``shacl`` (Rust, PyPI ``shacl``) — ``with_parse``: ``Shapes.validate_file``. Its API has no step without
  parsing, so ``validate_only`` is *derived*: that time minus ``validate_file`` of the same data against a
  shapes graph with one shape that targets nothing (parse + load + an empty run), per run.
* ``pyrudof`` — ``with_parse``: ``Rudof.read_data`` + ``validate_shacl``; ``validate_only``: ``validate_shacl``.
* ``pyshacl`` — ``with_parse``: rdflib parse + ``pyshacl.validate`` (``inference="none"``); ``validate_only``:
  ``pyshacl.validate`` on the parsed graph. It runs on the first ``PYSHACL_RECORDS`` records (a file of its
  own) when the graph is larger, stated in the JSON; its count is compared with CNS on that subset.

A peer that is not installed is skipped with a message (``pip install 'cns[peers]'``). The violation counts
(number of ``sh:ValidationResult`` rows) must agree: CNS against each peer on the same file. ``headline``
compares CNS with the fastest peer (goal: at least as fast, with and without parsing).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cns.bench.common import fmt_rate, machine, print_table, write_json
from cns.bench.readme import headline_row
from cns.bench.runs import fmt_spread, spread
from cns.resources import shipped_rules
from cns.telemetry.stats import summarize

__all__ = ["make_news_graph", "run", "main", "PYSHACL_RECORDS", "NO_TARGET_SHAPES"]

PYSHACL_RECORDS = 2000
"""pySHACL validates at most this many records (it is ~100x slower); the subset is stated in the JSON."""

NO_TARGET_SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
<urn:cns:bench:NoTarget> a sh:NodeShape ; sh:targetNode <urn:cns:bench:absent> ; sh:closed false .
"""
"""Shapes that select no node of the news graph: ``shacl``'s parse-and-load time, subtracted for its
validate-only figure."""

_PREFIXES = {
    "cns": "https://w3id.org/cns/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "n": "urn:cns:news:",
    "s": "urn:cns:source:",
}


def make_news_graph(records: int, out_dir: Path, seed: int = 11) -> dict[str, Any]:
    """Write the news graph of ``records`` records to ``out_dir`` as ``news.ttl`` and ``news.nt``; returns
    ``{"ttl", "nt", "triples"}``. N-Triples lines are sorted (subjects grouped, as a Turtle writer groups)."""
    ox: Any
    try:
        import pyoxigraph as ox
    except ImportError:
        ox = None

    from cns.signals.rdf import records_to_graph
    from cns.signals.schema import news_schema
    from cns.signals.synth import extended_news_inputs, synth_news

    dicts, tables, odd = extended_news_inputs()
    recs = synth_news(records, dicts, seed=seed, unregistered_source=odd["unregistered"])
    g = records_to_graph(recs, news_schema(), dicts, tables)
    lines = sorted(g.serialize(format="nt", encoding="utf-8").splitlines())
    nt = b"\n".join(x for x in lines if x.strip()) + b"\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    nt_path, ttl_path = out_dir / "news.nt", out_dir / "news.ttl"
    nt_path.write_bytes(nt)
    if ox is None:  # rdflib's writer: slower, the same graph
        for p, ns in _PREFIXES.items():
            g.bind(p, ns)
        ttl_path.write_bytes(bytes(g.serialize(format="turtle", encoding="utf-8")))
    else:
        ttl_path.write_bytes(
            ox.serialize(ox.parse(nt, ox.RdfFormat.N_TRIPLES), format=ox.RdfFormat.TURTLE, prefixes=_PREFIXES)
        )
    return {"ttl": ttl_path, "nt": nt_path, "triples": len(g)}


@dataclass
class _Engine:
    """One engine's timed calls (``with_parse``, ``validate_only`` or ``baseline``), run interleaved with the
    other engines' (:func:`_measure`); ``count`` turns a ``with_parse`` result into the violation count."""

    records: int
    calls: dict[str, Callable[[], Any]]
    count: Callable[[Any], int]
    warm: bool = True
    info: dict[str, Any] = field(default_factory=dict)


def _figure(times: list[float], records: int) -> dict[str, Any]:
    """records/s spread over the runs, plus the wall-time percentiles (:func:`summarize`, seconds)."""
    return {
        "records_per_s": spread([records / t for t in times if t > 0]),
        "wall_s": summarize(times),
        "runs_s": times,
    }


def _cns(shapes: Path, data: Path, records: int) -> _Engine:
    from cns.rules.optimise import optimise
    from cns.rules.shapes import load_shapes
    from cns.rules.validate import bind_data, validate_ir

    sir = optimise(load_shapes(shapes))
    bound = bind_data(sir, data)
    return _Engine(
        records,
        {
            "with_parse": lambda: validate_ir(sir, bind_data(sir, data)),
            "validate_only": lambda: validate_ir(sir, bound),
            "parse_bind": lambda: bind_data(sir, data),
        },
        lambda r: len(r.results),
        info={"triples": bound.n_triples, "terms": bound.n_terms},
    )


def _shacl(shapes: Path, data: Path, records: int, tmp: Path) -> _Engine:
    import shacl

    sh = shacl.Shapes.from_file(str(shapes))
    none_path = tmp / "no-target.ttl"
    none_path.write_text(NO_TARGET_SHAPES)
    empty = shacl.Shapes.from_file(str(none_path))
    return _Engine(
        records,
        {
            "with_parse": lambda: sh.validate_file(str(data)),
            "baseline": lambda: empty.validate_file(str(data)),
        },
        lambda r: len(r.results),
        info={
            "validate_only_method": "validate_file(news shapes) - validate_file(shapes targeting "
            "nothing), per run",
            "version": getattr(shacl, "__version__", "?"),
        },
    )


def _pyrudof(shapes: Path, data: Path, records: int, fmt: str) -> _Engine:
    import pyrudof

    r = pyrudof.Rudof(pyrudof.RudofConfig())
    r.read_shacl(str(shapes), pyrudof.ShaclFormat.Turtle)
    rdf_fmt = pyrudof.RDFFormat.NTriples if fmt == "nt" else pyrudof.RDFFormat.Turtle

    def both() -> Any:
        r.reset_data()
        r.read_data(str(data), rdf_fmt)
        return r.validate_shacl()

    return _Engine(
        records,
        {"with_parse": both, "validate_only": r.validate_shacl},
        len,
        info={"version": _version("pyrudof")},
    )


def _pyshacl(shapes: Path, data: Path, fmt: str, records: int) -> _Engine:
    import pyshacl
    from rdflib import Graph
    from rdflib.namespace import SH

    shapes_g = Graph().parse(shapes, format="turtle")
    rdflib_fmt = "nt" if fmt == "nt" else "turtle"

    def validate(g: Graph) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, rg, _ = pyshacl.validate(g, shacl_graph=shapes_g, inference="none", advanced=False)
        return len(list(rg.objects(None, SH.result)))

    g = Graph().parse(data, format=rdflib_fmt)
    return _Engine(
        records,
        {
            "with_parse": lambda: validate(Graph().parse(data, format=rdflib_fmt)),
            "validate_only": lambda: validate(g),
        },
        int,
        warm=False,
        info={"version": _version("pyshacl"), "timing": "no warm-up run (pure Python)"},
    )


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def _peer(name: str, fn: Callable[[], _Engine], skipped: dict[str, str]) -> _Engine | None:
    try:
        return fn()
    except ImportError as e:
        skipped[name] = f"{name} not installed ({e}); pip install 'cns[peers]'"
        print(f"cns bench shacl: skipping {name}: not installed (pip install 'cns[peers]')")
        return None


def _measure(engines: dict[str, _Engine], runs: int) -> dict[str, Any]:
    """Warm up, then ``runs`` rounds; each round times every call of every engine once, engines interleaved,
    so a change in the machine's load hits all of them alike. Returns the per-engine JSON entries."""
    last: dict[str, Any] = {}
    for name, e in engines.items():
        if e.warm:
            for key, fn in e.calls.items():
                out = fn()
                if key == "with_parse":
                    last[name] = out
    times: dict[str, dict[str, list[float]]] = {n: {k: [] for k in e.calls} for n, e in engines.items()}
    # every engine's prepared state (parsed graphs, compiled shapes) is alive during every other's turn: freeze
    # it so the cyclic GC does not traverse one engine's objects on another's clock
    gc.collect()
    gc.freeze()
    try:
        for _ in range(runs):
            for name, e in engines.items():
                for key, fn in e.calls.items():
                    gc.collect()
                    t0 = time.perf_counter_ns()
                    out = fn()
                    times[name][key].append((time.perf_counter_ns() - t0) / 1e9)
                    if key == "with_parse":
                        last[name] = out
                    out = None
    finally:
        gc.unfreeze()
    docs: dict[str, Any] = {}
    for name, e in engines.items():
        t = times[name]
        if "baseline" in t:  # shacl: no step without parsing; a difference within the noise is no measurement
            t["validate_only"] = [f - b for f, b in zip(t["with_parse"], t["baseline"], strict=True) if f > b]
        d: dict[str, Any] = {
            "records": e.records,
            "with_parse": _figure(t["with_parse"], e.records),
            "validate_only": _figure(t["validate_only"], e.records),
            "violations": e.count(last[name]),
            **e.info,
        }
        if "parse_bind" in t:
            d["parse_bind_s"] = summarize(t["parse_bind"])
        docs[name] = d
    return docs


def run(records: int, runs: int = 3, fmt: str = "ttl", work_dir: Path | None = None) -> dict[str, Any]:
    """Generate the graph, run every engine, compare the counts; returns the JSON document (module doc)."""
    runs = max(1, runs)
    with tempfile.TemporaryDirectory(prefix="cns-bench-shacl-") as tmp_name:
        tmp = work_dir or Path(tmp_name)
        shapes = shipped_rules("news.ttl")
        t0 = time.perf_counter()
        graph = make_news_graph(records, tmp / "full")
        gen_s = time.perf_counter() - t0
        data = graph[fmt]
        skipped: dict[str, str] = {}
        setup: dict[str, _Engine] = {"cns": _cns(shapes, data, records)}
        for name, fn in (
            ("shacl", lambda: _shacl(shapes, data, records, tmp)),
            ("pyrudof", lambda: _pyrudof(shapes, data, records, fmt)),
        ):
            eng = _peer(name, fn, skipped)
            if eng is not None:
                setup[name] = eng
        sub_records = min(records, PYSHACL_RECORDS)
        sub = graph if sub_records == records else make_news_graph(sub_records, tmp / "subset")
        eng = _peer("pyshacl", lambda: _pyshacl(shapes, sub[fmt], fmt, sub_records), skipped)
        if eng is not None:
            setup["pyshacl"] = eng
        engines = _measure(setup, runs)
        if "pyshacl" in engines:
            engines["pyshacl"]["subset"] = sub_records != records
            if sub_records != records:
                from cns.rules.validate import validate_graph

                engines["pyshacl"]["cns_violations_on_subset"] = len(validate_graph(shapes, sub[fmt]).results)
    cns = engines["cns"]
    agree = {}
    for name, e in engines.items():
        if name == "cns":
            continue
        ours = e.get("cns_violations_on_subset", cns["violations"])
        agree[name] = {"peer": e["violations"], "cns": ours, "agree": e["violations"] == ours}
    m = machine()
    doc: dict[str, Any] = {
        "benchmark": "shacl",
        "records": records,
        "triples": graph["triples"],
        "format": "turtle" if fmt == "ttl" else "n-triples",
        "runs": runs,
        "cpu": m["cpu"],
        "machine": m,
        "shapes": "news.ttl (shipped)",
        "generate_s": gen_s,
        "engines": engines,
        "skipped": skipped,
        "violations": agree,
        "violations_agree": all(a["agree"] for a in agree.values()),
        "includes": {
            "with_parse": "read the data file + validate, shapes compiled once beforehand; records/s, median and "
            "min-max of the runs after one warm-up; engines interleaved run by run",
            "validate_only": "validate the data already held in the engine's own form (CNS: the bound arrays)",
        },
    }
    doc["headline"] = _headline(doc)
    return doc


def _headline(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    cns = doc["engines"]["cns"]
    fmt = doc["format"]
    for key, what in (("with_parse", "parse + validate"), ("validate_only", "validate only")):
        ours = cns[key]["records_per_s"]["median"]
        peers = {
            n: e[key]["records_per_s"]["median"]
            for n, e in doc["engines"].items()
            if n != "cns" and e[key]["records_per_s"]["median"]
        }
        figure = (
            f"SHACL on an RDF graph, {what}: news graph of {doc['records']:,} records "
            f"({doc['triples']:,} triples, {fmt}), records/s"
        )
        if not peers:
            rows.append(headline_row(figure, fmt_rate(ours), peer="no peer installed"))
            continue
        best = max(peers, key=lambda n: peers[n])
        rows.append(
            headline_row(
                figure,
                fmt_rate(ours),
                peer=f"{best} {fmt_rate(peers[best])}",
                ratio=f"{ours / peers[best]:.2f}x CNS/{best}",
                goal=">= fastest peer",
                met=bool(ours >= peers[best]),
            )
        )
    return rows


def _print(doc: dict[str, Any]) -> None:
    print(
        f"news graph: {doc['records']:,} records, {doc['triples']:,} triples ({doc['format']}); "
        f"{doc['runs']} runs; cpu {doc['cpu']}"
    )
    rows = []
    for name, e in doc["engines"].items():
        n = e.get("records", doc["records"])
        rows.append(
            {
                "engine": name,
                "records": n,
                "parse+validate rec/s": fmt_spread(e["with_parse"]["records_per_s"], fmt_rate),
                "validate-only rec/s": fmt_spread(e["validate_only"]["records_per_s"], fmt_rate),
                "violations": e["violations"],
            }
        )
    print_table("SHACL on the news graph (records/s: median (min-max, runs))", rows)
    for name, why in doc["skipped"].items():
        print(f"skipped {name}: {why}")
    for name, a in doc["violations"].items():
        print(f"violations cns={a['cns']} {name}={a['peer']}: {'agree' if a['agree'] else 'DISAGREE'}")
    for row in doc["headline"]:
        print(
            f"{row['figure']}: CNS {row['cns']}; {row['peer']}; {row['ratio']} "
            f"{'' if row['met'] is None else ('goal met' if row['met'] else 'goal MISSED')}"
        )


def main(args: argparse.Namespace) -> int:
    """Entry point of ``cns bench shacl``; exit 1 when the engines disagree on the violation count."""
    records = getattr(args, "records", None) or (1000 if args.quick else 20_000)
    fmt = getattr(args, "format", None) or "ttl"
    doc = run(records, runs=getattr(args, "runs", None) or 3, fmt=fmt)
    doc["quick"] = bool(args.quick)
    _print(doc)
    if args.json:
        write_json(args.json, doc)
        print(f"wrote {args.json}")
    return 0 if doc["violations_agree"] else 1


if __name__ == "__main__":  # pragma: no cover
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--records", type=int)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int)
    p.add_argument("--format", choices=("ttl", "nt"), default="ttl")
    p.add_argument("--json")
    raise SystemExit(main(p.parse_args()))
