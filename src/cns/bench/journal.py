"""``cns bench journal``: the durable journal (:mod:`cns.journal`) against SQLite WAL and plain file writes.

Measured in one invocation with ``time.perf_counter_ns`` on this machine, 64-byte records throughout:

* **append**, per fsync policy (``os``, ``group:1000us``, ``entry``): each :meth:`JournalWriter.append` of a
  batch timed on its own -> p50/p99 per batch and per record (:func:`cns.telemetry.stats.summarize`), and
  throughput (records/s, GB/s of payload) over the whole run, segment rolls included. Batches of 1024
  records (64 KiB) and single-record entries.
* **recovery**: a journal of single-record entries (and one of 64-record entries): open a writer (tail repair
  scan), then read every entry with CRC32C verification and replay the records into preallocated arrays;
  entries/s and seconds per million entries.
* **peers, same run, same records**: SQLite in WAL mode (``synchronous=NORMAL``), ``executemany`` of each
  batch + commit; plain ``file.write`` of each batch, with and without ``os.fsync`` after each.

Every section runs ``repeats`` times (default 3) in the same invocation; the JSON keeps each run and the
tables show the median run with the min..max spread. The SQLite ratio is taken within each repeat. Each
timed run also records its CPU seconds (``time.process_time``, all threads): on a shared machine records per
CPU-second tell the cost apart from the share of the CPU the run got. ``first_touch_ms_per_64mib`` (before
each repeat) times the first write to 64 MiB of fresh anonymous memory: on a VM whose host backs guest memory
lazily it is ~30x higher than on warm memory, and every fresh page-cache page an append makes pays it too.

Goals (written to the JSON, not asserted): append >= 20 M records/s (64 B, no fsync per entry), recovery
>= 5 M entries/s, appends >= 20x SQLite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cns.bench.common import cpu_model, fmt_ns, fmt_rate, machine, print_table, write_json
from cns.bench.readme import headline_row
from cns.journal import FsyncPolicy, JournalReader, JournalWriter
from cns.journal.dtypes import TypeRegistry
from cns.telemetry.stats import summarize

REC = np.dtype(
    [
        ("id", "<u8"),
        ("ts_ns", "<i8"),
        ("instrument", "<u4"),
        ("side", "<i4"),
        ("qty", "<i8"),
        ("price", "<f8"),
        ("a", "<f8"),
        ("b", "<f8"),
        ("c", "<u8"),
    ]
)
assert REC.itemsize == 64
T = 1000
GOAL_APPEND = 20e6
GOAL_RECOVERY = 5e6
GOAL_VS_SQLITE = 20.0


def _registry() -> TypeRegistry:
    reg = TypeRegistry()
    reg.register(T, "bench64", REC)
    return reg


def records(n: int, seed: int = 1) -> np.ndarray:
    """``n`` deterministic 64-byte benchmark records (seeded by ``seed``), ``ts_ns`` 1 us apart."""
    rng = np.random.default_rng(seed)
    r = np.zeros(n, REC)
    r["id"] = np.arange(n)
    r["ts_ns"] = 1_700_000_000_000_000_000 + np.arange(n) * 1000
    r["instrument"] = rng.integers(1, 500, n)
    r["side"] = np.where(rng.random(n) < 0.5, 1, -1)
    r["qty"] = rng.integers(1, 100, n) * 100
    r["price"] = 100 + rng.random(n)
    r["a"], r["b"], r["c"] = rng.random(n), rng.random(n), rng.integers(0, 2**62, n)
    return r


def bench_append(root: Path, policy: FsyncPolicy, batch: int, total_records: int) -> dict[str, Any]:
    """Append ``total_records`` in batches of ``batch`` under fsync ``policy``; returns records/s, GB/s, wall s
    until durable, and p50/p99 ns per batch and per record.
    """
    d = root / f"append-{policy.mode}-{batch}"
    recs = records(batch)
    n = max(1, total_records // batch)
    lat = np.empty(n, np.int64)
    with JournalWriter(d, _registry(), fsync=policy, segment_bytes=64 << 20) as w:
        w.append(T, recs)  # warm: kernel compiled, first segment made
        time.sleep(0.05)
        clock = time.perf_counter_ns
        c0 = time.process_time()
        t0 = clock()
        for i in range(n):
            a = clock()
            w.append(T, recs)
            lat[i] = clock() - a
        wall = clock() - t0
        cpu = time.process_time() - c0
        if policy.mode == "group":
            w.wait_durable(w.last_index, timeout=10)
        wall_durable = clock() - t0
    shutil.rmtree(d, ignore_errors=True)
    nrec = n * batch
    per_batch = summarize(lat)
    return {
        "policy": str(policy),
        "batch_records": batch,
        "batches": n,
        "records": nrec,
        "records_per_s": nrec / (wall * 1e-9),
        "gb_per_s": nrec * REC.itemsize / wall,
        "cpu_s": cpu,
        "records_per_cpu_s": nrec / max(cpu, 1e-9),
        "wall_s_until_durable": wall_durable * 1e-9,
        "per_batch_ns": per_batch,
        "per_record_ns": {k: (v / batch if k != "count" else v) for k, v in per_batch.items()},
    }


def bench_sqlite(root: Path, batch: int, total_records: int) -> dict[str, Any]:
    """The SQLite WAL peer (``synchronous=NORMAL``, executemany + commit per batch) on the same records;
    returns records/s and ns per batch.
    """
    path = root / "peer.sqlite"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        "CREATE TABLE r (id INTEGER PRIMARY KEY, ts_ns INTEGER, instrument INTEGER, side INTEGER, "
        "qty INTEGER, price REAL, a REAL, b REAL, c INTEGER)"
    )
    n = max(1, total_records // batch)
    recs = records(batch)
    lat = np.empty(n, np.int64)
    sql = "INSERT INTO r VALUES (?,?,?,?,?,?,?,?,?)"
    clock = time.perf_counter_ns
    c0 = time.process_time()
    t0 = clock()
    for i in range(n):
        a = clock()
        ids = (recs["id"] + i * batch).tolist()
        rows = zip(ids, *(recs[f].tolist() for f in (REC.names or ())[1:]), strict=True)
        con.executemany(sql, rows)
        con.commit()
        lat[i] = clock() - a
    wall = clock() - t0
    cpu = time.process_time() - c0
    con.close()
    for p in root.glob("peer.sqlite*"):
        p.unlink()
    nrec = n * batch
    return {
        "peer": f"SQLite {sqlite3.sqlite_version} WAL synchronous=NORMAL, executemany + commit per batch",
        "batch_records": batch,
        "records": nrec,
        "records_per_s": nrec / (wall * 1e-9),
        "cpu_s": cpu,
        "records_per_cpu_s": nrec / max(cpu, 1e-9),
        "per_batch_ns": summarize(lat),
    }


def bench_file(root: Path, batch: int, total_records: int, fsync: bool) -> dict[str, Any]:
    """The plain-file peer: one ``write`` per batch, with ``os.fsync`` after each when ``fsync``; returns records/s,
    GB/s and ns per batch.
    """
    path = root / "peer.bin"
    recs = records(batch)
    n = max(1, total_records // batch)
    lat = np.empty(n, np.int64)
    clock = time.perf_counter_ns
    with open(path, "wb", buffering=0) as f:
        c0 = time.process_time()
        t0 = clock()
        for i in range(n):
            a = clock()
            f.write(recs.data)
            if fsync:
                os.fsync(f.fileno())
            lat[i] = clock() - a
        wall = clock() - t0
        cpu = time.process_time() - c0
    path.unlink()
    nrec = n * batch
    return {
        "peer": f"file.write{' + os.fsync' if fsync else ''} per batch",
        "batch_records": batch,
        "records": nrec,
        "records_per_s": nrec / (wall * 1e-9),
        "gb_per_s": nrec * REC.itemsize / wall,
        "cpu_s": cpu,
        "records_per_cpu_s": nrec / max(cpu, 1e-9),
        "per_batch_ns": summarize(lat),
    }


def bench_recovery(root: Path, entries: int, per_entry: int) -> dict[str, Any]:
    """Write ``entries`` entries of ``per_entry`` records, then time open (tail repair) and a CRC-verified read and
    replay into arrays; returns seconds, entries/s, records/s and s per million entries.
    """
    d = root / f"recovery-{per_entry}"
    recs = records(per_entry)
    with JournalWriter(d, _registry(), segment_bytes=64 << 20, pretouch_bytes=0) as w:
        for _ in range(entries):
            w.append(T, recs)
    os.sync()
    state = np.zeros(entries * per_entry, REC)
    state.view(np.uint8)[::4096] = 1  # the state arrays exist before recovery: touch their pages
    c0 = time.process_time()
    t0 = time.perf_counter_ns()
    w = JournalWriter(
        d, _registry(), pretouch_bytes=0
    )  # open: lock, schema, tail repair scan of the last segment
    last = w.last_index
    w.close()
    t1 = time.perf_counter_ns()
    pos = 0

    def apply(chunk: Any) -> None:
        nonlocal pos
        r = chunk.records(T, scratch=True)
        state[pos : pos + len(r)] = r
        pos += len(r)

    reader = JournalReader(d, verify=True)
    replayed = reader.replay(apply)
    reader.close()
    t2 = time.perf_counter_ns()
    cpu = time.process_time() - c0
    assert replayed == last == entries and pos == entries * per_entry
    assert np.array_equal(state["id"][:per_entry], recs["id"])
    shutil.rmtree(d, ignore_errors=True)
    total = t2 - t0
    return {
        "entries": entries,
        "records_per_entry": per_entry,
        "open_s": (t1 - t0) * 1e-9,
        "scan_verify_replay_s": (t2 - t1) * 1e-9,
        "total_s": total * 1e-9,
        "cpu_s": cpu,
        "entries_per_s": entries / (total * 1e-9),
        "entries_per_cpu_s": entries / max(cpu, 1e-9),
        "records_per_s": entries * per_entry / (total * 1e-9),
        "s_per_million_entries": total * 1e-9 / entries * 1e6,
    }


def first_touch_ms(nbytes: int = 64 << 20) -> float:
    """ms to write one byte per page of ``nbytes`` of fresh anonymous memory (the memory-warmth probe)."""
    t0 = time.perf_counter_ns()
    x = np.empty(nbytes, np.uint8)
    x[::4096] = 1
    t = time.perf_counter_ns() - t0
    del x
    return t * 1e-6


def _median_run(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The run whose ``key`` is the median (upper median for an even count), with every run's ``key`` in
    ``runs_<key>`` and their min..max."""
    vals = [r[key] for r in runs]
    order = sorted(range(len(runs)), key=lambda i: vals[i])
    out = dict(runs[order[len(order) // 2]])
    out[f"runs_{key}"] = vals
    out["spread"] = [min(vals), max(vals)]
    return out


def _one_repeat(root: Path, quick: bool, big: int) -> dict[str, Any]:
    rep: dict[str, Any] = {"first_touch_ms_per_64mib": first_touch_ms(), "load_avg_before": os.getloadavg()}
    rep["append"] = [
        bench_append(root, FsyncPolicy.os(), 1024, big),
        bench_append(root, FsyncPolicy.group(1000), 1024, big),
        bench_append(root, FsyncPolicy.every_entry(), 1024, (100 if quick else 1000) * 1024),
        bench_append(root, FsyncPolicy.os(), 1, 100_000 if quick else 1_000_000),
        bench_append(root, FsyncPolicy.every_entry(), 1, 200 if quick else 2000),
    ]
    rep["peers"] = {
        "sqlite_wal": bench_sqlite(root, 1024, (100 if quick else 1000) * 1024),
        "file_write": bench_file(root, 1024, big, fsync=False),
        "file_write_fsync": bench_file(root, 1024, (100 if quick else 1000) * 1024, fsync=True),
    }
    rep["recovery"] = [
        bench_recovery(root, 200_000 if quick else 1_000_000, 1),
        bench_recovery(root, 20_000 if quick else 100_000, 64),
    ]
    rep["append_vs_sqlite"] = rep["append"][0]["records_per_s"] / rep["peers"]["sqlite_wal"]["records_per_s"]
    rep["load_avg_after"] = os.getloadavg()
    return rep


def run(quick: bool = False, directory: str | None = None, repeats: int = 3) -> dict[str, Any]:
    """The whole journal benchmark, ``repeats`` times, in a fresh temp directory under ``directory`` (removed
    afterwards); ``quick``: smaller runs. Returns the JSON result with the machine, CPU, every repeat, the
    median run of each row (with its spread) and the goal checks (on the medians).
    """
    root = Path(tempfile.mkdtemp(prefix="cns-bench-journal-", dir=directory))
    big = (4 << 20) if quick else (16 << 20)  # records per no-fsync run: 256 MiB / 1 GiB of payload
    repeats = max(1, int(repeats))
    try:
        res: dict[str, Any] = {
            "machine": machine(),
            "cpu": cpu_model(),
            "quick": quick,
            "record_bytes": REC.itemsize,
            "directory": str(root),
            "repeats": repeats,
            "load_avg_before": os.getloadavg(),
        }
        bench_append(root, FsyncPolicy.os(), 1024, 64 * 1024)  # warm-up (compile, page cache)
        t0 = time.perf_counter()
        bench_recovery(root, 1000, 1)  # kernels loaded once per process: measured apart from recovery
        res["kernel_load_s"] = time.perf_counter() - t0
        reps = [_one_repeat(root, quick, big) for _ in range(repeats)]
        res["runs"] = reps
        res["load_avg_after"] = os.getloadavg()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    res["append"] = [
        _median_run([r["append"][k] for r in reps], "records_per_s") for k in range(len(reps[0]["append"]))
    ]
    res["peers"] = {
        name: _median_run([r["peers"][name] for r in reps], "records_per_s") for name in reps[0]["peers"]
    }
    res["recovery"] = [
        _median_run([r["recovery"][k] for r in reps], "entries_per_s")
        for k in range(len(reps[0]["recovery"]))
    ]
    ratios = sorted(r["append_vs_sqlite"] for r in reps)
    main_app = res["append"][0]
    sq = res["peers"]["sqlite_wal"]["records_per_s"]
    rec1 = res["recovery"][0]
    ratio = ratios[len(ratios) // 2]
    res["append_vs_sqlite"] = {"median": ratio, "runs": [r["append_vs_sqlite"] for r in reps]}
    res["goals"] = {
        "append_records_per_s": {
            "value": main_app["records_per_s"],
            "goal": GOAL_APPEND,
            "met": main_app["records_per_s"] >= GOAL_APPEND,
        },
        "recovery_entries_per_s": {
            "value": rec1["entries_per_s"],
            "goal": GOAL_RECOVERY,
            "met": rec1["entries_per_s"] >= GOAL_RECOVERY,
        },
        "append_vs_sqlite": {"value": ratio, "goal": GOAL_VS_SQLITE, "met": ratio >= GOAL_VS_SQLITE},
    }
    load = res["load_avg_before"][0]
    res["headline"] = [
        headline_row(
            "journal append, 64-B records, 1024-record batches, fsync=os (CRC32C in place + pwritev per batch; "
            f"median of {repeats}, load {load:.1f})",
            f"{main_app['records_per_s'] / 1e6:.1f} M rec/s ({main_app['gb_per_s']:.2f} GB/s)",
            peer=f"SQLite WAL executemany {sq / 1e6:.2f} M rec/s",
            ratio=f"{ratio:.0f}x",
            goal=">= 20 M rec/s and >= 20x SQLite",
            met=main_app["records_per_s"] >= GOAL_APPEND and ratio >= GOAL_VS_SQLITE,
        ),
        headline_row(
            "journal recovery: open + scan + CRC verify + replay into arrays, 1-record entries "
            f"(median of {repeats})",
            f"{rec1['entries_per_s'] / 1e6:.1f} M entries/s ({rec1['s_per_million_entries']:.3f} s per M)",
            goal=">= 5 M entries/s",
            met=rec1["entries_per_s"] >= GOAL_RECOVERY,
        ),
    ]
    return res


def _spread(x: dict[str, Any]) -> str:
    lo, hi = x["spread"]
    return f"{fmt_rate(lo)}..{fmt_rate(hi)}"


def _report(r: dict[str, Any]) -> None:
    rows = []
    for a in r["append"]:
        rows.append(
            {
                "what": f"journal append fsync={a['policy']}",
                "batch": a["batch_records"],
                "records/s": fmt_rate(a["records_per_s"]),
                "min..max": _spread(a),
                "rec/CPU-s": fmt_rate(a["records_per_cpu_s"]),
                "GB/s": f"{a['gb_per_s']:.2f}",
                "p50/batch": fmt_ns(a["per_batch_ns"]["p50"]),
                "p99/batch": fmt_ns(a["per_batch_ns"]["p99"]),
                "p50/rec": fmt_ns(a["per_record_ns"]["p50"]),
                "p99/rec": fmt_ns(a["per_record_ns"]["p99"]),
            }
        )
    for p in r["peers"].values():
        rows.append(
            {
                "what": p["peer"],
                "batch": p["batch_records"],
                "records/s": fmt_rate(p["records_per_s"]),
                "min..max": _spread(p),
                "rec/CPU-s": fmt_rate(p["records_per_cpu_s"]),
                "GB/s": f"{p.get('gb_per_s', float('nan')):.2f}",
                "p50/batch": fmt_ns(p["per_batch_ns"]["p50"]),
                "p99/batch": fmt_ns(p["per_batch_ns"]["p99"]),
                "p50/rec": "",
                "p99/rec": "",
            }
        )
    print_table(f"cns bench journal: appends (64-B records), median of {r['repeats']} runs", rows)
    print()
    print_table(
        "cns bench journal: recovery",
        [
            {
                "entries": x["entries"],
                "rec/entry": x["records_per_entry"],
                "open": fmt_ns(x["open_s"] * 1e9),
                "scan+verify+replay": fmt_ns(x["scan_verify_replay_s"] * 1e9),
                "entries/s": fmt_rate(x["entries_per_s"]),
                "min..max": _spread(x),
                "entries/CPU-s": fmt_rate(x["entries_per_cpu_s"]),
                "s per M entries": f"{x['s_per_million_entries']:.3f}",
            }
            for x in r["recovery"]
        ],
    )
    runs = ", ".join(f"{v:.1f}x" for v in r["append_vs_sqlite"]["runs"])
    print(f"append vs SQLite per repeat: {runs}")
    print(
        "first-touch ms per 64 MiB of fresh memory per repeat: "
        + ", ".join(f"{x['first_touch_ms_per_64mib']:.0f}" for x in r["runs"])
        + f"; load average before {r['load_avg_before'][0]:.2f}, after {r['load_avg_after'][0]:.2f}"
    )
    for k, g in r["goals"].items():
        print(f"goal {k}: {g['value']:.3g} vs {g['goal']:.3g} -> {'met' if g['met'] else 'NOT met'}")


def main(args: argparse.Namespace | None = None) -> int:
    """Entry of ``cns bench journal [--quick] [--repeats N] [--json PATH] [--dir DIR]``."""
    r = run(
        bool(getattr(args, "quick", False)),
        getattr(args, "dir", None),
        int(getattr(args, "repeats", None) or 3),
    )
    _report(r)
    path = getattr(args, "json", None)
    if path:
        print(f"wrote {write_json(path, r)}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m cns.bench.journal", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=3, metavar="N")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--dir", metavar="DIR")
    sys.exit(main(p.parse_args()))
