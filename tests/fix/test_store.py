"""Session stores: persistence, atomic seq file, torn journal tails, cross-process lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cns.fix.errors import FixConfigError, FixStoreError
from cns.fix.store import FileSessionStore, MemorySessionStore, SessionStore


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_store_contract(tmp_path: Path, kind: str) -> None:
    st: SessionStore = FileSessionStore(tmp_path, "s1") if kind == "file" else MemorySessionStore()
    assert (st.next_sender_seq, st.next_target_seq) == (1, 1)
    st.save(1, b"one")
    data = b"twothree"
    st.save(2, memoryview(data), np.array([3, 8]))
    assert st.next_sender_seq == 4
    st.set_next_target_seq(7)
    st.set_next_sender_seq(10)  # a skipped range (admin messages): never stored
    assert list(st.get(1, 20)) == [(1, b"one"), (2, b"two"), (3, b"three")]
    assert list(st.get(2, 2)) == [(2, b"two")]
    st.reset()
    assert (st.next_sender_seq, st.next_target_seq, list(st.get(1, 9))) == (1, 1, [])
    st.close()


def test_file_store_survives_reopen_and_uses_the_journal_when_the_seq_file_is_stale(tmp_path: Path) -> None:
    st = FileSessionStore(tmp_path, "s1")
    st.save(1, b"a")
    st.save(2, b"b")
    st.set_next_target_seq(5)
    st.close()
    st = FileSessionStore(tmp_path, "s1")
    assert (st.next_sender_seq, st.next_target_seq) == (3, 5)
    st.close()
    # a crash after the journal fsync but before the seq file rename: the journal wins for the sender
    (tmp_path / "s1.seqnums").write_text("1 5\n")
    st = FileSessionStore(tmp_path, "s1")
    assert st.next_sender_seq == 3 and list(st.get(1, 2)) == [(1, b"a"), (2, b"b")]
    st.close()
    assert not (tmp_path / "s1.seqnums.tmp").exists()
    assert oct((tmp_path / "s1.body").stat().st_mode & 0o777) == "0o600"


def test_torn_journal_tail_is_cut(tmp_path: Path) -> None:
    st = FileSessionStore(tmp_path, "s1")
    st.save(1, b"hello")
    st.close()
    with open(tmp_path / "s1.body", "ab") as f:
        f.write(b"\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x50\x00\x00\x00")  # a torn record
    st = FileSessionStore(tmp_path, "s1")
    assert st.next_sender_seq == 2 and list(st.get(1, 5)) == [(1, b"hello")]
    st.save(2, b"again")
    st.close()
    st = FileSessionStore(tmp_path, "s1")
    assert list(st.get(1, 5)) == [(1, b"hello"), (2, b"again")]
    st.close()


def test_corrupt_seq_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s1.seqnums").write_text("garbage")
    with pytest.raises(FixStoreError, match="corrupt"):
        FileSessionStore(tmp_path, "s1")
    with pytest.raises(FixConfigError):
        FileSessionStore(tmp_path, "../escape")


def test_second_process_cannot_open_the_same_store(tmp_path: Path) -> None:
    st = FileSessionStore(tmp_path, "s1")
    code = (
        "import sys\nfrom cns.fix.store import FileSessionStore\nfrom cns.fix.errors import FixStoreError\n"
        "try:\n    FileSessionStore(sys.argv[1], 's1')\nexcept FixStoreError:\n    sys.exit(7)\nsys.exit(0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], timeout=60, env=dict(os.environ))
    assert r.returncode == 7
    st.close()
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], timeout=60, env=dict(os.environ))
    assert r.returncode == 0


def test_same_process_reopen_takes_over(tmp_path: Path) -> None:
    old = FileSessionStore(tmp_path, "s1")
    old.save(1, b"x")
    new = FileSessionStore(tmp_path, "s1")  # a restarted session whose predecessor was killed
    assert old.closed and new.next_sender_seq == 2
    with pytest.raises(FixStoreError):
        old.save(2, b"y")
    new.close()


def test_process_crash_loses_no_sequence_number(tmp_path: Path) -> None:
    """A process that dies without closing the store (no checkpoint): the journal alone restores both numbers."""
    code = (
        "import os, sys\nfrom cns.fix.store import FileSessionStore\n"
        "st = FileSessionStore(sys.argv[1], 's1')\nst.save(1, b'order-1')\nst.set_next_sender_seq(5)\n"
        "st.set_next_target_seq(9)\nos._exit(0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], timeout=60, env=dict(os.environ))
    assert r.returncode == 0 and not (tmp_path / "s1.seqnums").exists()
    st = FileSessionStore(tmp_path, "s1")
    assert (st.next_sender_seq, st.next_target_seq) == (5, 9) and list(st.get(1, 4)) == [(1, b"order-1")]
    st.close()
    assert (tmp_path / "s1.seqnums").read_text().split() == ["5", "9"]  # close() checkpoints
