"""Hostile shapes and data: ``cns validate`` refuses them quickly with exit 2 and one message, never a
traceback, never exit 1 (which scripts read as "does not conform"), never a network or file fetch.

Every case runs in-process through :func:`cns.cli.main` with the network blocked (any socket use or rdflib
context fetch is recorded and fails the test) and under a pytest timeout.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from cns.cli import main
from cns.rules import limits

P = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://ex.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
"""
DATA = P + "ex:a a ex:C ; ex:p ex:b ; ex:v 5 . ex:b ex:p ex:a .\n"
SHAPES = P + "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:minCount 1 ] .\n"
RDFXML_NS = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex.org/"'
LAUGHS = "".join(
    f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10)
)  # lol9 expands to 10**9 'lol's: a ~700-byte billion laughs


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every attempt to open a connection, resolve a name or fetch a JSON-LD context is recorded, then fails."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    import rdflib.plugins.shared.jsonld.context as ctx

    monkeypatch.setattr(ctx, "source_to_json", refuse)
    yield attempts
    assert attempts == [], f"a fetch was attempted: {attempts}"


def run(
    tmp_path: Path,
    shapes: str | Path,
    data: str | Path,
    *,
    data_name: str = "data.ttl",
    shapes_name: str = "shapes.ttl",
) -> tuple[int, str]:
    """``cns validate`` in-process; returns (exit code, stderr). Strings are written to files first."""
    if isinstance(shapes, str):
        (tmp_path / shapes_name).write_text(shapes)
        shapes = tmp_path / shapes_name
    if isinstance(data, str):
        (tmp_path / data_name).write_text(data)
        data = tmp_path / data_name
    return run_args(shapes, data)


