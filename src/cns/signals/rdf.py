"""Records -> RDF graph in the schema's RDF view (for pySHACL comparisons, differential tests and debugging).

Not a hot path: one Python loop per record. The view is exactly what the record compiler assumes (see
:mod:`cns.signals.schema`): the record node ``<node_iri + id>`` with its classes and present properties, and
one linked node per distinct link code with its dictionary string and table properties.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import XSD

from cns.signals.dictionary import Dictionary
from cns.signals.schema import NODE_LINKED, NODE_RECORD, FieldBinding, RecordSchema

__all__ = ["records_to_graph", "record_node", "linked_node"]


def record_node(schema: RecordSchema, rec_id: int) -> URIRef:
    """The RDF node of record ``rec_id``: ``<schema.node_iri + rec_id>``."""
    return URIRef(f"{schema.node_iri}{int(rec_id)}")


def linked_node(schema: RecordSchema, code: int, dictionaries: Mapping[str, Dictionary]) -> URIRef:
    """The RDF node of link ``code``: ``<schema.linked_iri + code-string>``, the string from the schema's link
    dictionary (empty for an unknown code); raises KeyError if that dictionary is missing from ``dictionaries``.
    """
    d = _link_dictionary(schema)
    name = dictionaries[d].string(int(code)) if d and int(code) < len(dictionaries[d]) else ""
    return URIRef(f"{schema.linked_iri}{int(code)}-{name}")


def _link_dictionary(schema: RecordSchema) -> str | None:
    for b in schema.properties.values():
        if b.node == NODE_LINKED and b.kind == "string":
            return b.dictionary
    return None


_XSD_NON_FINITE = {math.inf: "INF", -math.inf: "-INF"}


def _lit(value: object, datatype: str | None) -> Literal:
    """The literal of a record value. Non-finite floats get XSD's lexical forms (``INF``, ``-INF``, ``NaN``;
    rdflib's normalisation would write Python's ``inf``, which XSD and other RDF tools reject once
    serialised), typed xsd:double unless the binding names xsd:float."""
    dt = URIRef(datatype) if datatype else None
    if dt == XSD.string:
        return Literal(str(value))
    if isinstance(value, float) and not math.isfinite(value):
        lexical = "NaN" if math.isnan(value) else _XSD_NON_FINITE[value]
        return Literal(lexical, datatype=dt if dt in (XSD.double, XSD.float) else XSD.double, normalize=False)
    return Literal(value, datatype=dt)


def _present(b: FieldBinding, v: object) -> bool:
    if b.absent == "nan":
        return bool(v == v)  # noqa: PLR0124 - NaN test
    if b.absent == "zero":
        return bool(v != 0)
    if b.absent == "neg":
        return bool(int(v) >= 0)  # type: ignore[call-overload]
    return True


def records_to_graph(
    batch: np.ndarray,
    schema: RecordSchema,
    dictionaries: Mapping[str, Dictionary],
    tables: Mapping[str, np.ndarray],
    graph: Graph | None = None,
) -> Graph:
    """Add the RDF view of ``batch`` (and of every linked node it references) to ``graph`` (new if None)."""
    g = graph if graph is not None else Graph()
    rec_props = [b for b in schema.properties.values() if b.node == NODE_RECORD]
    link_props = [b for b in schema.properties.values() if b.node == NODE_LINKED]
    rec_classes = [c for c in schema.classes.values() if c.node == NODE_RECORD]
    link_classes = [c for c in schema.classes.values() if c.node == NODE_LINKED]
    link_field = schema.binding(schema.link_property).field if schema.link_property else None
    seen_links: set[int] = set()
    for rec in batch:
        node = record_node(schema, rec["id"])
        kind = int(rec[schema.kind_field])
        flags = int(rec[schema.flags_field])
        for c in rec_classes:
            if c.kind_value is None and c.flag == 0:
                ok = kind not in schema.elided_kinds
            else:
                ok = (c.kind_value is None or kind == c.kind_value) and (c.flag == 0 or bool(flags & c.flag))
            if ok:
                g.add((node, RDF.type, URIRef(c.cls)))
        for b in rec_props:
            p = URIRef(b.property)
            v = rec[b.field]
            if b.kind == "number":
                if _present(b, v):
                    py = int(v) if np.issubdtype(type(v), np.integer) else float(v)
                    g.add((node, p, _lit(py, b.datatype)))
            elif b.kind == "enum":
                if _present(b, v):
                    iv = int(v)
                    g.add((node, p, _lit(b.names[iv] if iv < len(b.names) else f"<{iv}>", b.datatype)))
            elif b.kind == "code":
                if int(v) != 0:
                    g.add((node, p, _lit(dictionaries[b.dictionary].string(int(v)), b.datatype)))
            elif b.kind == "codes":
                for code in v[: int(rec[b.count_field])]:
                    g.add((node, p, _lit(dictionaries[b.dictionary].string(int(code)), b.datatype)))
            elif b.kind == "digest":
                raw = bytes(v)
                if any(raw):
                    g.add((node, p, _lit(raw.hex(), b.datatype)))
            elif b.kind == "link":
                if int(v) != 0:
                    g.add((node, p, linked_node(schema, int(v), dictionaries)))
        if link_field is not None and int(rec[link_field]) != 0:
            seen_links.add(int(rec[link_field]))
    for code in sorted(seen_links):
        ln = linked_node(schema, code, dictionaries)
        for c in link_classes:
            t = tables[c.registered_table] if c.registered_table else None
            if t is not None and code < len(t) and int(t[code]) >= 0:
                g.add((ln, RDF.type, URIRef(c.cls)))
        for b in link_props:
            p = URIRef(b.property)
            if b.kind == "string":
                d = dictionaries[b.dictionary]
                if code < len(d):
                    g.add((ln, p, _lit(d.string(code), b.datatype)))
            elif b.kind == "table":
                t = tables[b.table]
                if code < len(t) and _present(b, t[code]):
                    g.add((ln, p, _lit(int(t[code]), b.datatype)))
    return g
