"""``sys``-style introspection (cns.otp.sysapi), from OTP's ``sys`` docs: system messages answered by the
GenServer loop, in mailbox order, on any server (a Supervisor too)."""

from __future__ import annotations

import pytest

from cns.otp import Cast, ChildSpec, GenServer, Supervisor, SupFlags, cast, stop, sysapi
from cns.otp.supervisor import which_children
from cns.otp.sysapi import SysError, SysRequest
from cns.runtime import CallTimeout, Node, NotInProcess, Stop

terminated: list = []


class Counter(GenServer):
    def init(self, n=0, trap=False):
        self.n = n
        self.seen = []
        if trap:
            self.trap_exit()

    def handle_call(self, request, from_):
        if request == "get":
            return self.n
        if request == "ping_other":
            return None
        return ("echo", request)

    def handle_cast(self, k):
        if k == "shout":
            self.send(self.pid, "self-note")  # a helper send: traced as out
            return
        self.n += k
        self.seen.append(k)

    def handle_info(self, msg):
        self.seen.append(msg)

    def terminate(self, reason):
        terminated.append(reason)


@pytest.fixture(autouse=True)
def _clear():
    terminated.clear()


def test_get_state_and_replace_state():
    node = Node()
    p = Counter.start(node, 3)
    assert sysapi.get_state(node, p) == {"n": 3, "seen": []}
    new = sysapi.replace_state(node, p, lambda s: {**s, "n": 10})
    assert new["n"] == 10 and node.call(p, "get") == 10


def test_replace_state_failure_leaves_state_and_server_untouched():
    node = Node()
    p = Counter.start(node, 3)

    def boom(state):
        raise KeyError("nope")

    with pytest.raises(SysError) as ei:
        sysapi.replace_state(node, p, boom)
    assert isinstance(ei.value.__cause__, KeyError)
    with pytest.raises(SysError):
        sysapi.replace_state(node, p, lambda s: [1, 2])
    assert p.is_alive and node.call(p, "get") == 3
    with pytest.raises(SysError):  # a malformed system request is answered with an error, never a crash
        node_reply = node.call(p, SysRequest("trace", "not-a-pair"))
        raise node_reply
    with pytest.raises(SysError):
        raise node.call(p, SysRequest("what"))
    assert p.is_alive


class Secretive(Counter):
    def format_status(self, status):
        status["state"] = {**status["state"], "n": "<hidden>"}
        return status


def test_get_status_and_format_status():
    node = Node()
    p = Secretive.start(node, 42, name="secret")
    st = sysapi.get_status(node, "secret")
    assert st["pid"] is p and st["name"] == "secret" and st["status"] == "running"
    assert st["module"].endswith("Secretive") and st["vsn"] == 1 and st["debug"] == []
    assert st["state"]["n"] == "<hidden>" and st["parent"] is p  # started unlinked: its own parent


def test_statistics_count_messages_in_and_out():
    node = Node()
    p = Counter.start(node)
    assert sysapi.statistics(node, p, "get") is None  # OTP: no_statistics
    sysapi.statistics(node, p, True)
    cast(node, p, 1)
    node.send(p, "info")
    assert node.call(p, "get") == 1
    cast(node, p, "shout")  # sends one message to itself: 1 out, and that message is 1 more in
    node.run_until_idle()
    st = sysapi.statistics(node, p, "get")
    assert st["messages_in"] == 5 and st["messages_out"] == 2  # in: cast, info, call, shout, self-note
    assert st["current_time"] >= st["start_time"] and "reductions" in st
    sysapi.statistics(node, p, False)
    assert sysapi.statistics(node, p, "get") is None
    assert not {"_sys", "receive", "send"} & set(vars(p.actor))  # nothing left behind: zero cost when off


class Driver(GenServer):
    """Queues [Cast 1, system request, Cast 2, Cast 3] in the target's mailbox before the target runs."""

    def init(self, target):
        self.target = target
        self.reply = None

    async def handle_cast(self, request):
        self.node.send(self.target, Cast(1))
        w = self.node.acall(self.target, request)
        self.node.send(self.target, Cast(2))
        self.node.send(self.target, Cast(3))
        self.got = await w


