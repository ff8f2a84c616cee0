"""Instructions per runtime operation under callgrind (not a test): deterministic, unlike timings on a shared box.

    python tests/runtime/callgrind_runtime.py acall            # all modes: acall call send sendonly spawn spawn_nogc
    python tests/runtime/callgrind_runtime.py --op acall 2000  # the driver itself: N operations after a warm-up

For each mode it runs the driver under ``valgrind --tool=callgrind`` at two sizes N1 < N2 and prints
(Ir(N2) - Ir(N1)) / (N2 - N1): the instructions one more operation costs, start-up and warm-up cancelled
out (the driver ends with ``os._exit`` so interpreter teardown is not counted either). ``PYTHONHASHSEED=0``.
Modes: ``acall`` (actor-to-actor round trip, reply included), ``call`` (``node.call`` from plain Python),
``send`` (send + handle, no-op handler), ``sendonly``, ``spawn`` (``spawn(Idle())`` with the GC on: its
collections are part of the cost and grow with the live count, so compare at the same sizes), ``spawn_nogc``.
Compare two trees by running the script with ``PYTHONPATH=<other>/src``.
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import tempfile
from typing import Any

SIZES = {
    "acall": (2_000, 22_000),
    "call": (2_000, 22_000),
    "send": (100_000, 300_000),
    "sendonly": (100_000, 300_000),
    "spawn": (100_000, 300_000),
    "spawn_nogc": (100_000, 300_000),
}


def _drive(mode: str, n: int) -> None:
    from cns.runtime import Actor, From, Node

    class Sink(Actor):
        __slots__ = ("count",)

        def __init__(self) -> None:
            self.count = 0

        def receive(self, msg: Any) -> None:
            if msg.__class__ is From:
                self.node.reply(msg, msg.request)
            else:
                self.count += 1

    class Pinger(Actor):
        __slots__ = ()

        async def receive(self, msg: Any) -> None:
            if msg.__class__ is From:
                target, k = msg.request
                acall = self.node.acall
                for i in range(k):
                    await acall(target, i)
                self.node.reply(msg, k)

    class Idle(Actor):
        __slots__ = ()

        def receive(self, msg: Any) -> None:
            pass

    node = Node()
    if mode == "acall":
        s, p = node.spawn(Sink()), node.spawn(Pinger())
        node.call(p, (s, 1_000), timeout=600)
        node.call(p, (s, n), timeout=600)
    elif mode == "call":
        s = node.spawn(Sink())
        call = node.call
        for i in range(1_000 + n):
            call(s, i)
    elif mode in ("send", "sendonly"):
        s = node.spawn(Sink())
        send = node.send
        for i in range(n):
            send(s, i)
        if mode == "send":
            node.run_until_idle()
    elif mode in ("spawn", "spawn_nogc"):
        if mode == "spawn_nogc":
            gc.disable()
        spawn = node.spawn
        for _ in range(n):
            spawn(Idle())
    else:
        raise SystemExit(f"unknown mode {mode!r}; one of {sorted(SIZES)}")
    sys.stdout.flush()
    os._exit(0)


def _instructions(mode: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={d}/cg.out",
                sys.executable,
                __file__,
                "--op",
                mode,
                str(n),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        )
    m = re.search(r"Collected : (\d+)", out.stderr)
    if m is None:
        raise RuntimeError(f"no callgrind total for {mode} {n}:\n{out.stderr[-2000:]}")
    return int(m.group(1))


def main(argv: list[str]) -> None:
    if argv[:1] == ["--op"]:
        _drive(argv[1], int(argv[2]))
    for mode in argv or list(SIZES):
        n1, n2 = SIZES[mode]
        a, b = _instructions(mode, n1), _instructions(mode, n2)
        print(
            f"{mode:11s} {(b - a) / (n2 - n1):10,.0f} instructions per operation ({n1:,} -> {n2:,})",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
