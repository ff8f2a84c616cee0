"""Venue gateway end to end: a CNS initiator sends orders to the venue (books + FIX acceptor + market data +
market maker), gets ExecutionReports, and market data arrives; plus the CLI with SIGTERM."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cns.fix import (
    ExecReportDecoder,
    FixInbound,
    FixSessionConfig,
    FixSessionDown,
    FixSessionUp,
    SymbolTable,
    inject,
    loop_call,
    send_message,
    send_orders,
    session_status,
    start_initiator,
)
from cns.fix import spec as S
from cns.fix.codec import utc_timestamp
from cns.gateway.config import GatewayConfigError, load_venue_config, venue_config_from_dict
from cns.gateway.marketdata import FLAG_TRADE, K_HEARTBEAT, K_SNAPSHOT, K_SYMBOLS, K_UPDATE, MarketDataClient
from cns.gateway.server import start_venue, stop_venue
from cns.venue.dtypes import EXEC_ACK, EXEC_FILL, ORDER_CANCEL, ORDER_DTYPE, ORDER_LIMIT, ORDER_MARKET
from tests.fix.harness import NodeRunner, Recorder, run, until

ROOT = Path(__file__).resolve().parents[2]


def venue_doc(**kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "port": 0,
        "md_port": 0,
        "heartbeat_s": 1,
        "md_heartbeat_s": 0.1,
        "instruments": [{"symbol": "AAPL", "price": 100.0, "tick": 0.01}, {"symbol": "MSFT", "price": 50.0}],
        "sessions": [{"name": "client1", "owner": 2, "sender_comp_id": "VENUE", "target_comp_id": "CNS"}],
        "market_maker": {
            "enabled": True,
            "interval_s": 0.05,
            "seed": 11,
            "spread_ticks": 4,
            "qty": 500,
            "depth": 2,
            "vol_ticks": 0.5,
        },
    }
    doc.update(kw)
    return doc


def client_cfg(port: int, **kw: Any) -> FixSessionConfig:
    return FixSessionConfig(
        name="cns",
        sender_comp_id="CNS",
        target_comp_id="VENUE",
        port=port,
        heartbeat_s=1,
        symbols=SymbolTable(["", "AAPL", "MSFT"]),
        reconnect_base_s=0.1,
        reconnect_max_s=0.3,
        seed=2,
        **kw,
    )


def order(oid: int, side: int, otype: int, qty: int = 100, price: float = 0.0, k: int = 1) -> np.ndarray:
    o = np.zeros(1, ORDER_DTYPE)
    o["order_id"] = oid
    o["instrument"] = k
    o["side"] = side
    o["type"] = otype
    o["qty"] = qty
    o["price"] = price
    o["ts_ns"] = time.time_ns()
    return o


def msgs(rec: Recorder, mt: str = "8") -> list[Any]:
    return [e.msg for e in rec.of(FixInbound) if e.msg.msg_type == mt]


def for_order(rec: Recorder, cl: int) -> list[Any]:
    return [m for m in msgs(rec) if m.get(S.CL_ORD_ID) == b"%d" % cl]


def test_orders_fills_cancels_and_market_data_end_to_end() -> None:
    async def scenario() -> None:
        cfg = venue_config_from_dict(venue_doc())
        async with NodeRunner() as node:
            venue = await start_venue(node, cfg)
            md = MarketDataClient("127.0.0.1", venue.md_port)  # type: ignore[arg-type]
            await md.connect()
            assert (await md.next())[0] == K_SYMBOLS and md.symbols == {1: "AAPL", 2: "MSFT"}
            assert (await md.next())[0] == K_SNAPSHOT
            await until(lambda: venue_top(node)[0]["ask_qty"] > 0, 5, "market maker quotes")
            rec = Recorder()
            start_initiator(node, client_cfg(venue.fix_port), rec, link=False)
            await until(lambda: rec.of(FixSessionUp), 5, "logon")

            # a market buy fills against the market maker's ask
            send_orders(node, "fix:cns", order(1, 1, ORDER_MARKET, 100))
            await until(lambda: any(m.get(S.ORD_STATUS) == b"2" for m in for_order(rec, 1)), 5, "market fill")
            dec = ExecReportDecoder(SymbolTable(["", "AAPL", "MSFT"]), owner=0)
            kinds = [int(dec.decode(m)[0]["kind"]) for m in for_order(rec, 1)]  # type: ignore[index]
            assert kinds[0] == EXEC_ACK and kinds[-1] == EXEC_FILL
            fill = for_order(rec, 1)[-1]
            assert (
                fill.get_float(S.AVG_PX) > 99
                and fill.get_int(S.CUM_QTY) == 100
                and fill.get_int(S.LEAVES_QTY) == 0
            )

            # a passive limit rests (New), then is canceled; a replace changes qty/price
            send_orders(node, "fix:cns", order(2, 1, ORDER_LIMIT, 10, 90.0))
            await until(lambda: for_order(rec, 2), 5, "new")
            assert for_order(rec, 2)[0].get(S.EXEC_TYPE) == b"0"
            ts = utc_timestamp(time.time_ns())
            send_message(
                node,
                "fix:cns",
                S.ORDER_CANCEL_REPLACE_REQUEST,
                [
                    (S.ORIG_CL_ORD_ID, 2),
                    (S.CL_ORD_ID, 3),
                    (S.SYMBOL, "AAPL"),
                    (S.SIDE, 1),
                    (S.TRANSACT_TIME, ts),
                    (S.ORDER_QTY, 20),
                    (S.ORD_TYPE, 2),
                    (S.PRICE, 90.5),
                ],
            )
            await until(lambda: for_order(rec, 3), 5, "replaced")
            rp = for_order(rec, 3)[0]
            assert (rp.get(S.EXEC_TYPE), rp.get(S.ORIG_CL_ORD_ID), rp.get(S.ORDER_QTY), rp.get(S.PRICE)) == (
                b"5",
                b"2",
                b"20",
                b"90.5",
            )
            c = order(4, 1, ORDER_CANCEL)
            c["target_id"] = 3
            send_orders(node, "fix:cns", c)
            await until(lambda: for_order(rec, 4), 5, "canceled")
            cx = for_order(rec, 4)[0]
            assert (cx.get(S.EXEC_TYPE), cx.get(S.ORIG_CL_ORD_ID), cx.get(S.ORD_STATUS)) == (b"4", b"3", b"4")
            # cancel of an unknown order: OrderCancelReject
            c = order(5, 1, ORDER_CANCEL)
            c["target_id"] = 999
            send_orders(node, "fix:cns", c)
            await until(lambda: msgs(rec, "9"), 5, "cancel reject")
            assert (
                msgs(rec, "9")[0].get(S.CXL_REJ_REASON),
                msgs(rec, "9")[0].get(S.CXL_REJ_RESPONSE_TO),
            ) == (b"1", b"1")

            # kill switch: two resting orders, one mass cancel
            send_orders(
                node,
                "fix:cns",
                np.concatenate([order(6, 1, ORDER_LIMIT, 5, 80.0), order(7, -1, ORDER_LIMIT, 5, 60.0, k=2)]),
            )
            await until(lambda: for_order(rec, 6) and for_order(rec, 7), 5, "resting")
            send_message(
                node,
                "fix:cns",
                S.ORDER_MASS_CANCEL_REQUEST,
                [(S.CL_ORD_ID, "kill"), (S.MASS_CANCEL_REQUEST_TYPE, 7), (S.TRANSACT_TIME, ts)],
            )
            await until(lambda: msgs(rec, "r"), 5, "mass cancel report")
            r = msgs(rec, "r")[0]
            assert (r.get(S.MASS_CANCEL_RESPONSE), r.get_int(S.TOTAL_AFFECTED_ORDERS)) == (b"7", 2)
            assert (
                sum(1 for m in msgs(rec) if m.get(S.EXEC_TYPE) == b"4" and m.get(S.CL_ORD_ID) == b"kill") == 2
            )

            # business rejects: unknown symbol, price outside the band, duplicate live ClOrdID
            send_message(
                node,
                "fix:cns",
                S.NEW_ORDER_SINGLE,
                [
                    (S.CL_ORD_ID, 8),
                    (S.SYMBOL, "ZZZZ"),
                    (S.SIDE, 1),
                    (S.TRANSACT_TIME, ts),
                    (S.ORDER_QTY, 1),
                    (S.ORD_TYPE, 1),
                ],
            )
            send_orders(node, "fix:cns", order(9, 1, ORDER_LIMIT, 1, 1000.0))
            send_orders(node, "fix:cns", order(10, 1, ORDER_LIMIT, 1, 85.0))
            send_orders(node, "fix:cns", order(10, 1, ORDER_LIMIT, 1, 85.0))
            await until(
                lambda: for_order(rec, 8) and for_order(rec, 9) and len(for_order(rec, 10)) == 2, 5, "rejects"
            )
            assert for_order(rec, 8)[0].get(S.ORD_REJ_REASON) == b"1"
            assert for_order(rec, 9)[-1].get(S.EXEC_TYPE) == b"8" and b"band" in (
                for_order(rec, 9)[-1].get(S.TEXT) or b""
            )
            assert for_order(rec, 10)[-1].get(S.ORD_REJ_REASON) == b"6"

            # a ClOrdID is unique for the day: resending the already FILLED order 1 must not trade twice
            before = len(for_order(rec, 1))
            send_orders(node, "fix:cns", order(1, 1, ORDER_MARKET, 100))
            await until(lambda: len(for_order(rec, 1)) > before, 5, "the duplicate's reject")
            assert for_order(rec, 1)[-1].get(S.ORD_REJ_REASON) == b"6"
            assert (await loop_call(node, "venue_gateway", "stats"))["duplicate_clordids"] == 2

            # market data: the trade of order 1 was published, sequence numbers have no gap
            trades: list[Any] = []
            while not trades:
                kind, item = await md.next(5)
                if kind == K_UPDATE:
                    trades += [x for x in item if x["flags"] & FLAG_TRADE and int(x["instrument"]) == 1]
            assert trades[0]["last_qty"] > 0 and math.isfinite(trades[0]["last_px"]) and md.gaps == 0
            pos = await loop_call(node, "venue_gateway", ("position", 2))
            assert pos["AAPL"] == 100
            assert session_status(node, "fix:cns").counters["rejects_received"] == 0
            await md.close()
            await stop_venue(venue)
            await until(lambda: rec.of(FixSessionDown), 3, "logout by the venue")

    run(scenario(), 60)


def venue_top(node: Any) -> Any:
    return node.call("venue_gateway", "top")


def test_cancel_on_disconnect_reports_are_delivered_after_reconnect(tmp_path: Path) -> None:
    async def scenario() -> None:
        cfg = venue_config_from_dict(
            venue_doc(
                cancel_on_disconnect=True,
                md_port=None,
                store_dir=str(tmp_path),
                store_fsync=False,
                market_maker={"enabled": False},
            )
        )
        async with NodeRunner() as node:
            venue = await start_venue(node, cfg)
            rec = Recorder()
            start_initiator(node, client_cfg(venue.fix_port), rec, link=False)
            await until(lambda: rec.of(FixSessionUp), 5, "logon")
            send_orders(node, "fix:cns", order(1, 1, ORDER_LIMIT, 10, 95.0))
            await until(lambda: for_order(rec, 1), 5, "resting")
            inject(node, "fix:cns", "disconnect")
            await until(lambda: len(rec.of(FixSessionUp)) == 2, 5, "reconnected")
            await until(lambda: len(for_order(rec, 1)) == 2, 5, "Canceled report via resend")
            cx = for_order(rec, 1)[1]
            assert cx.get(S.EXEC_TYPE) == b"4" and cx.poss_dup
            assert session_status(node, "fix:cns").counters["resend_requests_sent"] == 1
            st = await loop_call(node, "venue_gateway", "stats")
            assert st["live_orders"] == 0 and st["resting"] == 0
            await stop_venue(venue)

    run(scenario(), 30)


def test_market_data_heartbeats_and_snapshot_when_quiet() -> None:
    async def scenario() -> None:
        cfg = venue_config_from_dict(venue_doc(market_maker={"enabled": False}))
        async with NodeRunner() as node:
            venue = await start_venue(node, cfg)
            md = MarketDataClient("127.0.0.1", venue.md_port)  # type: ignore[arg-type]
            await md.connect()
            kinds = [(await md.next())[0] for _ in range(4)]
            assert kinds[:2] == [K_SYMBOLS, K_SNAPSHOT] and kinds[2:] == [K_HEARTBEAT, K_HEARTBEAT]
            assert math.isnan(md.top[1]["bid_px"]) and md.top[1]["bid_qty"] == 0
            await md.close()
            await stop_venue(venue)

    run(scenario(), 30)


def test_config_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = venue_doc()
    bad["sessions"] = [{"name": "c", "sender_comp_id_env": "CNS_TEST_UNSET_VAR", "target_comp_id": "X"}]
    monkeypatch.delenv("CNS_TEST_UNSET_VAR", raising=False)
    with pytest.raises(GatewayConfigError, match="CNS_TEST_UNSET_VAR"):
        venue_config_from_dict(bad)
    for doc in (
        venue_doc(instruments=[]),
        venue_doc(port=70000),
        venue_doc(bogus=1),
        venue_doc(instruments=[{"symbol": "A", "price": "nan"}]),
        venue_doc(market_maker={"interval_s": 0}),
    ):
        with pytest.raises(GatewayConfigError):
            venue_config_from_dict(doc)
    p = tmp_path / "v.toml"
    p.write_text("not = [toml")
    with pytest.raises(GatewayConfigError):
        load_venue_config(p)


CONFIG_TOML = """
port = 0
md_port = 0
heartbeat_s = 1

