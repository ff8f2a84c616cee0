"""Front end: ill-formed shapes graphs are refused (exit 2, message says where); the IR is what the shapes say."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import SH, XSD

from cns.rules import ShapeCompileError, UnsupportedComponent, ir, load_shapes
from cns.rules.cli import compile_main, validate_main
from cns.rules.errors import DataError, RuleError

PREFIXES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix ex: <http://example.org/> .
"""
EX = "http://example.org/"

# (name, shapes body, fragment the error message must contain)
ILL_FORMED = [
    ("literal-for-list", 'ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:in "x" .', "ex:S / sh:in"),
    ("broken-list", "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:or [ ex:x ex:y ] .", "ex:S / sh:or"),
    (
        "non-integer-minCount",
        "ex:S a sh:NodeShape ; sh:property [ sh:path ex:p ; sh:minCount 1.5 ] .",
        "ex:S / sh:property[1] / sh:minCount",
    ),
    (
        "string-maxCount",
        'ex:S a sh:NodeShape ; sh:property [ sh:path ex:p ; sh:maxCount "2" ] .',
        "sh:maxCount",
    ),
    ("negative-minLength", "ex:S a sh:NodeShape ; sh:minLength -1 .", "ex:S / sh:minLength"),
    ("literal-datatype", 'ex:S a sh:NodeShape ; sh:datatype "xsd:string" .', "ex:S / sh:datatype"),
    ("bad-nodeKind", "ex:S a sh:NodeShape ; sh:nodeKind ex:Thing .", "ex:S / sh:nodeKind"),
    ("two-datatypes", "ex:S a sh:NodeShape ; sh:datatype xsd:string, xsd:integer .", "at most one value"),
    ("two-paths", "ex:S a sh:PropertyShape ; sh:path ex:p, ex:q .", "ex:S / sh:path"),
    ("literal-path", 'ex:S a sh:PropertyShape ; sh:path "p" .', "ex:S / sh:path"),
    ("one-member-sequence", "ex:S a sh:PropertyShape ; sh:path ( ex:p ) .", "sequence path"),
    ("bad-regex", 'ex:S a sh:NodeShape ; sh:pattern "(" .', "ex:S / sh:pattern"),
    ("bad-flags", 'ex:S a sh:NodeShape ; sh:pattern "a" ; sh:flags "z" .', "ex:S / sh:pattern"),
    ("literal-shape", 'ex:S a sh:NodeShape ; sh:node "ex:T" .', "ex:S / sh:node"),
    ("minCount-on-node-shape", "ex:S a sh:NodeShape ; sh:minCount 1 .", "not allowed on a node shape"),
    ("non-boolean-closed", 'ex:S a sh:NodeShape ; sh:closed "yes" .', "ex:S / sh:closed"),
    ("literal-equals", 'ex:S a sh:PropertyShape ; sh:path ex:p ; sh:equals "q" .', "ex:S / sh:equals"),
    (
        "property-without-path",
        "ex:S a sh:NodeShape ; sh:property ex:T . ex:T sh:datatype xsd:string .",
        "not a property shape",
    ),
]

UNSUPPORTED = [
    (
        "sparql",
        'ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:sparql [ sh:select "SELECT $this WHERE {}" ] .',
        "sh:sparql",
    ),
    (
        "sparql-constraint",
        'ex:C a sh:SPARQLConstraint ; sh:select "SELECT $this WHERE {}" .',
        "SPARQLConstraint",
    ),
    ("custom-component", "ex:CC a sh:ConstraintComponent .", "ConstraintComponent"),
]


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "shapes.ttl"
    p.write_text(PREFIXES + body)
    return p


@pytest.mark.parametrize("name, body, where", ILL_FORMED, ids=[c[0] for c in ILL_FORMED])
def test_ill_formed_shapes_are_refused(tmp_path, capsys, name, body, where) -> None:
    shapes = _write(tmp_path, body)
    with pytest.raises(ShapeCompileError) as exc:
        load_shapes(shapes)
    assert where in str(exc.value) and str(shapes) in str(exc.value)
    data = tmp_path / "data.ttl"
    data.write_text(PREFIXES + "ex:a ex:p 1 .")
    assert validate_main(argparse.Namespace(shapes=str(shapes), data=str(data))) == 2
    err = capsys.readouterr().err
    assert where in err


