"""``cns journal inspect|tail|export``: look into a journal directory without the code that wrote it (the
entry types come from its ``schema.json``).

* ``inspect DIR`` — segments (first index, entries, bytes used / size), entries and records per type, first
  and last index and time, and whether the end is clean or torn (read-only: a torn tail is reported, not
  repaired; the next writer repairs it). ``--json`` prints the same as JSON. Exit 1 when damage before the
  end was found.
* ``tail DIR [-n N] [--follow]`` — the last N entries, one line each (index, UTC time, type, records,
  bytes, first record); ``--follow`` then prints entries as they are appended until interrupted.
* ``export DIR --parquet OUT`` — one Parquet file per entry type in directory OUT (``<type name>.parquet``):
  a ``journal_index`` and ``journal_ts_ns`` column, then the record fields (sub-arrays as fixed-size lists;
  news entries also get a ``headline`` string column from their blob); plus ``entries.parquet`` (one row per
  entry).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cns.journal import frame_kernels as K
from cns.journal.dtypes import ENTRY_DTYPE, TYPE_NEWS
from cns.journal.errors import JournalCorruptError, JournalError
from cns.journal.reader import Entry, JournalReader
from cns.journal.segments import SEGMENT_HEADER, Segment, list_segments

__all__ = ["export_main", "export_parquet", "inspect", "inspect_main", "tail_main"]


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def inspect(directory: str | Path) -> dict[str, Any]:
    """Facts about a journal directory (see the module doc); never modifies it."""
    d = Path(directory)
    reader = JournalReader(d)
    reg = reader.registry
    segs: list[dict[str, Any]] = []
    by_type: dict[str, dict[str, int]] = {}
    first_ts = last_ts = None
    expected = None
    problems: list[str] = []
    end = "clean"
    out = np.empty(1 << 16, ENTRY_DTYPE)
    listed = list_segments(d)
    for k, (first, path) in enumerate(listed):
        try:
            seg = Segment.open(path)
        except (JournalError, OSError) as e:
            problems.append(str(e))
            continue
        if expected is not None and first != expected:
            problems.append(f"{path.name}: starts at {first}, expected {expected} (gap)")
        pos, idx, n_entries = SEGMENT_HEADER, first, 0
        while True:
            n, pos, status, detail = K.scan_frames(
                seg.buf, pos, seg.limit, reg.itemsizes, idx, True, len(out), out
            )
            rows = out[:n]
            for code in np.unique(rows["type"]).tolist():
                m = rows["type"] == code
                name = reg[code].name if code in reg else str(code)
                t = by_type.setdefault(name, {"code": int(code), "entries": 0, "records": 0})
                t["entries"] += int(m.sum())
                t["records"] += int(rows["count"][m].sum())
            if n:
                first_ts = int(rows["ts_ns"][0]) if first_ts is None else first_ts
                last_ts = int(rows["ts_ns"][-1])
            idx += n
            n_entries += n
            if status != K.SCAN_LIMIT:
                break
        last = k == len(listed) - 1
        if status == K.SCAN_TORN:
            what = f"{path.name}: frame at byte {pos} (index {idx}) fails its {K.TORN_NAMES[detail]} check"
            if last:
                end = "torn tail (the next writer truncates it)"
            else:
                problems.append(what)
        elif status == K.SCAN_END and not last:
            problems.append(f"{path.name}: data ends at byte {pos} without an end marker")
        segs.append(
            {
                "file": path.name,
                "first_index": first,
                "entries": n_entries,
                "used_bytes": int(pos),
                "size_bytes": seg.limit,
                "sealed": status == K.SCAN_EOS,
            }
        )
        expected = idx
        seg.close()
    reader.close()
    first_index = listed[0][0] if listed else None
    last_index = (expected - 1) if expected is not None else None
    return {
        "directory": str(d),
        "segments": segs,
        "types": by_type,
        "entries": sum(s["entries"] for s in segs),
        "first_index": first_index,
        "last_index": last_index,
        "first_time": _iso(first_ts) if first_ts is not None else None,
        "last_time": _iso(last_ts) if last_ts is not None else None,
        "end": end,
        "problems": problems,
    }


def inspect_main(args: argparse.Namespace) -> int:
    """``cns journal inspect DIR [--json]``."""
    info = inspect(args.dir)
    if getattr(args, "json", False):
        print(json.dumps(info, indent=1))
        return 1 if info["problems"] else 0
    print(
        f"journal {info['directory']}: {info['entries']} entries, index {info['first_index']} .. "
        f"{info['last_index']}, {info['first_time']} .. {info['last_time']}; end: {info['end']}"
    )
    print(f"{'segment':28s} {'first index':>12s} {'entries':>9s} {'used':>12s} {'size':>12s}  sealed")
    for s in info["segments"]:
        print(
            f"{s['file']:28s} {s['first_index']:>12d} {s['entries']:>9d} {s['used_bytes']:>12d} "
            f"{s['size_bytes']:>12d}  {'yes' if s['sealed'] else 'no'}"
        )
    print(f"{'type':16s} {'code':>6s} {'entries':>10s} {'records':>12s}")
    for name, t in sorted(info["types"].items(), key=lambda kv: kv[1]["code"]):
        print(f"{name:16s} {t['code']:>6d} {t['entries']:>10d} {t['records']:>12d}")
    for p in info["problems"]:
        print(f"PROBLEM: {p}")
    return 1 if info["problems"] else 0


def _line(e: Entry, reader: JournalReader) -> str:
    t = reader.registry[e.type]
    head = f"{e.index:>10d}  {_iso(e.ts_ns)}  {t.name:12s} {len(e.records):>6d} rec  {e.records.nbytes + len(e.blob):>8d} B"
    if len(e.records):
        first = e.records[0]
        fields = ", ".join(f"{n}={first[n].tolist()!r}" for n in (t.dtype.names or ())[:6])
        head += f"  [{fields}{', ...' if len(t.dtype.names or ()) > 6 else ''}]"
    return head


def tail_main(args: argparse.Namespace) -> int:
    """``cns journal tail DIR [-n N] [--follow]``."""
    reader = JournalReader(args.dir)
    end = reader.scan_end()
    start = max(reader.first_index, end - max(0, args.n) + 1)
    reader.seek(start)
    for e in reader:
        print(_line(e, reader), flush=True)
    if args.follow:
        try:
            for e in reader.follow(poll_s=0.05):
                print(_line(e, reader), flush=True)
        except KeyboardInterrupt:
            pass
    reader.close()
    return 0


# ------------------------------------------------------------------------------------------------ Parquet
def _columns(recs: np.ndarray) -> dict[str, Any]:
    import pyarrow as pa

    cols: dict[str, Any] = {}
    for name in recs.dtype.names or ():
        col = recs[name]
        if col.ndim == 1:
            cols[name] = pa.array(col)
        else:
            width = int(np.prod(col.shape[1:]))
            cols[name] = pa.FixedSizeListArray.from_arrays(
                pa.array(np.ascontiguousarray(col).reshape(-1)), width
            )
    return cols


def _headlines(recs: np.ndarray, blobs: np.ndarray, blob_base: np.ndarray) -> Any:
    """A string column from each record's headline_off/len into its entry's blob (vectorised gather)."""
    import pyarrow as pa

    off = recs["headline_off"].astype(np.int64) + blob_base
    ln = recs["headline_len"].astype(np.int64)
    ok = (off >= 0) & (off + ln <= len(blobs))
    ln = np.where(ok, ln, 0)
    offsets = np.zeros(len(recs) + 1, np.int32)
    np.cumsum(ln, out=offsets[1:])
    total = int(offsets[-1])
    gather = np.repeat(off - offsets[:-1], ln) + np.arange(total, dtype=np.int64)
    data = blobs[gather] if total else np.zeros(0, np.uint8)
    arr = pa.StringArray.from_buffers(len(recs), pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))
    try:
        arr.validate(full=True)
        return arr
    except pa.ArrowInvalid:
        return pa.BinaryArray.from_buffers(
            pa.binary(), len(recs), [None, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())]
        )


def export_parquet(directory: str | Path, out: str | Path, *, chunk_entries: int = 1 << 16) -> dict[str, int]:
    """Write the journal in ``directory`` as Parquet files into ``out`` (see the module doc). Returns rows
    written per file name. Streams chunk by chunk (memory bounded by one chunk)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    reader = JournalReader(directory)
    writers: dict[str, Any] = {}
    rows: dict[str, int] = {}

    def put(name: str, table: Any) -> None:
        w = writers.get(name)
        if w is None:
            w = writers[name] = pq.ParquetWriter(outdir / f"{name}.parquet", table.schema)
        w.write_table(table)
        rows[name] = rows.get(name, 0) + table.num_rows

    try:
        while (chunk := reader.read(chunk_entries)) is not None:
            e = chunk.entries
            put(
                "entries",
                pa.table({k: pa.array(e[k]) for k in ("index", "ts_ns", "type", "count", "frame_len")}),
            )
            for code in np.unique(e["type"]).tolist():
                t = reader.registry[code]
                recs = chunk.records(code)
                if not len(recs):
                    continue
                m = e["type"] == code
                counts = e["count"][m].astype(np.int64)
                cols = {
                    "journal_index": pa.array(np.repeat(e["index"][m], counts)),
                    "journal_ts_ns": pa.array(np.repeat(e["ts_ns"][m], counts)),
                }
                cols.update(_columns(recs))
                if code == TYPE_NEWS and "headline_off" in (t.dtype.names or ()):
                    bl = [chunk.entry(int(k)).blob for k in np.flatnonzero(m)]
                    sizes = np.array([len(b) for b in bl], np.int64)
                    base = np.repeat(np.cumsum(sizes) - sizes, counts)
                    cols["headline"] = _headlines(
                        recs, np.concatenate(bl) if bl else np.zeros(0, np.uint8), base
                    )
                put(t.name, pa.table(cols))
    finally:
        for w in writers.values():
            w.close()
        reader.close()
    return rows


def export_main(args: argparse.Namespace) -> int:
    """``cns journal export DIR --parquet OUT``."""
    t0 = time.perf_counter()
    try:
        rows = export_parquet(args.dir, args.parquet)
    except JournalCorruptError as e:
        print(f"cns journal export: damaged journal: {e}", file=sys.stderr)
        return 1
    for name, n in sorted(rows.items()):
        print(f"{Path(args.parquet) / (name + '.parquet')}: {n} rows")
    print(f"exported in {time.perf_counter() - t0:.2f} s")
    return 0
