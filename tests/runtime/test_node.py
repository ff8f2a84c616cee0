"""Faithfulness tests for the process layer, written from OTP's "Processes" reference manual."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cns.runtime import (
    KILLED,
    NOPROC,
    Actor,
    BadArg,
    CallTimeout,
    Down,
    Exit,
    From,
    InvalidSpec,
    MailboxFull,
    NameTaken,
    Node,
    NoProc,
    NotInProcess,
    Stop,
    telemetry,
)


class Recorder(Actor):
    """Keeps every message; answers calls with the request; ``("link", pid)`` links, etc."""

    def __init__(self) -> None:
        self.got: list = []

    def receive(self, msg):
        if isinstance(msg, From):
            if msg.request == "boom":
                raise ValueError("boom")
            if msg.request == "noreply":
                return
            self.node.reply(msg, msg.request)
            return
        if isinstance(msg, tuple) and msg and msg[0] == "do":
            msg[1](self)
            return
        if isinstance(msg, str) and msg == "raise":
            raise RuntimeError("handler failed")
        if isinstance(msg, tuple) and msg[0] == "stop":
            raise Stop(msg[1])
        self.got.append(msg)


def spawn_rec(node: Node, **kw) -> tuple:
    a = Recorder()
    return node.spawn(a, **kw), a


def test_send_order_per_pair_and_zero_copy():
    node = Node()
    p, a = spawn_rec(node)
    batch = np.arange(10)
    for i in range(1000):
        node.send(p, i)
    node.send(p, batch)
    node.run_until_idle()
    assert a.got[:1000] == list(range(1000))
    assert a.got[-1] is batch  # passed by reference


def test_ordering_interleaved_senders_is_per_pair():
    node = Node()
    p, a = spawn_rec(node)

    def sender(tag):
        def h(msg):
            for i in range(50):
                node.send(p, (tag, i))

        return h

    s1, s2 = node.spawn(sender("a")), node.spawn(sender("b"))
    node.send(s1, "go")
    node.send(s2, "go")
    node.run_until_idle()
    for tag in "ab":
        assert [i for t, i in a.got if t == tag] == list(range(50))


def test_register_whereis_send_and_call_by_name():
    node = Node()
    p, a = spawn_rec(node, name="rec")
    assert node.whereis("rec") is p
    node.send("rec", 1)
    assert node.call("rec", "x") == "x"
    assert a.got == [1]
    with pytest.raises(NameTaken):
        node.register("rec", node.spawn(Recorder()))
    with pytest.raises(NoProc):
        node.send("nobody", 1)
    node.exit(p, "kill")
    assert node.whereis("rec") is None


def test_call_dead_unknown_and_timeout():
    node = Node()
    p, _ = spawn_rec(node)
    node.exit(p, "kill")
    with pytest.raises(NoProc):
        node.call(p, 1)
    with pytest.raises(NoProc):
        node.call("ghost", 1)
    q, _ = spawn_rec(node)
    t0 = time.monotonic()
    node.send_after(0.5, q, "keeps the node busy")  # a pending timer: the call really waits
    with pytest.raises(CallTimeout):
        node.call(q, "noreply", timeout=0.05)
    assert time.monotonic() - t0 < 0.4
    with pytest.raises(NoProc) as ei:  # callee crashes while handling the call
        node.call(q, "boom")
    assert isinstance(ei.value.reason, ValueError)


def test_call_idle_node_no_reply_does_not_hang():
    node = Node()
    q, _ = spawn_rec(node)
    with pytest.raises(CallTimeout):
        node.call(q, "noreply", timeout=30.0)


def test_self_pid_outside_raises_and_inside_works():
    node = Node()
    with pytest.raises(NotInProcess):
        node.self_pid()
    seen = []
    p = node.spawn(lambda m: seen.append(node.self_pid()))
    node.send(p, 1)
    node.run_until_idle()
    assert seen == [p]


def test_handler_exception_exits_with_reason_links_and_monitors_told():
    node = Node()
    watcher, wa = spawn_rec(node, trap_exit=True)
    victim, _ = spawn_rec(node)
    node.send(watcher, ("do", lambda s: (s.node.link(victim), s.got.append(s.node.monitor(victim)))))
    node.run_until_idle()
    ref = wa.got.pop()
    node.send(victim, "raise")
    node.run_until_idle()
    assert not victim.is_alive
    assert isinstance(victim.exit_reason, RuntimeError)
    assert victim.exit_reason.__traceback__ is not None
    kinds = {type(m) for m in wa.got}
    assert kinds == {Exit, Down}
    down = next(m for m in wa.got if isinstance(m, Down))
    assert down.ref == ref and down.pid is victim and isinstance(down.reason, RuntimeError)


def test_link_propagates_abnormal_exit_to_non_trapping():
    node = Node()
    a, _ = spawn_rec(node)
    b, _ = spawn_rec(node)
    node.send(a, ("do", lambda s: s.node.link(b)))
    node.run_until_idle()
    node.send(b, ("stop", "crashed"))
    node.run_until_idle()
    assert not a.is_alive and a.exit_reason == "crashed"


def test_normal_exit_not_propagated():
    node = Node()
    a, _ = spawn_rec(node)
    b, _ = spawn_rec(node)
    node.send(a, ("do", lambda s: s.node.link(b)))
    node.send(b, ("stop", "normal"))
    node.run_until_idle()
    assert a.is_alive and not b.is_alive


def test_exit_normal_to_non_trapping_does_nothing_but_trapping_gets_message():
    node = Node()
    a, _ = spawn_rec(node)
    node.exit(a, "normal")
    assert a.is_alive
    t, ta = spawn_rec(node, trap_exit=True)
    node.exit(t, "normal")
    node.run_until_idle()
    assert t.is_alive and isinstance(ta.got[0], Exit) and ta.got[0].reason == "normal"


def test_exit_self_normal_terminates():
    node = Node()
    a, _ = spawn_rec(node)
    node.send(a, ("do", lambda s: s.node.exit(s.pid, "normal")))
    node.run_until_idle()
    assert not a.is_alive and a.exit_reason == "normal"


def test_kill_cannot_be_trapped_and_links_see_killed():
    node = Node()
    victim, _ = spawn_rec(node, trap_exit=True)
    watcher, wa = spawn_rec(node, trap_exit=True)
    node.send(watcher, ("do", lambda s: s.node.link(victim)))
    node.run_until_idle()
    node.exit(victim, "kill")
    node.run_until_idle()
    assert not victim.is_alive and victim.exit_reason == KILLED
    assert wa.got == [Exit(victim, KILLED)]


def test_trapping_process_gets_exit_message_instead_of_dying():
    node = Node()
    t, ta = spawn_rec(node, trap_exit=True)
    node.exit(t, "shutdown")
    node.run_until_idle()
    assert t.is_alive and ta.got == [Exit(t, "shutdown")]


def test_monitor_dead_and_unknown_pid_gets_noproc_at_once():
    node = Node()
    dead, _ = spawn_rec(node)
    node.exit(dead, "kill")
    w, wa = spawn_rec(node)
    node.send(w, ("do", lambda s: s.got.append(("ref", s.node.monitor(dead)))))
    node.send(w, ("do", lambda s: s.got.append(("ref", s.node.monitor("nobody")))))
    node.run_until_idle()
    downs = [m for m in wa.got if isinstance(m, Down)]
    refs = [m[1] for m in wa.got if isinstance(m, tuple)]
    assert [d.reason for d in downs] == [NOPROC, NOPROC]
    assert [d.ref for d in downs] == refs


def test_demonitor_stops_down():
    node = Node()
    target, _ = spawn_rec(node)
    w, wa = spawn_rec(node)
    node.send(w, ("do", lambda s: s.node.demonitor(s.node.monitor(target))))
    node.run_until_idle()
    node.exit(target, "bye")
    node.run_until_idle()
    assert wa.got == []


def test_long_link_chain_no_recursion_limit():
    node = Node()
    pids = [node.spawn(lambda m: None) for _ in range(5000)]
    for a, b in zip(pids, pids[1:]):
        node.send(a, 0)
    # link neighbours from inside each process
    for a, b in zip(pids, pids[1:]):
        node._current = a
        node.link(b)
        node._current = None
    node.exit(pids[0], "boom")
    assert not any(p.is_alive for p in pids)


def test_bounded_mailbox_policies():
    node = Node()
    with pytest.raises(InvalidSpec):
        node.spawn(Recorder(), mailbox_capacity=2, mailbox_policy="bogus")
    p, a = spawn_rec(node, mailbox_capacity=2, mailbox_policy="raise")
    node.send(p, 1)
    node.send(p, 2)
    with pytest.raises(MailboxFull):
        node.send(p, 3)
    d, da = spawn_rec(node, mailbox_capacity=2, mailbox_policy="drop_newest")
    for i in range(5):
        node.send(d, i)
    assert d.mbox.dropped == 3
    node.run_until_idle()
    assert da.got == [0, 1]
    b, ba = spawn_rec(node, mailbox_capacity=2, mailbox_policy="block")
    for i in range(10):  # from plain Python: runs the scheduler until there is room
        node.send(b, i)
    node.run_until_idle()
    assert ba.got == list(range(10))
    node.exit(b, "kill")


def test_block_policy_inside_handler_raises():
    node = Node()
    b, _ = spawn_rec(node, mailbox_capacity=1, mailbox_policy="block")
    errs = []

    def sender(msg):
        try:
            node.send(b, 1)
            node.send(b, 2)
        except MailboxFull as e:
            errs.append(e)

    node.send(node.spawn(sender), "go")
    node.run_until_idle()
    assert len(errs) == 1


def test_timers_send_after_cancel_and_interval():
    node = Node()
    p, a = spawn_rec(node)
    node.send_after(0.02, p, "late")
    t = node.send_after(0.01, p, "cancelled")
    assert node.cancel_timer(t) is not None
    assert node.cancel_timer(t) is None
    tick = node.send_interval(0.005, p, "tick")
    node.run(timeout=0.06)
    node.cancel_timer(tick)
    node.run(timeout=0.5)
    assert "late" in a.got and "cancelled" not in a.got
    assert a.got.count("tick") >= 3
    with pytest.raises(BadArg):
        node.send_after(-1, p, "x")


class Asker(Actor):
    """Async handler calling another process: must not deadlock the single scheduler."""

    def __init__(self, other):
        self.other = other
        self.log = []

    async def receive(self, msg):
        if isinstance(msg, From):
            v = await self.node.acall(self.other, msg.request)
            self.node.reply(msg, ("via", v))
        else:
            self.log.append(msg)


def test_async_handler_call_parks_and_keeps_order():
    node = Node()
    echo, _ = spawn_rec(node)
    asker = node.spawn(Asker(echo))
    node.send(asker, "before")
    assert node.call(asker, 7) == ("via", 7)
    node.send(asker, "after")
    node.run_until_idle()
    assert asker.actor.log == ["before", "after"]


def test_async_call_timeout_and_noproc_inside_handler():
    node = Node()
    res = []

    class T(Actor):
        async def receive(self, msg):
            try:
                await self.node.acall(msg[0], msg[1], timeout=0.02)
            except Exception as e:  # noqa: BLE001
                res.append(type(e).__name__)

    echo, _ = spawn_rec(node)
    dead, _ = spawn_rec(node)
    node.exit(dead, "kill")
    t = node.spawn(T())
    node.send(t, (echo, "noreply"))
    node.send(t, (dead, 1))
    node.send(t, (echo, "boom"))
    node.run(timeout=1.0)
    assert res == ["CallTimeout", "NoProc", "NoProc"]


def test_mutual_async_calls_time_out_instead_of_hanging():
    node = Node()
    a = node.spawn(Asker(None))
    b = node.spawn(Asker(a))
    a.actor.other = b
    with pytest.raises(CallTimeout):  # a -> b -> a deadlock: the outside caller is not stuck forever
        node.call(a, 1, timeout=0.1)
    assert a.is_alive and b.is_alive  # both parked, the scheduler still runs others
    p, _ = spawn_rec(node)
    assert node.call(p, "still works") == "still works"


def test_run_in_between_messages_and_rebinds_handler():
    node = Node()
    p, a = spawn_rec(node)

    class Recorder2(Recorder):
        def receive(self, msg):
            self.got.append(("v2", msg))

    node.send(p, 1)
    node.run_until_idle()
    old = node.run_in(p, lambda actor: setattr(actor, "__class__", Recorder2) or "swapped")
    assert old == "swapped"
    node.send(p, 2)
    node.run_until_idle()
    assert a.got == [1, ("v2", 2)]
    assert node.processes(Recorder2) == [p]
    with pytest.raises(ZeroDivisionError):
        node.run_in(p, lambda actor: 1 / 0)
    assert p.is_alive


def test_telemetry_events_and_detach():
    node = Node()
    seen = []

    def h(event, value, tags):
        seen.append((event, value))

    telemetry.attach("*", h)
    try:
        p, _ = spawn_rec(node)
        for i in range(3):
            node.send(p, i)
        node.run_until_idle()
        node.exit(p, "kill")
    finally:
        telemetry.detach("*", h)
    assert telemetry.enabled is False
    names = [e for e, _ in seen]
    assert "spawn" in names and "exit" in names
    assert ("messages", 3) in seen and ("mailbox_depth", 3) in seen


def test_spawn_rejects_bad_target():
    with pytest.raises(BadArg):
        Node().spawn(42)  # type: ignore[arg-type]


def test_process_killed_mid_batch_handles_no_further_messages():
    node = Node()
    p, a = spawn_rec(node)
    node.send(p, 1)
    node.send(p, ("do", lambda s: s.node.exit(s.pid, "bye")))
    node.send(p, 2)
    node.run_until_idle()
    assert a.got == [1] and p.exit_reason == "bye"


def test_monitors_are_removed_when_the_watcher_dies():
    node = Node()
    target, _ = spawn_rec(node)
    watchers = []
    for _ in range(3):
        w, _ = spawn_rec(node)
        node.send(w, ("do", lambda s: s.got.append(s.node.monitor(target))))
        watchers.append(w)
    node.run_until_idle()
    assert len(target.monitors) == 3
    kept = watchers[2].actor.got[0]
    node.exit(watchers[0], "kill")
    node.send(watchers[1], ("stop", "normal"))
    node.run_until_idle()
    assert list(target.monitors) == [kept]  # Erlang removes the monitors of a dead watcher
    assert set(node._monitor_refs) == {kept} and list(node._watching) == [watchers[2]]
    node.exit(target, "bye")
    node.run_until_idle()
    assert watchers[2].actor.got[1:] == [Down(kept, target, "bye")]
    assert not node._monitor_refs and not node._watching


def test_run_in_runs_after_queued_messages_and_before_later_ones():
    node = Node()
    p, a = spawn_rec(node)

    class V2(Recorder):
        def receive(self, msg):
            self.got.append(("v2", msg))

    def swap(actor):
        actor.got.append("swap")
        node.send(p, "sent during the swap")  # queued while the swap runs: handled by the new code
        actor.__class__ = V2
        return "ok"

    for i in range(3):
        node.send(p, i)
    assert node.run_in(p, swap) == "ok"
    node.send(p, 3)
    node.run_until_idle()
    assert a.got == [0, 1, 2, "swap", ("v2", "sent during the swap"), ("v2", 3)]
    assert not node._sysreq


def test_run_in_waits_for_a_parked_handler_and_timeout_withdraws_the_request():
    node = Node()
    slow = node.spawn(lambda m: None)  # never replies: a call to it parks its caller

    class Parker(Actor):
        def __init__(self):
            self.got = []

        async def receive(self, msg):
            self.got.append(msg)
            if msg == "park":
                try:
                    await self.node.acall(slow, "x", timeout=0.05)
                except CallTimeout:
                    self.got.append("timed out")

    pk = Parker()
    q = node.spawn(pk)
    node.send(q, "park")
    node.send(q, "after")
    with pytest.raises(CallTimeout):
        node.run_in(q, lambda actor: actor.got.append("fn"), timeout=0.01)  # parked: no safe point yet
    node.run(timeout=0.2)
    assert pk.got == ["park", "timed out", "after"]  # "fn" withdrawn: it never runs later
    assert q.is_alive and not node._sysreq


def test_run_in_on_a_process_that_dies_first_raises_noproc():
    node = Node()
    p, _ = spawn_rec(node)
    node.send(p, "raise")
    with pytest.raises(NoProc):
        node.run_in(p, lambda actor: "never")
    assert not node._sysreq


def test_telemetry_messages_out_per_turn_and_zero_cost_swap():
    node = Node()
    plain = Node.send
    sink, _ = spawn_rec(node)
    fan = node.spawn(lambda m: [node.send(sink, i) for i in range(m)])
    seen = []

    def h(event, value, tags):
        seen.append((value, tags["pid"]))

    telemetry.attach("messages_out", h)
    try:
        assert Node.send is not plain  # the counting send is installed only while telemetry is on
        node.send(fan, 4)
        node.run_until_idle()
    finally:
        telemetry.detach("messages_out", h)
    assert Node.send is plain
    assert seen == [(1, -1), (4, fan.id)]  # one from plain Python, four from fan's turn


def test_spawn_with_a_taken_name_creates_no_process():
    node = Node()
    spawn_rec(node, name="x")
    with pytest.raises(NameTaken):
        spawn_rec(node, name="x")
    assert len(node) == 1