def run_args(shapes: str | Path, data: str | Path) -> tuple[int, str]:
    """``cns validate --shapes SHAPES --data DATA`` in-process, arguments as given; (exit code, stderr)."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = main(["validate", "--shapes", str(shapes), "--data", str(data)])
    return rc, err.getvalue()


def assert_refused(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err  # one line
    for n in needles:
        assert n in err, err


# ---- remote fetches -------------------------------------------------------------------------------------------
@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "doc",
    [
        {"@context": "http://127.0.0.1:9/ctx.jsonld", "@id": "http://ex.org/a", "p": "x"},
        {"@context": ["http://127.0.0.1:9/ctx.jsonld", {"ex": "http://ex.org/"}], "@id": "http://ex.org/a"},
        {
            "@context": {
                "ex": "http://ex.org/",
                "p": {"@id": "ex:p", "@context": "https://example.org/scoped"},
            },
            "@id": "ex:a",
            "p": {"@id": "ex:b"},
        },
        {"@context": {"@version": 1.1, "@import": "https://example.org/imported"}, "@id": "http://ex.org/a"},
        {"@graph": [{"@context": "https://example.org/nested", "@id": "http://ex.org/a"}]},
    ],
    ids=["string", "list", "scoped", "import", "nested"],
)
def test_remote_jsonld_context_is_refused_without_fetch(tmp_path: Path, doc: dict[str, Any]) -> None:
    rc, err = run(tmp_path, SHAPES, json.dumps(doc), data_name="data.jsonld")
    assert_refused(rc, err, "data.jsonld", "@", "context")


@pytest.mark.timeout(30)
def test_relative_jsonld_context_is_not_read_from_disk(tmp_path: Path) -> None:
    # a relative context resolves against the data file's URI: a read of a local file chosen by the data
    (tmp_path / "ctx.jsonld").write_text(json.dumps({"@context": {"p": "http://ex.org/p"}}))
    rc, err = run(
        tmp_path,
        SHAPES,
        json.dumps({"@context": "ctx.jsonld", "@id": "http://ex.org/a", "p": "x"}),
        data_name="data.jsonld",
    )
    assert_refused(rc, err, "data.jsonld", "ctx.jsonld")


@pytest.mark.timeout(30)
def test_inline_jsonld_context_still_works(tmp_path: Path) -> None:
    doc = {
        "@context": {"ex": "http://ex.org/", "p": {"@id": "ex:p", "@type": "@id"}},
        "@graph": [{"@id": "ex:a", "@type": "ex:C", "p": "ex:b"}, {"@id": "ex:c", "@type": "ex:C"}],
    }
    rc, err = run(tmp_path, SHAPES, json.dumps(doc), data_name="data.jsonld")
    assert rc == 1, err  # ex:c has no ex:p


@pytest.mark.timeout(30)
@pytest.mark.parametrize("which", ["data", "shapes"])
def test_url_arguments_are_not_fetched(tmp_path: Path, which: str) -> None:
    url = "http://127.0.0.1:9/d.ttl"
    (tmp_path / "s.ttl").write_text(SHAPES)
    (tmp_path / "d.ttl").write_text(DATA)
    shapes, data = (tmp_path / "s.ttl", url) if which == "data" else (url, tmp_path / "d.ttl")
    rc, err = run_args(shapes, data)  # the URL itself as the argument (run() would write it to a file)
    assert_refused(rc, err, url)


@pytest.mark.timeout(30)
def test_owl_imports_in_shapes_is_refused_not_followed(tmp_path: Path) -> None:
    rc, err = run(
        tmp_path, SHAPES + "<http://ex.org/shapes> owl:imports <http://127.0.0.1:9/more.ttl> .\n", DATA
    )
    assert_refused(rc, err, "owl:imports", "127.0.0.1:9/more.ttl")


# ---- XML: DTDs and entities -----------------------------------------------------------------------------------
@pytest.mark.timeout(30)
def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    xml = (
        f'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 "lol">\n{LAUGHS}]>\n'
        f'<rdf:RDF {RDFXML_NS}><rdf:Description rdf:about="http://ex.org/a"><ex:p>&lol9;</ex:p>'
        "</rdf:Description></rdf:RDF>\n"
    )
    t0 = time.perf_counter()
    rc, err = run(tmp_path, SHAPES, xml, data_name="lol.rdf")
    assert time.perf_counter() - t0 < 5
    assert_refused(rc, err, "lol.rdf", "DOCTYPE")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_external_entity_and_any_dtd_are_refused(tmp_path: Path, encoding: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    xml = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<!DOCTYPE r [ <!ENTITY xxe SYSTEM "{secret.as_uri()}"> ]>\n'
        f'<rdf:RDF {RDFXML_NS}><rdf:Description rdf:about="http://ex.org/a"><ex:p>&xxe;</ex:p>'
        "</rdf:Description></rdf:RDF>\n"
    )
    (tmp_path / "x.rdf").write_bytes(xml.encode(encoding))
    rc, err = run(tmp_path, SHAPES, tmp_path / "x.rdf")
    assert_refused(rc, err, "x.rdf", "DOCTYPE")
    assert "s3cret" not in err


@pytest.mark.timeout(30)
def test_plain_rdfxml_still_works(tmp_path: Path) -> None:
    xml = (
        f'<?xml version="1.0"?>\n<rdf:RDF {RDFXML_NS}><ex:C rdf:about="http://ex.org/a">'
        '<ex:p rdf:resource="http://ex.org/b"/></ex:C></rdf:RDF>\n'
    )
    rc, err = run(tmp_path, SHAPES, xml, data_name="ok.rdf")
    assert rc == 0, err


# ---- shapes: cycles, nesting, limits --------------------------------------------------------------------------
def _path_shapes(path_triples: str) -> str:
    return (
        P
        + "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path _:x ; sh:minCount 1 ] .\n"
        + path_triples
    )


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "path",
    [
        "_:x sh:inversePath _:x .",
        "_:x sh:zeroOrMorePath _:x .",
        "_:x sh:oneOrMorePath _:y . _:y sh:inversePath _:x .",
        "_:x sh:alternativePath ( ex:p _:x ) .",
        "_:x rdf:first ex:p ; rdf:rest ( _:x ) .",
    ],
    ids=["inverse-self", "zeroOrMore-self", "two-step", "alternative", "sequence"],
)
def test_cyclic_path_is_refused(tmp_path: Path, path: str) -> None:
    rc, err = run(tmp_path, _path_shapes(path), DATA)
    assert_refused(rc, err, "ex:S", "cyclic")


@pytest.mark.timeout(30)
def test_deep_path_is_refused_and_the_limit_is_usable(tmp_path: Path) -> None:
    def chain(n: int) -> str:
        return (
            "".join(f"_:{'x' if i == 0 else f'n{i}'} sh:inversePath _:n{i + 1} .\n" for i in range(n - 1))
            + f"_:n{n - 1} sh:inversePath ex:p .\n"
        )

    rc, err = run(tmp_path, _path_shapes(chain(1500)), DATA)
    assert_refused(rc, err, "ex:S", "MAX_PATH_DEPTH", str(limits.MAX_PATH_DEPTH))
    assert len(err) < 500
    rc, err = run(tmp_path, _path_shapes(chain(limits.MAX_PATH_DEPTH)), DATA)
    assert rc in (0, 1), err


@pytest.mark.timeout(30)
def test_exponential_path_dag_is_refused(tmp_path: Path) -> None:
    # each level is an alternative of the next level twice (once inverted): 2**30 leaves, 60 levels deep
    levels = "".join(
        f"_:{'x' if i == 0 else f'a{i}'} sh:alternativePath ( _:a{i + 1} _:b{i + 1} ) . "
        f"_:b{i + 1} sh:inversePath _:a{i + 1} .\n"
        for i in range(30)
    )
    rc, err = run(tmp_path, _path_shapes(levels + "_:a30 sh:inversePath ex:p .\n"), DATA)
    assert_refused(rc, err, "ex:S", "MAX_PATH_SIZE")


def _not_chain(n: int, via: str = "sh:not") -> str:
    s = P + f"ex:S a sh:NodeShape ; sh:targetClass ex:C ; {via} _:n0 .\n"
    s += "".join(f"_:n{i} {via} _:n{i + 1} .\n" for i in range(n - 1))
    return s + f"_:n{n - 1} sh:nodeKind sh:IRI .\n"


@pytest.mark.timeout(30)
def test_deep_not_chain_is_refused_naming_the_shape(tmp_path: Path) -> None:
    rc, err = run(tmp_path, _not_chain(1500), DATA)
    assert_refused(rc, err, "ex:S", "MAX_SHAPE_DEPTH", str(limits.MAX_SHAPE_DEPTH))
    assert len(err) < 500
    rc, err = run(tmp_path, _not_chain(limits.MAX_SHAPE_DEPTH - 1), DATA)  # + ex:S = the limit
    assert rc in (0, 1), err


@pytest.mark.timeout(30)
def test_deep_chain_of_named_shapes_is_refused(tmp_path: Path) -> None:
    # named shapes restart the location path; the depth check must still see the whole chain
    s = P + "".join(f"ex:N{i} a sh:NodeShape ; sh:node ex:N{i + 1} .\n" for i in range(1500))
    s += "ex:N1500 a sh:NodeShape ; sh:targetClass ex:C ; sh:nodeKind sh:IRI .\nex:N0 sh:targetClass ex:C .\n"
    rc, err = run(tmp_path, s, DATA)
    assert_refused(rc, err, "MAX_SHAPE_DEPTH")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "shapes",
    [
        "ex:A a sh:NodeShape ; sh:targetClass ex:C ; sh:node ex:B . ex:B sh:node ex:A .",
        "ex:A a sh:NodeShape ; sh:targetClass ex:C ; sh:property ex:P . ex:P sh:path ex:p ; sh:property ex:P .",
        "ex:A a sh:NodeShape ; sh:targetClass ex:C ; sh:property ex:P . ex:P sh:path ex:p ; sh:node ex:A .",
        "ex:A a sh:NodeShape ; sh:targetClass ex:C ; sh:or ( ex:B ) . ex:B sh:not ex:A .",
    ],
    ids=["node", "property-self", "property-node", "or-not"],
)
def test_recursive_shapes_are_refused_naming_the_cycle(tmp_path: Path, shapes: str) -> None:
    rc, err = run(tmp_path, P + shapes, DATA)  # the data has a cycle ex:a -> ex:b -> ex:a along ex:p
    assert_refused(rc, err, "recursive shape reference (ex:", " -> sh:")


@pytest.mark.timeout(30)
def test_exponential_property_dag_is_refused(tmp_path: Path) -> None:
    # every level has two property shapes that both hold the next level's two: 2**40 evaluations unmemoised
    s = P + "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property ex:L0a, ex:L0b .\n"
    for i in range(40):
        for x in "ab":
            s += f"ex:L{i}{x} sh:path ex:p ; sh:property ex:L{i + 1}a, ex:L{i + 1}b .\n"
    s += "ex:L40a sh:path ex:p ; sh:minCount 1 . ex:L40b sh:path ex:p ; sh:minCount 1 .\n"
    rc, err = run(tmp_path, s, DATA)
    assert_refused(rc, err, "at ex:L", "MAX_SHAPE_UNFOLD")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("pattern", ["a{99999999999}", "(" * 2000 + ")" * 2000, "[z-a]", "(?P<x"])
def test_invalid_pattern_is_refused(tmp_path: Path, pattern: str) -> None:
    s = (
        P
        + f'ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:pattern "{pattern}" ] .'
    )
    rc, err = run(tmp_path, s, DATA)
    assert_refused(rc, err, "ex:S", "sh:pattern")
    assert len(err) < 1000


@pytest.mark.timeout(60)
def test_huge_counts_and_lengths_do_not_crash(tmp_path: Path) -> None:
    big = "9" * 30
    s = P + (
        f"ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:v ; sh:minLength {big} ; "
        f"sh:maxLength {big} ; sh:maxCount {big} ; sh:minCount 1 ] ; "
        f"sh:property [ sh:path ex:v ; sh:qualifiedValueShape [ sh:datatype xsd:integer ] ; "
        f"sh:qualifiedMaxCount {big} ] ."
    )
    rc, err = run(tmp_path, s, DATA)
    assert rc == 1, err  # minLength 10**30 fails for "5"; nothing else fails
    rc, err = run(tmp_path, s.replace(f"sh:minLength {big} ;", ""), DATA)
    assert rc == 0, err


@pytest.mark.timeout(60)
def test_non_finite_and_unknown_datatype_bounds(tmp_path: Path) -> None:
    data = P + (
        'ex:a a ex:C ; ex:v 1, "NaN"^^xsd:double, "INF"^^xsd:double, "-INF"^^xsd:float, '
        '"1e999999999"^^xsd:decimal, "y"^^ex:Foo .'
    )

    def values(bound: str, pred: str) -> tuple[int, str]:
        s = P + f"ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:v ; {pred} {bound} ] ."
        out = io.StringIO()
        (tmp_path / "s.ttl").write_text(s)
        (tmp_path / "d.ttl").write_text(data)
        with contextlib.redirect_stdout(out):
            rc = main(["validate", "--shapes", str(tmp_path / "s.ttl"), "--data", str(tmp_path / "d.ttl")])
        return rc, out.getvalue()

    # nothing compares with NaN (XPath): every value violates; no crash
    rc, out = values('"NaN"^^xsd:double', "sh:minInclusive")
    assert rc == 1 and out.count("sh:MinInclusiveConstraintComponent") == 6
    # INF is an upper bound for every number but NaN; the unknown datatype and NaN violate
    rc, out = values('"INF"^^xsd:double', "sh:maxInclusive")
    assert rc == 1 and out.count("sh:MaxInclusiveConstraintComponent") == 2
    rc, out = values('"-INF"^^xsd:double', "sh:minInclusive")
    assert rc == 1 and out.count("sh:MinInclusiveConstraintComponent") == 2
    # a bound of an unknown datatype compares with nothing: every value violates
    rc, out = values('"x"^^ex:Foo', "sh:maxExclusive")
    assert rc == 1 and out.count("sh:MaxExclusiveConstraintComponent") == 6


# ---- data: deep structures ------------------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_deeply_nested_data_is_refused_or_read_without_recursion(tmp_path: Path) -> None:
    # Turtle is parsed by pyoxigraph (no recursion): 5000 nested blank nodes are simply data
    rc, err = run(tmp_path, SHAPES, P + "ex:a a ex:C ; ex:p " + "[ ex:p " * 5000 + "1" + " ]" * 5000 + " .")
    assert rc == 0 and err == "", err
    # rdflib-read formats keep refusing what would exhaust the stack
    deep = '{"http://ex.org/p": ' * 100_000 + '{"@id": "http://ex.org/a"}' + "}" * 100_000
    rc, err = run(tmp_path, SHAPES, deep, data_name="deep.jsonld")
    assert_refused(rc, err, "deep.jsonld")


@pytest.mark.timeout(60)
def test_long_rdf_list_closure_is_fast(tmp_path: Path) -> None:
    n = 3000
    data = P + "ex:a a ex:C ; ex:list ( " + " ".join(str(i) for i in range(n)) + " ) .\n"
    s = P + (
        "ex:S a sh:NodeShape ; sh:targetSubjectsOf rdf:rest ; "
        "sh:property [ sh:path [ sh:zeroOrMorePath rdf:rest ] ; sh:maxCount 100000 ] ."
    )
    t0 = time.perf_counter()
    rc, err = run(tmp_path, s, data)
    assert rc == 0, err
    assert time.perf_counter() - t0 < 20  # n*(n+1)/2 = 4.5 M pairs, output-sensitive


@pytest.mark.timeout(60)
def test_path_pair_blowup_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_PATH_PAIRS", 10_000)
    data = P + "".join(f"ex:n{i} a ex:C ; ex:p ex:n{i + 1} .\n" for i in range(300))
    s = P + (
        "ex:S a sh:NodeShape ; sh:targetClass ex:C ; "
        "sh:property [ sh:path [ sh:oneOrMorePath ex:p ] ; sh:minCount 1 ] ."
    )
    rc, err = run(tmp_path, s, data)
    assert_refused(rc, err, "ex:S", "MAX_PATH_PAIRS")
    s = P + (
        "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ( ex:q ex:q ) ; sh:minCount 1 ] ."
    )
    fan = P + "".join(f"ex:f{i} a ex:C ; ex:q ex:h . ex:h ex:q ex:m{i} .\n" for i in range(200))
    rc, err = run(tmp_path, s, fan)  # 200 focus nodes -> ex:h -> 200 values: 40,000 pairs
    assert_refused(rc, err, "ex:S", "MAX_PATH_PAIRS")


# ---- exit codes -----------------------------------------------------------------------------------------------
@pytest.mark.timeout(30)
@pytest.mark.parametrize("exc", [RecursionError("deep"), MemoryError(), ValueError("a bug")])
def test_unexpected_errors_exit_2_not_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    import cns.rules.cli as rcli

    def boom(*a: Any, **k: Any) -> Any:
        raise exc

    monkeypatch.setattr(rcli, "validate_graph", boom)
    rc, err = run(tmp_path, SHAPES, DATA)
    assert rc == 2, err
    assert "cns validate" in err and type(exc).__name__ in err


@pytest.mark.timeout(30)
def test_conforms_and_not_conforms_codes(tmp_path: Path) -> None:
    assert run(tmp_path, SHAPES, DATA)[0] == 0
    assert run(tmp_path, SHAPES, DATA + "ex:z a ex:C .\n")[0] == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", ["inverse-cycle", "zero-or-more-self", "deep-not", "laughs"])
def test_subprocess_exit_2_with_one_line(tmp_path: Path, case: str) -> None:
    """The reported cases end to end: a real process, its exit status and its stderr (no traceback)."""
    import subprocess
    import sys

    data = tmp_path / "data.ttl"
    data.write_text(DATA)
    shapes = tmp_path / "shapes.ttl"
    if case == "inverse-cycle":
        shapes.write_text(_path_shapes("_:x sh:inversePath _:x ."))
    elif case == "zero-or-more-self":
        shapes.write_text(_path_shapes("_:x sh:zeroOrMorePath _:x ."))
    elif case == "deep-not":
        shapes.write_text(_not_chain(1500))
    else:
        shapes.write_text(SHAPES)
        data = tmp_path / "lol.rdf"
        data.write_text(
            f'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 "lol">\n{LAUGHS}]>\n'
            f'<rdf:RDF {RDFXML_NS}><rdf:Description rdf:about="http://ex.org/a"><ex:p>&lol9;'
            "</ex:p></rdf:Description></rdf:RDF>\n"
        )
    proc = subprocess.run(
        [sys.executable, "-m", "cns", "validate", "--shapes", str(shapes), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
