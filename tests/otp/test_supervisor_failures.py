"""Supervisor failure paths, each scenario's expected trace taken from OTP's ``lib/stdlib/src/supervisor.erl``
(function names cited; OTP 25 and later agree on all of them) or the supervisor / reference-manual docs."""

from __future__ import annotations

import time

import pytest

from cns.otp import ChildSpec, GenServer, InvalidChildSpec, Supervisor, SupervisorError, SupFlags, cast
from cns.otp import logger as otp_logger
from cns.otp.supervisor import (
    RESTARTING,
    get_childspec,
    restart_child,
    start_child,
    terminate_child,
    which_children,
)
from cns.runtime import Actor, BadArg, Down, Exit, InitFailed, Node, Stop

events: list = []
FAILS: dict = {}  # wid -> number of next starts whose init fails


class Kid(GenServer):
    """Traps exits (so ``terminate`` runs on shutdown), records init/terminate; init fails while FAILS says so."""

    def init(self, wid, trap=True):
        self.wid = wid
        events.append(("init", wid))
        if FAILS.get(wid, 0) > 0:
            FAILS[wid] -= 1
            raise ValueError(f"init of {wid} failed")
        if trap:
            self.trap_exit()

    def handle_call(self, request, from_):
        return self.wid

    def handle_cast(self, reason):
        raise Stop(reason)

    def terminate(self, reason):
        events.append(("stop", self.wid, reason))


class Stubborn(Actor):
    """Traps exits and ignores them: only ``kill`` ends it."""

    def __init__(self, wid):
        self.wid = wid

    def receive(self, msg):
        events.append(("ignored", self.wid, type(msg).__name__))


def stubborn(wid, **kw):
    def start(node, *extra):
        events.append(("init", wid))
        p = node.spawn(Stubborn(wid), trap_exit=True)
        node.link(p)
        return p

    return ChildSpec(wid, start, **kw)


def kid(wid, restart="permanent", **kw):
    return ChildSpec(wid, (Kid, (wid,)), restart=restart, **kw)


def pids(node, sup):
    return {c.id: c.pid for c in which_children(node, sup)}


def crash(node, pid, reason="crash"):
    cast(node, pid, reason)
    node.run_until_idle()


@pytest.fixture(autouse=True)
def _clear():
    events.clear()
    FAILS.clear()


@pytest.fixture
def reports():
    """A list handler on the logger at every level (primary level lowered to info for progress reports)."""
    h = otp_logger.ListHandler()
    old = otp_logger.set_primary_level("info")
    otp_logger.add_handler("test", h, "all")
    yield h
    otp_logger.remove_handler("test")
    otp_logger.set_primary_level(old)


def labels(h):
    return [
        r["label"][1] for r in h.reports() if r["label"][0] == "supervisor" and r["label"][1] != "progress"
    ]


def sup_of(node, strategy, specs, intensity=10, period=5.0, **kw):
    return Supervisor.start_link(node, SupFlags(strategy, intensity, period, **kw), specs)


# ----------------------------------------------------------------- failed restarts: try again
def test_one_for_all_failed_restart_is_retried_for_the_child_that_failed_and_restarts_all_again(reports):
    # restart(one_for_all) -> restart_multiple_children: c fails -> {try_again, c}; try_again_restart(c)
    # -> restart(Child=c): add_restart, then one_for_all again: terminate_children(all) + start_children(all).
    node = Node()
    sup = sup_of(node, "one_for_all", [kid("a"), kid("b"), kid("c")])
    events.clear()
    FAILS["c"] = 1
    crash(node, pids(node, sup)["b"])
    assert events == [
        ("stop", "b", "crash"),
        ("stop", "c", "shutdown"),
        ("stop", "a", "shutdown"),
        ("init", "a"),
        ("init", "b"),
        ("init", "c"),  # c's init fails: try again, for c
        ("stop", "b", "shutdown"),
        ("stop", "a", "shutdown"),  # one_for_all again: the others stop ...
        ("init", "a"),
        ("init", "b"),
        ("init", "c"),  # ... and all start in order
    ]
    assert all(p.is_alive for p in pids(node, sup).values())
    assert len(sup.actor.restarts) == 2  # the crash and the retry (add_restart in restart/2)
    assert labels(reports) == ["child_terminated", "start_error"]


