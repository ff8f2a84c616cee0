"""Intermediate representation of a SHACL Core shapes graph (the compiler front end's output).

The IR is a plain, immutable description of *what* the shapes say, independent of how data is bound (RDF
graph arrays in :mod:`cns.rules.graph`, record batches in ``cns.rules.record``). RDF terms stay rdflib terms
(:class:`~rdflib.term.URIRef`, :class:`~rdflib.term.BNode`, :class:`~rdflib.term.Literal`).

Contracts (stable; back ends rely on them):

* :class:`ShapesIR` holds every shape reachable in the shapes graph, keyed by its node (``Shape.id``), in
  a deterministic order (sorted by N3 form). Shape-valued parameters (``sh:node``, ``sh:property``,
  ``sh:not``, ``sh:and``/``sh:or``/``sh:xone`` members, ``sh:qualifiedValueShape``) are *references*
  (the referenced shape's id); look them up with ``ir.shapes[ref]``. Cycles are representable, but
  :func:`~cns.rules.shapes.parse_graph` and :func:`~cns.rules.validate.validate_ir` refuse recursive and too
  deeply nested shapes (:func:`cns.rules.structure.check_structure`, bounds in :mod:`cns.rules.limits`).
* ``Shape.path is None`` for node shapes; property shapes carry exactly one :data:`Path`.
* One constraint dataclass per SHACL Core constraint component; ``type(c).component`` is the
  ``sh:sourceConstraintComponent`` IRI. Multi-parameter components (qualified value shape, closed) are a
  single constraint holding all their parameters. ``Constraint.param`` is the shapes-graph parameter
  predicate that introduced it (used in "where" messages and reports).
* ``Shape.where`` is a human-readable location (``ex:PersonShape / sh:property[2]``) for error messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Union

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import SH

__all__ = [
    "Term",
    "ShapeRef",
    "Target",
    "TARGET_CLASS",
    "TARGET_NODE",
    "TARGET_SUBJECTS_OF",
    "TARGET_OBJECTS_OF",
    "PredicatePath",
    "InversePath",
    "SequencePath",
    "AlternativePath",
    "ZeroOrMorePath",
    "OneOrMorePath",
    "ZeroOrOnePath",
    "Path",
    "path_predicates",
    "ClassConstraint",
    "DatatypeConstraint",
    "NodeKindConstraint",
    "MinCountConstraint",
    "MaxCountConstraint",
    "MinExclusiveConstraint",
    "MinInclusiveConstraint",
    "MaxExclusiveConstraint",
    "MaxInclusiveConstraint",
    "MinLengthConstraint",
    "MaxLengthConstraint",
    "PatternConstraint",
    "LanguageInConstraint",
    "UniqueLangConstraint",
    "EqualsConstraint",
    "DisjointConstraint",
    "LessThanConstraint",
    "LessThanOrEqualsConstraint",
    "NotConstraint",
    "AndConstraint",
    "OrConstraint",
    "XoneConstraint",
    "NodeConstraint",
    "PropertyConstraint",
    "QualifiedValueShapeConstraint",
    "ClosedConstraint",
    "HasValueConstraint",
    "InConstraint",
    "Constraint",
    "VALUE_RANGE_CONSTRAINTS",
    "SHAPE_BASED_CONSTRAINTS",
    "NODE_KIND_IRI",
    "NODE_KIND_BLANK",
    "NODE_KIND_LITERAL",
    "NODE_KIND_MASKS",
    "Shape",
    "ShapesIR",
]

Term = Union[URIRef, BNode, Literal]
ShapeRef = Union[URIRef, BNode]
"""The id of a shape in :attr:`ShapesIR.shapes`."""

# ---- targets -------------------------------------------------------------------------------------------------
TARGET_CLASS = 0  # sh:targetClass (and implicit class targets); SHACL instances incl. rdfs:subClassOf closure
TARGET_NODE = 1  # sh:targetNode
TARGET_SUBJECTS_OF = 2  # sh:targetSubjectsOf
TARGET_OBJECTS_OF = 3  # sh:targetObjectsOf


@dataclass(frozen=True, slots=True)
class Target:
    """One target declaration. ``kind`` is a ``TARGET_*`` constant; ``term`` is the class, node or
    predicate. ``implicit`` is True for the implicit class target of a shape that is also an rdfs:Class."""

    kind: int
    term: Term
    implicit: bool = False


# ---- property paths ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PredicatePath:
    """``ex:p`` — one step along a predicate."""

    predicate: URIRef


@dataclass(frozen=True, slots=True)
class InversePath:
    """``[ sh:inversePath P ]`` — ``P`` walked backwards."""

    path: Path


@dataclass(frozen=True, slots=True)
class SequencePath:
    """``( P1 P2 ... )`` — at least two steps, each fed by the previous one's values."""

    paths: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class AlternativePath:
    """``[ sh:alternativePath ( P1 P2 ... ) ]`` — union of the members' values."""

    paths: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class ZeroOrMorePath:
    """``[ sh:zeroOrMorePath P ]`` — reflexive transitive closure of ``P``."""

    path: Path


