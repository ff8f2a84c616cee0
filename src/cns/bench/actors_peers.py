"""Peer workloads for ``cns bench actors``: Pykka, Thespian and asyncio on the same workloads as CNS.

Each ``run_<peer>(sizes)`` returns a dict with the keys of the CNS results where the workload is
meaningful for that peer, ``None`` where it is not (with the reason under ``notes``). Every number is
measured here with ``time.perf_counter_ns``; "spawn_1m_s" for peers is a linear extrapolation from
``sizes.spawn_1m_peer`` spawns (marked in ``notes`` and ``spawn_1m_extrapolated_from``), because
spawning a million OS threads (Pykka) is not possible on a benchmark box.

Workloads (identical for every runtime):

* flood: ``sizes.flood`` one-way messages to one actor, then a synchronous sentinel; msgs/s =
  messages / (first send .. sentinel reply).
* call: ``sizes.calls`` sequential request/reply round-trips; per-call ns from consecutive clock stamps.
* spawn: ``sizes.spawn`` actors spawned one by one; per-spawn ns from consecutive clock stamps.
* memory: ``sizes.memory`` idle actors under ``tracemalloc``; bytes/actor = traced growth / count.
  (Pykka's per-actor OS thread stack is mmapped, not traced: its figure is a lower bound.)
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np

from cns.bench.common import percentiles_ns

__all__ = ["FULL", "QUICK", "Sizes", "run_asyncio", "run_pykka", "run_thespian", "stamps_to_ns"]


@dataclass(frozen=True, slots=True)
class Sizes:
    """Workload sizes (counts of messages, calls or actors)."""

    flood: int
    calls: int
    spawn: int
    memory: int
    spawn_1m_peer: int
    spawn_1m_cns: int
    pykka_threads: int  # Pykka spawns one OS thread per actor: its spawn/memory counts are capped by this


QUICK = Sizes(
    flood=20_000,
    calls=2_000,
    spawn=500,
    memory=500,
    spawn_1m_peer=1_000,
    spawn_1m_cns=100_000,
    pykka_threads=200,
)
FULL = Sizes(
    flood=300_000,
    calls=30_000,
    spawn=5_000,
    memory=5_000,
    spawn_1m_peer=20_000,
    spawn_1m_cns=1_000_000,
    pykka_threads=1_000,
)


def stamps_to_ns(stamps: list[int]) -> np.ndarray:
    """Per-operation durations (ns) from ``n+1`` consecutive ``perf_counter_ns`` stamps."""
    return np.diff(np.asarray(stamps, dtype=np.int64))


def _result(
    flood_n: int,
    flood_ns: int,
    call_ns: np.ndarray,
    spawn_ns: np.ndarray,
    spawn_linked_ns: np.ndarray | None,
    bytes_per_actor: float | None,
    spawn_1m_s: float | None,
    extrapolated_from: int | None,
    notes: list[str],
) -> dict[str, Any]:
    calls = percentiles_ns(call_ns)
    return {
        "send_msgs_per_s": flood_n / (flood_ns / 1e9) if flood_ns > 0 else None,
        "send_n": flood_n,
        "call_ns_p50": calls["p50"],
        "call_ns_p99": calls["p99"],
        "call_ns_p999": calls["p999"],
        "call_ns_max": calls["max"],
        "call_n": calls["count"],
        "spawn_ns_p50": percentiles_ns(spawn_ns)["p50"],
        "spawn_n": int(spawn_ns.size),
        "spawn_linked_ns_p50": None if spawn_linked_ns is None else percentiles_ns(spawn_linked_ns)["p50"],
        "bytes_per_idle_actor": bytes_per_actor,
        "spawn_1m_s": spawn_1m_s,
        "spawn_1m_extrapolated_from": extrapolated_from,
        "notes": notes,
    }


def _traced_bytes_per(make: Any, n: int) -> float:
    """Traced heap growth per object for ``make(n)`` (which must keep its objects alive and return them)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = make(n)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    return (after - before) / n


