"""Knight-style runaway: a strategy bug firing orders in a loop is stopped by the risk gate's order-rate
throttle and the runaway guard (``[desk] runaway_rejects``: the kill switch) within one rate window; the
open orders are mass-cancelled at the venue, and the journal holds exactly the orders the venue received."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from cns.feeds import FeedServer
from cns.fix.transport import loop_call
from cns.journal import TYPE_CONTROL, TYPE_ORDER, JournalReader
from cns.runtime import Node
from cns.serve.config import serve_config_from_dict
from cns.serve.journal import registry
from cns.serve.service import Service
from cns.serve.stages import Candidates
from cns.venue.dtypes import ORDER_CANCEL, ORDER_DTYPE, ORDER_LIMIT

from .helpers import run, serve_dict, until, venue_config, venue_news

WINDOW_S, MAX_PER_WINDOW, TRIP = 1.0, 20, 20


def test_runaway_strategy_is_stopped_within_the_window_and_mass_cancelled(tmp_path) -> None:
    from cns.gateway.server import start_venue, stop_venue

    async def scenario() -> None:
        vnode = Node()
        vrun = asyncio.get_running_loop().create_task(vnode.run_async())
        venue = await start_venue(vnode, venue_config())
        srv = FeedServer(venue_news(20, 60.0), speed=1.0, heartbeat_s=0.5, wait_clients=1)
        await srv.start()
        try:
            doc = serve_dict(
                srv.port,
                fix_port=venue.fix_port,
                md_port=venue.md_port,
                journal={"dir": str(tmp_path / "j"), "fsync": "group"},
                desk={"runaway_rejects": TRIP},
                risk={
                    "max_orders_per_window": MAX_PER_WINDOW,
                    "rate_window_ns": int(WINDOW_S * 1e9),
                    "disabled_checks": ["duplicate", "cooldown"],
                },
            )
            doc["fix"][0].update(store_dir=str(tmp_path / "fix"), reset_on_logon=False)
            svc = Service(serve_config_from_dict(doc))
            await svc.start()
            st = svc.state
            aapl = st.dictionaries[1].code("AAPL")
            await until(lambda: np.isfinite(st.quotes.mid[aapl]), 20.0, "AAPL quotes")
            oms, risk = st.pipeline.oms, st.pipeline.risk
            first_throttle = tripped = None
            fired = 0
            t_end = time.monotonic() + 10.0
            while time.monotonic() < t_end and not st.counters["runaway_trips"]:  # the bug: an order per ms
                o = np.zeros(1, ORDER_DTYPE)
                o["order_id"] = int(oms.id_counter[0])
                oms.id_counter[0] += 1
                o["instrument"], o["side"], o["type"] = aapl, 1, ORDER_LIMIT
                o["qty"] = 1 + fired % 7
                o["price"] = round(float(st.quotes.mid[aapl]) * 0.995, 2)
                o["ts_ns"] = time.time_ns()
                svc.node.send(st.names.risk, Candidates(o, 0))
                fired += 1
                await asyncio.sleep(0.001)
                if first_throttle is None and risk.rejections()["rate"]:
                    first_throttle = time.monotonic()
            tripped = time.monotonic()
            assert st.counters["runaway_trips"] == 1 and first_throttle is not None
            assert tripped - first_throttle <= WINDOW_S, tripped - first_throttle
            accepted = risk.accepted_count
            assert accepted <= 2 * MAX_PER_WINDOW  # the throttle capped what went out
            await until(lambda: st.counters["mass_cancels"] >= 1, 10.0, "the venue's mass cancel report")
            open_ = {
                k: v for k, v in oms.state_counts().items() if k in ("new", "acked", "partially_filled") and v
            }
            await until(
                lambda: (
                    not {
                        k: v
                        for k, v in oms.state_counts().items()
                        if k in ("new", "acked", "partially_filled") and v
                    }
                ),
                10.0,
                f"open {open_}",
            )
            g = await loop_call(vnode, "venue_gateway", "stats", 20.0)
            assert g["live_orders"] == 0
            sent = st.counters["orders_sent"]
            await svc.stop()
            with JournalReader(st.extra["journal"].directory, registry()) as r:
                entries = list(r)
            orders = [e.records for e in entries if e.type == TYPE_ORDER]
            n_orders = sum(int(np.count_nonzero(x["type"] != ORDER_CANCEL)) for x in orders)
            controls = [int(e.records["command"][0]) for e in entries if e.type == TYPE_CONTROL]
            assert n_orders == sent == g["orders"] == accepted, (n_orders, sent, g["orders"], accepted)
            assert 2 in controls  # the runaway trip is in the journal
            print(
                "RUNAWAY",
                {
                    "fired": fired,
                    "accepted": accepted,
                    "rate_rejects": risk.rejections()["rate"],
                    "trip_after_first_throttle_s": round(tripped - first_throttle, 3),
                    "venue_orders": g["orders"],
                    "journal_orders": n_orders,
                },
            )
        finally:
            await srv.stop()
            await stop_venue(venue)
            vnode.stop()
            await asyncio.wait_for(vrun, 5.0)

    run(scenario(), 120.0)


def test_chaos_killing_stages_and_feed_handlers_for_20_s(tmp_path) -> None:
    """Chaos: for ``CHAOS_S`` seconds a feed handler is killed (untrappable) every ~20 ms and a random trading
    stage every ~3 s, while news flows at 1 000/s through the in-process venue with the journal on. The shard
    survives (within every supervisor's intensity), keeps processing, and what was lost is exactly what the
    runtime counts: messages left in dead mailboxes (``info()["lost_on_exit"]``), sent to a dead pid
    (``sent_to_dead``) and batches sent while a stage was unregistered (``batches_dropped``)."""
    import random

    chaos_s = 20.0
    rng = random.Random(5)

    async def scenario() -> dict:
        srv = FeedServer(venue_news(40000, 40.0), speed=1.0, heartbeat_s=0.5, wait_clients=1)
        await srv.start()
        try:
            doc = serve_dict(srv.port, journal={"dir": str(tmp_path / "j"), "fsync": "os"})
            svc = Service(serve_config_from_dict(doc))
            await svc.start()
            st, node, names = svc.state, svc.node, svc.state.names
            info0 = node.info()
            stages = [names.validate, names.corroborate, names.signal, names.risk]
            kills = {"feed": 0, "stage": 0}
            t0 = time.monotonic()
            next_stage = t0 + 3.0
            while time.monotonic() - t0 < chaos_s:
                await asyncio.sleep(0.02)
                name = "feed:f1"
                if time.monotonic() >= next_stage:
                    name, next_stage = rng.choice(stages), next_stage + 3.0
                if name == "feed:f1":
                    kids = await loop_call(node, names.feeds_sup, ("which_children",), 5.0)
                    pid = kids[0].pid if kids else None
                else:
                    pid = node.whereis(name)
                if pid is not None:
                    node.exit(pid, "kill")
                    kills["stage" if name != "feed:f1" else "feed"] += 1
            await asyncio.sleep(1.0)
            assert svc.app.running, svc.failure
            events = st.counters["events_in"]
            await until(lambda: st.counters["events_in"] > events, 10.0, "news after the chaos")
            info = node.info()
            summary = await svc.stop()
            return {
                "kills": kills,
                "feed_connects": summary["feeds"]["f1"].get("connects"),
                "events_in": summary["counters"]["events_in"],
                "validated": summary["counters"]["validated"],
                "orders": summary["counters"]["orders_sent"],
                "lost_on_exit": info["lost_on_exit"] - info0["lost_on_exit"],
                "sent_to_dead": info["sent_to_dead"] - info0["sent_to_dead"],
                "batches_dropped": summary["counters"]["batches_dropped"],
                "feed_gaps_lost": summary["feeds"]["f1"].get("gaps_lost"),
                "event_p99_us": summary["latency_ns"]["event"]["p99"] / 1e3,
            }
        finally:
            await srv.stop()

    r = run(scenario(), chaos_s + 90.0)
    print("CHAOS", r)
    assert r["kills"]["feed"] > 100 and r["kills"]["stage"] >= 5
    assert r["events_in"] > 0 and r["validated"] > 0
