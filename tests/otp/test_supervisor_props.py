"""Property: random crash sequences against a plain model of OTP's restart-intensity rule."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cns.otp import ChildSpec, GenServer, Supervisor, SupFlags, cast, which_children
from cns.runtime import Node, Stop

PERIOD_NS = 1_000_000_000


class Clock:
    now = 0


class FakeClockSupervisor(Supervisor):
    clock = staticmethod(lambda: Clock.now)


class Child(GenServer):
    def handle_cast(self, reason):
        raise Stop(reason)


def model(intensity, restart_types, crashes):
    """Expected (alive, restarted-count) per OTP: a restart at t keeps stamps >= t - period; > intensity dies."""
    stamps: list[int] = []
    running = [True] * len(restart_types)
    t = 0
    for delay_ms, idx, reason in crashes:
        t += delay_ms * 1_000_000
        if not running[idx]:
            continue
        kind = restart_types[idx]
        if kind == "temporary" or (kind == "transient" and reason == "normal"):
            running[idx] = False
            continue
        stamps = [s for s in stamps if s >= t - PERIOD_NS] + [t]
        if len(stamps) > intensity:
            return False, running
    return True, running


@settings(max_examples=60, deadline=None)
@given(
    intensity=st.integers(0, 3),
    restart_types=st.lists(st.sampled_from(["permanent", "transient", "temporary"]), min_size=1, max_size=3),
    crashes=st.lists(
        st.tuples(st.integers(0, 1500), st.integers(0, 2), st.sampled_from(["crash", "normal"])), max_size=12
    ),
)
def test_restart_intensity_matches_model(intensity, restart_types, crashes):
    crashes = [(d, i % len(restart_types), r) for d, i, r in crashes]
    Clock.now = 0
    node = Node()
    specs = [ChildSpec(k, (Child, ()), restart=rt) for k, rt in enumerate(restart_types)]
    sup = FakeClockSupervisor.start(node, SupFlags("one_for_one", intensity, PERIOD_NS / 1e9), specs)
    for delay_ms, idx, reason in crashes:
        Clock.now += delay_ms * 1_000_000
        if not sup.is_alive:
            break
        kids = {c.id: c.pid for c in which_children(node, sup)}
        if kids.get(idx) is not None:
            cast(node, kids[idx], reason)
            node.run_until_idle()
    alive, running = model(intensity, restart_types, crashes)
    assert sup.is_alive == alive
    if alive:
        kids = {c.id: c.pid for c in which_children(node, sup)}
        assert [kids.get(i) is not None for i in range(len(restart_types))] == running
        assert all(p.is_alive for p in kids.values() if p is not None)
    else:
        assert sup.exit_reason == "shutdown" and len(node) == 0