@dataclass(frozen=True, slots=True)
class OneOrMorePath:
    """``[ sh:oneOrMorePath P ]`` — transitive closure of ``P``."""

    path: Path


@dataclass(frozen=True, slots=True)
class ZeroOrOnePath:
    """``[ sh:zeroOrOnePath P ]`` — the focus node itself plus one step of ``P``."""

    path: Path


Path = Union[
    PredicatePath, InversePath, SequencePath, AlternativePath, ZeroOrMorePath, OneOrMorePath, ZeroOrOnePath
]


def path_predicates(path: Path) -> frozenset[URIRef]:
    """Every predicate IRI the path can walk along (either direction)."""
    if isinstance(path, PredicatePath):
        return frozenset((path.predicate,))
    if isinstance(path, (SequencePath, AlternativePath)):
        out: frozenset[URIRef] = frozenset()
        for p in path.paths:
            out |= path_predicates(p)
        return out
    return path_predicates(path.path)


# ---- constraints: one dataclass per SHACL Core component ----------------------------------------------------
# Node-kind bit masks: sh:nodeKind values map to a union of term kinds (kernels test ``mask & (1 << kind)``).
NODE_KIND_IRI = 1
NODE_KIND_BLANK = 2
NODE_KIND_LITERAL = 4
NODE_KIND_MASKS: Mapping[URIRef, int] = {
    SH.IRI: NODE_KIND_IRI,
    SH.BlankNode: NODE_KIND_BLANK,
    SH.Literal: NODE_KIND_LITERAL,
    SH.BlankNodeOrIRI: NODE_KIND_BLANK | NODE_KIND_IRI,
    SH.BlankNodeOrLiteral: NODE_KIND_BLANK | NODE_KIND_LITERAL,
    SH.IRIOrLiteral: NODE_KIND_IRI | NODE_KIND_LITERAL,
}


@dataclass(frozen=True, slots=True)
class ClassConstraint:
    """``sh:class``: every value node is a SHACL instance of ``cls`` (rdf:type / rdfs:subClassOf* in data)."""

    component: ClassVar[URIRef] = SH.ClassConstraintComponent
    param: ClassVar[URIRef] = SH["class"]
    cls: URIRef | BNode


@dataclass(frozen=True, slots=True)
class DatatypeConstraint:
    """``sh:datatype``: every value node is a well-formed literal of exactly ``datatype``
    (``rdf:langString`` for language-tagged strings)."""

    component: ClassVar[URIRef] = SH.DatatypeConstraintComponent
    param: ClassVar[URIRef] = SH.datatype
    datatype: URIRef


@dataclass(frozen=True, slots=True)
class NodeKindConstraint:
    """``sh:nodeKind``: ``mask`` is the union of ``NODE_KIND_*`` bits allowed; ``node_kind`` the sh: IRI."""

    component: ClassVar[URIRef] = SH.NodeKindConstraintComponent
    param: ClassVar[URIRef] = SH.nodeKind
    node_kind: URIRef
    mask: int


