"""Worker pools with real crashes: routing, restarts invisible to senders, exact loss accounting."""

from __future__ import annotations

from typing import Any

import pytest

from cns.otp.pool import PoolWorker, start_pool
from cns.runtime import BadArg, Node, NoProc
from cns.telemetry import Counters


class Square(PoolWorker):
    """Squares numbers; crashes on the request "boom" (and on the cast "boom")."""

    def init(self, log: list[Any]) -> None:
        self.log = log

    def handle_call(self, request: Any, from_: Any) -> Any:
        if request == "boom":
            raise RuntimeError("worker crashed on purpose")
        if request == "who":
            return self.pid
        return request * request

    def handle_cast(self, msg: Any) -> None:
        if msg == "boom":
            raise RuntimeError("worker crashed on purpose")
        self.log.append((self.pid.id, msg))


def test_round_robin_spreads_calls() -> None:
    node = Node()
    pool = start_pool(node, Square, 4, args=([],))
    assert [pool.call(i) for i in range(8)] == [i * i for i in range(8)]
    whos = [pool.call("who") for _ in range(8)]
    assert len({w.id for w in whos}) == 4
    s = pool.stats()
    assert s.live_workers == 4 and s.forwarded == 16 and s.per_worker == (4, 4, 4, 4)
    pool.stop()
    assert not pool.router.is_alive and not pool.supervisor.is_alive


def test_crash_is_invisible_except_for_the_dead_workers_mailbox() -> None:
    node = Node()
    log: list[Any] = []
    with Counters() as counters:
        pool = start_pool(node, Square, 3, args=(log,))
        before = set(pool.workers())
        # 3 workers, round robin: the 1st cast goes to the same worker as messages 4, 7, 10, ...
        pool.cast("boom")
        for i in range(299):
            pool.cast(i)
        node.run_until_idle()
        s = pool.stats()
        # everything forwarded to the crashed worker after "boom" was in its mailbox: lost and counted
        assert s.crashed == 1 and s.restarts == 1 and s.live_workers == 3
        assert s.lost == 99 and len(log) == 300 - 1 - 99
        # senders never saw the restart: the pool keeps answering, with a new worker in the dead one's slot
        assert [pool.call(i) for i in range(6)] == [i * i for i in range(6)]
        after = set(pool.workers())
        assert len(before & after) == 2 and None not in after
    snap = counters.snapshot()
    assert snap["restarts"] == 1 and snap["exits_by_reason"].get("RuntimeError") == 1
    pool.stop()


def test_pending_calls_of_a_dead_worker_fail_fast_with_noproc() -> None:
    node = Node()
    pool = start_pool(node, Square, 1, args=([],))
    victim = pool.workers()[0]
    with pytest.raises(NoProc):
        pool.call("boom", timeout=2.0)
    assert pool.call(3) == 9
    assert pool.workers()[0] is not victim
    assert pool.stats().lost_calls == 1  # the crashing call itself: failed at once, not after the timeout
    pool.stop()


def test_least_loaded_prefers_short_mailboxes() -> None:
    node = Node()
    log: list[Any] = []
    pool = start_pool(node, Square, 3, args=(log,), strategy="least_loaded")
    for i in range(300):
        pool.cast(i)
    node.run_until_idle()
    s = pool.stats()
    assert sum(s.per_worker) == 300 and max(s.per_worker) - min(s.per_worker) <= 2
    assert sorted(m for _, m in log) == list(range(300))
    pool.stop()


def test_escalation_when_restarts_exceed_intensity() -> None:
    node = Node()
    pool = start_pool(node, Square, 2, args=([],), intensity=2, period=60.0)
    for _ in range(3):
        pool.cast("boom")
        node.run_until_idle()
    assert not pool.supervisor.is_alive and not pool.router.is_alive
    with pytest.raises(NoProc):
        pool.call(2)


def test_bad_arguments() -> None:
    node = Node()
    with pytest.raises(BadArg, match="PoolWorker"):
        start_pool(node, object, 2)  # type: ignore[arg-type]
    with pytest.raises(BadArg, match="size"):
        start_pool(node, Square, 0)
    with pytest.raises(BadArg, match="strategy"):
        start_pool(node, Square, 2, strategy="random")
