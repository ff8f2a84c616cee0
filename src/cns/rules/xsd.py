"""Per-term XSD/SPARQL helpers, run once per *distinct* term (never per focus/value pair).

* :func:`compile_pattern` — XPath ``fn:matches`` regex + flags -> Python ``re`` pattern.
* :func:`order_category` / :func:`order_key` — how a term takes part in SPARQL ``<``: terms compare only
  within the same category (numeric, string, dateTime with/without zone, date, time, boolean); other terms
  (IRIs, blank nodes, ill-typed or language-tagged literals) compare with nothing, which SHACL reports as a
  violation. :func:`exact_key` gives the exact value (arbitrary-precision ``int``/``Decimal``, or integer
  microseconds) where a float64 key would round, e.g. integers beyond 2**53 such as nanosecond timestamps.
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
    "exact_key",
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
_APPROX = {XSD.float, XSD.double}  # the other numeric types are exact (xsd:decimal and its derived types)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_USEC = _dt.timedelta(microseconds=1)


def compile_pattern(pattern: str, flags: str = "") -> re.Pattern[str]:
    """Compile an XPath regular expression with ``sh:flags`` (``i s m x q``).

    Raises ValueError (message of bounded length) for an unknown flag or a pattern Python's ``re`` refuses: a
    syntax error, a repeat count beyond its range (OverflowError), groups nested past the recursion limit.
    """
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
    except (re.error, OverflowError, RecursionError) as e:  # a too-large repeat count, nesting past the stack
        shown = repr(pattern) if len(pattern) <= 100 else repr(pattern[:100]) + "..."
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise ValueError(f"invalid regular expression {shown}: {reason}") from None


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
        if not isinstance(v, (int, float, Decimal)):
            return float("nan")
        try:
            return float(v)  # correctly rounded; exact comparisons use exact_key
        except OverflowError:  # an int beyond the double range
            return float("inf") if v > 0 else float("-inf")
    if category == CAT_BOOLEAN:
        return 1.0 if v else 0.0
    if category in (CAT_DATETIME_TZ, CAT_DATETIME):
        if category == CAT_DATETIME:
            v = v.replace(tzinfo=_dt.UTC)
        return v.timestamp()
    if category == CAT_DATE:
        return float(v.toordinal())
    if category == CAT_TIME:
        return float(v.hour * 3600 + v.minute * 60 + v.second) + v.microsecond * 1e-6
    return float("nan")


def exact_key(term: Node, category: int) -> int | Decimal | None:
    """The exact value of ``term`` for SPARQL ``<`` where a float64 :func:`order_key` may round, else None.

    Numerics of xsd:decimal and its derived types (xsd:integer, xsd:long, ...) -> the ``int``/``Decimal``
    value (arbitrary precision, XPath promotes integer to decimal, so the two compare exactly with each
    other); xsd:float/double and non-finite values -> None (compared as float64: XPath promotes the other
    operand to double). dateTime -> integer microseconds since the epoch (UTC; no zone read as UTC, as
    :func:`order_key`). Other categories -> None (their float keys are exact).
    """
    assert isinstance(term, Literal)
    if category == CAT_NUMERIC:
        if literal_datatype(term) in _APPROX:
            return None
        v = term.toPython()
        if isinstance(v, bool) or not isinstance(v, (int, Decimal)):
            return None
        return v if isinstance(v, int) or v.is_finite() else None
    if category in (CAT_DATETIME_TZ, CAT_DATETIME):
        v = term.toPython()
        if category == CAT_DATETIME:
            v = v.replace(tzinfo=_dt.UTC)
        return (v - _EPOCH) // _USEC
    return None
