"""Applications, from OTP's ``application`` docs (start/2 types, stop/1, get_env/2,3)."""

from __future__ import annotations

import time

import pytest

from cns.otp import ChildSpec, GenServer, SupFlags, cast
from cns.otp import logger as otp_logger
from cns.otp.application import (
    Application,
    ApplicationError,
    get_application,
    get_env,
    node_stopped,
    on_node_stop,
    which_applications,
)
from cns.otp.supervisor import which_children
from cns.runtime import BadArg, Node, Stop

events: list = []
FAILS: set = set()


class Worker(GenServer):
    def init(self, wid, die_after=None):
        events.append(("init", wid))
        if wid in FAILS:
            raise ValueError(f"{wid} cannot start")
        self.wid = wid
        self.trap_exit()
        if die_after is not None:
            self.node.send_after(die_after, self.pid, "die")

    def handle_call(self, request, from_):
        return self.wid

    def handle_cast(self, reason):
        raise Stop(reason)

    def handle_info(self, msg):
        if msg == "die":
            raise Stop("boom")

    def terminate(self, reason):
        events.append(("stop", self.wid, reason))


def w(wid, *args):
    return ChildSpec(wid, (Worker, (wid, *args)))


def tree(*wids, intensity=3):
    return (SupFlags("one_for_one", intensity, 5.0), [w(x) for x in wids])


@pytest.fixture(autouse=True)
def _clear():
    events.clear()
    FAILS.clear()


@pytest.fixture
def reports():
    h = otp_logger.ListHandler()
    otp_logger.add_handler("test-app", h, "all")
    yield h
    otp_logger.remove_handler("test-app")


def kids(node, sup):
    return {c.id: c.pid for c in which_children(node, sup)}


def test_start_and_orderly_stop_of_the_tree(reports):
    node = Node()
    app = Application("desk", tree("a", "b", "c"))
    sup = app.start(node)
    assert app.running and app.supervisor is sup and which_applications(node) == [app]
    assert events == [("init", "a"), ("init", "b"), ("init", "c")]
    events.clear()
    app.stop()  # application:stop/1: the top supervisor gets shutdown, children stop in reverse order
    assert events == [("stop", "c", "shutdown"), ("stop", "b", "shutdown"), ("stop", "a", "shutdown")]
    assert not sup.is_alive and app.state == "stopped" and which_applications(node) == []
    assert len(node) == 0
    (r,) = reports.reports(("application_controller", "exit"))
    assert r == {
        "label": ("application_controller", "exit"),
        "application": "desk",
        "exited": "stopped",
        "type": "temporary",
    }
    sup2 = app.start(node)  # an application can be started again
    assert sup2.is_alive and sup2 is not sup
    app.stop()


def test_env_get_set_and_module_level_get_env():
    node = Node()
    app = Application("feed", tree("a"), env={"venue": "sim", "depth": 5})
    assert app.get_env("venue") == "sim" and app.get_env("nope", 7) == 7
    assert get_env("feed", "venue", node=node) is None  # not started: application:get_env -> undefined
    app.start(node)
    assert get_env("feed", "venue", node=node) == "sim" and get_application("feed", node) is app
    app.set_env("depth", 10)
    assert get_env("feed", "depth", node=node) == 10
    app.stop()


def test_start_failure_shuts_down_the_started_children_and_reports_the_reason():
    node = Node()
    FAILS.add("b")
    app = Application("broken", tree("a", "b", "c"))
    with pytest.raises(ApplicationError) as ei:
        app.start(node)
    shutdown, (tag, cid, why) = ei.value.reason
    assert (shutdown, tag, cid) == ("shutdown", "failed_to_start_child", "b") and isinstance(why, ValueError)
    assert events == [("init", "a"), ("init", "b"), ("stop", "a", "shutdown")]  # done before start raised
    assert len(node) == 0 and app.state == "terminated" and which_applications(node) == []


