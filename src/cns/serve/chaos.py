"""``cns chaos``: supervisor chaos under load -- a random stage or feed handler of a running shard killed
(untrappable ``kill``) every few ms for ``--seconds``, with every message accounted for.

The shard runs in this process against a feed server on loopback (generated news at ``--rate`` events/s on
SPX and the demo venue's five stocks) and the in-process venue, journal and snapshots on. Kill targets: the
four pipeline stages (validate, corroborate, signal, risk) and the feed handler. Not the desk: it owns the
order sink and the OMS bookkeeping of reports in flight (what the kill -9 loop and the journal cover).

Supervisor intensity is set for chaos (``trading_sup`` and ``feeds_sup``: one_for_one, 10^9 restarts per
second): the production intensities (5 / 10 s, 1000 / 10 s) exist to stop a shard whose pieces keep
crashing by themselves; here the crashes are injected on purpose at 200/s, and the question asked is
whether the shard keeps processing and what exactly is lost, not whether it gives up. ``one_for_one`` on the
trading stages (rest_for_one in production) makes a kill take exactly one process: the stages keep no
state of their own (it is the shard's), so restarting the others would only add losses, and a single victim
is what makes the count exact.

Accounting (exact, checked): right before each kill the victim's mailbox is counted (every message, and the
pipeline's messages by kind); the runtime's own ``lost_on_exit`` must grow by exactly that total. Per stage,
``sent`` (delivered to it by :func:`cns.serve.stages.forward`) = ``handled`` + ``lost`` (in a dead
mailbox) + ``pending`` (0 after the drain); sends while a stage was being restarted are ``dropped``
(``batches_dropped``). So ``processed + lost == sent`` with ``lost`` = in dead mailboxes + dropped.

Latency during chaos: the probe's socket read -> corroboration done per batch, and news -> NewOrderSingle
written (the in-process venue: the sink call) per order, for batches read during the chaos window (ns).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from cns.telemetry.facts import cpu_model

__all__ = ["chaos_flags", "main", "run_chaos"]


def chaos_flags() -> Any:
    """The supervisor flags of ``trading_sup`` and ``feeds_sup`` under chaos (see the module doc):
    one_for_one, 10^9 restarts per second. (Imports stay lazy here: ``cns --help`` loads this module.)"""
    from cns.otp import SupFlags

    return SupFlags("one_for_one", intensity=1_000_000_000, period=1.0)


_KINDS = {"FeedBatch": "validate", "Validated": "corroborate", "Decided": "signal", "Candidates": "risk"}


def _config(feed_port: int, journal: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "serve": {
            "shard": "chaos",
            "connect_timeout_s": 20.0,
            "stop_timeout_s": 2.0,
            "order_sink": "inprocess",
        },
        "feeds": [{"name": "f1", "port": feed_port, "stale_after_s": 2.0}],
        "instruments": [{"symbol": s, "price": p} for s, p in _venue()],
        "signal": {"aggress_bps": 15.0, "hold_ns": 1_000_000_000, "exit_aggress_bps": 20.0},
    }
    if journal:
        doc["journal"] = {"dir": journal, "fsync": "os", "snapshot_every": 20_000}
    return doc


def _pct(a: Any, q: float) -> float | None:
    import numpy as np

    return float(np.percentile(a, q)) if len(a) else None


async def run_chaos(
    seconds: float = 60.0,
    *,
    kill_every_ms: float = 5.0,
    rate: float = 2000.0,
    seed: int = 1,
    journal_dir: str | None = None,
    drain_s: float = 10.0,
    warmup_s: float = 1.0,
) -> dict[str, Any]:
    """Run the chaos (see the module doc) in the current asyncio loop; returns the JSON-ready result. With
    ``journal_dir`` None a temporary directory is used (removed after)."""
    import numpy as np

    from cns.feeds import FeedServer
    from cns.market.newsgen import generate_news
    from cns.otp import logger as _otp_log
    from cns.serve.config import serve_config_from_dict
    from cns.serve.service import Service, prepare
    from cns.signals.universe import InstrumentInfo

    rng = random.Random(seed)
    load0 = round(os.getloadavg()[0], 2)
    total_s = warmup_s + seconds + drain_s + 5.0
    inst = (InstrumentInfo("SPX", 5000.0, True), *(InstrumentInfo(s, p) for s, p in _venue()))
    news = generate_news(max(int(rate * total_s), 100), total_s, seed, instruments=inst).batch
    tmp = tempfile.TemporaryDirectory(prefix="cns-chaos-") if journal_dir is None else None
    jdir = journal_dir if journal_dir is not None else str(Path(tmp.name) / "journal")  # type: ignore[union-attr]
    srv = FeedServer(news, speed=1.0, heartbeat_s=0.5, wait_clients=1)
    await srv.start()
    svc = None
    try:
        cfg = serve_config_from_dict(_config(srv.port, jdir))
        state = prepare(cfg)
        names = state.names
        flags = chaos_flags()
        state.extra["sup_flags"] = {names.trading_sup: flags, names.feeds_sup: flags}
        svc = Service(cfg, state=state)
        await svc.start()
        node = svc.node
        await asyncio.sleep(warmup_s)
        stages = {
            "validate": names.validate,
            "corroborate": names.corroborate,
            "signal": names.signal,
            "risk": names.risk,
        }
        info0 = node.info()
        dropped0 = state.counters["batches_dropped"]
        sent0 = dict(state.flow_sent)
        handled0 = dict(state.flow_handled)
        n_batches0 = len(state.probe.batches) // 4
        n_orders0 = len(state.probe.orders) // 3
        events0 = state.counters["events_in"]
        plan = _Plan(rng, stages, names.feeds_sup)
        old_level = _otp_log.set_primary_level("emergency")  # a supervisor report per kill otherwise
        t0 = time.monotonic()
        monkey = _monkey_class().start(node, plan, kill_every_ms / 1e3)
        await asyncio.sleep(seconds)
        monkey_box = 0
        if monkey is not None:  # its own pending ticks are lost with it, counted here
            monkey_box = monkey.mailbox_size
            node.exit(monkey, "kill")
        chaos_s = time.monotonic() - t0
        info1 = node.info()

        # restarted after the last kill? (a feed handler's restart waits for its reconnect backoff)
        def current(what: str) -> Any:
            return _feed_pid(node, names.feeds_sup) if what == "feed" else node.whereis(stages[what])

        until = time.monotonic() + 10.0
        while time.monotonic() < until and not all(
            (p := current(w)) is not None and p is not v and p.is_alive for w, v in plan.victims.items()
        ):
            await asyncio.sleep(0.02)
        _otp_log.set_primary_level(old_level)
        kills, restarts, census, census_all, deferred = (
            plan.kills,
            plan.restarts,
            plan.census,
            plan.census_all,
            plan.deferred,
        )
        for what, pid in plan.victims.items():
            now = current(what)
            if now is not None and now is not pid and now.is_alive:
                restarts[what] += 1
        events_chaos = state.counters["events_in"] - events0
        # latency of what was read during the chaos
        b = state.probe.batch_arrays()[n_batches0:]
        o = state.probe.order_arrays()[n_orders0:]
        ev = (b[:, 3] - b[:, 2]) if len(b) else np.zeros(0, np.int64)
        od = (o[:, 2] - o[:, 1]) if len(o) else np.zeros(0, np.int64)
        # drain: the feed stops, the mailboxes empty
        alive = svc.app.running and svc.failure is None
        await srv.stop()
        deadline = time.monotonic() + drain_s
        boxes = (*stages.values(), names.desk)
        quiet = 0
        while time.monotonic() < deadline and quiet < 3:
            await asyncio.sleep(0.05)
            empty = all((p := node.whereis(n)) is None or p.mailbox_size == 0 for n in boxes)
            quiet = quiet + 1 if empty else 0
        pending = {n: (p.mailbox_size if (p := node.whereis(n)) is not None else 0) for n in stages.values()}
        per_stage = {}
        for k, n in stages.items():
            sent = state.flow_sent[n] - sent0[n]
            handled = state.flow_handled[n] - handled0[n]
            per_stage[k] = {
                "sent": sent,
                "handled": handled,
                "lost_in_dead_mailboxes": census[n],
                "pending": pending[n],
                "balanced": sent == handled + census[n] + pending[n],
            }
        dropped = state.counters["batches_dropped"] - dropped0
        sent_total = sum(v["sent"] for v in per_stage.values()) + dropped
        processed = sum(v["handled"] for v in per_stage.values())
        lost = sum(v["lost_in_dead_mailboxes"] for v in per_stage.values()) + dropped
        feed = state.feed_stats["f1"].as_dict()
        summary = await svc.stop()
        svc = None
        return {
            "host": {
                "cpu": f"{cpu_model()} x{os.cpu_count()}",
                "load_avg_1m_start_end": [load0, round(os.getloadavg()[0], 2)],
            },
            "seconds": round(chaos_s, 3),
            "kill_every_ms": kill_every_ms,
            "rate_events_s": rate,
            "seed": seed,
            "targets": [*stages, "feed"],
            "supervisor_flags_for_chaos": {
                "trading_sup": "one_for_one, intensity 1e9 / 1 s (production: rest_for_one 5 / 10 s)",
                "feeds_sup": "one_for_one, intensity 1e9 / 1 s (production: 1000 / 10 s)",
            },
            "kills": kills,
            "kills_total": sum(kills.values()),
            "kills_deferred_turn_in_progress": deferred,
            "restarts": restarts,
            "restarts_total": sum(restarts.values()),
            "service_alive": alive,
            "messages": {
                "sent": sent_total,
                "processed": processed,
                "lost": lost,
                "lost_in_dead_mailboxes": lost - dropped,
                "dropped_stage_restarting": dropped,
                "pending_after_drain": sum(pending.values()),
                "balanced": processed + lost + sum(pending.values()) == sent_total,
            },
            "per_stage": per_stage,
            "runtime_lost_on_exit": info1["lost_on_exit"] - info0["lost_on_exit"],
            "victims_mailboxes_counted": census_all + monkey_box,
            "runtime_sent_to_dead": info1["sent_to_dead"] - info0["sent_to_dead"],
            "events_in_during_chaos": events_chaos,
            "events_per_s_during_chaos": round(events_chaos / chaos_s, 1) if chaos_s else None,
            "feed": {k: feed.get(k) for k in ("connects", "gaps_lost", "last_seq", "records") if k in feed},
            "latency_during_chaos_ns": {
                "event_batches": int(len(ev)),
                "event_p50": _pct(ev, 50),
                "event_p99": _pct(ev, 99),
                "event_max": float(ev.max()) if len(ev) else None,
                "orders": int(len(od)),
                "order_p50": _pct(od, 50),
                "order_p99": _pct(od, 99),
            },
            "orders_sent": summary["counters"]["orders_sent"],
            "fills": summary["counters"]["fills"],
        }
    finally:
        if svc is not None:
            await svc.stop()
        await srv.stop()
        if tmp is not None:
            tmp.cleanup()


class _Plan:
    """The monkey's targets and what it counted (read by :func:`run_chaos` once it is dead)."""

    def __init__(self, rng: random.Random, stages: dict[str, str], feeds_sup: str) -> None:
        self.rng, self.stages, self.feeds_sup = rng, stages, feeds_sup
        self.targets = [*stages, "feed"]
        self.kills = dict.fromkeys(self.targets, 0)
        self.restarts = dict.fromkeys(self.targets, 0)
        self.census = dict.fromkeys(stages.values(), 0)  # pipeline messages lost in dead mailboxes
        self.census_all = 0  # every message in the victims' mailboxes
        self.deferred = 0
        self.victims: dict[str, Any] = {}


