"""Torn tails: every byte offset of the last entry zeroed, replaced by garbage or cut off the file; a bad
last-segment header; and a real ``kill -9`` of a writer subprocess in the middle of its append loop."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cns.journal import JournalReader, JournalWriter
from cns.journal.errors import JournalCorruptError
from cns.journal.segments import SEGMENT_HEADER, list_segments
from tests.journal.helpers import T_REC, batch_for, check_entry, registry

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[2]


def _make(d: Path, n: int, per: int = 3) -> tuple[Path, int, int]:
    """A journal of ``n`` entries in one segment; returns (segment, offset, frame_len) of the last entry."""
    with JournalWriter(d, registry(), segment_bytes=1 << 16, pretouch_bytes=0) as w:
        for i in range(1, n + 1):
            w.append(T_REC, batch_for(i, per))
    c = JournalReader(d).read()
    assert c is not None and len(c) == n
    last = c.entries[-1]
    return list_segments(d)[0][1], int(last["offset"]), int(last["frame_len"])


def _verify(d: Path, expect_last: int) -> None:
    with JournalWriter(d, registry(), segment_bytes=1 << 16, pretouch_bytes=0) as w:
        assert w.last_index == expect_last, w.repair
        w.append(T_REC, batch_for(expect_last + 1, 2))
    es = list(JournalReader(d))
    assert [e.index for e in es] == list(range(1, expect_last + 2))
    for e in es:
        check_entry(e)


@pytest.mark.parametrize("mode", ["zero", "garbage", "cut"])
def test_torn_last_entry_at_every_byte_offset(tmp_path: Path, mode: str) -> None:
    base = tmp_path / "base"
    seg, off, flen = _make(base, 5)
    pristine = seg.read_bytes()
    rng = np.random.default_rng(7)
    n_refused = 0
    for k in range(flen):
        d = tmp_path / f"{mode}{k}"
        shutil.copytree(base, d)
        s = d / seg.name
        raw = bytearray(pristine)
        if mode == "zero":
            raw[off + k :] = bytes(len(raw) - off - k)
        elif mode == "garbage":
            g = rng.integers(1, 256, 4096, dtype=np.uint8).tobytes()
            raw[off + k : off + k + len(g)] = g
        else:
            raw = raw[: off + k]
        s.write_bytes(bytes(raw))
        damaged = mode == "cut" or bytes(raw[off : off + flen]) != pristine[off : off + flen]
        # a reader never returns the damaged entry
        idx = [e.index for e in JournalReader(d)]
        assert idx == list(range(1, 5 if damaged else 6)), (mode, k)
        n_refused += damaged
        _verify(d, 4 if damaged else 5)
        shutil.rmtree(d)
    assert n_refused >= flen - 8  # zeroing a byte that was 0 already damages nothing


def test_garbage_after_a_clean_tail_is_zeroed(tmp_path: Path) -> None:
    seg, off, flen = _make(tmp_path, 4)
    raw = bytearray(seg.read_bytes())
    end = off + ((flen + 7) & ~7)
    raw[end + 100 : end + 200] = b"\x07" * 100  # stray bytes past the last frame (a crash mid-copy)
    seg.write_bytes(bytes(raw))
    with JournalWriter(tmp_path, registry(), pretouch_bytes=0) as w:
        assert w.last_index == 4 and w.repair.zeroed == 200 and w.repair.torn == ""
    assert seg.read_bytes()[end:].count(0) == len(raw) - end


def test_bad_header_of_last_segment(tmp_path: Path) -> None:
    _make(tmp_path, 3)
    empty = tmp_path / "00000000000000000004.cnsj"
    empty.write_bytes(b"\x00" * 4096)  # a roll that died before its header (not renamed in reality)
    with JournalWriter(tmp_path, registry(), pretouch_bytes=0) as w:
        assert w.last_index == 3 and w.repair.discarded
    bad = tmp_path / "00000000000000000004.cnsj"
    assert not bad.exists()
    bad.write_bytes(b"\x00" * SEGMENT_HEADER + b"\x01" * 100)  # data behind a bad header: refuse
    with pytest.raises(JournalCorruptError):
        JournalWriter(tmp_path, registry(), pretouch_bytes=0)


_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from cns.journal import JournalWriter
    from tests.journal.helpers import T_REC, batch_for, registry
    w = JournalWriter(sys.argv[1], registry(), segment_bytes=1 << 16, pretouch_bytes=1 << 16)
    k = w.next_index
    print(k, flush=True)
    while True:
        w.append(T_REC, batch_for(w.next_index, 1 + w.next_index % 200))
""")


def test_kill_9_mid_append_loop(tmp_path: Path) -> None:
    d = tmp_path / "j"
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(root=str(ROOT)))
    rng = np.random.default_rng(11)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    last = 0
    for _ in range(4):
        p = subprocess.Popen([sys.executable, str(script), str(d)], stdout=subprocess.PIPE, env=env)
        assert p.stdout is not None
        first = int(p.stdout.readline())
        assert first == last + 1
        deadline = time.monotonic() + 30
        r = JournalReader(d, start=first)
        seen = 0
        want = int(rng.integers(200, 3000))
        while seen < want and time.monotonic() < deadline:  # let it run into a few segment rolls
            c = r.read()
            seen += 0 if c is None else len(c)
        r.close()
        time.sleep(float(rng.uniform(0, 0.05)))
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
        assert p.returncode == -signal.SIGKILL
        with JournalWriter(d, registry(), segment_bytes=1 << 16, pretouch_bytes=0) as w:
            assert w.last_index >= last + seen
            last = w.last_index
        es = list(JournalReader(d))
        assert [e.index for e in es] == list(range(1, last + 1))
        for e in es[-500:]:
            check_entry(e)
    assert len(list_segments(d)) > 3
