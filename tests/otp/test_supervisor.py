"""Supervisor scenarios, each written from a rule of OTP's supervisor documentation."""

from __future__ import annotations

import pytest

from cns.otp import (
    ChildSpec,
    GenServer,
    InvalidChildSpec,
    Supervisor,
    SupervisorError,
    SupFlags,
    cast,
    count_children,
    delete_child,
    restart_child,
    start_child,
    terminate_child,
    which_children,
)
from cns.runtime import Actor, Exit, Node, Stop

events: list = []


class W(GenServer):
    def init(self, wid, trap=True):
        self.wid = wid
        events.append(("start", wid))
        if trap:
            self.trap_exit()

    def handle_call(self, request, from_):
        return self.wid

    def handle_cast(self, reason):
        raise Stop(reason)  # exit with the cast reason

    def terminate(self, reason):
        events.append(("stop", self.wid, reason))


def spec(wid, restart="permanent", **kw):
    return ChildSpec(wid, (W, (wid,)), restart=restart, **kw)


def pids(node, sup):
    return {c.id: c.pid for c in which_children(node, sup)}


def starts():
    return [e[1] for e in events if e[0] == "start"]


def crash(node, pid, reason="crash"):
    cast(node, pid, reason)
    node.run_until_idle()


@pytest.fixture(autouse=True)
def _clear():
    events.clear()


def start_sup(node, strategy, specs, intensity=3, period=5.0):
    return Supervisor.start_link(node, SupFlags(strategy, intensity, period), specs)


def test_children_start_in_order_and_one_for_one_restarts_only_the_failed():
    node = Node()
    sup = start_sup(node, "one_for_one", [spec("a"), spec("b"), spec("c")])
    assert starts() == ["a", "b", "c"]
    before = pids(node, sup)
    crash(node, before["b"])
    after = pids(node, sup)
    assert starts() == ["a", "b", "c", "b"]
    assert after["a"] is before["a"] and after["c"] is before["c"] and after["b"] is not before["b"]
    assert after["b"].is_alive


def test_transient_not_restarted_after_normal_but_after_crash():
    node = Node()
    sup = start_sup(node, "one_for_one", [spec("t", "transient")])
    crash(node, pids(node, sup)["t"], "boom")
    assert pids(node, sup)["t"].is_alive
    crash(node, pids(node, sup)["t"], "normal")
    assert pids(node, sup)["t"] is None
    crash_shutdown = spec("u", "transient")
    start_child(node, sup, crash_shutdown)
    crash(node, pids(node, sup)["u"], ("shutdown", "because"))
    assert pids(node, sup)["u"] is None


def test_permanent_restarted_even_after_normal_exit():
    node = Node()
    sup = start_sup(node, "one_for_one", [spec("p")])
    old = pids(node, sup)["p"]
    crash(node, old, "normal")
    assert pids(node, sup)["p"] is not old and pids(node, sup)["p"].is_alive


def test_temporary_never_restarted_even_under_one_for_all():
    node = Node()
    sup = start_sup(node, "one_for_all", [spec("a"), spec("tmp", "temporary"), spec("c")])
    crash(node, pids(node, sup)["a"])
    assert list(pids(node, sup)) == ["a", "c"]  # temporary child terminated and forgotten
    assert starts() == ["a", "tmp", "c", "a", "c"]
    sup2 = start_sup(node, "one_for_one", [spec("t2", "temporary")])
    crash(node, pids(node, sup2)["t2"])
    assert which_children(node, sup2) == []