@dataclass(frozen=True, slots=True)
class MinCountConstraint:
    """``sh:minCount``: at least ``count`` value nodes (property shapes only). One result, no sh:value."""

    component: ClassVar[URIRef] = SH.MinCountConstraintComponent
    param: ClassVar[URIRef] = SH.minCount
    count: int


@dataclass(frozen=True, slots=True)
class MaxCountConstraint:
    """``sh:maxCount``: at most ``count`` value nodes (property shapes only). One result, no sh:value."""

    component: ClassVar[URIRef] = SH.MaxCountConstraintComponent
    param: ClassVar[URIRef] = SH.maxCount
    count: int


@dataclass(frozen=True, slots=True)
class MinExclusiveConstraint:
    """``sh:minExclusive``: value > ``value`` (SPARQL ``>``); incomparable values violate."""

    component: ClassVar[URIRef] = SH.MinExclusiveConstraintComponent
    param: ClassVar[URIRef] = SH.minExclusive
    value: Literal


@dataclass(frozen=True, slots=True)
class MinInclusiveConstraint:
    """``sh:minInclusive``: value >= ``value``; incomparable values violate."""

    component: ClassVar[URIRef] = SH.MinInclusiveConstraintComponent
    param: ClassVar[URIRef] = SH.minInclusive
    value: Literal


@dataclass(frozen=True, slots=True)
class MaxExclusiveConstraint:
    """``sh:maxExclusive``: value < ``value``; incomparable values violate."""

    component: ClassVar[URIRef] = SH.MaxExclusiveConstraintComponent
    param: ClassVar[URIRef] = SH.maxExclusive
    value: Literal


@dataclass(frozen=True, slots=True)
class MaxInclusiveConstraint:
    """``sh:maxInclusive``: value <= ``value``; incomparable values violate."""

    component: ClassVar[URIRef] = SH.MaxInclusiveConstraintComponent
    param: ClassVar[URIRef] = SH.maxInclusive
    value: Literal


@dataclass(frozen=True, slots=True)
class MinLengthConstraint:
    """``sh:minLength``: ``len(str(value)) >= length`` in characters; blank nodes always violate."""

    component: ClassVar[URIRef] = SH.MinLengthConstraintComponent
    param: ClassVar[URIRef] = SH.minLength
    length: int


@dataclass(frozen=True, slots=True)
class MaxLengthConstraint:
    """``sh:maxLength``: ``len(str(value)) <= length`` in characters; blank nodes always violate."""

    component: ClassVar[URIRef] = SH.MaxLengthConstraintComponent
    param: ClassVar[URIRef] = SH.maxLength
    length: int


@dataclass(frozen=True, slots=True)
class PatternConstraint:
    """``sh:pattern`` (+ ``sh:flags``): XPath regex ``pattern`` matches ``str(value)``; blank nodes violate.
    ``flags`` is the raw sh:flags string ("" if absent; letters among ``ismxq``)."""

    component: ClassVar[URIRef] = SH.PatternConstraintComponent
    param: ClassVar[URIRef] = SH.pattern
    pattern: str
    flags: str = ""


@dataclass(frozen=True, slots=True)
class LanguageInConstraint:
    """``sh:languageIn``: value is a literal whose language tag matches one of ``languages``
    (SPARQL ``langMatches``: case-insensitive, ``en`` matches ``en-US``)."""

    component: ClassVar[URIRef] = SH.LanguageInConstraintComponent
    param: ClassVar[URIRef] = SH.languageIn
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UniqueLangConstraint:
    """``sh:uniqueLang true``: no two value nodes share a non-empty language tag (one result per tag)."""

    component: ClassVar[URIRef] = SH.UniqueLangConstraintComponent
    param: ClassVar[URIRef] = SH.uniqueLang
    unique: bool = True


@dataclass(frozen=True, slots=True)
class EqualsConstraint:
    """``sh:equals``: the value set equals the focus node's ``predicate`` objects; one result per node in
    the symmetric difference."""

    component: ClassVar[URIRef] = SH.EqualsConstraintComponent
    param: ClassVar[URIRef] = SH.equals
    predicate: URIRef


