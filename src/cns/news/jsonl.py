"""JSON Lines news: ``read_jsonl`` (msgspec-typed decode, quarantine per line) and ``write_jsonl``.

One item per line, keys as in ``docs/news-binary.md`` §"JSON Lines". A line that cannot become a record is
quarantined as a :class:`Reject` with its 1-based line number and a reason naming *every* bad field; reading
never stops and never raises on input. Blank (whitespace-only) lines carry nothing and are skipped silently, so
``len(batch) + len(batch.rejects)`` is the number of non-blank lines.

Beyond the schema, a line is quarantined when a string field is longer than ``MAX_FIELD_BYTES`` UTF-8 bytes
(``bad_length``: the binary format could not hold it), a time lies outside the reader's :class:`TimeWindow`
(``time_range``), the id does not fit in uint64 (``bad_value``), the JSON nests deeper than the decoder's
recursion limit (``bad_json``) or the line is longer than ``MAX_LINE_BYTES`` (``bad_length``, not decoded).

Fast path: each line is decoded once by a C-level msgspec decoder whose string limits are tight enough that
an accepted string always fits; the window and id checks run vectorised per chunk. Only a line that fails
(or holds a string of more than ``MAX_FIELD_BYTES // 4`` characters) takes the per-field diagnosis path.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import numpy as np

from cns.news.batch import (
    DEFAULT_TIME_WINDOW,
    MAX_FIELD_BYTES,
    REASON_BAD_HASH,
    REASON_BAD_JSON,
    REASON_BAD_LENGTH,
    REASON_BAD_TYPE,
    REASON_BAD_VALUE,
    REASON_CONFIDENCE_RANGE,
    REASON_MISSING_FIELD,
    REASON_NOT_OBJECT,
    REASON_NOT_UTF8,
    REASON_TIME_RANGE,
    REASON_TOO_MANY_TICKERS,
    REASON_UNKNOWN_KIND,
    NewsBatch,
    Reject,
    TimeWindow,
    new_dictionaries,
    raw_text,
)
from cns.news.fileio import atomic_writer
from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import (
    EVIDENCE_NAMES,
    FLAG_DIRECT_QUOTE,
    FLAG_HAS_EVIDENCE,
    FLAG_STATISTICAL,
    FLAG_TEST,
    KIND_NAMES,
    MAX_TICKERS,
    NEWS_DTYPE,
    empty_news,
    news_header,
)

_I64 = 2**63 - 1
_U64 = 2**64 - 1
MAX_LINE_BYTES = 1 << 22  # a longer line is quarantined (bad_length) without being decoded
_SHORT_CHARS = MAX_FIELD_BYTES // 4  # a str of at most this many characters has at most MAX_FIELD_BYTES bytes
_Id = Annotated[int, msgspec.Meta(ge=0)]  # bounded to uint64 after decoding (msgspec bounds are int64)
_Time = Annotated[int, msgspec.Meta(ge=-(2**63), le=_I64)]  # int64; the TimeWindow is checked after decoding
_Hex = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$")]
_Conf = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
FLAG_NAMES: dict[str, int] = {
    "test": FLAG_TEST,
    "direct_quote": FLAG_DIRECT_QUOTE,
    "statistical": FLAG_STATISTICAL,
}
_STRING_FIELDS = ("source", "headline", "data_source")
_TIME_FIELDS = ("publish_ns", "receive_ns", "event_ns")


def _literal(values: tuple[str, ...]) -> Any:
    """``Literal[values...]`` built at run time (the value sets live in :mod:`cns.signals.dtypes`)."""
    return Literal.__getitem__(values)


def _schema(max_chars: int | None) -> list[tuple[Any, ...]]:
    """``(name, type[, default])`` of every key, in schema order; strings capped at ``max_chars`` characters."""
    name: Any
    text: Any
    if max_chars is None:
        name, text = Annotated[str, msgspec.Meta(min_length=1)], str
    else:
        name = Annotated[str, msgspec.Meta(min_length=1, max_length=max_chars)]
        text = Annotated[str, msgspec.Meta(max_length=max_chars)]
    return [
        ("id", _Id),
        ("source", name),
        ("publish_ns", _Time),
        ("receive_ns", _Time),
        ("tickers", Annotated[list[name], msgspec.Meta(max_length=MAX_TICKERS)]),
        ("type", _literal(KIND_NAMES)),
        ("headline", text),
        ("confidence", _Conf),
        ("eps_actual", float | None, None),
        ("eps_expected", float | None, None),
        ("move_pct", float | None, None),
        ("rate", float | None, None),
        ("event_ns", _Time | None, None),
        ("evidence_hash", _Hex | None, None),
        ("evidence_type", _literal(EVIDENCE_NAMES) | None, None),
        ("data_source", name | None, None),
        ("flags", list[_literal(tuple(FLAG_NAMES))] | None, None),  # type: ignore[misc]
    ]


WireItem: Any = msgspec.defstruct("WireItem", _schema(None), module=__name__)
WireItem.__doc__ = """The JSON Lines schema (msgspec validates types, ranges, enums and the hash pattern; string
byte lengths, the time window and the uint64 id are checked by the reader)."""
_FastItem: Any = msgspec.defstruct("_FastItem", _schema(_SHORT_CHARS), module=__name__)
_RawItem: Any = msgspec.defstruct(
    "_RawItem", [(f[0], msgspec.Raw, msgspec.Raw()) for f in _schema(None)], module=__name__
)
_FIELDS = [(f[0], msgspec.json.Decoder(f[1]), len(f) == 2) for f in _schema(None)]  # name, decoder, required

_DECODER = msgspec.json.Decoder(_FastItem)
_FULL_DECODER = msgspec.json.Decoder(WireItem)
_RAW_DECODER = msgspec.json.Decoder(_RawItem)
_KIND_CODE = {k: i for i, k in enumerate(KIND_NAMES)}
_EVIDENCE_CODE = {k: i for i, k in enumerate(EVIDENCE_NAMES)}
_CHUNK = 1 << 18


def _too_deep() -> str:
    limit = sys.getrecursionlimit()
    return f"{REASON_BAD_JSON}: JSON nested deeper than the decoder allows (recursion limit {limit})"


def _classify(exc: BaseException, line: bytes) -> str:
    """``"<code>: <detail>"`` for an error that stops ``line`` from being read as JSON at all."""
    if isinstance(exc, RecursionError):
        return _too_deep()
    msg = str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"{REASON_NOT_UTF8}: {msg}"
    if isinstance(exc, msgspec.ValidationError):
        return f"{REASON_NOT_OBJECT}: {msg}"
    try:  # a DecodeError: invalid UTF-8 outside strings is still an encoding problem
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        return f"{REASON_NOT_UTF8}: {u}"
    return f"{REASON_BAD_JSON}: {msg}"


def _field_reason(name: str, msg: str) -> str:
    """``"<code>: <detail> - at `$.<path>`"`` for a msgspec ValidationError of field ``name`` decoded alone."""
    base, sep, at = msg.partition(" - at `$")
    path = name + at.rstrip("`") if sep else name
    where = f" - at `$.{path}`"
    if name == "type" and base.startswith("Invalid enum value"):
        return f"{REASON_UNKNOWN_KIND}: {base}{where} (expected one of {', '.join(KIND_NAMES)})"
    if name == "evidence_hash" and "regex" in base:
        return f"{REASON_BAD_HASH}: evidence_hash must be 64 hex characters (SHA-256){where}"
    if name == "confidence" and ("<=" in base or ">=" in base):
        return f"{REASON_CONFIDENCE_RANGE}: confidence must be within 0..1{where}"
    if name == "tickers" and not sep and "length <=" in base:
        return f"{REASON_TOO_MANY_TICKERS}: at most {MAX_TICKERS} tickers{where}"
    if ", got `" in base:
        return f"{REASON_BAD_TYPE}: {base}{where}"
    return f"{REASON_BAD_VALUE}: {base}{where}"


def _too_long(path: str, s: str) -> str | None:
    n = len(s) if len(s) <= _SHORT_CHARS else len(s.encode("utf-8", "surrogatepass"))
    if n <= MAX_FIELD_BYTES:
        return None
    return (
        f"{REASON_BAD_LENGTH}: `$.{path}` is {n} UTF-8 bytes, more than the {MAX_FIELD_BYTES} a field may "
        f"hold"
    )


def _value_problems(name: str, v: Any, window: TimeWindow) -> list[str]:
    """Problems of a field value that decoded to its schema type: length, window, uint64."""
    if v is None:
        return []
    if name == "id" and v > _U64:
        return [f"{REASON_BAD_VALUE}: id {v} does not fit in uint64 - at `$.id`"]
    if name in _STRING_FIELDS:
        p = _too_long(name, v)
        return [p] if p else []
    if name == "tickers":
        return [p for k, t in enumerate(v) if (p := _too_long(f"tickers[{k}]", t))]
    if name in _TIME_FIELDS and not (name == "event_ns" and v == 0) and not window.contains(v):
        return [
            f"{REASON_TIME_RANGE}: `$.{name}` = {v} ns is outside the accepted window {window.describe()}"
        ]
    return []


def _problems(line: bytes, window: TimeWindow) -> list[str]:
    """Every reason ``line`` cannot become a record (empty: it can). The slow path: one decode per field.

    Order (the first decides the reject code): encoding errors, then bad values in schema order, then missing
    required fields — the order a one-pass decoder would meet them in.
    """
    try:
        raw = _RAW_DECODER.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        return [_classify(exc, line)]
    encoding: list[str] = []
    values: list[str] = []
    missing: list[str] = []
    for name, dec, required in _FIELDS:
        r = getattr(raw, name)
        if not len(r):
            if required:
                missing.append(f"{REASON_MISSING_FIELD}: Object missing required field `{name}`")
            continue
        try:
            v = dec.decode(r)
        except msgspec.ValidationError as exc:
            values.append(_field_reason(name, str(exc)))
            continue
        except UnicodeDecodeError as exc:
            encoding.append(f"{REASON_NOT_UTF8}: {exc} - at `$.{name}`")
            continue
        except (msgspec.DecodeError, RecursionError) as exc:
            values.append(f"{_classify(exc, bytes(r))} - at `$.{name}`")
            continue
        values.extend(_value_problems(name, v, window))
    return encoding + values + missing


def _slow(line: bytes, window: TimeWindow) -> tuple[Any, str]:
    """``(item, "")`` when ``line`` is acceptable after all (e.g. a long but legal string), else
    ``(None, reason)`` naming every bad field."""
    probs = _problems(line, window)
    if not probs:
        try:
            return _FULL_DECODER.decode(line), ""
        except (
            msgspec.DecodeError,
            UnicodeDecodeError,
            RecursionError,
        ) as exc:  # pragma: no cover - paranoia
            probs = [_classify(exc, line)]
    return None, "; ".join(probs)


def _encode_line(ln: str) -> bytes:
    try:
        return ln.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate: keep it as (invalid) bytes, it becomes a not_utf8 reject
        return ln.encode("utf-8", "surrogatepass")


def _lines(path_or_lines: str | Path | Iterable[str | bytes]) -> Iterable[bytes]:
    if isinstance(path_or_lines, (str, Path)):
        data = Path(path_or_lines).read_bytes()
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        return lines
    return (_encode_line(ln) if isinstance(ln, str) else bytes(ln) for ln in path_or_lines)


def _screen(items: list[Any], window: TimeWindow) -> np.ndarray:
    """Indices of ``items`` that break the time window or the uint64 id (vectorised over the chunk)."""
    n = len(items)
    lo, hi = window.min_ns, window.max_ns
    pub = np.fromiter((it.publish_ns for it in items), np.int64, n)
    rec = np.fromiter((it.receive_ns for it in items), np.int64, n)
    ev = np.fromiter((it.event_ns or 0 for it in items), np.int64, n)
    bad = (pub < lo) | (pub >= hi) | (rec < lo) | (rec >= hi) | ((ev != 0) & ((ev < lo) | (ev >= hi)))
    if max(it.id for it in items) > _U64:
        bad |= np.fromiter((it.id > _U64 for it in items), np.bool_, n)
    return np.flatnonzero(bad)


def _build(
    items: list[Any], sources: Dictionary, tickers: Dictionary, data_sources: Dictionary, blob_base: int
) -> tuple[np.ndarray, bytes]:
    """Columnar conversion of screened items to NEWS_DTYPE records (+ their headline bytes)."""
    n = len(items)
    r = empty_news(n)
    r["id"] = np.fromiter((it.id for it in items), np.uint64, n)
    r["publish_ns"] = np.fromiter((it.publish_ns for it in items), np.int64, n)
    r["receive_ns"] = np.fromiter((it.receive_ns for it in items), np.int64, n)
    r["event_ns"] = np.fromiter((it.event_ns or 0 for it in items), np.int64, n)
    r["source"] = np.fromiter(map(sources.intern, (it.source for it in items)), np.uint32, n)
    r["data_source"] = np.fromiter((data_sources.intern(it.data_source or "") for it in items), np.uint32, n)
    r["kind"] = np.fromiter((_KIND_CODE[it.type] for it in items), np.uint8, n)
    r["confidence"] = np.fromiter((it.confidence for it in items), np.float64, n)
    for name in ("eps_actual", "eps_expected", "move_pct", "rate"):
        r[name] = np.array([getattr(it, name) for it in items], dtype=np.float64)
    tick = r["tickers"]
    ntick = np.zeros(n, np.uint8)
    flags = np.zeros(n, np.uint16)
    ev = np.zeros(n, np.uint8)
    hashes = r["evidence_hash"]
    for i, it in enumerate(items):
        if it.tickers:
            ntick[i] = len(it.tickers)
            for j, t in enumerate(it.tickers):
                tick[i, j] = tickers.intern(t)
        if it.flags:
            f = 0
            for name in it.flags:
                f |= FLAG_NAMES[name]
            flags[i] = f
        if it.evidence_hash is not None:
            hashes[i] = np.frombuffer(bytes.fromhex(it.evidence_hash), np.uint8)
            flags[i] |= FLAG_HAS_EVIDENCE
        if it.evidence_type is not None:
            ev[i] = _EVIDENCE_CODE[it.evidence_type]
    r["n_tickers"], r["flags"], r["evidence_type"] = ntick, flags, ev
    heads = [it.headline.encode("utf-8") for it in items]
    lens = np.fromiter(map(len, heads), np.int64, n)
    r["headline_len"] = lens
    r["headline_off"] = blob_base + np.cumsum(lens) - lens
    return r, b"".join(heads)


def read_jsonl(
    path_or_lines: str | Path | Iterable[str | bytes],
    sources: Dictionary | None = None,
    tickers: Dictionary | None = None,
    *,
    data_sources: Dictionary | None = None,
    sentiment: bool = True,
    rejects_path: str | Path | None = None,
    time_window: TimeWindow | None = None,
) -> NewsBatch:
    """Read JSON Lines news into a :class:`NewsBatch`; never raises on bad lines (they become rejects).

    ``sources``/``tickers``/``data_sources`` are interned into (mutated: unseen strings of *accepted* lines get
    new codes; a quarantined line adds nothing); by default the canonical dictionaries of
    :mod:`cns.signals.universe`. ``sentiment`` fills ``records['sentiment']`` with the Loughran-McDonald headline
    polarity. ``time_window`` (default :data:`cns.news.batch.DEFAULT_TIME_WINDOW`, 1970..2100): the times
    accepted. ``rejects_path``: also write the quarantine there as JSON Lines (see :func:`write_rejects`).
    Rejects are in line order. Raises only for an unreadable path (``OSError``).
    """
    window = DEFAULT_TIME_WINDOW if time_window is None else time_window
    src, tick, dsrc = new_dictionaries(sources, tickers, data_sources)
    rejects: list[Reject] = []
    parts: list[np.ndarray] = []
    blobs: list[bytes] = []
    blob_len = 0
    items: list[Any] = []
    linenos: list[int] = []
    raws: list[bytes] = []
    decode = _DECODER.decode

    def flush() -> None:
        nonlocal blob_len, items, linenos, raws
        if not items:
            return
        bad = _screen(items, window)
        if len(bad):
            drop = set(bad.tolist())
            for k in bad.tolist():
                _, reason = _slow(raws[k], window)
                rejects.append(Reject(linenos[k], reason, raw_text(raws[k])))
            items = [it for k, it in enumerate(items) if k not in drop]
        if items:
            recs, blob = _build(items, src, tick, dsrc, blob_len)
            parts.append(recs)
            blobs.append(blob)
            blob_len += len(blob)
        items, linenos, raws = [], [], []

    for lineno, line in enumerate(_lines(path_or_lines), start=1):
        if len(line) > MAX_LINE_BYTES:
            rejects.append(
                Reject(
                    lineno,
                    f"{REASON_BAD_LENGTH}: line of {len(line)} bytes is longer than the "
                    f"{MAX_LINE_BYTES}-byte line limit",
                    raw_text(line),
                )
            )
            continue
        try:
            item = decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            if not line.strip():
                continue
            item, reason = _slow(line, window)
            if item is None:
                rejects.append(Reject(lineno, reason, raw_text(line)))
                continue
        items.append(item)
        linenos.append(lineno)
        raws.append(line)
        if len(items) >= _CHUNK:
            flush()
    flush()
    rejects.sort(key=lambda rj: rj.line)
    records = np.concatenate(parts) if parts else np.zeros(0, NEWS_DTYPE)
    blob = np.frombuffer(b"".join(blobs), np.uint8).copy() if blobs else np.zeros(0, np.uint8)
    if sentiment and len(records):
        from cns.news.sentiment import score_records

        score_records(records, blob)
    batch = NewsBatch(
        records, blob, src, tick, dsrc, rejects, news_header(records)
    )  # the header columns, a by-product
    if rejects_path is not None:
        write_rejects(rejects, rejects_path)
    return batch


def _nan_none(x: float) -> float | None:
    return None if x != x else x


def write_jsonl(batch: NewsBatch, path: str | Path) -> int:
    """Write ``batch`` as JSON Lines (schema of :func:`read_jsonl`); returns the number of lines written.

    Optional keys are omitted when absent (``event_ns`` 0, no hash, evidence ``none``, no data source, no
    flags); the EPS/move/rate keys are always written, ``null`` for NaN. Conversion tool, not a hot path.
    """
    r = batch.records
    cols = {
        name: r[name].tolist()
        for name in (
            "id",
            "publish_ns",
            "receive_ns",
            "event_ns",
            "source",
            "data_source",
            "n_tickers",
            "kind",
            "evidence_type",
            "flags",
            "confidence",
            "eps_actual",
            "eps_expected",
            "move_pct",
            "rate",
            "headline_off",
            "headline_len",
        )
    }
    tick_codes = r["tickers"].tolist()
    hashes = r["evidence_hash"]
    src_s, tick_s, ds_s = batch.sources.strings(), batch.tickers.strings(), batch.data_sources.strings()
    blob = batch.headlines.tobytes()
    encode = msgspec.json.encode
    out: list[bytes] = []
    for i in range(len(r)):
        off, ln = cols["headline_off"][i], cols["headline_len"][i]
        d: dict[str, object] = {
            "id": cols["id"][i],
            "source": src_s[cols["source"][i]],
            "publish_ns": cols["publish_ns"][i],
            "receive_ns": cols["receive_ns"][i],
        }
        if cols["event_ns"][i]:
            d["event_ns"] = cols["event_ns"][i]
        d["tickers"] = [tick_s[c] for c in tick_codes[i][: cols["n_tickers"][i]]]
        d["type"] = KIND_NAMES[cols["kind"][i]]
        d["headline"] = blob[off : off + ln].decode("utf-8", "replace")
        for name in ("eps_actual", "eps_expected", "move_pct", "rate"):
            d[name] = _nan_none(cols[name][i])
        d["confidence"] = cols["confidence"][i]
        fl = cols["flags"][i]
        if fl & FLAG_HAS_EVIDENCE:
            d["evidence_hash"] = hashes[i].tobytes().hex()
        if cols["evidence_type"][i]:
            d["evidence_type"] = EVIDENCE_NAMES[cols["evidence_type"][i]]
        if cols["data_source"][i]:
            d["data_source"] = ds_s[cols["data_source"][i]]
        names = [name for name, bit in FLAG_NAMES.items() if fl & bit]
        if names:
            d["flags"] = names
        out.append(encode(d))
    with atomic_writer(path) as fh:
        for k in range(0, len(out), _CHUNK):
            fh.write(b"\n".join(out[k : k + _CHUNK]) + b"\n")
    return len(out)


def write_rejects(rejects: Iterable[Reject], path: str | Path) -> int:
    """Write the quarantine as JSON Lines ``{"line": N, "reason": "...", "raw": "..."}``; returns the count.
    The file is replaced atomically (see :func:`cns.news.fileio.atomic_writer`)."""
    n = 0
    with atomic_writer(path) as fh:
        for rj in rejects:
            fh.write(msgspec.json.encode({"line": rj.line, "reason": rj.reason, "raw": rj.raw}) + b"\n")
            n += 1
    return n