# ---------------------------------------------------------------------------------------------- Pykka
def run_pykka(sizes: Sizes) -> dict[str, Any]:
    """Pykka ThreadingActor: ``tell`` for the flood, ``ask`` for calls, ``start()`` for spawns."""
    import pykka

    class Sink(pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: Any) -> Any:
            if message == "sync":
                return self.count
            self.count += 1
            return message

    class Idle(pykka.ThreadingActor):
        pass

    notes = [
        "one OS thread per actor; thread stacks are not traced by tracemalloc (memory is a lower bound)",
        "no supervision/links in Pykka: spawn_linked n/a",
    ]
    try:
        ref = Sink.start()
        msg = ("tick",)
        n = sizes.flood
        tell = ref.tell
        t0 = time.perf_counter_ns()
        for _ in range(n):
            tell(msg)
        got = ref.ask("sync")
        flood_ns = time.perf_counter_ns() - t0
        assert got == n, f"pykka flood lost messages: {got}/{n}"

        ask = ref.ask
        stamps = [time.perf_counter_ns()]
        app = stamps.append
        for i in range(sizes.calls):
            ask(i)
            app(time.perf_counter_ns())
        call_ns = stamps_to_ns(stamps)
        ref.stop()

        k = min(sizes.spawn, sizes.pykka_threads)
        refs = []
        stamps = [time.perf_counter_ns()]
        for _ in range(k):
            refs.append(Idle.start())
            stamps.append(time.perf_counter_ns())
        spawn_ns = stamps_to_ns(stamps)
        for r in refs:
            r.stop()
        refs.clear()

        m = min(sizes.memory, sizes.pykka_threads)

        def make(count: int) -> list[Any]:
            return [Idle.start() for _ in range(count)]

        bpa = _traced_bytes_per(make, m)
        pykka.ActorRegistry.stop_all()

        e = min(sizes.spawn_1m_peer, sizes.pykka_threads)
        t0 = time.perf_counter_ns()
        refs = [Idle.start() for _ in range(e)]
        spawn_e_ns = time.perf_counter_ns() - t0
        notes.append(f"spawn_1m_s extrapolated linearly from {e} spawns")
        return _result(n, flood_ns, call_ns, spawn_ns, None, bpa, spawn_e_ns / e * 1_000_000 / 1e9, e, notes)
    finally:
        pykka.ActorRegistry.stop_all()


# ---------------------------------------------------------------------------------------------- Thespian
def run_thespian(sizes: Sizes) -> dict[str, Any]:
    """Thespian in-process ``simpleSystemBase``: messages are delivered synchronously inside tell/ask."""
    from thespian.actors import ActorSystem

    from cns.bench import _thespian_actors as ta

    notes = [
        "simpleSystemBase: single-threaded, delivery happens inside ActorSystem.tell/ask",
        "spawn_linked: createActor from a parent actor (Thespian's parent gets ChildActorExited)",
        f"spawn_1m_s extrapolated linearly from {sizes.spawn_1m_peer} spawns",
    ]
    asys = ActorSystem("simpleSystemBase", transientUnique=True)
    try:
        sink = asys.createActor(ta.Sink)
        n = sizes.flood
        tell = asys.tell
        t0 = time.perf_counter_ns()
        for _ in range(n):
            tell(sink, ta.TICK)
        got = asys.ask(sink, "sync", 60)
        flood_ns = time.perf_counter_ns() - t0
        assert got == n, f"thespian flood lost messages: {got}/{n}"

        ask = asys.ask
        stamps = [time.perf_counter_ns()]
        app = stamps.append
        for i in range(sizes.calls):
            ask(sink, i, 10)
            app(time.perf_counter_ns())
        call_ns = stamps_to_ns(stamps)

        create = asys.createActor
        stamps = [time.perf_counter_ns()]
        keep = []
        for _ in range(sizes.spawn):
            keep.append(create(ta.Idle))
            stamps.append(time.perf_counter_ns())
        spawn_ns = stamps_to_ns(stamps)

        parent = asys.createActor(ta.Parent)
        linked = asys.ask(parent, ("spawn", sizes.spawn), 60)
        linked_ns = np.asarray(linked, dtype=np.int64)

        def make(count: int) -> list[Any]:
            return [create(ta.Idle) for _ in range(count)]

        bpa = _traced_bytes_per(make, sizes.memory)

        e = sizes.spawn_1m_peer
        t0 = time.perf_counter_ns()
        for _ in range(e):
            create(ta.Idle)
        spawn_e_ns = time.perf_counter_ns() - t0
        return _result(
            n, flood_ns, call_ns, spawn_ns, linked_ns, bpa, spawn_e_ns / e * 1_000_000 / 1e9, e, notes
        )
    finally:
        asys.shutdown()


