"""Reading RDF files with no side effect but the read: local bytes only, no network, no DTDs, no entities.

:func:`read_rdf` is the only way :mod:`cns.rules` turns a file into an rdflib ``Graph`` (shapes and data
alike). Its contract:

* The argument names a local file. A URL (``http://...``, ``file://...``, any ``scheme://``) is refused with
  :class:`~cns.rules.errors.UnsafeInput` — rdflib would fetch it.
* The file is read once, here; rdflib receives the bytes (or, for JSON-LD, the decoded document), never a
  path or URL it could open itself. The base IRI is still the file's ``file:`` URI, so relative IRIs resolve
  as before.
* RDF/XML (``.rdf``, ``.xml``): a document type declaration (``<!DOCTYPE``) — and with it every entity
  declaration, internal (billion laughs) or external (XXE, a file read or fetch) — is refused before rdflib
  sees the document. The check parses only the prolog with expat and stops at the root element, so it costs
  nothing on valid files and a refused file costs microseconds.
* JSON-LD (``.jsonld``): decoded with :mod:`json` here. A context that is not inline — a string (an IRI
  reference, relative or absolute) as ``@context`` or in a ``@context`` list, anywhere in the document,
  scoped contexts in term definitions included — and every ``@import`` is refused; rdflib gets the decoded
  object, so it has nothing to fetch.
* Turtle, N-Triples, N3, TriG: rdflib's parsers have no fetch mechanism. ``cns validate`` reads Turtle and
  N-Triples data with pyoxigraph (:mod:`cns.rules.encode`), from a file opened by :func:`open_local`; neither
  format can name anything to fetch. (pyoxigraph's JSON-LD parser, not used here, refuses remote contexts
  too: it has no document loader; ``tests/rules/test_fast_read.py`` checks it.)
* ``owl:imports`` is never followed (neither rdflib nor CNS fetches it); :func:`cns.rules.shapes.load_shapes`
  refuses a shapes graph that declares one, since the imported shapes would silently be missing.

Failure rules: unreadable file or syntax error -> :class:`~cns.rules.errors.DataError` (a document nested
too deeply for the parsers' recursion included); refused content -> :class:`~cns.rules.errors.UnsafeInput`.
Both name the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any, BinaryIO
from xml.parsers import expat

import rdflib
from rdflib import Graph

from cns.rules.errors import DataError, UnsafeInput

__all__ = ["read_rdf", "read_bytes", "open_local", "parse_rdf", "rdf_format", "FORMATS"]

FORMATS = {".nt": "nt", ".n3": "n3", ".rdf": "xml", ".xml": "xml", ".jsonld": "json-ld", ".trig": "trig"}
"""File extension -> rdflib format; anything else is read as Turtle."""

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def rdf_format(path: str | os.PathLike[str]) -> str:
    """The rdflib format :func:`read_rdf` uses for ``path`` (from the extension; Turtle by default)."""
    return FORMATS.get(Path(path).suffix.lower(), "turtle")


def read_rdf(path: str | os.PathLike[str]) -> Graph:
    """Read the local RDF file ``path`` into a new Graph, refusing every fetch, DTD and entity (module doc).

    Lexical forms are kept as written (``rdflib.NORMALIZE_LITERALS`` is off while parsing), so an ill-formed
    literal stays ill-formed for ``sh:datatype``. Raises :class:`DataError` / :class:`UnsafeInput`.
    """
    return parse_rdf(read_bytes(path), path)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the local file ``path``: UnsafeInput for a URL, DataError if it cannot be read."""
    where = str(path)
    if _URL.match(where):
        raise UnsafeInput(f"{where}: a URL, not a file; CNS reads local files only and never fetches")
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"{where}: cannot read: {e.strerror or e}") from e


def open_local(path: str | os.PathLike[str]) -> BinaryIO:
    """The local file ``path`` opened for binary reading (the caller closes it): UnsafeInput for a URL,
    DataError if it cannot be opened. For readers that stream a file instead of reading it whole."""
    where = str(path)
    if _URL.match(where):
        raise UnsafeInput(f"{where}: a URL, not a file; CNS reads local files only and never fetches")
    try:
        return open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as e:
        raise DataError(f"{where}: cannot read: {e.strerror or e}") from e