def test_rest_for_one_failed_restart_is_retried_from_the_child_that_failed():
    # restart(rest_for_one): split_child at the failed id; the retry of c splits at c: a and b untouched.
    node = Node()
    sup = sup_of(node, "rest_for_one", [kid("a"), kid("b"), kid("c"), kid("d")])
    a = pids(node, sup)["a"]
    events.clear()
    FAILS["c"] = 1
    crash(node, pids(node, sup)["b"])
    b = pids(node, sup)["b"]
    assert events == [
        ("stop", "b", "crash"),
        ("stop", "d", "shutdown"),
        ("stop", "c", "shutdown"),
        ("init", "b"),
        ("init", "c"),  # c fails: d is left down, c is retried
        ("init", "c"),
        ("init", "d"),
    ]
    kids = pids(node, sup)
    assert kids["a"] is a and kids["b"] is b and kids["c"].is_alive and kids["d"].is_alive
    assert len(sup.actor.restarts) == 2


class Observer(GenServer):
    """Kills a child, then calls the supervisor: the request queues right behind the resulting EXIT."""

    def init(self, sup):
        self.sup = sup
        self.seen = []

    async def handle_cast(self, arg):
        victim, request = arg
        self.node.exit(victim, "kill")
        self.seen.append(await self.call(self.sup, request))


def test_restarting_child_is_shown_as_restarting_and_refuses_restart_and_delete():
    # restart/2 sets ?restarting(OldPid) and casts try_again_restart; requests queued before it see
    # which_children {Id, restarting, ...} (children after it: undefined) and {error, restarting}.
    node = Node()
    sup = sup_of(node, "rest_for_one", [kid("a"), kid("b"), kid("c"), kid("d")])
    obs = Observer.start(node, sup)
    for request in (("which_children",), ("restart_child", "c"), ("delete_child", "c")):
        FAILS["c"] = 1
        cast(node, obs, (pids(node, sup)["b"], request))
        node.run_until_idle()
        assert all(p.is_alive for p in pids(node, sup).values())  # the retry brought c and d back
        if request[0] == "which_children":
            seen = {c.id: c.pid for c in obs.actor.seen[0]}
            assert seen["a"].is_alive and seen["b"] is pids(node, sup)["b"]
            assert seen["c"] == RESTARTING and seen["d"] is None
    _, restart_err, delete_err = obs.actor.seen
    assert restart_err.reason == "restarting" and delete_err.reason == "restarting"


def test_failed_restarts_count_toward_intensity_in_a_multi_child_restart(reports):
    # Each try_again_restart goes through restart/2 -> add_restart; > intensity: report shutdown
    # reached_max_restart_intensity, del_child, {stop, shutdown} -> terminate_children in reverse order.
    node = Node()
    sup = sup_of(node, "one_for_all", [kid("a"), kid("b"), kid("c")], intensity=2)
    events.clear()
    FAILS["c"] = 1_000
    crash(node, pids(node, sup)["b"])
    assert not sup.is_alive and sup.exit_reason == "shutdown"
    assert [e for e in events if e == ("init", "c")] == [("init", "c")] * 2  # restarts 1 and 2; 3 > 2
    assert events[-2:] == [("stop", "b", "shutdown"), ("stop", "a", "shutdown")]
    assert labels(reports) == ["child_terminated", "start_error", "start_error", "shutdown"]
    last = reports.reports(("supervisor", "shutdown"))[0]
    assert last["reason"] == "reached_max_restart_intensity" and last["offender"]["id"] == "c"
    assert len(node) == 0


