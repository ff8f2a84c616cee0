"""Reconnect delays for any process that retries a peer (feed handlers, FIX initiators, ...)."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with jitter: ``min(max_s, base_s * 2**attempt)`` (s) scaled by a random factor in
    ``[1 - jitter, 1]`` drawn from ``random.Random(seed)``, so a seeded test sees the same delays every run.
    Each :meth:`next_delay` counts one attempt; :meth:`reset` after a success."""

    __slots__ = ("attempt", "base_s", "jitter", "max_s", "rng")

    def __init__(self, base_s: float, max_s: float, jitter: float = 0.5, seed: int | None = None) -> None:
        self.base_s, self.max_s, self.jitter = base_s, max_s, jitter
        self.rng = random.Random(seed)
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay (s) before the next attempt."""
        d = min(self.max_s, self.base_s * 2.0 ** min(self.attempt, 62))
        self.attempt += 1
        return d * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """Start again from ``base_s`` (call after a successful connect)."""
        self.attempt = 0
