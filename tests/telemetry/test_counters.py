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