@pytest.mark.parametrize("name, body, what", UNSUPPORTED, ids=[c[0] for c in UNSUPPORTED])
def test_sparql_and_af_are_refused(tmp_path, name, body, what) -> None:
    shapes = _write(tmp_path, body)
    with pytest.raises(UnsupportedComponent) as exc:
        load_shapes(shapes)
    msg = str(exc.value)
    assert what in msg and str(shapes) in msg and "ex:" in msg


def test_error_tree() -> None:
    assert issubclass(ShapeCompileError, RuleError) and issubclass(UnsupportedComponent, ShapeCompileError)
    assert issubclass(DataError, RuleError)


def test_unreadable_and_unparsable_files(tmp_path, capsys) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_shapes(tmp_path / "missing.ttl")
    bad = tmp_path / "bad.ttl"
    bad.write_text("ex:a ex:b")
    with pytest.raises(DataError, match="cannot parse"):
        load_shapes(bad)
    good = _write(tmp_path, "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:datatype xsd:string .")
    assert validate_main(argparse.Namespace(shapes=str(good), data=str(bad))) == 2
    assert "bad.ttl" in capsys.readouterr().err


def test_ir_of_a_property_shape() -> None:
    g = Graph().parse(
        data=PREFIXES
        + """
ex:PersonShape a sh:NodeShape, rdfs:Class ;
    sh:targetClass ex:Person ; sh:targetSubjectsOf ex:knows ;
    sh:severity sh:Warning ; sh:message "bad person" ;
    sh:closed true ; sh:ignoredProperties ( ex:ignored ) ;
    sh:property [ sh:path ( ex:address [ sh:inversePath ex:city ] ) ; sh:minCount 1 ; sh:maxCount 2 ;
                  sh:pattern "^a" ; sh:flags "i" ; sh:languageIn ( "en" "de" ) ; sh:uniqueLang true ] ,
                [ sh:path [ sh:alternativePath ( ex:a [ sh:zeroOrMorePath ex:b ] ) ] ;
                  sh:qualifiedValueShape [ sh:datatype xsd:integer ] ; sh:qualifiedMinCount 1 ] ;
    sh:deactivated false .
""",
        format="turtle",
    )
    shapes_ir = load_shapes(g)
    s = shapes_ir[URIRef(EX + "PersonShape")]
    assert s.is_node_shape and s.severity == SH.Warning and s.messages == (Literal("bad person"),)
    kinds = {(t.kind, t.term, t.implicit) for t in s.targets}
    assert (ir.TARGET_CLASS, URIRef(EX + "Person"), False) in kinds
    assert (ir.TARGET_CLASS, URIRef(EX + "PersonShape"), True) in kinds
    assert (ir.TARGET_SUBJECTS_OF, URIRef(EX + "knows"), False) in kinds
    closed = next(c for c in s.constraints if isinstance(c, ir.ClosedConstraint))
    assert closed.ignored == (URIRef(EX + "ignored"),) and URIRef(EX + "a") not in closed.allowed
    props = [shapes_ir[c.shape] for c in s.constraints if isinstance(c, ir.PropertyConstraint)]
    assert len(props) == 2
    seq = next(p for p in props if isinstance(p.path, ir.SequencePath))
    assert seq.path == ir.SequencePath(
        (ir.PredicatePath(URIRef(EX + "address")), ir.InversePath(ir.PredicatePath(URIRef(EX + "city"))))
    )
    assert ir.MinCountConstraint(1) in seq.constraints and ir.MaxCountConstraint(2) in seq.constraints
    assert ir.PatternConstraint("^a", "i") in seq.constraints
    assert ir.LanguageInConstraint(("en", "de")) in seq.constraints
    assert ir.UniqueLangConstraint(True) in seq.constraints
    assert seq.where.startswith("ex:PersonShape / sh:property[")
    alt = next(p for p in props if isinstance(p.path, ir.AlternativePath))
    q = next(c for c in alt.constraints if isinstance(c, ir.QualifiedValueShapeConstraint))
    assert q.min_count == 1 and q.max_count is None and isinstance(q.shape, BNode)
    assert shapes_ir[q.shape].constraints == (ir.DatatypeConstraint(XSD.integer),)


def test_compile_refuses_bad_input_before_codegen(tmp_path) -> None:
    _write(tmp_path, 'ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:in ( "x" ) .')
    out = tmp_path / "bad.cnsk"
    assert compile_main(argparse.Namespace(shapes=str(tmp_path / "nope.ttl"), output=str(out))) == 2
    bad = _write(tmp_path, 'ex:S a sh:NodeShape ; sh:minCount "x" .')
    assert compile_main(argparse.Namespace(shapes=str(bad), output=str(out))) == 2
    assert not out.exists()