# ----------------------------------------------------------------- failure while the supervisor starts
def test_start_failure_shuts_started_children_down_in_reverse_with_their_shutdown_spec(reports):
    # init_children: start_children aborts with {failed_to_start_child, Id, R}; terminate_children(NChildren)
    # (do_terminate -> shutdown/1: exit shutdown, wait, kill) in reverse start order; {stop, {shutdown, R}}.
    node = Node()
    FAILS["c"] = 1
    t0 = time.monotonic()
    with pytest.raises(InitFailed) as ei:
        sup_of(node, "one_for_one", [kid("a"), stubborn("s", shutdown=0.05), kid("c")])
    elapsed = time.monotonic() - t0
    shutdown, (tag, cid, why) = ei.value.reason
    assert (shutdown, tag, cid) == ("shutdown", "failed_to_start_child", "c") and isinstance(why, ValueError)
    assert events == [
        ("init", "a"),
        ("init", "s"),
        ("init", "c"),
        ("ignored", "s", "Exit"),  # s got the shutdown signal first (reverse order) ...
        ("stop", "a", "shutdown"),
    ]  # ... was killed after 0.05 s, then a shut down cleanly
    assert elapsed >= 0.05
    assert len(node) == 0
    assert labels(reports) == ["start_error", "shutdown_error"]  # s ended 'killed', not 'shutdown'
    assert reports.reports(("supervisor", "shutdown_error"))[0]["reason"] == "killed"


def test_start_failure_inside_a_process_raises_at_once_and_the_exit_follows_the_ordered_shutdown():
    node = Node()
    FAILS["b"] = 1
    got = []

    class Starter(Actor):
        def receive(self, msg):
            if msg == "go":
                self.node.trap_exit(True)
                try:
                    Supervisor.start_link(self.node, SupFlags(), [kid("a"), kid("b")])
                except InitFailed as e:
                    got.append(("raised", e.reason[0]))
                    got.append(list(events))  # a not yet shut down: the supervisor cannot block its caller
            else:
                got.append(("exit", msg.reason[0], list(events)))

    node.send(node.spawn(Starter()), "go")
    node.run_until_idle()
    assert got[0] == ("raised", "shutdown")
    assert got[1] == [("init", "a"), ("init", "b")]
    assert got[2] == ("exit", "shutdown", [("init", "a"), ("init", "b"), ("stop", "a", "shutdown")])


# ----------------------------------------------------------------- dynamic children shutdown
def test_dynamic_children_are_signalled_at_once_under_one_timer_then_the_rest_killed(reports):
    # terminate_dynamic_children: exit(P, shutdown) to every child, one erlang:start_timer(Time, self(), kill),
    # wait_dynamic_children; on the timeout: exit(P, kill) for all left. Reports grouped per reason.
    node = Node()
    tmpl = stubborn("tmpl", restart="temporary", shutdown=0.2)
    sup = Supervisor.start_link(node, SupFlags("simple_one_for_one"), [tmpl])
    stubs = [start_child(node, sup, []) for _ in range(3)]
    events.clear()
    t0 = time.monotonic()
    node.exit(sup, "shutdown")  # from plain Python: the supervisor's own shutdown order
    node.run(timeout=2.0)
    elapsed = time.monotonic() - t0
    assert not sup.is_alive and sup.exit_reason == "shutdown"
    assert events == [("ignored", "tmpl", "Exit")] * 3  # all signalled before any wait
    assert all(p.exit_reason == "killed" for p in stubs)
    assert 0.2 <= elapsed < 0.45  # one timer, not 3 x 0.2 s one after the other
    (err,) = reports.reports(("supervisor", "shutdown_error"))
    assert err["reason"] == "killed" and err["offender"]["nb_children"] == 3


