"""Thespian actor classes for the peer benchmark (Thespian wants them importable at module level)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from thespian.actors import Actor, ChildActorExited

TICK = ("tick",)


class Sink(Actor):  # type: ignore[misc]
    """Counts one-way messages; replies to "sync" with the count and echoes anything else."""

    count = 0

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if message == TICK:
            self.count += 1
        elif message == "sync":
            self.send(sender, self.count)
        else:
            self.send(sender, message)


class Idle(Actor):  # type: ignore[misc]
    """Does nothing: measures the bare cost of an actor."""

    def receiveMessage(self, message: Any, sender: Any) -> None:
        pass


class Parent(Actor):  # type: ignore[misc]
    """Spawns children itself (Thespian's parent/child link) and replies with per-spawn ns."""

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, ChildActorExited):
            return
        if isinstance(message, tuple) and message[0] == "spawn":
            stamps = [time.perf_counter_ns()]
            for _ in range(message[1]):
                self.createActor(Idle)
                stamps.append(time.perf_counter_ns())
            self.send(sender, [b - a for a, b in itertools.pairwise(stamps)])
