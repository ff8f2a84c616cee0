"""Interop, the other direction: a QuickFIX (quickfix-ssl) initiator trades on the CNS venue gateway (CNS
acceptor). QuickFIX validates every report against FIX44.xml. Covered: orders and fills, cancel, mass cancel,
a NaN price (session-level Reject, the session survives), a QuickFIX sequence gap (our ResendRequest, its
GapFill), a report lost on our side (its ResendRequest, our PossDup resend), a dropped connection
(QuickFIX reconnects, sequence continuity)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cns.fix import inject, loop_call, session_status
from cns.fix.codec import utc_timestamp
from cns.gateway.config import venue_config_from_dict
from cns.gateway.server import start_venue, stop_venue
from tests.fix.harness import NodeRunner, QuickFixPeer, fields, requires_quickfix, run, sequences_agree, until

pytestmark = requires_quickfix


def venue(**kw: Any) -> Any:
    doc: dict[str, Any] = {
        "port": 0,
        "heartbeat_s": 1,
        "instruments": [{"symbol": "AAPL", "price": 100.0, "tick": 0.01}, {"symbol": "MSFT", "price": 50.0}],
        "sessions": [
            {"name": "client1", "owner": 2, "sender_comp_id": "CNSVENUE", "target_comp_id": "QFCLIENT"}
        ],
        "market_maker": {"enabled": True, "interval_s": 0.05, "seed": 4, "depth": 2, "qty": 1000},
    }
    doc.update(kw)
    return venue_config_from_dict(doc)


def nos(
    cl: str, side: str = "1", qty: int = 100, price: str | None = None, symbol: str = "AAPL"
) -> list[Any]:
    f: list[Any] = [
        [11, cl],
        [55, symbol],
        [54, side],
        [60, utc_timestamp(time.time_ns()).decode()],
        [38, qty],
    ]
    f += [[40, "2"], [44, price], [59, "0"]] if price is not None else [[40, "1"]]
    return f


def reports_for(qf: QuickFixPeer, cl: str) -> list[dict[int, str]]:
    return [fields(e["msg"]) for e in qf.received("8") if fields(e["msg"]).get(11) == cl]


async def qf_client(tmp: Path, port: int) -> QuickFixPeer:
    qf = QuickFixPeer(tmp / "qf", "initiator", "QFCLIENT", "CNSVENUE", port, hb=1)
    await qf.start()
    await qf.wait(lambda e: e["ev"] == "logon", 10, "logon to the CNS venue")
    return qf


async def statuses_agree(node: Any, qf: QuickFixPeer) -> None:
    await sequences_agree(node, "fix:client1", qf)


def test_quickfix_trades_on_the_cns_venue(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            v = await start_venue(node, venue(store_dir=str(tmp_path / "venue"), store_fsync=False))
            await until(lambda: node.call("venue_gateway", "top")[0]["ask_qty"] > 0, 5, "quotes")
            qf = await qf_client(tmp_path, v.fix_port)
            try:
                await qf.command(cmd="send", type="D", fields=nos("m1", "1", 300))
                await until(
                    lambda: any(r[39] == "2" for r in reports_for(qf, "m1")), 10, "market order filled"
                )
                rs = reports_for(qf, "m1")
                assert rs[0][150] == "0" and rs[-1][150] == "F" and rs[-1][14] == "300" and rs[-1][151] == "0"
                await qf.command(cmd="send", type="D", fields=nos("l1", "2", 10, "110.5"))
                await until(lambda: reports_for(qf, "l1"), 10, "limit New")
                await qf.command(
                    cmd="send",
                    type="F",
                    fields=[
                        [41, "l1"],
                        [11, "c1"],
                        [55, "AAPL"],
                        [54, "2"],
                        [60, utc_timestamp(time.time_ns()).decode()],
                    ],
                )
                await until(lambda: reports_for(qf, "c1"), 10, "Canceled")
                assert reports_for(qf, "c1")[0][150] == "4" and reports_for(qf, "c1")[0][41] == "l1"
                await qf.command(cmd="send", type="D", fields=nos("l2", "1", 10, "90"))
                await until(lambda: reports_for(qf, "l2"), 10, "limit New")
                await qf.command(
                    cmd="send",
                    type="q",
                    fields=[[11, "k1"], [530, "7"], [60, utc_timestamp(time.time_ns()).decode()]],
                )
                r = await qf.got("r", 1, 10)
                assert fields(r[0]["msg"])[531] == "7" and fields(r[0]["msg"])[533] == "1"
                await statuses_agree(node, qf)
                assert not qf.sent("3") and not qf.received(
                    "3"
                )  # QuickFIX found nothing to reject, nor did we
                pos = await loop_call(node, "venue_gateway", ("position", 2))
                assert pos["AAPL"] == 300
            finally:
                await qf.stop()
            await stop_venue(v)

    run(scenario(), 60)


def test_quickfix_reject_gaps_resends_and_reconnect(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            v = await start_venue(node, venue())
            await until(lambda: node.call("venue_gateway", "top")[0]["ask_qty"] > 0, 5, "quotes")
            qf = await qf_client(tmp_path, v.fix_port)
            try:
                # 1) a NaN price: session-level Reject naming the tag and the reason; the session survives
                await qf.command(cmd="send", type="D", fields=nos("bad", "1", 10, "NaN"))
                rj = fields((await qf.got("3", 1, 10))[0]["msg"])
                assert (rj[371], rj[373], rj[372]) == ("44", "6", "D") and int(rj[45]) > 1
                await qf.command(cmd="send", type="D", fields=nos("ok1", "1", 10))
                await until(
                    lambda: any(r[39] == "2" for r in reports_for(qf, "ok1")), 10, "fill after the Reject"
                )
                # 2) QuickFIX skips 3 numbers: we send a ResendRequest, QuickFIX gap-fills, the order goes through
                since = len(qf.events)
                await qf.command(cmd="skip_seq", n=3)
                await qf.wait(lambda e: e["ev"] == "skipped", 5, "skip", since)
                await qf.command(cmd="send", type="D", fields=nos("ok2", "2", 10))
                await qf.wait(
                    lambda e: e["ev"] == "from_admin" and e["type"] == "2", 10, "our ResendRequest", since
                )
                await qf.wait(
                    lambda e: e["ev"] == "to_admin" and e["type"] == "4", 10, "QuickFIX GapFill", since
                )
                await until(
                    lambda: any(r[39] == "2" for r in reports_for(qf, "ok2")), 10, "fill after the gap"
                )
                # 3) we lose a report on the wire: QuickFIX asks for it, we resend it with PossDupFlag=Y
                since = len(qf.events)
                inject(node, "fix:client1", "drop_next_outbound", 1)  # the New of ok3
                await qf.command(cmd="send", type="D", fields=nos("ok3", "1", 10))
                await qf.wait(
                    lambda e: e["ev"] == "to_admin" and e["type"] == "2", 10, "QuickFIX ResendRequest", since
                )
                await until(
                    lambda: any(r.get(43) == "Y" and r[150] == "0" for r in reports_for(qf, "ok3")),
                    10,
                    "the lost New, resent",
                )
                # 4) the connection drops mid-session: QuickFIX reconnects, numbers continue
                logons = sum(1 for e in qf.events if e["ev"] == "logon")
                await qf.command(cmd="disconnect")
                await until(
                    lambda: sum(1 for e in qf.events if e["ev"] == "logon") > logons, 15, "QuickFIX back"
                )
                await qf.command(cmd="send", type="D", fields=nos("ok4", "2", 10))
                await until(
                    lambda: any(r[39] == "2" for r in reports_for(qf, "ok4")), 10, "fill after reconnect"
                )
                await statuses_agree(node, qf)
                c = session_status(node, "fix:client1").counters
                # QuickFIX may burn a number on a Logon attempt that never reaches us while it reconnects: a
                # second ResendRequest/GapFill is then legitimate
                assert (
                    c["rejects_sent"] == 1
                    and c["resend_requests_sent"] >= 1
                    and c["resend_requests_received"] >= 1
                )
                assert c["logons"] == 2 and session_status(node, "fix:client1").state == "active"
            finally:
                await qf.stop()
            await stop_venue(v)

    run(scenario(), 90)