class _Tick:
    __slots__ = ()


_TICK = _Tick()


def _monkey_class() -> Any:
    from cns.otp import GenServer

    class _Monkey(GenServer):
        """Kills a random target every ``every_s`` from inside the node (so the victims' mailboxes hold what
        a busy shard holds), counting each victim's mailbox first."""

        def init(self, plan: _Plan, every_s: float) -> None:
            self.plan = plan
            self.timer = self.node.send_interval(every_s, self.pid, _TICK)

        def handle_info(self, msg: Any) -> None:
            if msg is not _TICK:
                return
            p = self.plan
            node = self.node
            what = p.rng.choice(p.targets)
            pid = _feed_pid(node, p.feeds_sup) if what == "feed" else node.whereis(p.stages[what])
            if pid is None or not pid.is_alive:
                return
            old = p.victims.get(what)
            if old is not None and old is not pid:
                p.restarts[what] += 1
            if pid.rest is not None or pid.coro is not None:  # a parked or preempted turn: not countable
                p.deferred += 1
                return
            box = list(pid.mbox) if pid.mbox else []
            p.census_all += len(box)
            if what != "feed":
                p.census[p.stages[what]] += sum(1 for m in box if _KINDS.get(type(m).__name__) == what)
            node.exit(pid, "kill")
            p.kills[what] += 1
            p.victims[what] = pid

    return _Monkey