# ---------------------------------------------------------------------------------------------- asyncio
class _AioActor:
    """An asyncio 'actor': one Task draining one Queue. A call is (request, Future)."""

    __slots__ = ("count", "queue", "task")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.count = 0
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        q = self.queue
        while True:
            msg = await q.get()
            if type(msg) is tuple and len(msg) == 2 and isinstance(msg[1], asyncio.Future):
                req, fut = msg
                fut.set_result(self.count if req == "sync" else req)
            else:
                self.count += 1


def run_asyncio(sizes: Sizes) -> dict[str, Any]:
    """asyncio: an actor is a Task draining an ``asyncio.Queue``; calls carry a Future."""
    return asyncio.run(_aio_main(sizes))


async def _aio_main(sizes: Sizes) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    notes = [
        "actor = Task + Queue; spawn_linked = Task + done-callback to a supervisor set",
        f"spawn_1m_s extrapolated linearly from {sizes.spawn_1m_peer} spawns",
    ]
    sink = _AioActor()
    put = sink.queue.put_nowait
    n = sizes.flood
    t0 = time.perf_counter_ns()
    for _ in range(n):
        put("tick")
    fut = loop.create_future()
    put(("sync", fut))
    got = await fut
    flood_ns = time.perf_counter_ns() - t0
    assert got == n, f"asyncio flood lost messages: {got}/{n}"

    stamps = [time.perf_counter_ns()]
    app = stamps.append
    for i in range(sizes.calls):
        fut = loop.create_future()
        put((i, fut))
        await fut
        app(time.perf_counter_ns())
    call_ns = stamps_to_ns(stamps)

    actors = []
    stamps = [time.perf_counter_ns()]
    for _ in range(sizes.spawn):
        actors.append(_AioActor())
        stamps.append(time.perf_counter_ns())
    spawn_ns = stamps_to_ns(stamps)
    await asyncio.sleep(0)

    supervised: set[asyncio.Task[None]] = set()
    stamps = [time.perf_counter_ns()]
    for _ in range(sizes.spawn):
        a = _AioActor()
        supervised.add(a.task)
        a.task.add_done_callback(supervised.discard)
        actors.append(a)
        stamps.append(time.perf_counter_ns())
    linked_ns = stamps_to_ns(stamps)

    mem_actors = [_AioActor()]  # warm the allocator paths before tracing
    await asyncio.sleep(0)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        traced = [_AioActor() for _ in range(sizes.memory)]
        await asyncio.sleep(0)  # let every task start and park on its queue: that is an idle actor
        gc.collect()
        bpa = (tracemalloc.get_traced_memory()[0] - before) / sizes.memory
    finally:
        tracemalloc.stop()
    mem_actors.extend(traced)

    e = sizes.spawn_1m_peer
    t0 = time.perf_counter_ns()
    for _ in range(e):
        mem_actors.append(_AioActor())
    spawn_e_ns = time.perf_counter_ns() - t0

    sink.task.cancel()
    for a in actors + mem_actors:
        a.task.cancel()
    await asyncio.sleep(0)
    return _result(n, flood_ns, call_ns, spawn_ns, linked_ns, bpa, spawn_e_ns / e * 1_000_000 / 1e9, e, notes)