def parse_rdf(raw: bytes, path: str | os.PathLike[str]) -> Graph:
    """Parse ``raw``, the contents of the file ``path`` (which names the format and the base IRI and is not
    read again), under the rules of :func:`read_rdf`."""
    where = str(path)
    p = Path(path)
    fmt = rdf_format(p)
    data: Any = raw
    if fmt == "xml":
        _refuse_doctype(raw, where)
    elif fmt == "json-ld":
        data = _jsonld_document(raw, where)
    g = Graph()
    term_log = logging.getLogger(
        "rdflib.term"
    )  # rdflib logs a traceback per ill-typed literal; those are data
    old_level, old_norm = term_log.level, rdflib.NORMALIZE_LITERALS
    term_log.setLevel(logging.CRITICAL)
    # keep lexical forms as written: "none"^^xsd:boolean must stay ill-formed, not become "false"
    rdflib.NORMALIZE_LITERALS = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            g.parse(data=data, format=fmt, publicID=p.resolve().as_uri())
    except RecursionError:
        raise DataError(f"{where}: cannot parse as {fmt}: nested too deeply") from None
    except Exception as e:  # rdflib raises several unrelated exception types for syntax errors
        raise DataError(f"{where}: cannot parse as {fmt}: {_one_line(e)}") from e
    finally:
        term_log.setLevel(old_level)
        rdflib.NORMALIZE_LITERALS = old_norm
    return g


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:300] + "..."


class _Stop(Exception):
    """Raised from expat handlers to end the prolog scan."""

    def __init__(self, doctype: str | None) -> None:
        super().__init__(doctype)
        self.doctype = doctype


def _refuse_doctype(raw: bytes, where: str) -> None:
    """UnsafeInput if the XML document has a document type declaration; DataError if its prolog is not XML.

    Parses with expat (namespace processing on, as rdflib's SAX reader) until the first start tag: a DTD can
    only precede the root element, and the DOCTYPE handler fires before any declaration in it is expanded.
    """
    parser = expat.ParserCreate(namespace_separator=" ")

    def doctype(name: str, *_: Any) -> None:
        raise _Stop(name or "?")

    def root(*_: Any) -> None:
        raise _Stop(None)

    def entity(name: str, *_: Any) -> None:  # unreachable without a DOCTYPE; kept as a second guard
        raise _Stop(f"entity {name}")

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.StartElementHandler = root
    try:
        parser.Parse(raw, True)
    except _Stop as s:
        if s.doctype is not None:
            raise UnsafeInput(
                f"{where}: RDF/XML with a DOCTYPE (<!DOCTYPE {s.doctype} ...>) is refused: entity expansion "
                "and external entities are a denial-of-service and file-disclosure risk; expand the entities "
                "or convert the file to Turtle"
            ) from None
        return
    except expat.ExpatError as e:
        raise DataError(f"{where}: cannot parse as xml: {e}") from None
    raise DataError(f"{where}: cannot parse as xml: no root element")


def _jsonld_document(raw: bytes, where: str) -> Any:
    """The decoded JSON-LD document, or UnsafeInput naming the first non-inline context or ``@import``."""
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise DataError(f"{where}: cannot parse as json-ld: nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise DataError(f"{where}: cannot parse as json-ld: {e}") from None
    stack: list[Any] = [doc]
    while stack:  # iterative: the document may be nested deeper than the recursion limit
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "@import":
                    raise UnsafeInput(f"{where}: JSON-LD @import {_show(value)} is refused: {_NO_FETCH}")
                if key == "@context":
                    for ctx in value if isinstance(value, list) else [value]:
                        if isinstance(ctx, str):
                            raise UnsafeInput(
                                f"{where}: remote JSON-LD @context {_show(ctx)} is refused: {_NO_FETCH}"
                            )
                stack.append(value)
    return doc


_NO_FETCH = "CNS never fetches what a data file names (network or local files); inline the context"


def _show(v: Any) -> str:
    s = json.dumps(v)
    return s if len(s) <= 120 else s[:120] + "..."