def _venue() -> tuple[tuple[str, float], ...]:
    from cns.serve.demo import VENUE_INSTRUMENTS

    return VENUE_INSTRUMENTS


def _feed_pid(node: Any, sup: str) -> Any:
    """The live feed handler, None while it is being restarted."""
    from cns.feeds import FeedHandler

    hs = node.processes(FeedHandler)
    return hs[0] if hs else None


def main(args: argparse.Namespace) -> int:
    """``cns chaos``: run, print a table, write ``--json``; exit 0 when the shard survived and every message
    is accounted for, 1 otherwise."""
    r = asyncio.run(run_chaos(args.seconds, kill_every_ms=args.kill_every_ms, rate=args.rate, seed=args.seed))
    m = r["messages"]
    lat = r["latency_during_chaos_ns"]
    rows = [
        ("host", f"{r['host']['cpu']}, load average {r['host']['load_avg_1m_start_end']}"),
        ("chaos", f"{r['seconds']:.1f} s, a kill every {r['kill_every_ms']:g} ms"),
        ("kills / restarts", f"{r['kills_total']} / {r['restarts_total']}  {r['kills']}"),
        ("service alive", str(r["service_alive"])),
        ("messages sent", str(m["sent"])),
        ("processed", str(m["processed"])),
        (
            "lost",
            f"{m['lost']} (dead mailboxes {m['lost_in_dead_mailboxes']}, dropped {m['dropped_stage_restarting']})",
        ),
        (
            "balanced",
            f"{m['balanced']}; runtime lost_on_exit {r['runtime_lost_on_exit']} = counted {r['victims_mailboxes_counted']}",
        ),
        ("events in (chaos)", f"{r['events_in_during_chaos']} ({r['events_per_s_during_chaos']}/s)"),
        (
            "event latency p99",
            f"{(lat['event_p99'] or 0) / 1e3:.1f} us (p50 {(lat['event_p50'] or 0) / 1e3:.1f})",
        ),
        ("order latency p99", f"{(lat['order_p99'] or 0) / 1e3:.1f} us over {lat['orders']} orders"),
    ]
    for k, v in rows:
        print(f"{k:<20} {v}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(r, indent=2) + "\n")
    ok = r["service_alive"] and m["balanced"] and r["runtime_lost_on_exit"] == r["victims_mailboxes_counted"]
    return 0 if ok else 1
