"""Per-term XSD/SPARQL helpers, run once per *distinct* term (never per focus/value pair).

* :func:`compile_pattern` — XPath ``fn:matches`` regex + flags -> Python ``re`` pattern.
* :func:`order_category` / :func:`order_key` — how a term takes part in SPARQL ``<``: terms compare only
  within the same category (numeric, string, dateTime with/without zone, date, time, boolean); other terms
  (IRIs, blank nodes, ill-typed or language-tagged literals) compare with nothing, which SHACL reports as a
  violation.
* :func:`lang_matches` — SPARQL ``langMatches`` (basic filtering, RFC 4647).
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal

from rdflib import RDF, XSD, Literal, URIRef
from rdflib.term import Node

__all__ = [
    "compile_pattern",
    "lang_matches",
    "literal_datatype",
    "order_category",
    "order_key",
    "CAT_NONE",
    "CAT_NUMERIC",
    "CAT_STRING",
    "CAT_DATETIME_TZ",
    "CAT_DATETIME",
    "CAT_DATE",
    "CAT_TIME",
    "CAT_BOOLEAN",
]

CAT_NONE = 0
CAT_NUMERIC = 1
CAT_STRING = 2
CAT_DATETIME_TZ = 3
CAT_DATETIME = 4
CAT_DATE = 5
CAT_TIME = 6
CAT_BOOLEAN = 7

_NUMERIC = {
    XSD.integer, XSD.decimal, XSD.float, XSD.double, XSD.int, XSD.long, XSD.short, XSD.byte,
    XSD.nonNegativeInteger, XSD.nonPositiveInteger, XSD.positiveInteger, XSD.negativeInteger,
    XSD.unsignedLong, XSD.unsignedInt, XSD.unsignedShort, XSD.unsignedByte,
}  # fmt: skip


def compile_pattern(pattern: str, flags: str = "") -> re.Pattern[str]:
    """Compile an XPath regular expression with ``sh:flags`` (``i s m x q``); ValueError if invalid."""
    bad = set(flags) - set("ismxq")
    if bad:
        raise ValueError(f"unknown regex flag(s) {''.join(sorted(bad))!r} in sh:flags {flags!r}")
    f = 0
    if "i" in flags:
        f |= re.IGNORECASE
    if "s" in flags:
        f |= re.DOTALL
    if "m" in flags:
        f |= re.MULTILINE
    if "x" in flags:
        pattern = re.sub(r"\s+", "", pattern)  # XPath 'x' removes whitespace outside classes (close enough)
    if "q" in flags:
        pattern = re.escape(pattern)
    try:
        return re.compile(pattern, f)
    except re.error as e:
        raise ValueError(f"invalid regular expression {pattern!r}: {e}") from e


def lang_matches(tag: str, rng: str) -> bool:
    """SPARQL ``langMatches(tag, rng)``: ``*`` matches any non-empty tag; else case-insensitive prefix
    match on subtag boundaries."""
    if not tag:
        return False
    if rng == "*":
        return True
    t, r = tag.lower(), rng.lower()
    return t == r or t.startswith(r + "-")


def literal_datatype(lit: Literal) -> URIRef:
    """The datatype IRI of a literal in RDF 1.1 terms (plain -> xsd:string, tagged -> rdf:langString)."""
    if lit.language:
        return RDF.langString
    return lit.datatype if lit.datatype is not None else XSD.string


def order_category(term: Node) -> int:
    """The SPARQL ordering category of ``term`` (``CAT_*``); CAT_NONE when ``<`` is an error."""
    if not isinstance(term, Literal) or term.ill_typed or term.language:
        return CAT_NONE
    dt = literal_datatype(term)
    if dt in _NUMERIC:
        return CAT_NUMERIC
    if dt == XSD.string:
        return CAT_STRING
    if dt == XSD.boolean:
        return CAT_BOOLEAN
    v = term.toPython()
    if dt == XSD.dateTime and isinstance(v, _dt.datetime):
        return CAT_DATETIME_TZ if v.tzinfo is not None else CAT_DATETIME
    if dt == XSD.date and isinstance(v, _dt.date):
        return CAT_DATE
    if dt == XSD.time and isinstance(v, _dt.time):
        return CAT_TIME
    return CAT_NONE


def order_key(term: Node, category: int) -> float | str:
    """A key that orders terms of one category like SPARQL ``<`` does (float, or str for strings)."""
    assert isinstance(term, Literal)
    if category == CAT_STRING:
        return str(term)
    v = term.toPython()
    if category == CAT_NUMERIC:
        return float(v) if isinstance(v, (int, float, Decimal)) else float("nan")
    if category == CAT_BOOLEAN:
        return 1.0 if v else 0.0
    if category in (CAT_DATETIME_TZ, CAT_DATETIME):
        if category == CAT_DATETIME:
            v = v.replace(tzinfo=_dt.timezone.utc)
        return v.timestamp()
    if category == CAT_DATE:
        return float(v.toordinal())
    if category == CAT_TIME:
        return float(v.hour * 3600 + v.minute * 60 + v.second) + v.microsecond * 1e-6
    return float("nan")