def test_one_for_all_stops_others_in_reverse_then_restarts_all_in_order():
    node = Node()
    sup = start_sup(node, "one_for_all", [spec("a"), spec("b"), spec("c")])
    events.clear()
    crash(node, pids(node, sup)["b"])
    assert events == [
        ("stop", "b", "crash"),
        ("stop", "c", "shutdown"),
        ("stop", "a", "shutdown"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
    ]


def test_rest_for_one_restarts_failed_and_later_children_in_order():
    node = Node()
    sup = start_sup(node, "rest_for_one", [spec("a"), spec("b"), spec("c"), spec("d")])
    a = pids(node, sup)["a"]
    events.clear()
    crash(node, pids(node, sup)["b"])
    assert events == [
        ("stop", "b", "crash"),
        ("stop", "d", "shutdown"),
        ("stop", "c", "shutdown"),
        ("start", "b"),
        ("start", "c"),
        ("start", "d"),
    ]
    assert pids(node, sup)["a"] is a


def test_intensity_zero_escalates_on_first_crash():
    node = Node()
    sup = start_sup(node, "one_for_one", [spec("a"), spec("b")], intensity=0)
    crash(node, pids(node, sup)["a"])
    assert not sup.is_alive and sup.exit_reason == "shutdown"


class Parent(Actor):
    """Traps exits, starts a supervisor linked to itself, records what it is told."""

    def __init__(self, flags, specs):
        self.flags, self.specs, self.got, self.sup = flags, specs, [], None

    def receive(self, msg):
        if msg == "start":
            self.node.trap_exit(True)
            self.sup = Supervisor.start_link(self.node, self.flags, self.specs)
        else:
            self.got.append(msg)


def test_exceeding_intensity_stops_children_in_reverse_and_parent_sees_shutdown():
    node = Node()
    parent = Parent(SupFlags("one_for_one", 2, 60.0), [spec("a"), spec("b"), spec("c")])
    node.send(node.spawn(parent), "start")
    node.run_until_idle()
    sup = parent.sup
    for _ in range(2):
        crash(node, pids(node, sup)["c"])
    assert sup.is_alive
    events.clear()
    crash(node, pids(node, sup)["c"])  # third restart within the period: > intensity
    assert events == [("stop", "c", "crash"), ("stop", "b", "shutdown"), ("stop", "a", "shutdown")]
    assert not sup.is_alive
    assert parent.got == [Exit(sup, "shutdown")]


def test_restarts_outside_period_do_not_accumulate():
    node = Node()
    sup = start_sup(node, "one_for_one", [spec("a")], intensity=1, period=0.05)
    crash(node, pids(node, sup)["a"])
    node.run(timeout=0.08)  # let the first restart age out of the window
    import time

    time.sleep(0.06)
    crash(node, pids(node, sup)["a"])
    assert sup.is_alive


class Stubborn(Actor):
    """Traps exits and ignores them: only ``kill`` stops it."""

    def receive(self, msg):
        events.append(("stubborn got", type(msg).__name__))


def stubborn_start(node):
    p = node.spawn(Stubborn(), trap_exit=True)
    node.link(p)
    return p


def test_shutdown_timeout_then_kill_and_brutal_kill():
    node = Node()
    sup = start_sup(
        node,
        "one_for_one",
        [
            ChildSpec("s", stubborn_start, shutdown=0.05),
            ChildSpec("bk", lambda n: W.start_link(n, "bk"), shutdown="brutal_kill"),
        ],
    )
    s, bk = pids(node, sup)["s"], pids(node, sup)["bk"]
    events.clear()
    terminate_child(node, sup, "s")
    assert not s.is_alive and s.exit_reason == "killed"
    assert events == [("stubborn got", "Exit")]
    terminate_child(node, sup, "bk")
    assert not bk.is_alive and bk.exit_reason == "killed"
    assert ("stop", "bk", "killed") not in events  # no terminate on brutal_kill


def test_graceful_shutdown_runs_terminate_of_trapping_children():
    node = Node()
    sup = start_sup(node, "one_for_one", [spec("a"), spec("b")])
    events.clear()
    node.exit(sup, "shutdown")
    node.run_until_idle()
    assert not sup.is_alive
    assert events == [("stop", "b", "shutdown"), ("stop", "a", "shutdown")]


def test_child_management_api():
    node = Node()
    sup = start_sup(node, "one_for_one", [spec("a")])
    b = start_child(node, sup, spec("b"))
    assert b.is_alive and [c.id for c in which_children(node, sup)] == ["a", "b"]
    assert count_children(node, sup) == {"specs": 2, "active": 2, "supervisors": 0, "workers": 2}
    with pytest.raises(SupervisorError):
        start_child(node, sup, spec("b"))
    with pytest.raises(SupervisorError):
        delete_child(node, sup, "b")  # running
    terminate_child(node, sup, "b")
    assert not b.is_alive and pids(node, sup)["b"] is None
    b2 = restart_child(node, sup, "b")
    assert b2.is_alive and b2 is not b
    terminate_child(node, sup, "b")
    delete_child(node, sup, "b")
    assert [c.id for c in which_children(node, sup)] == ["a"]
    with pytest.raises(SupervisorError):
        terminate_child(node, sup, "zzz")


def test_simple_one_for_one_dynamic_children():
    node = Node()
    sup = Supervisor.start_link(
        node,
        SupFlags("simple_one_for_one", 5, 5.0),
        [ChildSpec("tmpl", lambda n, wid: W.start_link(n, wid), restart="transient")],
    )
    p1 = start_child(node, sup, ["x"])
    p2 = start_child(node, sup, ["y"])
    assert node.call(p1, None) == "x" and node.call(p2, None) == "y"
    crash(node, p1)
    kids = which_children(node, sup)
    assert len(kids) == 2 and all(k.pid.is_alive for k in kids)
    crash(node, p2, "normal")
    assert len(which_children(node, sup)) == 1
    terminate_child(node, sup, kids[0].pid if kids[0].pid is not p2 else kids[1].pid)
    assert which_children(node, sup) == []


def test_nested_supervisor_escalation_restarts_the_child_supervisor():
    node = Node()
    inner_spec = ChildSpec(
        "inner",
        lambda n: Supervisor.start_link(n, SupFlags("one_for_one", 0, 5.0), [spec("leaf")]),
        type="supervisor",
    )
    top = start_sup(node, "one_for_one", [inner_spec])
    inner = pids(node, top)["inner"]
    leaf = pids(node, inner)["leaf"]
    crash(node, leaf)
    assert not inner.is_alive and inner.exit_reason == "shutdown"
    inner2 = pids(node, top)["inner"]
    assert inner2 is not inner and inner2.is_alive and pids(node, inner2)["leaf"].is_alive


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"shutdown": -1}, "shutdown"),
        ({"shutdown": "soon"}, "shutdown"),
        ({"restart": "sometimes"}, "restart"),
        ({"type": "thing"}, "type"),
        ({"start": 42}, "start"),
    ],
)
def test_invalid_child_spec_is_rejected_at_the_boundary(kw, field):
    args = {"id": "x", "start": (W, ("x",))} | kw
    with pytest.raises(InvalidChildSpec) as ei:
        ChildSpec(**args)
    assert ei.value.field == field