[[instruments]]
symbol = "AAPL"
price = 100.0
tick = 0.01

[[sessions]]
name = "client1"
owner = 2
sender_comp_id_env = "CNS_TEST_VENUE_ID"
target_comp_id_env = "CNS_TEST_CLIENT_ID"

[market_maker]
enabled = true
seed = 5
interval_s = 0.05
"""


def test_cli_serves_trades_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    async def scenario() -> None:
        cfgp = tmp_path / "venue.toml"
        cfgp.write_text(CONFIG_TOML)
        env = dict(
            os.environ,
            CNS_TEST_VENUE_ID="VENUEX",
            CNS_TEST_CLIENT_ID="CLIENTX",
            PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cns",
            "venue",
            "serve",
            "--config",
            str(cfgp),
            "--port",
            "0",
            "--md-port",
            "0",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert "listening" in line, line
            kv = dict(p.split("=", 1) for p in line.split() if "=" in p)
            port, md_port = int(kv["fix_port"]), int(kv["md_port"])
            async with NodeRunner() as node:
                rec = Recorder()
                cfg = FixSessionConfig(
                    name="cli",
                    sender_comp_id="CLIENTX",
                    target_comp_id="VENUEX",
                    port=port,
                    heartbeat_s=1,
                    symbols=SymbolTable(["", "AAPL"]),
                )
                start_initiator(node, cfg, rec, link=False)
                await until(lambda: rec.of(FixSessionUp), 10, "logon")
                md = MarketDataClient("127.0.0.1", md_port)
                await md.connect()
                await asyncio.sleep(0.3)  # market maker quotes
                send_orders(node, "fix:cli", order(1, -1, ORDER_MARKET, 50))
                await until(lambda: any(m.get(S.ORD_STATUS) == b"2" for m in for_order(rec, 1)), 10, "fill")
                proc.send_signal(signal.SIGTERM)
                await until(lambda: rec.of(FixSessionDown), 10, "Logout from the stopping venue")
                assert "Logout" in rec.of(FixSessionDown)[0].reason
                rc = await asyncio.wait_for(proc.wait(), 15)
                assert rc == 0
                rest = (await proc.stdout.read()).decode()
                assert "stopped" in rest and "fills=1" in rest
                await md.close()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    run(scenario(), 90)


def test_cli_refuses_missing_credentials() -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("CNS_VENUE_COMP_ID", "CNS_CLIENT_COMP_ID")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")
    r = subprocess.run(
        [sys.executable, "-m", "cns", "venue", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 2 and "CNS_VENUE_COMP_ID" in r.stderr and "Traceback" not in r.stderr
