"""CNS workloads for ``cns bench actors`` — the same workloads as :mod:`cns.bench.actors_peers`.

All on one :class:`cns.runtime.Node` (single-threaded scheduler), driven from plain Python the way the
peers are driven: ``node.send`` for the flood (then a synchronous ``node.call`` sentinel), ``node.call``
for ping-pong, ``node.spawn`` for spawns. Extra CNS-only figures (actor-to-actor flood and ``acall``
ping-pong inside the scheduler) are reported under their own keys. Every number is measured here.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

import numpy as np

from cns.bench.actors_peers import Sizes, _result, stamps_to_ns
from cns.bench.common import percentiles_ns

__all__ = ["run_cns"]


def _classes() -> dict[str, type]:
    """Actor classes, built lazily so importing the benchmark does not import the runtime."""
    from cns.runtime.process import Actor, From

    class Sink(Actor):
        """Counts one-way messages; answers calls with the count ("sync") or an echo."""

        __slots__ = ("count",)

        def __init__(self) -> None:
            self.count = 0

        def receive(self, msg: Any) -> None:
            if msg.__class__ is From:
                self.node.reply(msg, self.count if msg.request == "sync" else msg.request)
            else:
                self.count += 1

    class Idle(Actor):
        """Does nothing: the bare cost of a process."""

        __slots__ = ()

        def receive(self, msg: Any) -> None:
            pass

    class Parent(Actor):
        """Spawns linked children from inside its handler while trapping exits (what a supervisor does)."""

        __slots__ = ("stamps",)

        def __init__(self) -> None:
            self.stamps: list[int] = []

        def receive(self, msg: Any) -> None:
            if msg.__class__ is From:
                node = self.node
                spawn = node.spawn
                st = [time.perf_counter_ns()]
                app = st.append
                for _ in range(msg.request):
                    spawn(Idle(), link=True)
                    app(time.perf_counter_ns())
                node.reply(msg, st)

    class Producer(Actor):
        """Floods ``target`` with ``n`` messages from inside the scheduler, then calls it (actor to actor)."""

        __slots__ = ()

        async def receive(self, msg: Any) -> None:
            if msg.__class__ is From:
                target, n = msg.request
                send = self.node.send
                m = ("tick",)
                t0 = time.perf_counter_ns()
                for _ in range(n):
                    send(target, m)
                got = await self.node.acall(target, "sync")
                self.node.reply(msg, (time.perf_counter_ns() - t0, got))

    class Pinger(Actor):
        """``acall`` ping-pong with ``target`` inside the scheduler; replies with per-call stamps."""

        __slots__ = ()

        async def receive(self, msg: Any) -> None:
            if msg.__class__ is From:
                target, n = msg.request
                acall = self.node.acall
                st = [time.perf_counter_ns()]
                app = st.append
                for i in range(n):
                    await acall(target, i)
                    app(time.perf_counter_ns())
                self.node.reply(msg, st)

    class Stamper(Actor):
        """Writes (now - intended send time) of each message, an int ns stamp, into a latency buffer."""

        __slots__ = ("buf", "n")

        def __init__(self, buf: np.ndarray) -> None:
            self.buf = buf
            self.n = 0

        def receive(self, intended: int) -> None:
            self.buf[self.n] = time.perf_counter_ns() - intended
            self.n += 1

    return {
        "Sink": Sink,
        "Idle": Idle,
        "Parent": Parent,
        "Producer": Producer,
        "Pinger": Pinger,
        "Stamper": Stamper,
    }


def open_loop_latency(n: int, rate_per_s: float) -> dict[str, Any]:
    """Open-loop one-way latency: message *i* is due at ``t0 + i / rate``; latency = handled - due (ns).

    Measured from the intended send time, so a stall (GC, a slow turn, another tenant on the box) is
    charged to every message it delays — no coordinated omission. Folded with :class:`LatencyRecorder`.
    """
    from cns.runtime.node import Node
    from cns.telemetry import OPEN_LOOP, LatencyRecorder

    rec = LatencyRecorder("cns.open_loop", mode=OPEN_LOOP, capacity=n)
    node = Node()
    actor = _classes()["Stamper"](rec.free())
    pid = node.spawn(actor)
    send, run, clock = node.send, node.run_until_idle, time.perf_counter_ns
    interval = 1e9 / rate_per_s
    t0 = clock() + 1_000_000
    for i in range(n):
        due = t0 + int(i * interval)
        while clock() < due:
            pass
        send(pid, due)
        run()
    rec.commit(actor.n)
    node.shutdown()
    s = rec.summary()
    return {
        "rate_per_s": rate_per_s,
        "n": n,
        "p50": s["p50"],
        "p99": s["p99"],
        "p999": s["p999"],
        "max": s["max"],
    }


def run_cns(sizes: Sizes) -> dict[str, Any]:
    """Run the CNS workloads on a fresh Node and return the result dict (keys as the peers')."""
    from cns.runtime.node import Node

    k = _classes()
    Sink, Idle, Parent = k["Sink"], k["Idle"], k["Parent"]
    notes = [
        "single-threaded Node scheduler; driven from plain Python like the peers",
        "spawn_linked: spawn(link=True) inside a trap_exit parent's handler (a supervisor's start)",
    ]

    node = Node()
    try:
        sink = node.spawn(Sink())
        n = sizes.flood
        send = node.send
        msg = ("tick",)
        t0 = time.perf_counter_ns()
        for _ in range(n):
            send(sink, msg)
        got = node.call(sink, "sync")
        flood_ns = time.perf_counter_ns() - t0
        assert got == n, f"cns flood lost messages: {got}/{n}"

        call = node.call
        stamps = [time.perf_counter_ns()]
        app = stamps.append
        for i in range(sizes.calls):
            call(sink, i)
            app(time.perf_counter_ns())
        call_ns = stamps_to_ns(stamps)

        # actor-to-actor (inside the scheduler): CNS-only extras
        sink2 = node.spawn(Sink())
        prod = node.spawn(k["Producer"]())
        a2a_ns, got2 = node.call(prod, (sink2, n), timeout=120)
        assert got2 == n, f"cns actor flood lost messages: {got2}/{n}"
        pinger = node.spawn(k["Pinger"]())
        acall_ns = stamps_to_ns(node.call(pinger, (sink2, sizes.calls), timeout=120))
        node.shutdown()
        node.run_until_idle()

        spawn = node.spawn
        stamps = [time.perf_counter_ns()]
        app = stamps.append
        for _ in range(sizes.spawn):
            spawn(Idle())
            app(time.perf_counter_ns())
        spawn_ns = stamps_to_ns(stamps)

        parent = node.spawn(Parent(), trap_exit=True)
        linked_ns = stamps_to_ns(node.call(parent, sizes.spawn, timeout=120))
        node.shutdown()
        node.run_until_idle()

        gc.collect()
        warm = [node.spawn(Idle()) for _ in range(16)]
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            keep = [node.spawn(Idle()) for _ in range(sizes.memory)]
            gc.collect()
            bpa = (tracemalloc.get_traced_memory()[0] - before) / sizes.memory
        finally:
            tracemalloc.stop()
        del keep, warm
        node.shutdown()
        node.run_until_idle()

        m = sizes.spawn_1m_cns
        gc.collect()
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        for _ in range(m):
            spawn(Idle())
        bulk_ns = time.perf_counter_ns() - t0
        bulk_cpu_ns = time.process_time_ns() - c0  # CPU time: what the box's other tenants do not inflate
        extrapolated = None
        spawn_1m_s = bulk_ns / 1e9
        if m != 1_000_000:
            extrapolated = m
            spawn_1m_s = bulk_ns / m * 1_000_000 / 1e9
            notes.append(f"spawn_1m_s extrapolated linearly from {m} spawns")
        live = len(node)
        node.shutdown()
        node.run_until_idle()
        # diagnostic (not the headline figure): the same bulk spawn with the cyclic GC paused
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter_ns()
            for _ in range(m):
                spawn(Idle())
            bulk_gc_off_ns = time.perf_counter_ns() - t0
        finally:
            gc.enable()
        node.shutdown()
        node.run_until_idle()
        # the same bulk spawn inside node.bulk_spawn() (GC on, generation-0 threshold raised in the scope only),
        # then the young collections the scope deferred (gc.collect(1)), reported apart
        gc.collect()
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        with node.bulk_spawn():
            for _ in range(m):
                spawn(Idle())
        bulk_scope_ns = time.perf_counter_ns() - t0
        bulk_scope_cpu_ns = time.process_time_ns() - c0
        t0 = time.perf_counter_ns()
        gc.collect(1)
        bulk_deferred_ns = time.perf_counter_ns() - t0
        node.shutdown()
        node.run_until_idle()
        out = _result(n, flood_ns, call_ns, spawn_ns, linked_ns, bpa, spawn_1m_s, extrapolated, notes)
        ol = open_loop_latency(max(2_000, sizes.calls), 50_000.0)
        out.update(
            open_loop_rate_per_s=ol["rate_per_s"],
            open_loop_ns_p50=ol["p50"],
            open_loop_ns_p99=ol["p99"],
            open_loop_ns_p999=ol["p999"],
            open_loop_ns_max=ol["max"],
        )
        acall = percentiles_ns(acall_ns)
        out.update(
            spawn_bulk_live=live,
            spawn_bulk_gc_off_s=bulk_gc_off_ns / 1e9,
            spawn_bulk_n=m,
            spawn_1m_cpu_s=bulk_cpu_ns / 1e9 * (1_000_000 / m),
            spawn_1m_bulk_s=bulk_scope_ns / 1e9 * (1_000_000 / m),
            spawn_1m_bulk_cpu_s=bulk_scope_cpu_ns / 1e9 * (1_000_000 / m),
            spawn_1m_bulk_deferred_s=bulk_deferred_ns / 1e9 * (1_000_000 / m),
            a2a_send_msgs_per_s=n / (a2a_ns / 1e9),
            acall_ns_p50=acall["p50"],
            acall_ns_p99=acall["p99"],
            acall_ns_p999=acall["p999"],
        )
        return out
    finally:
        node.shutdown()
