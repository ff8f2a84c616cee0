"""Counters: aggregation of cns.runtime.telemetry events."""

from __future__ import annotations

from cns.runtime import telemetry
from cns.telemetry import Counters


def test_aggregates_emitted_events() -> None:
    c = Counters()
    with c:
        assert telemetry.enabled
        for pid in (1, 2, 3):
            telemetry.emit("spawn", 1, {"pid": pid})
        telemetry.emit("messages", 40, {"pid": 1})
        telemetry.emit("messages", 2, {"pid": 2})
        telemetry.emit("mailbox_depth", 17, {"pid": 1})
        telemetry.emit("mailbox_depth", 5, {"pid": 1})
        telemetry.emit("mailbox_depth", 9, {"pid": 2})
        telemetry.emit("exit", 1, {"pid": 1, "reason": "normal"})
        telemetry.emit("exit", 1, {"pid": 2, "reason": "ValueError"})
        telemetry.emit("exit", 1, {"pid": 3, "reason": "ValueError"})
        telemetry.emit("restart", 1, {"supervisor": 9, "child": "worker"})
        telemetry.emit("dropped", 1, {"pid": 2})
        telemetry.emit("custom", 2.5)
    telemetry.emit("spawn", 1, {"pid": 4})  # detached: not counted
    s = c.snapshot()
    assert s["spawns"] == 3
    assert s["messages"] == 42
    assert s["mailbox_high_water"] == 17
    assert s["mailbox_high_water_by_pid"] == {"1": 17, "2": 9}
    assert s["exits"] == 3 and s["exits_by_reason"] == {"normal": 1, "ValueError": 2}
    assert s["restarts"] == 1 and s["restarts_by_child"] == {"worker": 1}
    assert s["dropped"] == 1
    assert s["other"] == {"custom": 2.5}
    c.reset()
    assert c.snapshot()["spawns"] == 0


def test_attach_is_idempotent_and_detach_restores_disabled() -> None:
    was = telemetry.enabled
    c = Counters()
    c.attach()
    c.attach()
    telemetry.emit("spawn", 1, {"pid": 1})
    c.detach()
    c.detach()
    assert c.spawns == 1
    assert telemetry.enabled == was


def test_counts_a_real_node() -> None:
    """Spawns, exits by reason, messages and the mailbox high-water mark, as the runtime emits them."""
    from typing import Any

    from cns.runtime import Actor, Node

    class Fragile(Actor):
        def receive(self, msg: Any) -> None:
            if msg == "die":
                raise ValueError("bad message")

    node = Node()
    with Counters() as c:
        pids = [node.spawn(Fragile()) for _ in range(3)]
        for _ in range(10):
            node.send(pids[0], "ok")
        node.send(pids[1], "ok")
        node.send(pids[2], "die")
        node.run_until_idle()
        node.exit(pids[1], "kill")
    s = c.snapshot()
    assert s["spawns"] == 3
    assert s["messages"] == 12
    assert s["mailbox_high_water"] == 10 and s["mailbox_high_water_by_pid"][str(pids[0].id)] == 10
    assert s["exits_by_reason"] == {"ValueError": 1, "killed": 1}
    node.shutdown()
