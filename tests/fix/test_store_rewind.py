"""``rewind_target``: the next expected inbound number set back, durably (a reopen keeps it), never forward."""

from __future__ import annotations

from pathlib import Path

import pytest

from cns.fix.errors import FixStoreError
from cns.fix.store import FileSessionStore, MemorySessionStore


def test_file_store_rewind_survives_reopen_and_later_targets_move_it_on(tmp_path: Path) -> None:
    st = FileSessionStore(tmp_path, "s1")
    st.save(1, b"a")
    for n in range(2, 41):
        st.set_next_target_seq(n)
    st.checkpoint()
    assert st.rewind_target(12) is True
    assert st.next_target_seq == 12 and st.next_sender_seq == 2
    st.close()
    st = FileSessionStore(tmp_path, "s1")
    assert st.next_target_seq == 12  # kind-3 records up to 40 before the rewind no longer count
    assert st.next_sender_seq == 2 and list(st.get(1, 1)) == [(1, b"a")]
    st.set_next_target_seq(13)  # the resent messages come in again
    st.set_next_target_seq(14)
    del st  # no close: the seq file still says 12, the journal 14
    st = FileSessionStore(tmp_path, "s1")
    assert st.next_target_seq == 14
    st.close()


def test_file_store_rewind_without_close_is_durable(tmp_path: Path) -> None:
    st = FileSessionStore(tmp_path, "s1")
    st.set_next_target_seq(30)
    st.checkpoint()
    st.rewind_target(5)
    st2 = FileSessionStore(tmp_path, "s1")  # the same process reopening (a killed session): closes the old
    assert st2.next_target_seq == 5
    st2.close()


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_rewind_never_moves_forward_and_refuses_bad_numbers(tmp_path: Path, kind: str) -> None:
    st = FileSessionStore(tmp_path, "s1") if kind == "file" else MemorySessionStore()
    st.set_next_target_seq(7)
    assert st.rewind_target(7) is False and st.rewind_target(9) is False
    assert st.next_target_seq == 7
    for bad in (0, -1, True, "3", 1.5):
        with pytest.raises(FixStoreError):
            st.rewind_target(bad)  # type: ignore[arg-type]
    assert st.rewind_target(1) is True and st.next_target_seq == 1
    st.close()
