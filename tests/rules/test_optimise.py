"""Optimiser passes: they shrink the IR without changing the validation report."""

from __future__ import annotations

from rdflib import Graph, URIRef

from cns.rules import eliminate_dead_shapes, fold_constants, ir, load_shapes, mark_static, optimise
from cns.rules.validate import validate_ir

PFX = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <http://example.org/> .
"""
EX = "http://example.org/"
SHAPES = (
    PFX
    + """
ex:S a sh:NodeShape ; sh:targetNode ex:a, ex:b ;
    sh:node ex:Empty ; sh:or ( ex:Empty ex:Int ) ; sh:and ( ex:Off ex:Int ) ; sh:not ex:Off ;
    sh:property ex:P, ex:OffP .
ex:P sh:path ex:p ; sh:minCount 0 ; sh:maxCount 1 ; sh:equals ex:q ;
    sh:qualifiedValueShape ex:Int .
ex:OffP sh:path ex:p ; sh:deactivated true ; sh:minCount 5 .
ex:Empty a sh:NodeShape .
ex:Off a sh:NodeShape ; sh:deactivated true ; sh:datatype xsd:string .
ex:Int a sh:NodeShape ; sh:datatype xsd:integer .
ex:Unused a sh:NodeShape ; sh:datatype xsd:integer .
ex:Dead a sh:NodeShape ; sh:targetNode ex:a ; sh:deactivated true ; sh:minLength 3 .
ex:Static a sh:NodeShape ; sh:targetNode ex:a ; sh:property [ sh:path ex:credibility ; sh:minInclusive 0 ] ;
    sh:datatype xsd:integer .
"""
)
DATA = PFX + 'ex:a ex:p 1, 2 ; ex:q 1 . ex:b ex:p "x" ; ex:q "x" . ex:a ex:credibility -1 .'


def _u(local: str) -> URIRef:
    return URIRef(EX + local)


def test_fold_constants_removes_constraints_that_cannot_fail() -> None:
    folded = fold_constants(load_shapes(Graph().parse(data=SHAPES, format="turtle")))
    s = folded[_u("S")]
    kinds = [type(c) for c in s.constraints]
    assert ir.NodeConstraint not in kinds  # sh:node of a constraint-free shape
    assert ir.OrConstraint not in kinds  # an always-conforming member
    assert ir.AndConstraint((_u("Int"),)) in s.constraints  # deactivated member dropped
    assert ir.NotConstraint(_u("Off")) in s.constraints  # sh:not of a deactivated shape always fails: kept
    assert ir.PropertyConstraint(_u("OffP")) not in s.constraints
    p = folded[_u("P")]
    assert ir.MinCountConstraint(0) not in p.constraints and ir.MaxCountConstraint(1) in p.constraints
    assert not any(isinstance(c, ir.QualifiedValueShapeConstraint) for c in p.constraints)  # no counts


def test_dead_shape_elimination() -> None:
    raw = load_shapes(Graph().parse(data=SHAPES, format="turtle"))
    live = eliminate_dead_shapes(fold_constants(raw))
    assert (
        _u("Unused") not in live.shapes and _u("Dead") not in live.shapes and _u("Empty") not in live.shapes
    )
    assert _u("S") in live.shapes and _u("Off") in live.shapes  # still referenced by sh:not


def test_optimised_report_equals_raw_report() -> None:
    raw = load_shapes(Graph().parse(data=SHAPES, format="turtle"))
    data = Graph().parse(data=DATA, format="turtle")
    before = validate_ir(raw, data)
    after = validate_ir(optimise(raw), data)
    assert not before.conforms and before == after


def test_mark_static() -> None:
    shapes = optimise(load_shapes(Graph().parse(data=SHAPES, format="turtle")))
    marks = mark_static(shapes, [_u("credibility")])
    assert marks.is_static(_u("Static"))
    assert not marks.is_static(_u("S"))  # reads ex:p / ex:q
    p = shapes[_u("P")]
    assert not any(marks.is_static(_u("P"), i) for i in range(len(p.constraints)))
    assert mark_static(shapes, [_u("credibility"), _u("p"), _u("q")]).is_static(_u("P"))