def test_options_apply_from_the_very_next_message_even_within_one_batch():
    node = Node()
    p = Counter.start(node)
    d = Driver.start(node, p)
    cast(node, d, SysRequest("statistics", True))
    node.run_until_idle()
    assert d.actor.got == "ok"
    assert sysapi.statistics(node, p, "get")["messages_in"] == 2  # Cast 2 and 3, not Cast 1
    sysapi.statistics(node, p, False)
    cast(node, d, SysRequest("suspend"))
    node.run_until_idle()
    assert p.actor.seen == [1, 2, 3, 1]  # the second Cast 1 ran; 2 and 3 wait
    sysapi.resume(node, p)
    node.run_until_idle()
    assert p.actor.seen == [1, 2, 3, 1, 2, 3]


def test_trace_to_a_list_and_to_a_callable():
    node = Node()
    p = Counter.start(node)
    events = []
    sysapi.trace(node, p, True, events)
    cast(node, p, 2)
    assert node.call(p, ("x",)) == ("echo", ("x",))
    cast(node, p, "shout")
    node.run_until_idle()
    assert events == [
        ("in", ("cast", 2)),
        ("in", ("call", ("x",), None)),
        ("out", ("echo", ("x",)), None),
        ("in", ("cast", "shout")),
        ("out", "self-note", p),
        ("in", "self-note"),
    ]
    seen = []
    sysapi.trace(node, p, True, seen.append)
    node.send(p, "hello")
    node.run_until_idle()
    assert seen == [("in", "hello")]
    sysapi.trace(node, p, False)
    node.send(p, "quiet")
    node.run_until_idle()
    assert seen == [("in", "hello")] and "receive" not in vars(p.actor)


def test_suspend_defers_everything_but_system_messages_and_resume_keeps_order():
    node = Node()
    p = Counter.start(node)
    sysapi.suspend(node, p)
    assert sysapi.get_status(node, p)["status"] == "suspended"
    cast(node, p, 1)
    node.send(p, "info")
    with pytest.raises(CallTimeout):
        node.call(p, "get", timeout=0.05)  # OTP: a suspended server does not answer calls
    assert sysapi.get_state(node, p)["seen"] == []  # system messages are still answered
    sysapi.resume(node, p)
    cast(node, p, 2)
    node.run_until_idle()
    assert p.actor.seen == [1, "info", 2] and node.call(p, "get") == 3
    assert sysapi.get_status(node, p)["status"] == "running" and "receive" not in vars(p.actor)


def test_stop_and_parent_exit_are_served_while_suspended():
    node = Node()
    p = Counter.start(node)
    sysapi.suspend(node, p)
    stop(node, p, "shutdown")  # proc_lib:stop is a system message too
    assert not p.is_alive and terminated == ["shutdown"]

    class Parent(GenServer):
        def init(self):
            self.child = Counter.start_link(self.node, 0, True)

    parent = Parent.start(node)
    child = parent.actor.child
    sysapi.suspend(node, child)
    node.exit(parent, "shutdown")  # the parent dies: its exit signal reaches the suspended child
    node.run_until_idle()
    assert not child.is_alive and terminated == ["shutdown", "shutdown"]


class Kid(GenServer):
    def handle_cast(self, reason):
        raise Stop(reason)


def test_sys_works_on_a_supervisor():
    node = Node()
    sup = Supervisor.start_link(node, SupFlags("one_for_one", 3, 5.0), [ChildSpec("k", (Kid, ()))])
    st = sysapi.get_status(node, sup)
    assert st["supervisor"]["strategy"] == "one_for_one" and st["supervisor"]["active"] == 1
    assert "children" in sysapi.get_state(node, sup)
    k = which_children(node, sup)[0].pid
    sysapi.suspend(node, sup)
    cast(node, k, "crash")
    node.run_until_idle()
    assert not k.is_alive and sysapi.get_status(node, sup)["supervisor"]["active"] == 0  # EXIT deferred
    sysapi.resume(node, sup)
    node.run_until_idle()
    k2 = which_children(node, sup)[0].pid
    assert k2 is not k and k2.is_alive


def test_requests_from_inside_a_handler():
    node = Node()
    p = Counter.start(node, 5)

    class Asker(GenServer):
        async def handle_cast(self, _):
            self.state_seen = await self.call(p, SysRequest("get_state"))
            try:
                sysapi.get_state(self.node, p)
            except NotInProcess:
                self.refused = True

    a = Asker.start(node)
    cast(node, a, None)
    node.run_until_idle()
    assert a.actor.state_seen["n"] == 5 and a.actor.refused
