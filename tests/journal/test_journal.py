"""Writer and reader: append/read round trips, types and schema, lock, seek, rolls, follow, fsync policies."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cns.journal import FsyncPolicy, JournalReader, JournalWriter, default_registry
from cns.journal import frame_kernels as K
from cns.journal.dtypes import TYPE_EXEC, TYPE_NEWS, TypeRegistry, dtype_from_json, dtype_to_json
from cns.journal.errors import (
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalRangeError,
    JournalSchemaError,
    JournalTypeError,
)
from cns.journal.segments import list_segments
from tests.journal.helpers import BLOBBY, REC64, T_BLOB, T_REC, batch_for, check_entry, registry

pytestmark = pytest.mark.timeout(120)


def _fill(w: JournalWriter, n: int, per: int = 3) -> None:
    for _ in range(n):
        w.append(T_REC, batch_for(w.next_index, per))


def test_crc32c_known_value_and_paths_agree() -> None:
    b = np.frombuffer(b"123456789", np.uint8)
    assert int(K.crc32c_sw(b, 0, 9, 0)) == 0xE3069283
    assert int(K.crc32c(b, 0, 9, 0)) == 0xE3069283
    r = np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8)
    for s in (0, 1, 7, 13):
        whole = int(K.crc32c_sw(r, 0, 4999, 0))
        assert int(K.crc32c(r, s, 4999, K.crc32c(r, 0, s, 0))) == whole
        if K.HW_CRC:
            assert int(K.crc32c_hw(r, 0, 4999, 0)) == whole


def test_round_trip_indexes_types_blobs(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, registry(), pretouch_bytes=0) as w:
        assert w.next_index == 1 and w.last_index == 0
        assert w.append(T_REC, batch_for(1, 5)) == 1
        assert w.append(T_BLOB, np.array([(1, 2)], BLOBBY), b"headline") == 2
        assert w.append(T_REC, batch_for(3, 0)) == 3  # empty batch
        assert w.append(T_REC, batch_for(4, 2)[::-1][::-1], ts_ns=123) == 4
    r = JournalReader(tmp_path)
    es = list(r)
    assert [e.index for e in es] == [1, 2, 3, 4]
    check_entry(es[0])
    assert bytes(es[1].blob) == b"headline" and es[1].records.tolist() == [(1, 2)]
    assert len(es[2].records) == 0 and es[3].ts_ns == 123
    assert not es[0].records.flags.writeable
    r.close()


def test_type_refusals(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, registry(), pretouch_bytes=0) as w:
        with pytest.raises(JournalTypeError):
            w.append(999, batch_for(1, 1))
        with pytest.raises(JournalTypeError):
            w.append(T_REC, np.zeros(2, BLOBBY))
        with pytest.raises(JournalTypeError):
            w.append(T_REC, batch_for(1, 1), b"no blob here")
        with pytest.raises(JournalTypeError):
            w.append(T_REC, np.zeros((2, 2), REC64))
        assert w.next_index == 1  # nothing consumed
    with pytest.raises(JournalTypeError):
        TypeRegistry().register(0, "zero", REC64)


def test_schema_mismatch_and_lock(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, registry(), pretouch_bytes=0)
    with pytest.raises(JournalLockedError):
        JournalWriter(tmp_path, registry())
    w.close()
    other = TypeRegistry()
    other.register(T_REC, "rec64", BLOBBY)
    with pytest.raises(JournalSchemaError):
        JournalWriter(tmp_path, other)
    JournalWriter(tmp_path, default_registry(), pretouch_bytes=0).close()  # adds types, keeps T_REC
    assert {t.code for t in JournalReader(tmp_path).registry} >= {T_REC, T_BLOB, TYPE_NEWS, TYPE_EXEC}


def test_dtype_json_round_trip() -> None:
    for t in default_registry():
        back = dtype_from_json(dtype_to_json(t.dtype))
        assert back.itemsize == t.dtype.itemsize
        assert dtype_to_json(back) == dtype_to_json(t.dtype)
        a = np.zeros(3, t.dtype)
        assert a.view(np.uint8).view(back).tobytes() == a.tobytes()


def test_rolls_seek_and_replay(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, registry(), segment_bytes=1 << 16, pretouch_bytes=0) as w:
        for i in range(1, 2001):
            w.append(T_REC, batch_for(i, 1 + i % 7))
        big = batch_for(2001, 3000)  # 192 KB: larger than a segment, gets its own
        assert w.append(T_REC, big) == 2001
        w.append(T_REC, batch_for(2002, 1))
    segs = list_segments(tmp_path)
    assert len(segs) >= 10 and segs[0][0] == 1
    r = JournalReader(tmp_path)
    for target in (1, 2, 777, segs[3][0], segs[3][0] - 1, 2001, 2002, 2003):
        r.seek(target)
        if target == 2003:
            assert r.read() is None
            continue
        e = next(iter(r))
        assert e.index == target
        check_entry(e)
    with pytest.raises(JournalRangeError):
        r.seek(2004)
    with pytest.raises(JournalRangeError):
        r.seek(0)
    r.seek(1)
    total = []
    r.replay(lambda c: total.append(c.records(T_REC)["index"]))
    idx = np.concatenate(total)
    assert idx[0] == 1 and idx[-1] == 2002 and np.all(np.diff(idx.astype(np.int64)) >= 0)
    assert len(idx) == sum(1 + i % 7 for i in range(1, 2001)) + 3001


def test_chunk_rec_start_interleaves_types(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, registry(), pretouch_bytes=0) as w:
        for i in range(1, 30):
            if i % 3:
                w.append(T_REC, batch_for(i, i % 4))
            else:
                b = np.zeros(i % 5, BLOBBY)
                b["x"] = i
                w.append(T_BLOB, b, b"x" * i)
    c = JournalReader(tmp_path).read()
    assert c is not None
    recs, blobs = c.records(T_REC), c.records(T_BLOB)
    for row in c.entries:
        s, n = int(row["rec_start"]), int(row["count"])
        if row["type"] == T_REC:
            assert np.all(recs["index"][s : s + n] == row["index"])
        else:
            assert np.all(blobs["x"][s : s + n] == row["index"])


def test_follow_sees_appends_from_another_thread(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, registry(), segment_bytes=1 << 16)
    w.append(T_REC, batch_for(1, 1))
    r = JournalReader(tmp_path)
    got: list[int] = []

    def produce() -> None:
        for i in range(2, 1500):
            w.append(T_REC, batch_for(i, 2))
            if i % 100 == 0:
                time.sleep(0.002)

    t = threading.Thread(target=produce)
    t.start()
    for e in r.follow(timeout=2.0):
        check_entry(e)
        got.append(e.index)
        if e.index == 1499:
            break
    t.join()
    w.close()
    assert got == list(range(1, 1500))


@pytest.mark.parametrize("policy", ["entry", "group:500", "os"])
def test_fsync_policies_durable_index(tmp_path: Path, policy: str) -> None:
    fp = FsyncPolicy.parse(policy)
    with JournalWriter(tmp_path, registry(), fsync=fp, pretouch_bytes=0) as w:
        _fill(w, 50)
        if fp.mode == "entry":
            assert w.durable_index == 50
        assert w.wait_durable(50, timeout=5.0)
        assert w.durable_index == 50
    assert str(fp).startswith(fp.mode)
    with pytest.raises(JournalError):
        FsyncPolicy("group", 0)


def test_reader_refuses_hole_before_a_later_segment(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, registry(), segment_bytes=1 << 16, pretouch_bytes=0) as w:
        _fill(w, 1500)
    first_seg = list_segments(tmp_path)[0][1]
    raw = bytearray(first_seg.read_bytes())
    raw[64 + 4] ^= 0xFF  # CRC of entry 1
    first_seg.write_bytes(bytes(raw))
    with pytest.raises(JournalCorruptError):
        list(JournalReader(tmp_path))