def test_already_started_and_not_started_errors():
    node = Node()
    app = Application("x", tree("a"))
    with pytest.raises(ApplicationError) as ei:
        app.stop()
    assert ei.value.reason == "not_started"
    app.start(node)
    with pytest.raises(ApplicationError) as ei:
        Application("x", tree("b")).start(node)
    assert ei.value.reason == "already_started"
    app.stop()


def crash_top(node, app, reason="crash"):
    """Make the top supervisor give up: its one child crashes with intensity 0."""
    cast(node, kids(node, app.supervisor)["a"], reason)
    node.run_until_idle()


def test_temporary_application_terminating_is_only_reported(reports):
    node = Node()
    other = Application("other", tree("o"))
    other.start(node)
    app = Application("tmp", tree("a", intensity=0))
    app.start(node)
    sup = app.supervisor
    crash_top(node, app)
    assert not sup.is_alive and app.state == "terminated" and app.exit_reason == "shutdown"
    assert node_stopped(node) is None and other.running and which_applications(node) == [other]
    r = reports.reports(("application_controller", "exit"))[-1]
    assert (r["application"], r["exited"], r["type"]) == ("tmp", "shutdown", "temporary")
    other.stop()


class NormalTop(GenServer):
    """A top process that ends normally on request."""

    def handle_cast(self, reason):
        raise Stop(reason)


def test_transient_application_stops_the_node_unless_it_ends_normal():
    node = Node()
    app = Application("tr", lambda n: NormalTop.start_link(n), type="transient")
    top = app.start(node)
    cast(node, top, "normal")
    node.run_until_idle()
    assert app.state == "terminated" and app.exit_reason == "normal" and node_stopped(node) is None
    node2 = Node()
    app2 = Application("tr", tree("a", intensity=0), type="transient")
    app2.start(node2)
    crash_top(node2, app2)  # the top supervisor exits shutdown: abnormal for an application
    assert node_stopped(node2) == ("application_terminated", "tr", "shutdown")


def test_permanent_application_termination_stops_the_node_in_order():
    node = Node()
    got = []
    on_node_stop(got.append, node)
    first = Application("first", tree("f1", "f2"))
    first.start(node)
    second = Application("second", tree("s1"))
    second.start(node)
    loner = node.spawn(lambda m: None)  # a process outside any application
    perm = Application("core", tree("a", intensity=0), type="permanent")
    perm.start(node)
    events.clear()
    crash_top(node, perm)
    reason = ("application_terminated", "core", "shutdown")
    assert node_stopped(node) == reason and got == [reason]
    assert events == [
        ("stop", "a", "crash"),  # core's child; then the others, in reverse start order
        ("stop", "s1", "shutdown"),
        ("stop", "f2", "shutdown"),
        ("stop", "f1", "shutdown"),
    ]
    assert first.state == second.state == "stopped" and perm.state == "terminated"
    assert not loner.is_alive and loner.exit_reason == "killed" and len(node) == 0
    with pytest.raises(ApplicationError) as ei:
        Application("late", tree("z")).start(node)
    assert ei.value.reason == "node_stopped"


def test_stopping_a_permanent_application_explicitly_does_not_stop_the_node():
    node = Node()
    app = Application("core", tree("a"), type="permanent")
    app.start(node)
    app.stop()
    assert node_stopped(node) is None and app.state == "stopped"


def test_node_run_returns_when_a_permanent_application_stops_the_node():
    # what `cns serve` relies on: node.run() (or run_async) returns; the caller then exits non-zero
    node = Node()
    app = Application("core", (SupFlags("one_for_one", 0, 5.0), [w("a", 0.05)]), type="permanent")
    app.start(node)
    t0 = time.monotonic()
    node.run(timeout=5.0)
    assert time.monotonic() - t0 < 2.0
    assert node_stopped(node) == ("application_terminated", "core", "shutdown")


def test_invalid_arguments():
    with pytest.raises(BadArg) as ei:
        Application("", tree("a"))
    assert "name" in str(ei.value)
    with pytest.raises(BadArg):
        Application("x", tree("a"), type="forever")
    with pytest.raises(BadArg):
        Application("x", 42)
