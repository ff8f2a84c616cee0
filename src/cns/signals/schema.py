"""Schema registry: which record field (or per-code table) carries which RDF property.

A *record schema* describes the RDF view of one structured dtype. Each record is one focus node (the
"record" node); a link field (e.g. ``NEWS_DTYPE.source``) points at a second node (the "source" node) whose
properties are not in the record but in per-code inputs: the dictionary string of the code and tables indexed
by the code (``credibility[code]``). The record compiler (:mod:`cns.rules.record`) maps SHACL property paths
to fields through this registry; the RDF converter (:mod:`cns.signals.rdf`) produces the same view as a graph.

Value kinds (``FieldBinding.kind``):

* ``"number"`` — numeric scalar; ``absent`` says which value means "no value" (``"nan"``, ``"zero"``,
  ``"never"``; ``"neg"`` for tables: a negative entry).
* ``"code"`` — dictionary-coded string (``uint32``, 0 = absent); ``dictionary`` names the dictionary.
* ``"codes"`` — a fixed array of codes with a count field (``tickers``/``n_tickers``).
* ``"enum"`` — small integer with a names tuple; the RDF value is ``names[v]``; ``absent="zero"``: 0 = none.
* ``"digest"`` — raw bytes (``uint8`` array), lowercase hex on the wire; all-zero bytes = absent.
* ``"link"`` — a code that names the linked node (IRI), 0 = absent.
* ``"string"`` / ``"table"`` — properties of the linked node: its dictionary string / ``table[code]``
  (``absent`` value ``-1`` for tables = no such property).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from rdflib import Namespace
from rdflib.namespace import XSD

from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import (
    EVIDENCE_NAMES,
    FLAG_HAS_EVIDENCE,
    FLAG_STATISTICAL,
    FLAG_TEST,
    KIND_HEARTBEAT,
    KIND_NAMES,
    NEWS_DTYPE,
)
from cns.signals.errors import SchemaError

__all__ = [
    "CNS",
    "FieldBinding",
    "ClassBinding",
    "RecordSchema",
    "SchemaRegistry",
    "REGISTRY",
    "news_schema",
    "KIND_CLASS_NAMES",
    "default_news_inputs",
]

CNS = Namespace("https://w3id.org/cns/ns#")

NODE_RECORD = "record"
NODE_LINKED = "linked"
_KINDS = frozenset({"number", "code", "codes", "enum", "digest", "link", "string", "table"})


@dataclass(frozen=True, slots=True)
class FieldBinding:
    """One RDF property bound to a record field (``node="record"``) or to the linked node (``"linked"``).

    ``datatype`` is the XSD datatype IRI of the literal values (None for IRIs); ``dictionary`` the name of the
    dictionary for code fields and for the linked node's ``"string"`` property; ``table`` the name of the
    per-code input table for ``"table"`` properties; ``count_field`` the count for ``"codes"``.
    """

    property: str
    field: str
    kind: str
    node: str = NODE_RECORD
    absent: str = "never"
    datatype: str | None = None
    dictionary: str | None = None
    table: str | None = None
    names: tuple[str, ...] = ()
    count_field: str | None = None
    max_count: int = 1


@dataclass(frozen=True, slots=True)
class ClassBinding:
    """When a node is a SHACL instance of ``cls``.

    For the record node: ``kind_value`` (record ``kind`` field equals it) and/or ``flag`` (bit set in
    ``flags``) — both None/0 means every (non-elided) record. For the linked node: registered in the table
    ``registered_table`` (value != -1).
    """

    cls: str
    node: str = NODE_RECORD
    kind_value: int | None = None
    flag: int = 0
    registered_table: str | None = None


@dataclass(frozen=True, slots=True)
class RecordSchema:
    """The RDF view of one dtype: property and class bindings, the link field and the tables it needs."""

    name: str
    dtype: np.dtype
    properties: Mapping[str, FieldBinding]
    classes: Mapping[str, ClassBinding]
    link_property: str | None = None
    kind_field: str = "kind"
    flags_field: str = "flags"
    elided_kinds: tuple[int, ...] = ()
    node_iri: str = "urn:cns:record:"
    linked_iri: str = "urn:cns:linked:"
    tables: tuple[str, ...] = ()
    dictionaries: tuple[str, ...] = ()
    version: str = "1"
    extra: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = set(self.dtype.names or ())
        for p, b in self.properties.items():
            where = f"schema {self.name!r}, property <{p}>"
            if b.kind not in _KINDS:
                raise SchemaError(f"{where}: unknown value kind {b.kind!r}")
            if b.node == NODE_RECORD and b.field not in names:
                raise SchemaError(f"{where}: field {b.field!r} is not in the dtype")
            if b.count_field is not None and b.count_field not in names:
                raise SchemaError(f"{where}: count field {b.count_field!r} is not in the dtype")
            if b.kind in ("code", "string") and not b.dictionary:
                raise SchemaError(f"{where}: a {b.kind} property needs a dictionary name")
            if b.kind == "table" and b.table not in self.tables:
                raise SchemaError(f"{where}: table {b.table!r} is not declared in tables")

    def binding(self, prop: str) -> FieldBinding:
        """The binding of property IRI ``prop``; raises :class:`SchemaError` if it is not bound."""
        try:
            return self.properties[str(prop)]
        except KeyError:
            raise SchemaError(f"schema {self.name!r}: property <{prop}> is not bound to a field") from None

    def fingerprint(self) -> str:
        """A string that changes whenever the dtype or a binding changes (part of the artifact cache key)."""
        parts = [self.name, self.version, str(self.dtype.descr)]
        parts += [repr(self.properties[k]) for k in sorted(self.properties)]
        parts += [repr(self.classes[k]) for k in sorted(self.classes)]
        return "|".join(parts)


class SchemaRegistry:
    """Record schemas by name and by dtype (one schema per dtype)."""

    __slots__ = ("_by_name",)

    def __init__(self) -> None:
        self._by_name: dict[str, RecordSchema] = {}

    def register(self, schema: RecordSchema) -> RecordSchema:
        """Add ``schema``; replacing a schema of the same name is allowed (latest wins)."""
        self._by_name[schema.name] = schema
        return schema

    def get(self, key: str | np.dtype) -> RecordSchema:
        """The schema named ``key``, or the one registered for dtype ``key``; :class:`SchemaError` if none."""
        if isinstance(key, str):
            if key in self._by_name:
                return self._by_name[key]
            raise SchemaError(f"no record schema named {key!r} (registered: {sorted(self._by_name)})")
        for s in self._by_name.values():
            if s.dtype == key:
                return s
        raise SchemaError(f"no record schema registered for dtype {key}")

    def names(self) -> list[str]:
        """Registered schema names, sorted."""
        return sorted(self._by_name)


KIND_CLASS_NAMES: tuple[str, ...] = (
    "Heartbeat",
    "EarningsReport",
    "MacroRelease",
    "GuidanceUpdate",
    "MergerNews",
    "SupplyDisruption",
    "CentralBankQuote",
    "Rumor",
)


def news_schema() -> RecordSchema:
    """The RDF view of :data:`~cns.signals.dtypes.NEWS_DTYPE` (see ``cns/shipped/rules/news.ttl`` for the vocabulary)."""
    x = str(XSD)
    props = [
        FieldBinding(str(CNS.publishedAt), "publish_ns", "number", absent="zero", datatype=x + "integer"),
        FieldBinding(str(CNS.receivedAt), "receive_ns", "number", absent="zero", datatype=x + "integer"),
        FieldBinding(str(CNS.eventTime), "event_ns", "number", absent="zero", datatype=x + "integer"),
        FieldBinding(str(CNS.source), "source", "link", absent="zero"),
        FieldBinding(
            str(CNS.dataSource),
            "data_source",
            "code",
            absent="zero",
            datatype=x + "string",
            dictionary="data_source",
        ),
        FieldBinding(
            str(CNS.ticker),
            "tickers",
            "codes",
            datatype=x + "string",
            dictionary="ticker",
            count_field="n_tickers",
            max_count=4,
        ),
        FieldBinding(str(CNS.eventType), "kind", "enum", datatype=x + "string", names=KIND_NAMES),
        FieldBinding(
            str(CNS.evidenceType),
            "evidence_type",
            "enum",
            absent="zero",
            datatype=x + "string",
            names=EVIDENCE_NAMES,
        ),
        FieldBinding(str(CNS.evidenceHash), "evidence_hash", "digest", datatype=x + "string"),
        FieldBinding(str(CNS.confidence), "confidence", "number", absent="nan", datatype=x + "double"),
        FieldBinding(str(CNS.epsActual), "eps_actual", "number", absent="nan", datatype=x + "double"),
        FieldBinding(str(CNS.epsExpected), "eps_expected", "number", absent="nan", datatype=x + "double"),
        FieldBinding(str(CNS.movePct), "move_pct", "number", absent="nan", datatype=x + "double"),
        FieldBinding(str(CNS.rate), "rate", "number", absent="nan", datatype=x + "double"),
        # properties of the linked source node
        FieldBinding(
            str(CNS.domain), "source", "string", node=NODE_LINKED, datatype=x + "string", dictionary="source"
        ),
        FieldBinding(
            str(CNS.credibility),
            "source",
            "table",
            node=NODE_LINKED,
            absent="neg",
            datatype=x + "integer",
            table="credibility",
        ),
    ]
    classes = [ClassBinding(str(CNS.Article)), ClassBinding(str(CNS.Claim))]
    classes += [ClassBinding(str(CNS[n]), kind_value=k) for k, n in enumerate(KIND_CLASS_NAMES)]
    classes += [
        ClassBinding(str(CNS.StatisticalClaim), flag=FLAG_STATISTICAL),
        ClassBinding(str(CNS.Evidence), flag=FLAG_HAS_EVIDENCE),
        ClassBinding(str(CNS.Source), node=NODE_LINKED, registered_table="credibility"),
    ]
    return RecordSchema(
        name="news",
        dtype=NEWS_DTYPE,
        properties={b.property: b for b in props},
        classes={c.cls: c for c in classes},
        link_property=str(CNS.source),
        elided_kinds=(KIND_HEARTBEAT,),
        node_iri="urn:cns:news:",
        linked_iri="urn:cns:source:",
        tables=("credibility",),
        dictionaries=("source", "ticker", "data_source"),
        extra={"elide_flag_mask": FLAG_TEST, "elide_zero_fields": ("confidence",)},
    )


def default_news_inputs() -> tuple[dict[str, Dictionary], dict[str, np.ndarray]]:
    """Dictionaries (source, ticker, data_source) and the credibility table of the default universe."""
    from cns.signals.universe import DEFAULT_SOURCES, source_dictionary, ticker_dictionary  # noqa: PLC0415 - market imports signals

    dicts = {"source": source_dictionary(), "ticker": ticker_dictionary(), "data_source": Dictionary()}
    cred = np.full(len(dicts["source"]), -1, dtype=np.int16)
    for s in DEFAULT_SOURCES:
        cred[dicts["source"].code(s.domain)] = s.credibility
    return dicts, {"credibility": cred}


REGISTRY = SchemaRegistry()
REGISTRY.register(news_schema())
