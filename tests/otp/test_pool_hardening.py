"""Pool hardening: dead incarnations are never picked, and every lost call is counted."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cns.otp.pool import PoolWorker, start_pool
from cns.runtime import Actor, Node, NoProc, Pid


class Logger(PoolWorker):
    """Logs casts; ``handle_call`` answers at once, or parks for ``("nap", s)`` seconds first."""

    def init(self, log: list[Any]) -> None:
        self.log = log

    def handle_cast(self, msg: Any) -> None:
        self.log.append((self.pid.id, msg))

    async def handle_call(self, request: Any, from_: Any) -> Any:
        if isinstance(request, tuple) and request[0] == "nap":
            await self.node.sleep(request[1])
        return request


def _sends_to_dead(node: Node) -> list[Any]:
    """Record every message the node is asked to deliver to an already-dead pid."""
    dead: list[Any] = []
    plain = node.send

    def send(dest: Any, msg: Any) -> None:
        if dest.__class__ is Pid and not dest.is_alive:
            dead.append(msg)
        plain(dest, msg)

    node.send = send  # type: ignore[method-assign]
    return dead


@pytest.mark.timeout(10)
@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded"])
def test_messages_queued_before_a_death_never_go_to_the_dead_worker(strategy: str) -> None:
    node = Node()
    log: list[Any] = []
    pool = start_pool(node, Logger, 3, args=(log,), strategy=strategy)
    dead_sends = _sends_to_dead(node)
    victim = pool.workers()[0]
    for i in range(30):
        pool.cast(i)  # queued in the router ...
    node.exit(victim, "kill")  # ... when a worker dies; its Down is queued behind them
    node.run_until_idle()
    s = pool.stats()
    assert dead_sends == []
    assert s.lost == 0 and sorted(m for _, m in log) == list(range(30))
    assert victim.id not in {w for w, _ in log}
    pool.stop()


@pytest.mark.timeout(20)
@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded"])
def test_kill_storm_no_message_is_routed_to_an_already_dead_worker(strategy: str) -> None:
    rnd = random.Random(7)
    node = Node()
    log: list[Any] = []
    pool = start_pool(node, Logger, 4, args=(log,), strategy=strategy, intensity=1000, period=60.0)
    dead_sends = _sends_to_dead(node)
    sent = 0
    for _ in range(200):
        for _ in range(rnd.randrange(1, 20)):
            pool.cast(sent)
            sent += 1
        live = [w.pid for w in pool.router.actor.slots if w is not None and w.pid.is_alive]
        if live:
            node.exit(rnd.choice(live), "kill")
        for _ in range(rnd.randrange(0, 4)):  # a few turns, not always enough to handle the Down
            if node._runq:
                node._turn(node._runq.popleft())
    node.run_until_idle()
    s = pool.stats()
    assert dead_sends == [], f"{len(dead_sends)} messages routed to dead workers"
    assert s.forwarded == sent and len(log) + s.lost == sent  # what is lost is counted, exactly
    pool.stop()


@pytest.mark.timeout(10)
def test_lost_calls_counts_the_calls_failed_by_the_dead_mailbox() -> None:
    node = Node()
    pool = start_pool(node, Logger, 1, args=([],))
    outcomes: list[Any] = []

    class Caller(Actor):
        async def receive(self, msg: Any) -> None:
            try:
                outcomes.append(await self.node.acall(pool.router, msg, timeout=5.0))
            except NoProc:
                outcomes.append("noproc")

    callers = [node.spawn(Caller()) for _ in range(5)]
    node.send(callers[0], ("nap", 30.0))  # parks the only worker: the next four calls wait in its mailbox
    for i, c in enumerate(callers[1:], 1):
        node.send(c, i)
    node.run_until_idle()
    (worker,) = pool.workers()
    assert worker.mailbox_size == 4
    node.exit(worker, "kill")
    node.run_until_idle()
    assert outcomes == ["noproc"] * 5
    s = pool.stats()
    assert s.lost_calls == 5  # was 1: the four failed by the dead mailbox were not counted
    assert s.lost == 5 - 1  # the nap call had started; the four others had not
    pool.stop()
