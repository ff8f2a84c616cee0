"""The shard running in-process on loopback: news from a feed server, orders over FIX to the venue gateway,
fills and quotes back; a crashing feed handler restarts alone; an unreachable FIX peer fails the start."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from cns.feeds import FeedServer
from cns.fix.transport import loop_call
from cns.runtime import Node
from cns.serve.config import serve_config_from_dict
from cns.serve.errors import PeerUnreachable
from cns.serve.service import Service, prepare
from cns.telemetry import Counters

from .helpers import free_port, run, serve_dict, until, venue_config, venue_news


def test_serve_trades_news_through_the_gateway_gets_fills_and_stops_gracefully() -> None:
    from cns.gateway.server import start_venue, stop_venue

    async def scenario() -> None:
        vnode = Node()
        vrun = asyncio.get_running_loop().create_task(vnode.run_async())
        venue = await start_venue(vnode, venue_config())
        srv = FeedServer(venue_news(3000, 30.0), speed=10.0, heartbeat_s=0.5, wait_clients=1)
        await srv.start()
        try:
            cfg = serve_config_from_dict(serve_dict(srv.port, fix_port=venue.fix_port, md_port=venue.md_port))
            svc = Service(cfg)
            await svc.start()
            st = svc.state
            assert st.session_up["fix:venue1"] and st.quotes.connected
            await until(lambda: st.counters["fills"] > 0 and st.counters["events_in"] > 500, 30.0, "fills")
            aapl = st.dictionaries[1].code("AAPL")
            assert st.counters["md_records"] > 0 and math.isfinite(st.quotes.mid[aapl])
            assert abs(st.quotes.mid[aapl] / 190.0 - 1.0) < 0.2  # the venue's quotes, not a default
            sent = st.counters["orders_sent"]
            summary = await svc.stop()
            assert sent > 0 and summary["counters"]["fills"] > 0
            mc = summary["stop"]["mass_cancel"]
            assert (
                mc["requests"] == 1 and mc["reports"] == 1 and not mc["timed_out"] and mc["open_after"] == 0
            )
            assert summary["stop"]["logout"] == {"fix:venue1": "logged_out"}
            g = await loop_call(vnode, "venue_gateway", "stats", 20.0)
            assert g["orders"] >= sent and g["fills"] > 0
            assert summary["latency_ns"]["order"]["count"] > 0
            assert not svc.app.running and len(svc.node) == 0  # the whole tree is gone
        finally:
            await srv.stop()
            await stop_venue(venue)
            vnode.stop()
            await asyncio.wait_for(vrun, 5.0)

    run(scenario(), 90.0)


def test_a_crashing_feed_handler_restarts_alone_never_the_desk() -> None:
    async def scenario() -> None:
        srv = FeedServer(venue_news(6000, 60.0), speed=10.0, heartbeat_s=0.2, wait_clients=1)
        await srv.start()
        cfg = serve_config_from_dict(serve_dict(srv.port))  # in-process venue
        svc = Service(cfg)
        names = svc.state.names
        try:
            with Counters() as counters:
                await svc.start()
                node = svc.node
                top0 = await loop_call(node, names.top, ("which_children",), 20.0)
                trading0 = await loop_call(node, names.trading_sup, ("which_children",), 20.0)
                desk0 = node.whereis(names.desk)
                for k in range(5):
                    feed = (await loop_call(node, names.feeds_sup, ("which_children",), 20.0))[0].pid
                    node.exit(feed, "kill")  # an untrappable crash of the handler
                    await until(lambda k=k: svc.state.feed_stats["f1"].connects >= k + 2, 10.0, "reconnect")
                events = svc.state.counters["events_in"]
                await until(lambda: svc.state.counters["events_in"] > events, 10.0, "news after the crashes")
                top1 = await loop_call(node, names.top, ("which_children",), 20.0)
                trading1 = await loop_call(node, names.trading_sup, ("which_children",), 20.0)
                assert node.whereis(names.desk) is desk0 and desk0.is_alive
                assert [c.pid for c in trading1] == [c.pid for c in trading0]
                assert [c.pid for c in top1] == [c.pid for c in top0]  # feeds_sup itself was not restarted
                assert dict(counters.restarts_by_child) == {"feed:f1": 5}
                assert svc.state.feed_stats["f1"].lost_records == 0  # resumed after its last sequence number
            await svc.stop()
        finally:
            await srv.stop()

    run(scenario(), 90.0)


def test_an_unreachable_fix_peer_fails_the_start_within_the_connect_timeout() -> None:
    async def scenario() -> None:
        srv = FeedServer(venue_news(200, 2.0), speed=1.0, wait_clients=1)
        await srv.start()
        try:
            cfg = serve_config_from_dict(serve_dict(srv.port, fix_port=free_port(), connect_timeout_s=1.0))
            svc = Service(cfg, state=prepare(cfg, warm=False))
            t0 = time.monotonic()
            with pytest.raises(PeerUnreachable, match=r"FIX session venue1 \(127.0.0.1:\d+\) not logged on"):
                await svc.start()
            assert time.monotonic() - t0 < 2.5
            assert not svc.app.running and len(svc.node) == 0
        finally:
            await srv.stop()

    run(scenario(), 60.0)


def test_when_the_tree_gives_up_the_service_stops_with_exit_code_1() -> None:
    from cns.serve.cli import run_service

    async def scenario() -> None:
        srv = FeedServer(venue_news(2000, 20.0), speed=5.0, heartbeat_s=0.2, wait_clients=1)
        await srv.start()
        cfg = serve_config_from_dict(serve_dict(srv.port, shard="giveup"))
        svcs: list[Service] = []
        task = asyncio.get_running_loop().create_task(run_service(cfg, announce=False, started=svcs.append))
        try:
            await until(lambda: svcs, 60.0, "the service")
            node = svcs[0].node
            for _ in range(4):  # the top supervisor allows 3 restarts in 60 s
                sup = await until(lambda: node.whereis("giveup:trading_sup"), 5.0, "trading_sup")
                node.exit(sup, "kill")
                await until(
                    lambda s=sup: node.whereis("giveup:trading_sup") is not s, 5.0, "a restart or the end"
                )
            code, summary = await asyncio.wait_for(task, 30.0)
            assert code == 1 and "application_terminated" in summary["failure"]
        finally:
            task.cancel()
            await srv.stop()

    run(scenario(), 90.0)