@dataclass(frozen=True, slots=True)
class DisjointConstraint:
    """``sh:disjoint``: no value node is also a ``predicate`` object of the focus node."""

    component: ClassVar[URIRef] = SH.DisjointConstraintComponent
    param: ClassVar[URIRef] = SH.disjoint
    predicate: URIRef


@dataclass(frozen=True, slots=True)
class LessThanConstraint:
    """``sh:lessThan``: every value node < every ``predicate`` object of the focus (incomparable violates)."""

    component: ClassVar[URIRef] = SH.LessThanConstraintComponent
    param: ClassVar[URIRef] = SH.lessThan
    predicate: URIRef


@dataclass(frozen=True, slots=True)
class LessThanOrEqualsConstraint:
    """``sh:lessThanOrEquals``: every value node <= every ``predicate`` object of the focus."""

    component: ClassVar[URIRef] = SH.LessThanOrEqualsConstraintComponent
    param: ClassVar[URIRef] = SH.lessThanOrEquals
    predicate: URIRef


@dataclass(frozen=True, slots=True)
class NotConstraint:
    """``sh:not``: every value node does NOT conform to ``shape``."""

    component: ClassVar[URIRef] = SH.NotConstraintComponent
    param: ClassVar[URIRef] = SH["not"]
    shape: ShapeRef


@dataclass(frozen=True, slots=True)
class AndConstraint:
    """``sh:and``: every value node conforms to all of ``shapes``."""

    component: ClassVar[URIRef] = SH.AndConstraintComponent
    param: ClassVar[URIRef] = SH["and"]
    shapes: tuple[ShapeRef, ...]


@dataclass(frozen=True, slots=True)
class OrConstraint:
    """``sh:or``: every value node conforms to at least one of ``shapes``."""

    component: ClassVar[URIRef] = SH.OrConstraintComponent
    param: ClassVar[URIRef] = SH["or"]
    shapes: tuple[ShapeRef, ...]


@dataclass(frozen=True, slots=True)
class XoneConstraint:
    """``sh:xone``: every value node conforms to exactly one of ``shapes`` (list members counted with
    multiplicity, as the spec's ``(sh:xone (ex:s ex:s))`` test requires)."""

    component: ClassVar[URIRef] = SH.XoneConstraintComponent
    param: ClassVar[URIRef] = SH.xone
    shapes: tuple[ShapeRef, ...]


@dataclass(frozen=True, slots=True)
class NodeConstraint:
    """``sh:node``: every value node conforms to the node shape ``shape``."""

    component: ClassVar[URIRef] = SH.NodeConstraintComponent
    param: ClassVar[URIRef] = SH.node
    shape: ShapeRef


@dataclass(frozen=True, slots=True)
class PropertyConstraint:
    """``sh:property``: every value node is validated against property shape ``shape``; its results are
    reported as they are (source shape = the property shape)."""

    component: ClassVar[URIRef] = SH.PropertyConstraintComponent
    param: ClassVar[URIRef] = SH.property
    shape: ShapeRef


@dataclass(frozen=True, slots=True)
class QualifiedValueShapeConstraint:
    """``sh:qualifiedValueShape`` with ``sh:qualifiedMinCount``/``sh:qualifiedMaxCount`` (either may be
    None) and ``sh:qualifiedValueShapesDisjoint``. ``siblings`` are the other qualified value shapes of
    sibling property shapes (same parent shape), precomputed when ``disjoint`` is true. The component IRI
    of a result depends on which count failed: see :attr:`min_component` / :attr:`max_component`."""

    component: ClassVar[URIRef] = SH.QualifiedMinCountConstraintComponent
    min_component: ClassVar[URIRef] = SH.QualifiedMinCountConstraintComponent
    max_component: ClassVar[URIRef] = SH.QualifiedMaxCountConstraintComponent
    param: ClassVar[URIRef] = SH.qualifiedValueShape
    shape: ShapeRef
    min_count: int | None = None
    max_count: int | None = None
    disjoint: bool = False
    siblings: tuple[ShapeRef, ...] = ()