def test_invalid_flags():
    with pytest.raises(InvalidChildSpec):
        SupFlags("one_for_most")
    with pytest.raises(InvalidChildSpec):
        SupFlags(intensity=-1)


class Flaky(GenServer):
    """``init`` fails while ``fails[wid]`` > 0 (counting down), then starts."""

    fails: dict = {}

    def init(self, wid):
        self.wid = wid
        events.append(("init", wid))
        if Flaky.fails.get(wid, 0) > 0:
            Flaky.fails[wid] -= 1
            raise ValueError(f"init of {wid} failed")

    def handle_call(self, request, from_):
        return self.wid

    def handle_cast(self, reason):
        raise Stop(reason)


def flaky(wid, **kw):
    return ChildSpec(wid, (Flaky, (wid,)), **kw)


def test_child_init_failure_at_start_fails_the_supervisor_start_like_otp():
    from cns.runtime import InitFailed

    node = Node()
    Flaky.fails = {"b": 1}
    with pytest.raises(InitFailed) as ei:
        start_sup(node, "one_for_one", [flaky("a"), flaky("b"), flaky("c")])
    shutdown, (tag, cid, why) = ei.value.reason  # OTP: {error, {shutdown, {failed_to_start_child, Id, R}}}
    assert (shutdown, tag, cid) == ("shutdown", "failed_to_start_child", "b")
    assert isinstance(why, ValueError)
    assert [e for e in events if e[0] == "init"] == [("init", "a"), ("init", "b")]  # c never started
    assert len(node) == 0  # a was stopped, b exited with its init reason, the supervisor exited


def test_child_init_failure_at_start_is_seen_by_a_trapping_parent_as_exit():
    node = Node()
    Flaky.fails = {"a": 1}
    got = []

    class Starter(Actor):
        def receive(self, msg):
            if msg == "go":
                self.node.trap_exit(True)
                try:
                    Supervisor.start_link(self.node, SupFlags(), [flaky("a")])
                except Exception as e:  # noqa: BLE001
                    got.append(("raised", type(e).__name__, e.reason[0]))
            else:
                got.append(msg)

    p = node.spawn(Starter())
    node.send(p, "go")
    node.run_until_idle()
    assert got[0] == ("raised", "InitFailed", "shutdown")
    assert len(got) == 2 and isinstance(got[1], Exit) and got[1].reason[0] == "shutdown"
    assert p.is_alive  # it trapped the supervisor's exit signal


def test_failed_restart_counts_as_a_restart_and_is_retried():
    node = Node()
    Flaky.fails = {}
    sup = start_sup(node, "one_for_one", [flaky("a"), flaky("b")], intensity=5)
    a0 = pids(node, sup)["a"]
    Flaky.fails = {"a": 2}  # the next two starts of a fail in init
    events.clear()
    crash(node, a0)
    assert [e for e in events if e[0] == "init"] == [("init", "a")] * 3  # 2 failed attempts, then up
    a1 = pids(node, sup)["a"]
    assert a1 is not None and a1 is not a0 and a1.is_alive
    assert node.call(a1, "who") == "a"
    assert len(sup.actor.restarts) == 3  # each attempt counted toward the intensity
    assert sup.is_alive and len(node) == 3  # sup + a + b: the failed attempts left nothing behind


def test_restart_that_keeps_failing_exceeds_intensity_and_the_supervisor_gives_up():
    node = Node()
    Flaky.fails = {}
    sup = start_sup(node, "one_for_one", [flaky("a"), flaky("b")], intensity=3)
    b = pids(node, sup)["b"]
    Flaky.fails = {"a": 1_000}
    crash(node, pids(node, sup)["a"])
    assert not sup.is_alive and sup.exit_reason == "shutdown"
    assert not b.is_alive
    assert len([e for e in events if e == ("init", "a")]) == 1 + 3  # first start + 3 failed restarts
    assert len(node) == 0


def test_start_function_raising_is_a_failed_start():
    node = Node()

    def broken(n):
        raise RuntimeError("no start")

    sup = start_sup(node, "one_for_one", [spec("a")])
    with pytest.raises(SupervisorError):
        start_child(node, sup, ChildSpec("x", broken))
    assert sup.is_alive and [c.id for c in which_children(node, sup)] == ["a"]