def test_dynamic_children_polite_ones_end_with_shutdown_and_brutal_kill_kills_all():
    node = Node()
    sup = Supervisor.start_link(
        node,
        SupFlags("simple_one_for_one"),
        [ChildSpec("k", lambda n, w: Kid.start_link(n, w), restart="transient")],
    )
    kids = [start_child(node, sup, [w]) for w in ("x", "y", "z")]
    events.clear()
    node.exit(sup, "shutdown")
    node.run_until_idle()
    assert sorted(events) == [("stop", w, "shutdown") for w in ("x", "y", "z")]
    assert all(p.exit_reason == "shutdown" for p in kids)
    sup2 = Supervisor.start_link(
        node,
        SupFlags("simple_one_for_one"),
        [ChildSpec("k", lambda n, w: Kid.start_link(n, w), shutdown="brutal_kill")],
    )
    kids2 = [start_child(node, sup2, [w]) for w in ("p", "q")]
    events.clear()
    node.exit(sup2, "shutdown")
    node.run_until_idle()
    assert events == [] and all(p.exit_reason == "killed" for p in kids2)


def test_simple_one_for_one_child_api_errors_as_otp():
    node = Node()
    sup = Supervisor.start_link(node, SupFlags("simple_one_for_one"), [kid("k")])
    p = start_child(node, sup, [])
    for fn, arg in ((terminate_child, "k"), (restart_child, "k")):
        with pytest.raises(SupervisorError) as ei:
            fn(node, sup, arg)
        assert ei.value.reason == "simple_one_for_one"
    terminate_child(node, sup, p)
    assert not p.is_alive and which_children(node, sup) == []
    terminate_child(node, sup, p)  # a dead pid: ok, as OTP's find_child


# ----------------------------------------------------------------- kill vs killed
def test_exit_kill_is_seen_as_killed_by_links_and_monitors():
    # Reference manual, Receiving Exit Signals: exit/2 with kill -> the receiver terminates with 'killed';
    # a link exit signal carries the exit reason, so links and monitors see 'killed'.
    node = Node()
    seen = []

    class Watcher(Actor):
        def receive(self, msg):
            if isinstance(msg, tuple) and msg[0] == "watch":
                self.node.trap_exit(True)
                self.node.link(msg[1])
                self.node.monitor(msg[1])
            else:
                seen.append(msg)

    victim = node.spawn(lambda m: None, trap_exit=True)  # trapping does not help against kill
    w = node.spawn(Watcher())
    node.send(w, ("watch", victim))
    node.run_until_idle()
    node.exit(victim, "kill")
    node.run_until_idle()
    assert victim.exit_reason == "killed"
    assert seen[0] == Exit(victim, "killed")
    assert isinstance(seen[1], Down) and seen[1].reason == "killed"


def test_a_process_exiting_with_reason_kill_sends_a_trappable_kill_to_links():
    # Reference manual: "if the link flag is set, an exit reason of kill will not be converted to killed";
    # a trapping receiver gets {'EXIT', Pid, kill}, a non-trapping one terminates with reason kill.
    node = Node()
    got = []

    def dies(msg):
        raise Stop("kill")

    class Trapper(Actor):
        def receive(self, msg):
            got.append(msg)

    suicidal = node.spawn(dies)
    middle = node.spawn(lambda m: None)  # not trapping
    trapper = node.spawn(Trapper(), trap_exit=True)
    node.run_in(middle, lambda a: node.link(suicidal))
    node.run_in(trapper, lambda a: node.link(middle))
    node.send(suicidal, "go")
    node.run_until_idle()
    assert suicidal.exit_reason == "kill" and middle.exit_reason == "kill"
    assert got == [Exit(middle, "kill")] and trapper.is_alive


def test_supervisor_reports_a_killed_child_as_child_terminated_killed(reports):
    node = Node()
    sup = sup_of(node, "one_for_one", [kid("a")])
    a = pids(node, sup)["a"]
    node.exit(a, "kill")
    node.run_until_idle()
    (r,) = reports.reports(("supervisor", "child_terminated"))
    assert r["reason"] == "killed" and r["offender"]["pid"] is a
    assert pids(node, sup)["a"].is_alive


