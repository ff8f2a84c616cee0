"""GenServer behaviour, from OTP's gen_server documentation."""

from __future__ import annotations

import pytest

from cns.otp import IGNORE, NOREPLY, GenServer, call, cast, stop
from cns.runtime import CallTimeout, Exit, InitFailed, Node, NoProc, Stop


class Counter(GenServer):
    def init(self, start=0, trap=False):
        self.n = start
        self.pending = []
        self.log = []
        if trap:
            self.trap_exit()

    def handle_call(self, request, from_):
        match request:
            case "get":
                return self.n
            case ("add", k):
                self.n += k
                return self.n
            case "later":
                self.pending.append(from_)
                return NOREPLY
            case "stop":
                raise Stop("normal", reply="bye")
            case "crash":
                raise KeyError("crash")
        return None

    def handle_cast(self, msg):
        if msg == "release":
            for f in self.pending:
                self.reply(f, ("released", self.n))
        else:
            self.n += msg

    def handle_info(self, msg):
        self.log.append(msg)

    def terminate(self, reason):
        terminated.append((self.pid, reason))


terminated: list = []


@pytest.fixture(autouse=True)
def _clear():
    terminated.clear()


def test_call_cast_info_and_reply_conventions():
    node = Node()
    p = Counter.start(node, 10)
    assert call(node, p, "get") == 10
    cast(node, p, 5)
    assert node.call(p, ("add", 1)) == 16
    node.send(p, "info!")
    node.run_until_idle()
    assert p.actor.log == ["info!"]


def test_deferred_reply_from_another_message():
    node = Node()
    p = Counter.start(node)

    class Waiter(GenServer):
        async def handle_call(self, request, from_):
            return await self.call(p, "later")

    w = Waiter.start(node)
    node.send(w, "kick")  # unrelated info message
    cast(node, p, 3)
    with pytest.raises(CallTimeout):
        node.call(p, "later", timeout=0.01)  # nobody releases this one in time... (idle: fails at once)
    # a waiter parked on a deferred reply, released by a later cast
    box = []

    class Driver(GenServer):
        async def handle_cast(self, _):
            box.append(await self.call(w, "x"))

    d = Driver.start(node)
    cast(node, d, "go")
    node.run_until_idle()
    assert box == []
    cast(node, p, "release")
    node.run_until_idle()
    assert box == [("released", 3)]


def test_stop_with_reply_runs_terminate():
    node = Node()
    p = Counter.start(node)
    assert node.call(p, "stop") == "bye"
    assert not p.is_alive and p.exit_reason == "normal"
    assert terminated == [(p, "normal")]


def test_crash_runs_terminate_and_caller_gets_noproc():
    node = Node()
    p = Counter.start(node)
    with pytest.raises(NoProc) as ei:
        node.call(p, "crash")
    assert isinstance(ei.value.reason, KeyError)
    assert terminated and isinstance(terminated[0][1], KeyError)


def test_gen_server_stop_function():
    node = Node()
    p = Counter.start(node)
    stop(node, p, "shutdown")
    assert not p.is_alive and p.exit_reason == "shutdown"
    assert terminated == [(p, "shutdown")]


def test_init_failure_and_ignore():
    class Bad(GenServer):
        def init(self):
            raise ValueError("no")

    class Ignored(GenServer):
        def init(self):
            return IGNORE

    node = Node()
    with pytest.raises(InitFailed) as ei:
        Bad.start(node)
    assert isinstance(ei.value.reason, ValueError)
    assert Ignored.start(node) is None
    assert len(node) == 0


def test_parent_exit_with_trap_runs_terminate_without_trap_no_terminate():
    node = Node()
    made = {}

    class Parent(GenServer):
        def init(self, trap):
            made["child"] = Counter.start_link(self.node, 0, trap)

    for trap in (True, False):
        terminated.clear()
        parent = Parent.start(node, trap)
        child = made["child"]
        node.exit(parent, "shutdown")
        node.run_until_idle()
        assert not child.is_alive and child.exit_reason == "shutdown"
        assert terminated == ([(child, "shutdown")] if trap else [])


def test_exit_from_non_parent_is_info_when_trapping():
    node = Node()
    p = Counter.start(node, 0, True)
    other = node.spawn(lambda m: node.exit(p, "whatever"))
    node.send(other, "go")
    node.run_until_idle()
    assert p.is_alive and p.actor.log == [Exit(other, "whatever")]
    node.exit(p, "shutdown")  # from plain Python: treated as the parent's order (server started unlinked)
    node.run_until_idle()
    assert not p.is_alive and terminated == [(p, "shutdown")]


def test_registered_name_and_vsn_and_code_change_default():
    node = Node()
    p = Counter.start(node, 1, name="counter")
    assert node.whereis("counter") is p
    assert call(node, "counter", "get") == 1
    assert Counter.vsn == 1
    state = dict(vars(p.actor))
    assert p.actor.code_change(1, state, None) is state


class Failing(GenServer):
    def init(self, how):
        if how == "raise":
            raise ValueError("bad init")
        if how == "stop":
            raise Stop("normal")
        return IGNORE


class StartLinker(GenServer):
    """Calls ``Failing.start_link(how)`` from inside a process (its parent), recording the outcome."""

    def init(self, trap):
        self.got = []
        if trap:
            self.trap_exit()

    def handle_cast(self, how):
        try:
            self.got.append(("returned", Failing.start_link(self.node, how)))
        except InitFailed as e:
            self.got.append(
                ("InitFailed", e.reason if isinstance(e.reason, str) else type(e.reason).__name__)
            )

    def handle_info(self, msg):
        self.got.append(
            (
                "info",
                type(msg).__name__,
                msg.reason if isinstance(msg.reason, str) else type(msg.reason).__name__,
            )
        )


def test_start_link_init_failure_returns_error_and_exit_signal_reaches_a_trapping_parent():
    node = Node()
    parent = StartLinker.start(node, True)
    for how in ("raise", "stop", "ignore"):
        cast(node, parent, how)
        node.run_until_idle()
    assert parent.actor.got == [
        ("InitFailed", "ValueError"),
        ("info", "Exit", "ValueError"),  # {error, R} then {'EXIT', Pid, R}
        ("InitFailed", "normal"),
        ("info", "Exit", "normal"),
        ("returned", None),
        ("info", "Exit", "normal"),  # ignore: the process exits normal
    ]
    assert parent.is_alive and len(node) == 1


def test_start_link_init_failure_kills_a_non_trapping_parent_unless_normal():
    node = Node()
    calm = StartLinker.start(node, False)
    cast(node, calm, "stop")  # exits normal: a non-trapping linked parent ignores it
    cast(node, calm, "ignore")
    node.run_until_idle()
    assert calm.is_alive and calm.actor.got == [("InitFailed", "normal"), ("returned", None)]
    doomed = StartLinker.start(node, False)
    cast(node, doomed, "raise")
    node.run_until_idle()
    assert not doomed.is_alive and isinstance(doomed.exit_reason, ValueError)  # as in OTP, without trap_exit


def test_start_from_plain_python_init_failure_leaves_no_process_and_nested_failure_is_wrapped():
    class Outer(GenServer):
        def init(self):
            Failing.start(self.node, "raise")  # not caught: Outer's init fails too

    node = Node()
    with pytest.raises(InitFailed) as ei:
        Outer.start(node)
    assert isinstance(ei.value.reason, InitFailed)
    assert len(node) == 0
