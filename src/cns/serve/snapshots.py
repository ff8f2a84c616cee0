"""State snapshots of a shard: recovery = the latest valid snapshot + the journal entries after it.

The snapshot holds the journal-derived state (:class:`~cns.serve.model.ShardModel`), never the live objects:
the live stages are a few messages behind or ahead of the journal at any instant (a batch in a mailbox is
journalled but not yet corroborated), while the model reflects exactly the entries up to its index. So a
recovery from a snapshot plus the tail gives the same state as a replay of the whole journal -- by
construction, and checked by ``tests/serve/test_snapshots.py``.

:class:`Snapshotter` (``<shard>:snapshots``, under the top supervisor) follows the journal: every
``check_s`` it applies the new entries (at most ``max_entries`` per turn: the node's other processes never
wait long) to the model and, once ``[journal] snapshot_every`` entries passed since the last snapshot,
exports it (array copies on the node's thread: 2.9 MB for the default config, median 2 ms measured on a
loaded 2-core host) and writes it on a writer thread (file write and fsyncs: 33-200 ms there, off the
node; :class:`cns.journal.snapshot.SnapshotStore`: atomic files, CRC-checked, ``snapshot_retain`` newest
kept). A crash inside an apply leaves the model marked dirty: the restarted snapshotter rebuilds it
from the latest snapshot and the journal. Call ``"snapshot"`` writes one now (returns its index).

:func:`recover_model`: the newest snapshot that reads back intact, is not past the journal's end and fits
the shard's config, then the tail replayed; every skipped snapshot is logged as a warning (``cns.serve``)
and listed in the result, and with none usable the whole journal is replayed.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from cns.journal.errors import JournalError, SnapshotError
from cns.journal.reader import JournalReader
from cns.journal.snapshot import Snapshot, SnapshotStore
from cns.otp import GenServer
from cns.runtime import From
from cns.serve.model import ModelError, ShardModel
from cns.serve.state import ServeState

__all__ = ["Snapshotter", "recover_model", "snapshot_dir"]

log = logging.getLogger("cns.serve")


def snapshot_dir(journal: Any) -> str:
    """The snapshot directory of a :class:`~cns.serve.journal.ServeJournal`: ``<dir>/<shard>.snapshots``."""
    return str(journal.directory) + ".snapshots"


def recover_model(journal: Any, state: ServeState) -> tuple[ShardModel, dict[str, Any]]:
    """The model at the journal's end: the newest usable snapshot + the entries after it (see the module doc).
    Returns it and ``{"entries", "snapshot", "snapshot_skipped", "replayed", "seconds"}`` (``snapshot``: the
    index started from, None = the whole journal replayed)."""
    t0 = time.perf_counter()
    store = SnapshotStore(snapshot_dir(journal), retain=max(1, journal.spec.snapshot_retain))
    reader = JournalReader(journal.directory, journal.registry)
    try:
        end = reader.scan_end()
        first = reader.first_index
        model = ShardModel(state, journal.feeds)
        used: int | None = None
        skipped: list[str] = []
        for index, path in reversed(store.paths()):
            if index > end:
                skipped.append(f"{path.name}: index {index} is past the journal's end {end}")
                continue
            if index + 1 < first:
                skipped.append(f"{path.name}: the journal no longer holds entry {index + 1}")
                continue
            try:
                snap = Snapshot.from_bytes(path.read_bytes(), str(path))
                if snap.index != index:
                    raise SnapshotError(f"{path}: file name says {index}, header {snap.index}")
                model.load(dict(snap.arrays))
            except (OSError, SnapshotError, ModelError) as e:
                skipped.append(f"{path.name}: {e}")
                model = ShardModel(state, journal.feeds)
                continue
            used = index
            break
        for why in skipped:
            log.warning("recovery: snapshot skipped: %s", why)
        if used is None and skipped:
            log.warning("recovery: no usable snapshot, replaying the whole journal (%d entries)", end)
        replayed = 0
        if model.index < end:
            reader.seek(model.index + 1)
            while (chunk := reader.read(min(65536, end - model.index))) is not None:
                model.apply_chunk(chunk)
                replayed += len(chunk)
                if model.index >= end:
                    break
    finally:
        reader.close()
    return model, {
        "entries": end,
        "snapshot": used,
        "snapshot_skipped": skipped,
        "replayed": replayed,
        "seconds": round(time.perf_counter() - t0, 4),
    }


class _Tick:
    __slots__ = ()


_TICK = _Tick()


class Snapshotter(GenServer):
    """Follows the shard's journal into its model and writes snapshots (see the module doc)."""

    def init(self, state: ServeState, check_s: float = 0.05, max_entries: int = 8192) -> None:
        self.state = state
        j = state.extra["journal"]
        self.journal = j
        if state.extra.get("model_dirty") or state.extra.get("model") is None:
            state.extra["model"], _ = recover_model(j, state)
            state.extra["model_dirty"] = False
        self.model: ShardModel = state.extra["model"]
        self.store = SnapshotStore(snapshot_dir(j), retain=max(1, j.spec.snapshot_retain))
        self.every = int(j.spec.snapshot_every)
        paths = self.store.paths()
        self.last = paths[-1][0] if paths else 0
        self.max_entries = max_entries
        self.reader = JournalReader(j.directory, j.registry, start=self.model.index + 1)
        self.timer = self.node.send_interval(check_s, self.pid, _TICK)
        self.written = 0
        self.write_s = 0.0
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="cns-snapshot")
        self.pending: Future[None] | None = None

    def terminate(self, reason: Any) -> None:
        self.node.cancel_timer(self.timer)
        self.reader.close()
        self.pool.shutdown(wait=True)  # a snapshot being written is finished, never left half done

    def _follow(self, limit: int) -> int:
        """Apply up to ``limit`` new entries (up to the writer's last index); returns how many."""
        end = self.journal.writer.last_index
        m = self.model
        done = 0
        self.state.extra["model_dirty"] = True  # stays set if an apply raises: the successor rebuilds
        while m.index < end and done < limit:
            chunk = self.reader.read(min(limit - done, end - m.index))
            if chunk is None:
                break
            m.apply_chunk(chunk)
            done += len(chunk)
        self.state.extra["model_dirty"] = False
        return done

    def _write(self, *, wait: bool = False) -> int:
        """Export the model (copies, on the node's thread) and write it on the writer thread (the file
        write and its fsyncs, tens of ms, off the node); one write at a time. Returns the index written or
        queued, -1 when a previous write is still running (``wait``: wait for this one)."""
        if self.pending is not None and not self.pending.done():
            if not wait:
                return -1
            self.pending.result()
        arrays, index = self.model.export(), self.model.index
        self.last = index

        def write() -> None:
            t = time.perf_counter()
            try:
                self.store.write(arrays, index)
            except (SnapshotError, JournalError) as e:
                log.warning("snapshot at %d not written: %s", index, e)
                return
            self.write_s += time.perf_counter() - t
            self.written += 1

        self.pending = self.pool.submit(write)
        if wait:
            self.pending.result()
        return index

    def handle_info(self, msg: Any) -> None:
        if msg is not _TICK:
            return
        self._follow(self.max_entries)
        if self.every and self.model.index - self.last >= self.every:
            self._write()

    def handle_call(self, request: Any, from_: From) -> Any:
        if request == "snapshot":
            self._follow(1 << 62)
            return self._write(wait=True) if self.model.index > self.last else self.last
        if request == "stats":
            return {
                "index": self.model.index,
                "last_snapshot": self.last,
                "written": self.written,
                "write_s": round(self.write_s, 4),
            }
        raise ValueError(f"Snapshotter: unknown call {request!r}")
