"""Measure ``validate_graph`` (CNS graph binding + kernels) against pySHACL on the same synthetic graph.

``python -m cns.rules.bench_graph [--people N] [--repeats R] [--json PATH]``: prints a table of wall-clock
times (``time.perf_counter_ns``; p50/p99/max over the repeats, in ms) and checks both engines report the same
number of results. Numba compilation is excluded by one warm-up run.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings

import numpy as np
from rdflib import Graph

from cns.rules.shapes import load_shapes
from cns.rules.validate import validate_graph

SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <http://example.org/> .
ex:PersonShape a sh:NodeShape ; sh:targetClass ex:Person ;
  sh:property [ sh:path ex:name ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:string ;
                sh:pattern "^[A-Z][a-z]+$" ; sh:maxLength 12 ] ;
  sh:property [ sh:path ex:age ; sh:datatype xsd:integer ; sh:minInclusive 0 ; sh:maxExclusive 130 ] ;
  sh:property [ sh:path ex:knows ; sh:class ex:Person ; sh:nodeKind sh:IRI ] ;
  sh:property [ sh:path ( ex:knows ex:age ) ; sh:lessThan ex:limit ] ;
  sh:property [ sh:path ex:email ; sh:or ( [ sh:pattern "@" ] [ sh:hasValue "none" ] ) ] .
"""


def make_data(people: int, seed: int = 7) -> str:
    """A Turtle graph of ``people`` persons with ~5 % faulty values."""
    rnd = random.Random(seed)
    lines = ["@prefix ex: <http://example.org/> .", "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> ."]
    for i in range(people):
        bad = rnd.random() < 0.05
        name = "bob" if bad else rnd.choice(["Alice", "Bob", "Carol", "Dave"])
        age = rnd.randint(-5, 140) if bad else rnd.randint(0, 99)
        lines.append(f'ex:p{i} a ex:Person ; ex:name "{name}" ; ex:age {age} ; ex:limit 200 ; '
                     f'ex:knows ex:p{rnd.randrange(people)} ; ex:email "{"x" if bad else f"p{i}@ex.org"}" .')
    return "\n".join(lines)


def _time(fn, repeats: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.empty(repeats, np.int64)
    for i in range(repeats):
        t0 = time.perf_counter_ns()
        fn()
        out[i] = time.perf_counter_ns() - t0
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    shapes_g = Graph().parse(data=SHAPES, format="turtle")
    data_g = Graph().parse(data=make_data(args.people), format="turtle")
    shapes_ir = load_shapes(shapes_g)
    ours = validate_graph(shapes_ir, data_g)  # warm-up: Numba compile / cache load
    rows = {"cns": _time(lambda: validate_graph(shapes_ir, data_g), args.repeats)}
    n_theirs = None
    try:
        import pyshacl

        def run_pyshacl() -> None:
            nonlocal n_theirs
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, rg, _ = pyshacl.validate(data_g, shacl_graph=shapes_g, inference="none")
            from rdflib.namespace import SH

            n_theirs = len(list(rg.objects(None, SH.result)))

        rows["pyshacl"] = _time(run_pyshacl, args.repeats)
    except ImportError:
        pass
    print(f"triples={len(data_g)} people={args.people} repeats={args.repeats} results cns={len(ours.results)}"
          f" pyshacl={n_theirs}")
    print(f"{'engine':<10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    doc = {"triples": len(data_g), "people": args.people, "repeats": args.repeats,
           "results": {"cns": len(ours.results), "pyshacl": n_theirs}, "engines": {}}
    for name, ns in rows.items():
        p50, p99 = np.percentile(ns, [50, 99]) / 1e6
        print(f"{name:<10}{p50:>10.1f}{p99:>10.1f}{ns.max() / 1e6:>10.1f}")
        doc["engines"][name] = {"p50_ms": p50, "p99_ms": p99, "max_ms": ns.max() / 1e6}
    if "pyshacl" in rows:
        print(f"speed-up (p50): {np.median(rows['pyshacl']) / np.median(rows['cns']):.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