# ----------------------------------------------------------------- restart types
def test_temporary_child_never_restarted_and_removed_abnormal_exit_reported(reports):
    # do_restart: temporary -> report child_terminated (unless normal/shutdown) and del_child (removed).
    node = Node()
    sup = sup_of(node, "one_for_one", [kid("t1", "temporary"), kid("t2", "temporary")])
    crash(node, pids(node, sup)["t1"], "boom")
    crash(node, pids(node, sup)["t2"], "normal")
    assert which_children(node, sup) == []
    assert [r["reason"] for r in reports.reports(("supervisor", "child_terminated"))] == ["boom"]


@pytest.mark.parametrize(
    "reason,restarted",
    [
        ("normal", False),
        ("shutdown", False),
        (("shutdown", "done"), False),
        ("boom", True),
        ("killed", True),
    ],
)
def test_transient_child_restarted_only_after_an_abnormal_exit(reason, restarted, reports):
    node = Node()
    sup = sup_of(node, "one_for_one", [kid("t", "transient")])
    old = pids(node, sup)["t"]
    if reason == "killed":
        node.exit(old, "kill")
        node.run_until_idle()
    else:
        crash(node, old, reason)
    now = pids(node, sup)["t"]
    assert (now is not None and now is not old) == restarted
    assert "t" in pids(node, sup)  # a transient child keeps its spec either way
    assert bool(reports.reports(("supervisor", "child_terminated"))) == restarted


def test_default_shutdown_is_5s_for_workers_and_infinity_for_supervisors():
    assert kid("w").shutdown == 5.0
    assert ChildSpec("s", lambda n: None, type="supervisor").shutdown == "infinity"
    assert kid("z", shutdown=0).shutdown == 0  # OTP accepts 0 ms: shutdown signal then kill at once


def test_start_child_errors_already_started_and_already_present():
    node = Node()
    sup = sup_of(node, "one_for_one", [kid("a")])
    with pytest.raises(SupervisorError) as ei:
        start_child(node, sup, kid("a"))
    assert ei.value.reason == ("already_started", pids(node, sup)["a"])
    terminate_child(node, sup, "a")
    with pytest.raises(SupervisorError) as ei:
        start_child(node, sup, kid("a"))
    assert ei.value.reason == "already_present"
    assert get_childspec(node, sup, "a").id == "a"


# ----------------------------------------------------------------- significant children / auto_shutdown
def test_any_significant_child_ending_shuts_the_supervisor_down():
    # do_auto_shutdown(any_significant): {shutdown, State} -> terminate -> terminate_children (reverse order).
    node = Node()
    sup = sup_of(
        node,
        "one_for_one",
        [kid("a"), kid("s", "transient", significant=True), kid("c")],
        auto_shutdown="any_significant",
    )
    events.clear()
    crash(node, pids(node, sup)["s"], "normal")
    assert not sup.is_alive and sup.exit_reason == "shutdown"
    assert events == [("stop", "s", "normal"), ("stop", "c", "shutdown"), ("stop", "a", "shutdown")]


def test_all_significant_waits_for_the_last_significant_child_and_ignores_terminate_child():
    node = Node()
    sup = sup_of(
        node,
        "one_for_one",
        [kid("s1", "temporary", significant=True), kid("s2", "transient", significant=True), kid("w")],
        auto_shutdown="all_significant",
    )
    crash(node, pids(node, sup)["s1"], "boom")  # temporary: any end counts
    assert sup.is_alive
    crash(node, pids(node, sup)["s2"], "boom")  # transient, abnormal: restarted, does not count
    assert sup.is_alive
    crash(node, pids(node, sup)["s2"], ("shutdown", "done"))
    assert not sup.is_alive and sup.exit_reason == "shutdown"
    sup2 = sup_of(
        node, "one_for_one", [kid("s", "temporary", significant=True)], auto_shutdown="any_significant"
    )
    terminate_child(node, sup2, "s")  # an explicit terminate_child never triggers auto shutdown
    assert sup2.is_alive


