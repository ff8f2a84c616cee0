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
            doc = serve_dict(srv.port, fix_port=venue.fix_port, md_port=venue.md_port,
                             journal={"dir": str(tmp_path / "j"), "fsync": "group"},
                             desk={"runaway_rejects": TRIP},
                             risk={"max_orders_per_window": MAX_PER_WINDOW, "rate_window_ns": int(WINDOW_S * 1e9),
                                   "disabled_checks": ["duplicate", "cooldown"]})
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
            assert tripped - first_throttle <= WINDOW_S, (tripped - first_throttle)
            accepted = risk.accepted_count
            assert accepted <= 2 * MAX_PER_WINDOW  # the throttle capped what went out
            await until(lambda: st.counters["mass_cancels"] >= 1, 10.0, "the venue's mass cancel report")
            open_ = {k: v for k, v in oms.state_counts().items() if k in ("new", "acked", "partially_filled") and v}
            await until(lambda: not {k: v for k, v in oms.state_counts().items()
                                     if k in ("new", "acked", "partially_filled") and v}, 10.0, f"open {open_}")
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
            print("RUNAWAY", {"fired": fired, "accepted": accepted, "rate_rejects": risk.rejections()["rate"],
                              "trip_after_first_throttle_s": round(tripped - first_throttle, 3),
                              "venue_orders": g["orders"], "journal_orders": n_orders})
        finally:
            await srv.stop()
            await stop_venue(venue)
            vnode.stop()
            await asyncio.wait_for(vrun, 5.0)

    run(scenario(), 120.0)
