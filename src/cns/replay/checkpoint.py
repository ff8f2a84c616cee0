"""The run checkpoint journal of ``cns run``: a killed run resumes from its last completed phase.

A replay has three phases whose results are pure functions of the run's inputs: the **ingest** (parse →
validate → corroborate: the decision stream, the ingest totals, the violations by constraint and the quarantined
wire records), the **fast** desk pass and the **slow** baseline pass (each a
:class:`~cns.replay.desk.DeskResult`). When a phase completes, its result is written to
``<out>/.checkpoint/<key>/<phase>.ckpt`` atomically (temp file, fsync, rename, directory fsync); a restarted
run with the same key loads the completed phases instead of recomputing them, so the report of a run killed
and resumed any number of times is the report of an uninterrupted run (its ``trading`` section byte for byte;
``measured`` holds what the finishing process measured, and says which phases it resumed).

``key`` (:func:`run_key`) is a sha256 over every input: the options that shape the run (not ``out_dir``,
``progress``, ``metrics_port``, ``cache_dir``, ``checkpoint``, ``resume``), the news data (the data cache's manifest, which carries the
CRC-32 of every file, or the sha256 of a file outside the cache), the effective trading config, the rules file,
the credibility tables, the market file and the code (every ``.py``/``.ttl`` file of the ``cns`` package).
Another key's journal is ignored and removed; a completed run removes its own (:meth:`Journal.discard`).

File format: ``CNSCKPT1`` + sha256 (32 bytes) of the payload + the payload, an ``.npz`` (no pickles) holding
the arrays and a JSON ``meta`` entry. A file that fails its hash, or does not load, is a warning and the phase
is recomputed. Within the ingest nothing is checkpointed: its carried state is the corroborator's open clusters,
owned by :mod:`cns.trading.corroborate`; the ingest is a few seconds of a run whose passes take most of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cns.news.fileio import atomic_writer

if TYPE_CHECKING:
    from cns.replay.desk import DeskResult
    from cns.replay.driver import Prepared, ReplayOptions

__all__ = [
    "CHECKPOINT_AREA",
    "FORMAT_VERSION",
    "PHASES",
    "IngestState",
    "Journal",
    "code_digest",
    "run_key",
]

CHECKPOINT_AREA = ".checkpoint"
FORMAT_VERSION = 1  # bump when a phase's content or the key's recipe changes
PHASES = ("ingest", "fast", "slow")
_MAGIC = b"CNSCKPT1"
_log = logging.getLogger(__name__)
_KEY_OPTIONS_SKIPPED = frozenset({"out_dir", "progress", "metrics_port", "cache_dir", "checkpoint", "resume"})
_code_digest: str | None = None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    raise TypeError(f"checkpoint: cannot store {type(obj).__name__}")


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def code_digest() -> str:
    """sha256 of every ``.py`` and ``.ttl`` file of the installed ``cns`` package (names and bytes, sorted)."""
    global _code_digest
    if _code_digest is None:
        import cns

        root = Path(cns.__file__).resolve().parent
        h = hashlib.sha256()
        for p in sorted(q for q in root.rglob("*") if q.suffix in (".py", ".ttl") and q.is_file()):
            h.update(str(p.relative_to(root)).encode() + b"\0")
            h.update(p.read_bytes())
        _code_digest = h.hexdigest()
    return _code_digest


def _news_digest(path: Path) -> str:
    """The identity of a news image: its data-cache manifest (sizes and CRC-32 of the entry's files, verified
    when the entry was loaded) when there is one, else the sha256 of the file."""
    stem = path.stem
    prefix, _, key = stem.partition("-")
    manifest = path.parent / f"{'world' if prefix == 'news' else prefix}-{key}.json"
    if key and manifest.is_file():
        return "manifest:" + hashlib.sha256(manifest.read_bytes()).hexdigest()
    return "sha256:" + _file_sha256(path)


def run_key(opts: ReplayOptions, prep: Prepared) -> str:
    """The hex sha256 of every input of the run (see the module docstring): equal keys, equal results."""
    from cns.engine.validator import DEFAULT_SHAPES

    options = {
        f.name: getattr(opts, f.name) for f in dataclasses.fields(opts) if f.name not in _KEY_OPTIONS_SKIPPED
    }
    for name in ("news_path", "market_path", "config_path", "rules_path", "credibility_path"):
        options[name] = None if options.get(name) is None else str(options[name])
    files = {
        "market": opts.market_path,
        "config": opts.config_path,
        "credibility": opts.credibility_path,
        "rules": str(opts.rules_path or DEFAULT_SHAPES),
    }
    parts = {
        "format": FORMAT_VERSION,
        "options": options,
        "news": _news_digest(prep.news.path),
        "files": {k: _file_sha256(Path(v)) if v else None for k, v in files.items()},
        "config": repr(prep.cfg),
        "desk_credibility": hashlib.sha256(
            np.ascontiguousarray(prep.desk_table.scores).tobytes()
        ).hexdigest(),
        "street_credibility": hashlib.sha256(
            np.ascontiguousarray(prep.street_table.scores).tobytes()
        ).hexdigest(),
        "public_reports": prep.n_reports,
        "code": code_digest(),
    }
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


@dataclasses.dataclass(slots=True)
class IngestState:
    """What the ingest produced (everything later phases and the report read): ``decisions`` (DECISION_DTYPE,
    sorted by time), ``totals`` (event counts), ``rejected`` (violations by constraint), ``quarantine``
    (``(index, reason, raw)`` of corrupt wire records), the sampled stage latencies (``lat``: parse, validate,
    corroborate arrays, int64 ns), ``lat_meta`` (``every``, ``final``, ``batch_ns``) and ``ingest_s``
    (measured wall time of the ingest that ran)."""

    decisions: np.ndarray
    totals: dict[str, int]
    rejected: dict[str, int]
    quarantine: list[tuple[int, str, str]]
    lat: dict[str, np.ndarray]
    lat_meta: dict[str, Any]
    ingest_s: float


def _pack(arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> bytes:
    buf = io.BytesIO()
    aligned = [
        k for k, v in arrays.items() if v.dtype.isalignedstruct
    ]  # .npy drops the flag: restored on load
    meta_bytes = json.dumps({**meta, "__aligned__": aligned}, default=_json_default, allow_nan=True).encode()
    entries: dict[str, Any] = {"__meta__": np.frombuffer(meta_bytes, np.uint8), **arrays}
    np.savez(buf, **entries)
    payload = buf.getvalue()
    return _MAGIC + hashlib.sha256(payload).digest() + payload


class CheckpointError(ValueError):
    """A checkpoint file is damaged (bad magic, hash or content); the phase is recomputed."""


def _unpack(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if len(data) < len(_MAGIC) + 32 or not data.startswith(_MAGIC):
        raise CheckpointError("not a checkpoint file (bad magic)")
    digest, payload = data[len(_MAGIC) : len(_MAGIC) + 32], data[len(_MAGIC) + 32 :]
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError("sha256 mismatch (truncated or corrupted)")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays.pop("__meta__").tobytes())
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"unreadable payload ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError("meta is not an object")
    for k in meta.pop("__aligned__", []):
        a = arrays.get(k)
        if a is None or a.dtype.names is None:
            raise CheckpointError(f"array {k!r} is not a structured array")
        d = a.dtype
        spec = {
            "names": list(d.names),
            "formats": [d.fields[n][0] for n in d.names],
            "offsets": [d.fields[n][1] for n in d.names],
            "itemsize": d.itemsize,
            "aligned": True,
        }
        try:
            arrays[k] = a.view(np.dtype(spec))  # type: ignore[call-overload]
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"array {k!r}: {exc}") from None
    return arrays, meta


def _desk_parts(r: DeskResult) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for f in dataclasses.fields(r):
        v = getattr(r, f.name)
        if isinstance(v, np.ndarray):
            arrays[f.name] = v
        else:
            meta[f.name] = v
    return arrays, meta


def _desk_result(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> DeskResult:
    from cns.replay.desk import DeskResult

    names = {f.name for f in dataclasses.fields(DeskResult)}
    given = set(arrays) | set(meta)
    if given != names:
        raise CheckpointError(f"DeskResult fields differ: {sorted(given ^ names)}")
    try:
        fields: dict[str, Any] = {**arrays, **meta}
        return DeskResult(**fields)
    except TypeError as exc:
        raise CheckpointError(f"DeskResult does not build ({exc})") from None


class Journal:
    """The checkpoint journal of one run key in ``<out>/.checkpoint/<key>/``.

    ``load_*`` return None when the phase is not there (or is damaged: a warning, the file is removed);
    ``save_*`` write it atomically. Opening removes other keys' journals and killed writers' temp files."""

    def __init__(self, out_dir: str | Path, key: str) -> None:
        self.area = Path(out_dir) / CHECKPOINT_AREA
        self.dir = self.area / key
        self.key = key
        self.dir.mkdir(parents=True, exist_ok=True)
        for p in self.area.iterdir():
            if p.name != key:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        for p in self.dir.iterdir():
            if p.name.startswith("."):
                p.unlink(missing_ok=True)

    def phases(self) -> list[str]:
        """The phases with a checkpoint file (not yet verified), in run order."""
        return [p for p in PHASES if (self.dir / f"{p}.ckpt").is_file()]

    def _read(self, phase: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        path = self.dir / f"{phase}.ckpt"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return _unpack(data)
        except CheckpointError as exc:
            _log.warning("checkpoint %s: %s; recomputing the %s phase", path, exc, phase)
            path.unlink(missing_ok=True)
            return None

    def _write(self, phase: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        with atomic_writer(self.dir / f"{phase}.ckpt") as fh:
            fh.write(_pack(arrays, {**meta, "__phase__": phase, "__key__": self.key}))

    def save_ingest(self, st: IngestState) -> None:
        """Write the ingest phase (atomically)."""
        arrays = {"decisions": st.decisions, **{f"lat_{k}": v for k, v in st.lat.items()}}
        meta = {
            "totals": st.totals,
            "rejected": st.rejected,
            "quarantine": [list(q) for q in st.quarantine],
            "lat_meta": st.lat_meta,
            "ingest_s": st.ingest_s,
        }
        self._write("ingest", arrays, meta)

    def load_ingest(self) -> IngestState | None:
        """The ingest phase, or None."""
        got = self._read("ingest")
        if got is None:
            return None
        arrays, meta = got
        try:
            return IngestState(
                arrays["decisions"],
                {str(k): int(v) for k, v in meta["totals"].items()},
                {str(k): int(v) for k, v in meta["rejected"].items()},
                [(int(a), str(b), str(c)) for a, b, c in meta["quarantine"]],
                {k[4:]: v for k, v in arrays.items() if k.startswith("lat_")},
                dict(meta["lat_meta"]),
                float(meta["ingest_s"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            _log.warning("checkpoint %s/ingest.ckpt: bad content (%s); recomputing", self.dir, exc)
            (self.dir / "ingest.ckpt").unlink(missing_ok=True)
            return None

    def save_desk(self, phase: str, result: DeskResult) -> None:
        """Write a desk pass (``phase`` ``"fast"`` or ``"slow"``) atomically."""
        arrays, meta = _desk_parts(result)
        self._write(phase, arrays, {"result": meta})

    def load_desk(self, phase: str) -> DeskResult | None:
        """A desk pass, or None."""
        got = self._read(phase)
        if got is None:
            return None
        arrays, meta = got
        try:
            return _desk_result(arrays, dict(meta["result"]))
        except (CheckpointError, KeyError, TypeError) as exc:
            _log.warning("checkpoint %s/%s.ckpt: %s; recomputing", self.dir, phase, exc)
            (self.dir / f"{phase}.ckpt").unlink(missing_ok=True)
            return None

    def discard(self) -> None:
        """Remove the journal (the run completed and its report is published)."""
        shutil.rmtree(self.area, ignore_errors=True)
