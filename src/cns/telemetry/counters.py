"""Aggregation of the runtime's telemetry events (the emit side is :mod:`cns.runtime.telemetry`).

:class:`Counters` is a handler for ``cns.runtime.telemetry``: attach it and it keeps running totals —
spawns, exits by reason, restarts (by child), messages handled, dropped messages, the mailbox high-water
mark (overall and per process) — and any other event as a plain sum. :meth:`Counters.snapshot` returns a
JSON-ready dict for a later monitoring exporter.

Handlers run synchronously on the emitting thread, so updates take a lock (cheap, uncontended); attach
counters only when you want them: with no handler attached the runtime pays one attribute read per site.
"""

from __future__ import annotations

import threading
from collections import Counter
from types import TracebackType
from typing import Any

__all__ = ["EVENTS", "Counters"]

#: The events the runtime emits (see cns.runtime.telemetry) that Counters aggregates specially.
EVENTS = ("spawn", "exit", "messages", "mailbox_depth", "dropped", "restart")


class Counters:
    """Running totals of runtime events. Use as a context manager or call :meth:`attach`/:meth:`detach`.

    Example::

        with Counters() as c:
            ...  # run actors
        c.snapshot()["exits_by_reason"]   # {"normal": 10, "ValueError": 2}
    """

    def __init__(self, *, per_pid_high_water: bool = True) -> None:
        self._lock = threading.Lock()
        self._per_pid = per_pid_high_water
        self._attached = False
        self.spawns = 0
        self.exits_by_reason: Counter[str] = Counter()
        self.restarts = 0
        self.restarts_by_child: Counter[str] = Counter()
        self.messages = 0
        self.dropped = 0
        self.mailbox_high_water = 0
        self.mailbox_high_water_by_pid: dict[int, int] = {}
        self.other: Counter[str] = Counter()

    # ------------------------------------------------------------------ handler
    def __call__(self, event: str, value: float, tags: dict[str, Any] | None) -> None:
        """The telemetry handler: ``handler(event, value, tags)``."""
        with self._lock:
            if event == "messages":
                self.messages += int(value)
            elif event == "mailbox_depth":
                depth = int(value)
                self.mailbox_high_water = max(self.mailbox_high_water, depth)
                if self._per_pid and tags is not None and "pid" in tags:
                    pid = int(tags["pid"])
                    if depth > self.mailbox_high_water_by_pid.get(pid, -1):
                        self.mailbox_high_water_by_pid[pid] = depth
            elif event == "spawn":
                self.spawns += int(value)
            elif event == "exit":
                reason = str(tags.get("reason", "?")) if tags else "?"
                self.exits_by_reason[reason] += int(value)
            elif event == "restart":
                self.restarts += int(value)
                child = str(tags.get("child", "?")) if tags else "?"
                self.restarts_by_child[child] += int(value)
            elif event == "dropped":
                self.dropped += int(value)
            else:
                self.other[event] += value

    # ------------------------------------------------------------------ lifecycle
    def attach(self) -> Counters:
        """Start receiving every runtime event ("*"). Idempotent. Returns self."""
        from cns.runtime import telemetry

        if not self._attached:
            telemetry.attach("*", self)
            self._attached = True
        return self

    def detach(self) -> None:
        """Stop receiving events (totals are kept). Idempotent."""
        from cns.runtime import telemetry

        if self._attached:
            telemetry.detach("*", self)
            self._attached = False

    def __enter__(self) -> Counters:
        return self.attach()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.detach()

    # ------------------------------------------------------------------ export
    @property
    def exits(self) -> int:
        """Total exits, any reason."""
        return sum(self.exits_by_reason.values())

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of every total (dict keys are strings)."""
        with self._lock:
            return {
                "spawns": self.spawns,
                "exits": sum(self.exits_by_reason.values()),
                "exits_by_reason": dict(self.exits_by_reason),
                "restarts": self.restarts,
                "restarts_by_child": dict(self.restarts_by_child),
                "messages": self.messages,
                "dropped": self.dropped,
                "mailbox_high_water": self.mailbox_high_water,
                "mailbox_high_water_by_pid": {str(k): v for k, v in self.mailbox_high_water_by_pid.items()},
                "other": dict(self.other),
            }

    def reset(self) -> None:
        """Zero every total."""
        with self._lock:
            self.spawns = self.restarts = self.messages = self.dropped = self.mailbox_high_water = 0
            self.exits_by_reason.clear()
            self.restarts_by_child.clear()
            self.mailbox_high_water_by_pid.clear()
            self.other.clear()