@dataclass(frozen=True, slots=True)
class ClosedConstraint:
    """``sh:closed true`` (+ ``sh:ignoredProperties``): the focus node has no outgoing predicate outside
    ``allowed`` (the predicate paths of the shape's ``sh:property`` shapes plus ``ignored``). One result per
    offending triple, with sh:resultPath = the predicate and sh:value = the object."""

    component: ClassVar[URIRef] = SH.ClosedConstraintComponent
    param: ClassVar[URIRef] = SH.closed
    ignored: tuple[URIRef, ...] = ()
    allowed: tuple[URIRef, ...] = ()


@dataclass(frozen=True, slots=True)
class HasValueConstraint:
    """``sh:hasValue``: ``value`` is among the value nodes (one result, no sh:value, if not)."""

    component: ClassVar[URIRef] = SH.HasValueConstraintComponent
    param: ClassVar[URIRef] = SH.hasValue
    value: Term


@dataclass(frozen=True, slots=True)
class InConstraint:
    """``sh:in``: every value node is one of ``values`` (RDF term equality)."""

    component: ClassVar[URIRef] = SH.InConstraintComponent
    param: ClassVar[URIRef] = SH["in"]
    values: tuple[Term, ...]


Constraint = Union[
    ClassConstraint,
    DatatypeConstraint,
    NodeKindConstraint,
    MinCountConstraint,
    MaxCountConstraint,
    MinExclusiveConstraint,
    MinInclusiveConstraint,
    MaxExclusiveConstraint,
    MaxInclusiveConstraint,
    MinLengthConstraint,
    MaxLengthConstraint,
    PatternConstraint,
    LanguageInConstraint,
    UniqueLangConstraint,
    EqualsConstraint,
    DisjointConstraint,
    LessThanConstraint,
    LessThanOrEqualsConstraint,
    NotConstraint,
    AndConstraint,
    OrConstraint,
    XoneConstraint,
    NodeConstraint,
    PropertyConstraint,
    QualifiedValueShapeConstraint,
    ClosedConstraint,
    HasValueConstraint,
    InConstraint,
]

VALUE_RANGE_CONSTRAINTS = (
    MinExclusiveConstraint,
    MinInclusiveConstraint,
    MaxExclusiveConstraint,
    MaxInclusiveConstraint,
)
SHAPE_BASED_CONSTRAINTS = (
    NotConstraint,
    AndConstraint,
    OrConstraint,
    XoneConstraint,
    NodeConstraint,
    PropertyConstraint,
    QualifiedValueShapeConstraint,
)


# ---- shapes --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Shape:
    """One node shape (``path is None``) or property shape.

    ``severity`` is ``sh:Violation`` / ``sh:Warning`` / ``sh:Info`` (or any IRI the shapes graph used);
    ``messages`` are the ``sh:message`` literals copied to every result; a ``deactivated`` shape produces no
    results and every node conforms to it. ``constraints`` keep the shapes graph's order for a given
    parameter; ``where`` locates the shape for messages.
    """

    id: ShapeRef
    targets: tuple[Target, ...] = ()
    path: Path | None = None
    constraints: tuple[Constraint, ...] = ()
    severity: URIRef = SH.Violation
    messages: tuple[Literal, ...] = ()
    deactivated: bool = False
    where: str = ""

    @property
    def is_property_shape(self) -> bool:
        """True for a property shape (it has an ``sh:path``)."""
        return self.path is not None

    @property
    def is_node_shape(self) -> bool:
        """True for a node shape (no ``sh:path``)."""
        return self.path is None


@dataclass(frozen=True, slots=True)
class ShapesIR:
    """All shapes of one shapes graph. ``shapes`` maps id -> :class:`Shape` (deterministic order);
    ``source`` names the file (or ``"<graph>"``) for messages."""

    shapes: Mapping[ShapeRef, Shape]
    source: str = "<graph>"
    prefixes: Mapping[str, str] = field(default_factory=dict)

    def targeted(self) -> tuple[Shape, ...]:
        """Shapes with at least one target (the roots of validation), deactivated ones included."""
        return tuple(s for s in self.shapes.values() if s.targets)

    def __getitem__(self, ref: ShapeRef) -> Shape:
        return self.shapes[ref]

    def __len__(self) -> int:
        return len(self.shapes)
