"""``cns demo``: a supervised actor tree surviving crashes, narrated as it happens (well under 3 s).

Tree::

    root (one_for_one, 5 restarts / 10 s)
    ├── feed          GenServer, permanent
    ├── strategy      Supervisor (one_for_all, 2 restarts / 10 s)
    │   ├── signal    GenServer
    │   └── risk      GenServer
    └── scorers       a pool of 3 PoolWorkers behind a router (own one_for_one supervisor)

Acts: a worker crash (one_for_one restart), a crash in a one_for_all group (siblings restarted too),
repeated crashes exhausting the group's intensity (escalation: root restarts the whole group), and a
pool worker crash (restart invisible to senders, the dead worker's mailbox counted as lost). Restart
and exit events come from the runtime's telemetry, not from the demo's own bookkeeping.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from cns.otp.gen_server import GenServer, cast
from cns.otp.pool import PoolWorker, start_pool
from cns.otp.supervisor import ChildSpec, Supervisor, SupFlags, which_children
from cns.runtime import Node, Pid, telemetry
from cns.telemetry import Counters

__all__ = ["main", "run_demo"]


class Named(GenServer):
    """A worker that counts casts and crashes on the cast "crash"."""

    def init(self, name: str) -> None:
        self.name = name
        self.n = 0

    def handle_cast(self, msg: Any) -> None:
        if msg == "crash":
            raise RuntimeError(f"{self.name}: simulated fault")
        self.n += 1

    def handle_call(self, request: Any, from_: Any) -> Any:
        return self.n


class Scorer(PoolWorker):
    """Pool worker: scores a headline length; crashes on an empty headline."""

    def handle_cast(self, headline: str) -> None:
        if not headline:
            raise ValueError("empty headline")

    def handle_call(self, headline: str, from_: Any) -> int:
        return len(headline)


def _strategy_sup(node: Node) -> Pid | None:
    return Supervisor.start_link(
        node,
        SupFlags("one_for_all", intensity=2, period=10.0),
        [
            ChildSpec("signal", lambda n: Named.start_link(n, "signal", name="signal")),
            ChildSpec("risk", lambda n: Named.start_link(n, "risk", name="risk")),
        ],
        name="strategy",
    )


def _tree(node: Node, sup: Pid | str, indent: str = "  ") -> list[str]:
    lines = []
    for c in which_children(node, sup):
        lines.append(f"{indent}{c.id!s:<10} {c.pid!r}" + ("" if c.pid is not None else "  (not running)"))
        if c.type == "supervisor" and c.pid is not None:
            lines.extend(_tree(node, c.pid, indent + "    "))
    return lines


def run_demo(out: Any = print) -> dict[str, Any]:
    """Run the demo, narrating with ``out(str)``; returns the telemetry counters snapshot and pool stats."""
    t0 = time.perf_counter_ns()
    node = Node()

    def narrate(event: str, value: float, tags: dict[str, Any] | None) -> None:
        tags = tags or {}
        if event == "restart":
            out(
                f"    [telemetry] supervisor <{node.node_id}.{tags.get('supervisor')}> restarted {tags.get('child')}"
            )
        elif event == "exit" and tags.get("reason") not in ("normal",):
            out(f"    [telemetry] <{node.node_id}.{tags.get('pid')}> exited: {tags.get('reason')}")

    counters = Counters().attach()
    telemetry.attach("restart", narrate)
    telemetry.attach("exit", narrate)
    try:
        root = Supervisor.start(
            node,
            SupFlags("one_for_one", intensity=5, period=10.0),
            [
                ChildSpec("feed", lambda n: Named.start_link(n, "feed", name="feed")),
                ChildSpec("strategy", _strategy_sup, type="supervisor"),
            ],
            name="root",
        )
        assert root is not None
        pool = start_pool(node, Scorer, 3)
        out("1. started the tree:")
        for line in _tree(node, "root"):
            out(line)
        out(f"  scorers    pool {pool.router!r} -> {pool.workers()}")

        out("2. 'feed' crashes -> one_for_one: only feed is restarted")
        old = node.whereis("feed")
        cast(node, "feed", "crash")
        node.run_until_idle()
        out(f"   feed {old!r} -> {node.whereis('feed')!r}")

        out("3. 'signal' crashes -> one_for_all: signal AND risk restarted")
        old_sig, old_risk = node.whereis("signal"), node.whereis("risk")
        cast(node, "signal", "crash")
        node.run_until_idle()
        out(
            f"   signal {old_sig!r} -> {node.whereis('signal')!r}, risk {old_risk!r} -> {node.whereis('risk')!r}"
        )

        out("4. 'risk' crashes twice more -> 'strategy' exceeds 2 restarts/10 s, gives up; root restarts it")
        old_strategy = node.whereis("strategy")
        for _ in range(2):
            cast(node, "risk", "crash")
            node.run_until_idle()
        out(f"   strategy {old_strategy!r} -> {node.whereis('strategy')!r} (escalated to root)")

        out("5. a scorer crashes with 5 more headlines queued behind the bad one")
        pool.cast("")  # crashes whichever worker gets it
        for _ in range(3 * 5):
            pool.cast("Fed holds rates")
        node.run_until_idle()
        s = pool.stats()
        out(
            f"   pool answered on: len('ACME beats') = {pool.call('ACME beats')}; "
            f"restarts={s.restarts} lost={s.lost} live={s.live_workers}"
        )

        out("6. final tree:")
        for line in _tree(node, "root"):
            out(line)
        snap = counters.snapshot()
        out(
            f"   telemetry: spawns={snap['spawns']} restarts={snap['restarts']} "
            f"exits={snap['exits_by_reason']}"
        )
        telemetry.detach("restart", narrate)
        telemetry.detach("exit", narrate)
        pool.stop()
        node.shutdown()
        node.run_until_idle()
        out(f"done in {(time.perf_counter_ns() - t0) / 1e6:.1f} ms")
        return {"counters": snap, "pool": s}
    finally:
        telemetry.detach("restart", narrate)
        telemetry.detach("exit", narrate)
        counters.detach()


def main(args: argparse.Namespace) -> int:
    """``cns demo``: run :func:`run_demo` printing to stdout; returns 0."""
    import logging

    logging.getLogger("cns.runtime").setLevel(
        logging.CRITICAL
    )  # the narration says what crashed, no tracebacks
    run_demo()
    return 0
