"""Micro-benchmark of the runtime hot paths (not a test: run ``python tests/runtime/bench_runtime.py``).

Measures: one-way send throughput (1 M sends to one no-op actor, then ``run_until_idle``), ``node.call`` to a
GenServer from plain Python (p50/p99 of 50 000 calls), bare ``spawn(fn)`` (p50/p99 of 50 000 spawns), wall time
of 1 M bare spawns, bytes per idle bare process (tracemalloc over 10 000 spawns). Each measure is repeated
``--reps`` times on a fresh node; the best (min time / max rate) and the median are printed, because the shared
dev box is noisy.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from typing import Any

from cns.otp.gen_server import GenServer
from cns.runtime import Actor, Node


class Sink(Actor):
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def receive(self, msg: Any) -> None:
        self.n += 1


class Echo(GenServer):
    def handle_call(self, request: Any, from_: Any) -> Any:
        return request


def _noop(msg: Any) -> None:
    return None


def send_throughput(n: int = 1_000_000) -> float:
    node = Node()
    a = Sink()
    pid = node.spawn(a)
    send, msg = node.send, ("tick",)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        send(pid, msg)
    node.run_until_idle()
    dt = time.perf_counter_ns() - t0
    assert a.n == n
    return n / (dt / 1e9)


def _pcts(stamps: list[int]) -> tuple[float, float]:
    d = sorted(b - a for a, b in zip(stamps, stamps[1:]))
    return d[len(d) // 2] / 1e3, d[int(len(d) * 0.99)] / 1e3


def call_latency(n: int = 50_000) -> tuple[float, float]:
    node = Node()
    pid = Echo.start(node)
    call, clock = node.call, time.perf_counter_ns
    for i in range(1000):
        call(pid, i)
    stamps = [clock()]
    app = stamps.append
    for i in range(n):
        call(pid, i)
        app(clock())
    return _pcts(stamps)


def spawn_latency(n: int = 50_000) -> tuple[float, float]:
    node = Node()
    spawn, clock = node.spawn, time.perf_counter_ns
    stamps = [clock()]
    app = stamps.append
    for _ in range(n):
        spawn(_noop)
        app(clock())
    return _pcts(stamps)


def spawn_wall(n: int = 1_000_000) -> float:
    node = Node()
    spawn = node.spawn
    gc.collect()
    t0 = time.perf_counter_ns()
    for _ in range(n):
        spawn(_noop)
    dt = (time.perf_counter_ns() - t0) / 1e9
    assert len(node) == n
    return dt


def bytes_per_idle(n: int = 10_000) -> float:
    node = Node()
    for _ in range(64):  # warm the dict/ids
        node.spawn(_noop)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    pids = [node.spawn(_noop) for _ in range(n)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    total -= len(pids) * 8 + 56  # the test's own list of pids
    return total / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    r = args.reps
    res: dict[str, list[Any]] = {"send": [], "call": [], "spawn": [], "spawn1M": [], "bytes": []}
    for _ in range(r):
        res["send"].append(send_throughput())
        res["call"].append(call_latency())
        res["spawn"].append(spawn_latency())
        res["spawn1M"].append(spawn_wall())
        res["bytes"].append(bytes_per_idle())
        gc.collect()
    send = res["send"]
    print(
        f"send 1M one-way     : best {max(send) / 1e6:.2f} M msg/s, median {statistics.median(send) / 1e6:.2f}"
    )
    c50 = [x[0] for x in res["call"]]
    c99 = [x[1] for x in res["call"]]
    print(
        f"node.call GenServer : p50 best {min(c50):.3f} us median {statistics.median(c50):.3f}; "
        f"p99 best {min(c99):.3f} median {statistics.median(c99):.3f} us"
    )
    s50 = [x[0] for x in res["spawn"]]
    s99 = [x[1] for x in res["spawn"]]
    print(
        f"bare spawn          : p50 best {min(s50):.3f} us median {statistics.median(s50):.3f}; "
        f"p99 best {min(s99):.3f} median {statistics.median(s99):.3f} us"
    )
    w = res["spawn1M"]
    print(f"1M bare spawns      : best {min(w):.2f} s, median {statistics.median(w):.2f} s")
    b = res["bytes"]
    print(f"bytes / idle process: {statistics.median(b):.0f} B (min {min(b):.0f})")


if __name__ == "__main__":
    main()