def test_significant_needs_a_non_permanent_child_and_auto_shutdown():
    with pytest.raises(InvalidChildSpec):
        kid("p", significant=True)
    node = Node()
    with pytest.raises(InitFailed) as ei:
        sup_of(node, "one_for_one", [kid("t", "transient", significant=True)])  # auto_shutdown never
    assert isinstance(ei.value.reason, InvalidChildSpec)
    with pytest.raises(InvalidChildSpec):
        SupFlags(auto_shutdown="sometimes")


# ----------------------------------------------------------------- reports
def test_progress_reports_only_at_info_level():
    node = Node()
    h = otp_logger.ListHandler()
    otp_logger.add_handler("t", h, "all")
    try:
        sup_of(node, "one_for_one", [kid("a")])  # primary level notice: progress (info) dropped
        assert h.reports(("supervisor", "progress")) == []
        old = otp_logger.set_primary_level("info")
        try:
            sup = sup_of(node, "one_for_one", [kid("b")])
        finally:
            otp_logger.set_primary_level(old)
        (p,) = h.reports(("supervisor", "progress"))
        assert p["supervisor"] is sup and p["started"]["id"] == "b" and p["started"]["pid"].is_alive
    finally:
        otp_logger.remove_handler("t")


# ----------------------------------------------------------------- the logger itself
def test_logger_levels_handler_filters_and_crashing_handler_removal():
    h_all, h_err = otp_logger.ListHandler(), otp_logger.ListHandler()
    otp_logger.add_handler("all", h_all, "all")
    otp_logger.add_handler("err", h_err, "error")
    try:
        with pytest.raises(BadArg):
            otp_logger.add_handler("all", h_all)  # ids are unique
        otp_logger.info("dropped by the primary level (notice)")
        otp_logger.warning({"label": ("x", "y"), "k": 1}, pid=None)
        otp_logger.error("bad")
        assert [e.level for e in h_all.events] == ["warning", "error"]
        assert [e.msg for e in h_err.events] == ["bad"]
        assert h_all.events[0].label == ("x", "y") and "time" in h_all.events[0].meta

        def crashing(event):
            raise RuntimeError("handler bug")

        otp_logger.add_handler("bad", crashing)
        otp_logger.error("still delivered to the others")
        assert "bad" not in otp_logger.get_handlers()  # OTP removes a crashing handler
        assert h_err.events[-1].msg == "still delivered to the others"
    finally:
        otp_logger.remove_handler("all")
        otp_logger.remove_handler("err")


def test_logger_costs_nothing_with_no_handler(monkeypatch):
    # Emitters test `logger.threshold` before building a report: with no handler nothing is built or called.
    saved = otp_logger.get_handlers()
    assert "default" in saved
    monkeypatch.setattr(otp_logger, "_handlers", {})
    otp_logger._recompute()
    try:
        assert otp_logger.threshold == -1

        def must_not_run(*a, **k):
            raise AssertionError("a report was built with no handler attached")

        monkeypatch.setattr(otp_logger, "error", must_not_run)
        monkeypatch.setattr(otp_logger, "info", must_not_run)
        node = Node()
        sup = sup_of(node, "one_for_one", [kid("a")], intensity=0)
        crash(node, pids(node, sup)["a"])
        assert not sup.is_alive  # child_terminated and reached_max_restart_intensity: nothing built
    finally:
        monkeypatch.undo()
        otp_logger._recompute()


def test_default_handler_writes_supervisor_reports_to_stdlib_logging(caplog):
    node = Node()
    sup = sup_of(node, "one_for_one", [kid("a")])
    with caplog.at_level("ERROR", logger="cns.otp"):
        crash(node, pids(node, sup)["a"], "boom")
    recs = [r for r in caplog.records if r.name == "cns.otp"]
    assert len(recs) == 1 and recs[0].levelname == "ERROR"
    assert (
        recs[0].getMessage().startswith("Supervisor: ")
        and "Context: child_terminated" in recs[0].getMessage()
    )
    assert recs[0].report["reason"] == "boom"
