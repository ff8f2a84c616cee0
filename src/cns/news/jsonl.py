"""JSON Lines news: ``read_jsonl`` (msgspec-typed decode, quarantine per line) and ``write_jsonl``.

One item per line, keys as in ``docs/news-binary.md`` §"JSON Lines". A line that cannot become a record is
quarantined as a :class:`Reject` with its 1-based line number and a precise reason; reading never stops.
Blank lines carry nothing and are skipped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import numpy as np

from cns.news.batch import (
    REASON_BAD_HASH,
    REASON_BAD_JSON,
    REASON_BAD_TYPE,
    REASON_BAD_VALUE,
    REASON_CONFIDENCE_RANGE,
    REASON_MISSING_FIELD,
    REASON_NOT_OBJECT,
    REASON_NOT_UTF8,
    REASON_TOO_MANY_TICKERS,
    REASON_UNKNOWN_KIND,
    NewsBatch,
    Reject,
    new_dictionaries,
)
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
)

_I64 = 2**63 - 1
_U64 = 2**64 - 1
_Ns = Annotated[int, msgspec.Meta(ge=0, le=_I64)]
_Name = Annotated[str, msgspec.Meta(min_length=1)]
_Hex = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$")]
FLAG_NAMES: dict[str, int] = {"test": FLAG_TEST, "direct_quote": FLAG_DIRECT_QUOTE, "statistical": FLAG_STATISTICAL}


class WireItem(msgspec.Struct):
    """The JSON Lines schema (msgspec validates types, ranges, enums and the hash pattern)."""

    id: Annotated[int, msgspec.Meta(ge=0)]  # bounded to uint64 in _build
    source: _Name
    publish_ns: _Ns
    receive_ns: _Ns
    tickers: Annotated[list[_Name], msgspec.Meta(max_length=MAX_TICKERS)]
    type: Literal[KIND_NAMES]  # type: ignore[valid-type]
    headline: str
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    eps_actual: float | None = None
    eps_expected: float | None = None
    move_pct: float | None = None
    rate: float | None = None
    event_ns: _Ns | None = None
    evidence_hash: _Hex | None = None
    evidence_type: Literal[EVIDENCE_NAMES] | None = None  # type: ignore[valid-type]
    data_source: _Name | None = None
    flags: list[Literal[tuple(FLAG_NAMES)]] | None = None  # type: ignore[valid-type]


_DECODER = msgspec.json.Decoder(WireItem)
_KIND_CODE = {k: i for i, k in enumerate(KIND_NAMES)}
_EVIDENCE_CODE = {k: i for i, k in enumerate(EVIDENCE_NAMES)}
_CHUNK = 1 << 18


def _classify(exc: Exception, line: bytes) -> str:
    """``"<code>: <detail>"`` for a msgspec/Unicode error raised while decoding ``line``."""
    msg = str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"{REASON_NOT_UTF8}: {msg}"
    if isinstance(exc, msgspec.ValidationError):
        at = msg.rpartition(" - at ")[2] if " - at " in msg else ""
        if msg.startswith("Object missing required field"):
            return f"{REASON_MISSING_FIELD}: {msg}"
        if not at:
            return f"{REASON_NOT_OBJECT}: {msg}"
        if at == "`$.type`" and msg.startswith("Invalid enum value"):
            return f"{REASON_UNKNOWN_KIND}: {msg}; expected one of {', '.join(KIND_NAMES)}"
        if at == "`$.evidence_hash`" and "regex" in msg:
            return f"{REASON_BAD_HASH}: evidence_hash must be 64 hex characters (SHA-256) - at {at}"
        if at == "`$.confidence`" and ("<=" in msg or ">=" in msg):
            return f"{REASON_CONFIDENCE_RANGE}: confidence must be within 0..1 - at {at}"
        if at == "`$.tickers`" and "length <=" in msg:
            return f"{REASON_TOO_MANY_TICKERS}: at most {MAX_TICKERS} tickers - at {at}"
        if ", got `" in msg:
            return f"{REASON_BAD_TYPE}: {msg}"
        return f"{REASON_BAD_VALUE}: {msg}"
    try:  # a DecodeError: invalid UTF-8 outside strings is still an encoding problem
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        return f"{REASON_NOT_UTF8}: {u}"
    return f"{REASON_BAD_JSON}: {msg}"


def _lines(path_or_lines: str | Path | Iterable[str | bytes]) -> Iterable[bytes]:
    if isinstance(path_or_lines, (str, Path)):
        data = Path(path_or_lines).read_bytes()
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        return lines
    return (ln.encode("utf-8", "surrogateescape") if isinstance(ln, str) else ln for ln in path_or_lines)


def _build(items: list[WireItem], sources: Dictionary, tickers: Dictionary, data_sources: Dictionary,
           blob_base: int) -> tuple[np.ndarray, bytes]:
    """Columnar conversion of decoded items to NEWS_DTYPE records (+ their headline bytes)."""
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
) -> NewsBatch:
    """Read JSON Lines news into a :class:`NewsBatch`; never raises on bad lines (they become rejects).

    ``sources``/``tickers``/``data_sources`` are interned into (mutated: unseen strings get new codes); by
    default the canonical dictionaries of :mod:`cns.signals.universe`. ``sentiment`` fills
    ``records['sentiment']`` with the Loughran-McDonald headline polarity. ``rejects_path``: also write the
    quarantine there as JSON Lines (see :func:`write_rejects`).
    """
    src, tick, dsrc = new_dictionaries(sources, tickers, data_sources)
    rejects: list[Reject] = []
    parts: list[np.ndarray] = []
    blobs: list[bytes] = []
    blob_len = 0
    items: list[WireItem] = []
    decode = _DECODER.decode

    def flush() -> None:
        nonlocal blob_len, items
        if items:
            recs, blob = _build(items, src, tick, dsrc, blob_len)
            parts.append(recs)
            blobs.append(blob)
            blob_len += len(blob)
            items = []

    for lineno, line in enumerate(_lines(path_or_lines), start=1):
        try:
            item = decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            if not line.strip():
                continue
            rejects.append(Reject(lineno, _classify(exc, line), line.decode("utf-8", "backslashreplace")))
            continue
        if item.id > _U64:
            rejects.append(Reject(lineno, f"{REASON_BAD_VALUE}: id {item.id} does not fit in uint64 - at `$.id`",
                                  line.decode("utf-8", "backslashreplace")))
            continue
        items.append(item)
        if len(items) >= _CHUNK:
            flush()
    flush()
    records = np.concatenate(parts) if parts else np.zeros(0, NEWS_DTYPE)
    blob = np.frombuffer(b"".join(blobs), np.uint8).copy() if blobs else np.zeros(0, np.uint8)
    if sentiment and len(records):
        from cns.news.sentiment import score_records

        score_records(records, blob)
    batch = NewsBatch(records, blob, src, tick, dsrc, rejects)
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
    cols = {name: r[name].tolist() for name in (
        "id", "publish_ns", "receive_ns", "event_ns", "source", "data_source", "n_tickers", "kind",
        "evidence_type", "flags", "confidence", "eps_actual", "eps_expected", "move_pct", "rate",
        "headline_off", "headline_len")}
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
    with open(path, "wb") as fh:
        for k in range(0, len(out), _CHUNK):
            fh.write(b"\n".join(out[k : k + _CHUNK]) + b"\n")
    return len(out)


def write_rejects(rejects: Iterable[Reject], path: str | Path) -> int:
    """Write the quarantine as JSON Lines ``{"line": N, "reason": "...", "raw": "..."}``; returns the count."""
    n = 0
    with open(path, "wb") as fh:
        for rj in rejects:
            fh.write(msgspec.json.encode({"line": rj.line, "reason": rj.reason, "raw": rj.raw}) + b"\n")
            n += 1
    return n
