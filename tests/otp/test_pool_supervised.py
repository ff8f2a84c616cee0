"""A worker pool is a supervisor child like any other: restarted by its parent, and its failure escalates."""

from __future__ import annotations

from typing import Any

import pytest

from cns.otp import ChildSpec, GenServer, Supervisor, SupFlags, terminate_child, which_children
from cns.otp.pool import Pool, PoolWorker, pool_child_spec
from cns.runtime import Actor, Exit, Node, NoProc


class Square(PoolWorker):
    def init(self, log: list[Any]) -> None:
        self.log = log
        self.trap_exit()  # so a shutdown runs terminate (logged)

    def handle_call(self, request: Any, from_: Any) -> Any:
        if request == "who":
            return self.pid
        return request * request

    def handle_cast(self, msg: Any) -> None:
        if msg == "boom":
            raise RuntimeError("worker crashed on purpose")
        self.log.append(msg)

    def terminate(self, reason: Any) -> None:
        self.log.append(("terminate", reason))


class Echo(GenServer):
    def handle_call(self, request: Any, from_: Any) -> Any:
        return request


def _tree(node: Node, log: list[Any], *, intensity: int = 3, pool_intensity: int = 10) -> Any:
    specs = [
        ChildSpec("echo", lambda n: Echo.start_link(n, name="echo")),
        pool_child_spec(
            "scorers", Square, 3, name="scorers", args=(log,), intensity=pool_intensity, period=60.0
        ),
    ]
    return Supervisor.start(node, SupFlags("one_for_one", intensity=intensity, period=60.0), specs)


def _pool_row(node: Node, sup: Any) -> Any:
    return next(c for c in which_children(node, sup) if c.id == "scorers")


@pytest.mark.timeout(10)
def test_a_pool_under_a_supervisor_serves_by_name() -> None:
    node = Node()
    log: list[Any] = []
    sup = _tree(node, log)
    pool = Pool.of(node, "scorers")
    assert pool.size == 3 and pool.strategy == "round_robin"
    assert [pool.call(i) for i in range(6)] == [i * i for i in range(6)]
    pool.cast("x")
    node.run_until_idle()
    assert "x" in log
    row = _pool_row(node, sup)
    assert row.type == "supervisor" and row.pid is node.whereis("scorers")
    assert pool.stats().live_workers == 3
    node.shutdown()


@pytest.mark.timeout(10)
def test_the_parent_restarts_a_pool_whose_router_dies() -> None:
    node = Node()
    log: list[Any] = []
    sup = _tree(node, log)
    old = node.whereis("scorers")
    old_workers = Pool.of(node, "scorers").workers()
    node.exit(old, "kill")
    node.run_until_idle()
    new = node.whereis("scorers")
    assert new is not None and new is not old and _pool_row(node, sup).pid is new
    assert not any(w.is_alive for w in old_workers), "the old pool's workers went down with it"
    assert Pool.of(node, "scorers").call(7) == 49
    node.shutdown()


@pytest.mark.timeout(10)
def test_a_pool_that_exceeds_its_own_intensity_is_restarted_by_its_parent() -> None:
    node = Node()
    log: list[Any] = []
    sup = _tree(node, log, pool_intensity=1)
    old = node.whereis("scorers")
    pool = Pool.of(node, "scorers")
    for _ in range(2):  # two worker crashes: more than 1 restart, the pool's supervisor gives up
        pool.cast("boom")
        node.run_until_idle()
    assert not old.is_alive and old.exit_reason == "shutdown"
    assert sup.is_alive and node.whereis("scorers") not in (None, old)
    assert pool.call(5) == 25  # the handle addresses the pool by name: it follows the restart
    node.shutdown()


@pytest.mark.timeout(10)
def test_pool_failures_beyond_the_parent_intensity_escalate() -> None:
    node = Node()
    log: list[Any] = []
    seen: list[Any] = []
    holder: list[Any] = []

    class Grandparent(Actor):
        """Starts the tree linked to itself and records the exit signals it traps."""

        def receive(self, msg: Any) -> None:
            if msg == "start":
                specs = [pool_child_spec("scorers", Square, 2, name="scorers", args=(log,), intensity=0)]
                flags = SupFlags("one_for_one", intensity=1, period=60.0)
                holder.append(Supervisor.start_link(self.node, flags, specs))
            else:
                seen.append(msg)

    gp = node.spawn(Grandparent(), trap_exit=True)
    node.send(gp, "start")
    node.run_until_idle()
    (sup,) = holder
    for _ in range(2):  # each crash ends the pool (intensity 0); the second pool failure ends the parent
        Pool.of(node, "scorers").cast("boom")
        node.run_until_idle()
    assert not sup.is_alive and sup.exit_reason == "shutdown"
    assert [(m.pid, m.reason) for m in seen if isinstance(m, Exit)] == [(sup, "shutdown")]
    assert node.whereis("scorers") is None
    with pytest.raises(NoProc):
        node.call("scorers", 2)
    node.shutdown()


@pytest.mark.timeout(10)
def test_terminate_child_stops_the_whole_pool_in_order() -> None:
    node = Node()
    log: list[Any] = []
    sup = _tree(node, log)
    router = node.whereis("scorers")
    workers = Pool.of(node, "scorers").workers()
    terminate_child(node, sup, "scorers")
    assert not router.is_alive and router.exit_reason == "shutdown"
    assert not any(w.is_alive for w in workers)
    assert sum(1 for m in log if m == ("terminate", "shutdown")) == 3  # each worker shut down per its spec
    assert _pool_row(node, sup).pid is None
    node.shutdown()


@pytest.mark.timeout(10)
def test_start_pool_from_plain_python_is_unchanged() -> None:
    node = Node()
    log: list[Any] = []
    from cns.otp.pool import start_pool

    pool = start_pool(node, Square, 2, args=(log,))
    assert pool.call(3) == 9
    workers = pool.workers()
    pool.stop()
    assert not pool.router.is_alive and not pool.supervisor.is_alive
    assert not any(w.is_alive for w in workers)
    assert sum(1 for m in log if m == ("terminate", "shutdown")) == 2
