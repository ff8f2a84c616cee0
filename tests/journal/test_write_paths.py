"""The two write paths (mapped stores for small entries, ``pwritev`` + commit for large ones), the helper's
spare segments, stale temp files, torn large entries, capped replay chunks and the 3-chain CRC32C."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cns.journal import JournalReader, JournalWriter
from cns.journal import frame_kernels as K
from cns.journal.dtypes import ENTRY_DTYPE
from cns.journal.segments import list_segments
from tests.journal.helpers import BLOBBY, T_BLOB, T_REC, batch_for, check_entry, registry

pytestmark = pytest.mark.timeout(240)


def test_crc32c_three_chains_match_the_table_path_at_every_length() -> None:
    r = np.random.default_rng(5).integers(0, 256, 9000, dtype=np.uint8)
    for n in [*range(0, 1600, 5), 2303, 2304, 2305, 8999]:
        for s in (0, 1):
            if s + n > len(r):
                continue
            want = int(K.crc32c_sw(r, s, s + n, 0))
            assert int(K.crc32c(r, s, s + n, 0)) == want, (n, s)
            m = s + n // 2
            assert int(K.crc32c(r, m, s + n, K.crc32c(r, s, m, 0))) == want


@pytest.mark.parametrize("helper", [0, 1 << 16])
def test_small_and_large_entries_mixed_across_rolls(tmp_path: Path, helper: int) -> None:
    sizes = [1, 200, 3, 127, 128, 129, 500, 2, 1000, 1]  # 64-B records: 128 records + header >= 8 KiB
    with JournalWriter(tmp_path, registry(), segment_bytes=1 << 16, pretouch_bytes=helper) as w:
        for i in range(1, 301):
            n = sizes[i % len(sizes)]
            if i % 11 == 0:
                b = np.zeros(n, BLOBBY)
                b["x"] = i
                assert w.append(T_BLOB, b, bytes([i % 251]) * (9000 if i % 2 else 5)) == i
            else:
                assert w.append(T_REC, batch_for(i, n)) == i
    assert not list(tmp_path.glob(".*.tmp"))  # the spare is deleted on close
    es = list(JournalReader(tmp_path))
    assert [e.index for e in es] == list(range(1, 301))
    for e in es:
        if e.type == T_REC:
            check_entry(e)
        else:
            assert np.all(e.records["x"] == e.index)
            assert bytes(e.blob) == bytes([e.index % 251]) * (9000 if e.index % 2 else 5)
    assert len(list_segments(tmp_path)) > 5


def test_stale_temp_files_are_removed_on_open(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, registry(), pretouch_bytes=0) as w:
        w.append(T_REC, batch_for(1, 2))
    stale = [tmp_path / ".spare-0123456789ab.cnsj.tmp", tmp_path / ".00000000000000000002.cnsj.abcd1234.tmp"]
    keep = tmp_path / ".schema.json.1.abcd.tmp"  # not a segment's: left alone
    for p in [*stale, keep]:
        p.write_bytes(b"\x01" * 4096)
    with JournalWriter(tmp_path, registry(), pretouch_bytes=0) as w:
        assert w.last_index == 1
    assert not any(p.exists() for p in stale) and keep.exists()


def test_torn_large_entry_is_cut(tmp_path: Path) -> None:
    """A large (pwritev) last entry damaged at sampled byte offsets: never replayed, cut on open."""
    base = tmp_path / "base"
    with JournalWriter(base, registry(), segment_bytes=1 << 20, pretouch_bytes=0) as w:
        for i in range(1, 4):
            w.append(T_REC, batch_for(i, 2))
        w.append(T_REC, batch_for(4, 300))  # 19 232-byte frame: the pwritev path
    c = JournalReader(base).read()
    assert c is not None and len(c) == 4
    off, flen = int(c.entries[-1]["offset"]), int(c.entries[-1]["frame_len"])
    seg = list_segments(base)[0][1]
    pristine = seg.read_bytes()
    for k in sorted({*range(0, 40), *range(40, flen, 613), *range(flen - 8, flen)}):
        d = tmp_path / f"z{k}"
        shutil.copytree(base, d)
        raw = bytearray(pristine)
        raw[off + k] ^= 0x5A
        (d / seg.name).write_bytes(bytes(raw))
        assert [e.index for e in JournalReader(d)] == [1, 2, 3], k
        with JournalWriter(d, registry(), pretouch_bytes=0) as w:
            assert w.last_index == 3 and w.repair.torn, k
            w.append(T_REC, batch_for(4, 300))
        es = list(JournalReader(d))
        assert [e.index for e in es] == [1, 2, 3, 4]
        check_entry(es[-1])
        shutil.rmtree(d)


def test_replay_chunks_are_capped_in_bytes(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, registry(), segment_bytes=64 << 20, pretouch_bytes=0) as w:
        for i in range(1, 301):
            w.append(T_REC, batch_for(i, 1024))  # 64 KiB each: ~19 MiB in one segment
    r = JournalReader(tmp_path)
    sizes: list[int] = []
    last: list[int] = []
    r.replay(
        lambda ch: (sizes.append(len(ch)), last.append(int(ch.records(T_REC, scratch=True)["index"][-1])))
    )
    assert sum(sizes) == 300 and max(sizes) <= 65 and len(sizes) >= 4
    assert last[-1] == 300
    seg = r._seg
    assert seg is not None
    rows = np.empty(300, ENTRY_DTYPE)
    n, _pos, status, _d = K.scan_frames_capped(
        seg.buf, 64, seg.limit, r.registry.itemsizes, 1, True, 300, rows, 1
    )
    assert n == 1 and status == K.SCAN_LIMIT  # at least one frame, then the cap
    r.close()
