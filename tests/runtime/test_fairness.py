"""Fairness: a turn is bounded (Erlang's reductions), so a slow consumer with a huge mailbox cannot hold the
scheduler -- timeouts, timers and other processes keep their place -- and nothing is lost or reordered.

The slow consumer busy-waits SLOW_NS of wall time per message, so its 60k-message flood takes at least
1.2 s however loaded the machine is; before turns were bounded that was one turn. Time bounds below leave
room for a shared, loaded box (a 10 ms turn can stretch a lot there); where possible the assertions count
messages instead of seconds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from cns.runtime import Actor, CallTimeout, Down, From, Node, NoProc, telemetry

SLOW_NS = 20_000  # per message: 60k messages = 1.2 s in one turn before turns were bounded
FLOOD = 60_000


class Slow(Actor):
    """A slow consumer: busy for SLOW_NS per message; answers calls with the count handled so far."""

    def __init__(self) -> None:
        self.n = 0

    def receive(self, msg: Any) -> None:
        end = time.perf_counter_ns() + SLOW_NS
        while time.perf_counter_ns() < end:
            pass
        if msg.__class__ is From:
            self.node.reply(msg, self.n)
        else:
            self.n += 1


class Stamp(Actor):
    """Records (message, time, messages the slow consumer ``watch`` had handled by then)."""

    def __init__(self, watch: Slow | None = None) -> None:
        self.watch = watch
        self.at: list[tuple[Any, float, int]] = []

    def receive(self, msg: Any) -> None:
        self.at.append((msg, time.monotonic(), self.watch.n if self.watch is not None else -1))


def _flooded(node: Node) -> Any:
    slow = node.spawn(Slow())
    for i in range(FLOOD):
        node.send(slow, i)
    return slow


@pytest.mark.timeout(10)
def test_run_timeout_is_honoured_behind_a_slow_consumer() -> None:
    node = Node()
    slow = _flooded(node)
    t0 = time.monotonic()
    node.run(timeout=0.25)
    elapsed = time.monotonic() - t0
    assert elapsed < 0.8, f"run(timeout=0.25) returned after {elapsed:.2f} s"  # was >= 1.2 s
    assert 0 < slow.actor.n < FLOOD
    node.shutdown()


@pytest.mark.timeout(10)
def test_run_timeout_is_honoured_when_the_flood_comes_from_a_process() -> None:
    node = Node()
    slow = node.spawn(Slow())
    producer = node.spawn(lambda m: [node.send(slow, i) for i in range(FLOOD)])
    node.send(producer, "go")
    t0 = time.monotonic()
    node.run(timeout=0.25)
    assert time.monotonic() - t0 < 0.8
    node.shutdown()


@pytest.mark.timeout(10)
def test_call_timeout_is_honoured_behind_a_slow_consumer() -> None:
    node = Node()
    slow = _flooded(node)
    t0 = time.monotonic()
    with pytest.raises(CallTimeout):
        node.call(slow, "count", timeout=0.1)  # queued behind 60k slow messages
    assert time.monotonic() - t0 < 0.7
    node.shutdown()


@pytest.mark.timeout(10)
def test_timers_fire_on_time_while_a_process_is_busy() -> None:
    node = Node()
    slow = _flooded(node)
    st = Stamp(slow.actor)
    stamp = node.spawn(st)
    t0 = time.monotonic()
    node.send_after(0.05, stamp, "due at 50 ms")
    tick = node.send_interval(0.02, stamp, "tick")
    node.run(timeout=0.6)
    node.cancel_timer(tick)
    # by 50 ms at most 2,500 slow messages can have been handled (20 us each); the timer is delivered
    # within about two bounded turns (512 messages each) after that -- not after the whole flood
    due, handled_by_then = next((at, n) for m, at, n in st.at if m == "due at 50 ms")
    assert handled_by_then < 2_500 + 3 * 512, f"timer handled after {handled_by_then} slow messages"
    assert due - t0 < 0.5, f"timer fired {due - t0:.3f} s after it was set (due 0.05 s)"
    ticks = [n for m, _, n in st.at if m == "tick" and n < FLOOD]
    assert len(ticks) >= 2  # ticks keep coming while the flood is handled (before: none until it ended)
    node.shutdown()


@pytest.mark.timeout(10)
def test_other_processes_keep_their_place() -> None:
    node = Node()
    slow = _flooded(node)
    st = Stamp(slow.actor)
    other = node.spawn(st)
    node.send(other, "hello")  # arrives after the flood, handled after one bounded turn of it
    node.run(timeout=0.5)
    assert [m for m, _, _ in st.at] == ["hello"]
    assert st.at[0][2] <= getattr(node, "turn_messages", 512)  # one bounded turn of the flood first, not all
    node.shutdown()


# ------------------------------------------------------------------ nothing lost, nothing reordered
class Log(Actor):
    def __init__(self) -> None:
        self.got: list[Any] = []

    def receive(self, msg: Any) -> None:
        if msg.__class__ is From:
            self.node.reply(msg, len(self.got))
        else:
            self.got.append(msg)


@pytest.mark.timeout(10)
def test_preempted_turns_keep_order_and_lose_nothing() -> None:
    node = Node()
    log = Log()
    p = node.spawn(log)

    def producer(tag: str) -> Any:
        def h(msg: Any) -> None:
            for i in range(msg, msg + 700):
                node.send(p, (tag, i))
            if msg + 700 < 7_000:
                node.send(node.self_pid(), msg + 700)

        return h

    for tag in "ab":
        node.send(node.spawn(producer(tag)), 0)
    for i in range(3_000):  # a big mailbox before the producers even start
        node.send(p, ("plain", i))
    node.run_until_idle()
    for tag, n in (("plain", 3_000), ("a", 7_000), ("b", 7_000)):
        assert [i for t, i in log.got if t == tag] == list(range(n))
    assert len(log.got) == 17_000
    assert node.call(p, "count") == 17_000


@pytest.mark.timeout(10)
def test_mailbox_size_counts_the_unhandled_rest_of_a_preempted_turn() -> None:
    node = Node()
    p = node.spawn(Log())
    for i in range(5_000):
        node.send(p, i)
    node._turn(node._runq.popleft())  # one bounded turn
    handled = len(p.actor.got)
    assert 0 < handled < 5_000
    assert p.mailbox_size == 5_000 - handled
    node.run_until_idle()
    assert p.actor.got == list(range(5_000)) and p.mailbox_size == 0


@pytest.mark.timeout(10)
def test_a_death_with_a_preempted_rest_counts_it_and_fails_its_calls() -> None:
    node = Node()
    p = node.spawn(Log())
    for i in range(5_000):
        node.send(p, i)
    outcomes: list[str] = []

    class Caller(Actor):
        async def receive(self, msg: Any) -> None:
            try:
                await self.node.acall(p, "count", timeout=2.0)
                outcomes.append("reply")
            except NoProc:
                outcomes.append("noproc")

    c = node.spawn(Caller())
    node.send(c, "go")
    node._runq.remove(c)
    node._turn(c)  # the call lands behind the 5000 messages
    node._turn(node._runq.popleft())  # p: one bounded turn; the call is in the rest
    handled = len(p.actor.got)
    node.exit(p, "kill")
    t0 = time.monotonic()
    node.run(timeout=3.0)
    assert outcomes == ["noproc"] and time.monotonic() - t0 < 1.0
    assert node.info()["lost_on_exit"] == 5_000 - handled + 1
    node.shutdown()


@pytest.mark.timeout(10)
def test_selective_receive_and_run_in_see_the_preempted_rest() -> None:
    node = Node()
    target = node.spawn(lambda m: None)
    got: list[Any] = []

    class Watcher(Actor):
        async def receive(self, msg: Any) -> None:
            if msg == "monitor":
                self.ref = self.node.monitor(target)
            elif msg == "nap-then-wait":
                await self.node.sleep(0.01)  # parks with the Down in the rest of its batch
                got.append(await self.node.wait_down(self.ref, timeout=2.0))
            else:
                got.append(msg)

    w = node.spawn(Watcher())
    node.send(w, "monitor")
    node.run_until_idle()
    for i in range(1_000):
        node.send(w, i)
    node.send(w, "nap-then-wait")
    node.exit(target, "bye")  # the Down is queued behind "nap-then-wait"
    node.send(w, "after")
    node._turn(node._runq.popleft())  # preempted: "nap-then-wait" and the Down are in the rest
    assert node.run_in(w, lambda actor: len(got)) == 1_002  # queued after the rest: served after all of it
    t0 = time.monotonic()
    node.run(timeout=3.0)
    assert time.monotonic() - t0 < 1.0
    assert got[:1_000] == list(range(1_000))
    assert got[1_000].__class__ is Down and got[1_000].reason == "bye" and got[1_001:] == ["after"]
    node.shutdown()


@pytest.mark.timeout(10)
def test_telemetry_counts_every_message_once_across_preempted_turns() -> None:
    node = Node()
    seen: dict[str, int] = {"messages": 0, "turns": 0}

    def h(event: str, value: float, tags: Any) -> None:
        if event == "messages":
            seen["messages"] += int(value)
            seen["turns"] += 1

    p = node.spawn(Log())
    telemetry.attach("messages", h)
    try:
        for i in range(5_000):
            node.send(p, i)
        node.run_until_idle()
    finally:
        telemetry.detach("messages", h)
    assert seen["messages"] == 5_000 and seen["turns"] > 1
