"""Interop with QuickFIX (quickfix-ssl), the independent counterparty: CNS initiator <-> QuickFIX acceptor.

QuickFIX runs in its own process (tests/fix/qf_peer.py) with the FIX44.xml data dictionary the wheel ships,
so every message we send is validated by QuickFIX; its application echoes fills. Covered: logon, orders
and fills (ExecutionReports decoded to EXEC_DTYPE), cancel, cancel/replace, mass cancel (kill switch), a
connection dropped mid-session and a QuickFIX crash + restart (sequence continuity), sequence gaps both
ways (ResendRequest, PossDup resend, GapFill), garbage on the wire (session survives).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from cns.fix import (
    ExecReportDecoder,
    FixInbound,
    FixRejectReceived,
    FixSessionConfig,
    FixSessionDown,
    FixSessionUp,
    SymbolTable,
    inject,
    send_message,
    send_orders,
    session_status,
    start_initiator,
)
from cns.fix import spec as S
from cns.fix.codec import utc_timestamp
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_FILL,
    ORDER_CANCEL,
    ORDER_DTYPE,
    ORDER_LIMIT,
    ORDER_MARKET,
)
from tests.fix.harness import (
    NodeRunner,
    QuickFixPeer,
    Recorder,
    fields,
    free_port,
    requires_quickfix,
    run,
    sequences_agree,
    until,
)

pytestmark = requires_quickfix

SYMS = SymbolTable(["", "AAPL", "MSFT"])


def orders(ids: list[int], otype: int = ORDER_LIMIT) -> np.ndarray:
    o = np.zeros(len(ids), ORDER_DTYPE)
    o["order_id"] = ids
    o["instrument"] = 1
    o["side"] = 1
    o["type"] = otype
    o["qty"] = 100
    o["price"] = 101.25
    o["ts_ns"] = time.time_ns()
    return o


def cfg(port: int, tmp: Path, **kw: Any) -> FixSessionConfig:
    return FixSessionConfig(
        name="qf",
        sender_comp_id="CNS",
        target_comp_id="QFVENUE",
        port=port,
        heartbeat_s=1,
        symbols=SYMS,
        store_dir=str(tmp / "cns"),
        reconnect_base_s=0.1,
        reconnect_max_s=0.5,
        seed=3,
        **kw,
    )


async def qf_acceptor(tmp: Path) -> QuickFixPeer:
    for _ in range(3):  # the port is OS-chosen, then handed to QuickFIX: retry if someone took it meanwhile
        qf = QuickFixPeer(tmp / "qf", "acceptor", "QFVENUE", "CNS", free_port())
        try:
            await qf.start()
            return qf
        except AssertionError:
            await qf.stop()
    raise AssertionError("QuickFIX acceptor could not listen")


def reports(rec: Recorder) -> list[Any]:
    return [e.msg for e in rec.of(FixInbound) if e.msg.msg_type == "8"]


def no_rejects(qf: QuickFixPeer, rec: Recorder) -> None:
    assert not qf.sent("3"), f"QuickFIX rejected our messages: {qf.sent('3')}"
    assert not rec.of(FixRejectReceived)


def test_orders_fills_cancel_replace_mass_cancel(tmp_path: Path) -> None:
    async def scenario() -> None:
        qf = await qf_acceptor(tmp_path)
        try:
            async with NodeRunner() as node:
                rec = Recorder()
                start_initiator(node, cfg(qf.port, tmp_path), rec, link=False)
                await until(lambda: rec.of(FixSessionUp), 10, "logon with QuickFIX")
                await qf.wait(lambda e: e["ev"] == "logon", 5, "logon")
                mkt = orders([3], ORDER_MARKET)
                mkt["side"] = -1
                send_orders(node, "fix:qf", np.concatenate([orders([1, 2]), mkt]))
                await until(lambda: len(reports(rec)) == 6, 10, "New + Fill for 3 orders")
                dec = ExecReportDecoder(SYMS)
                recs = [dec.decode(m) for m in reports(rec)]
                assert all(r is not None for r in recs)
                kinds = [(int(r[0]["order_id"]), int(r[0]["kind"])) for r in recs]  # type: ignore[index]
                assert sorted(kinds) == sorted(
                    [
                        (1, EXEC_ACK),
                        (1, EXEC_FILL),
                        (2, EXEC_ACK),
                        (2, EXEC_FILL),
                        (3, EXEC_ACK),
                        (3, EXEC_FILL),
                    ]
                )
                fill = next(
                    r[0] for r in recs if int(r[0]["order_id"]) == 1 and int(r[0]["kind"]) == EXEC_FILL
                )  # type: ignore[index]
                assert int(fill["qty"]) == 100 and float(fill["price"]) == 101.25 and int(fill["side"]) == 1
                d = [fields(e["msg"]) for e in await qf.got("D", 3)]
                assert [x[11] for x in d] == ["1", "2", "3"] and d[2][40] == "1" and d[0][44] == "101.25"
                # cancel (F from the template encoder), cancel/replace (G) and mass cancel (q)
                c = orders([4])
                c["type"] = ORDER_CANCEL
                c["target_id"] = 1
                send_orders(node, "fix:qf", c)
                ts = utc_timestamp(time.time_ns())
                send_message(
                    node,
                    "fix:qf",
                    S.ORDER_CANCEL_REPLACE_REQUEST,
                    [
                        (S.ORIG_CL_ORD_ID, 2),
                        (S.CL_ORD_ID, 5),
                        (S.SYMBOL, "AAPL"),
                        (S.SIDE, 1),
                        (S.TRANSACT_TIME, ts),
                        (S.ORDER_QTY, 50),
                        (S.ORD_TYPE, 2),
                        (S.PRICE, 101.0),
                    ],
                )
                send_message(
                    node,
                    "fix:qf",
                    S.ORDER_MASS_CANCEL_REQUEST,
                    [(S.CL_ORD_ID, "kill-1"), (S.MASS_CANCEL_REQUEST_TYPE, 7), (S.TRANSACT_TIME, ts)],
                )
                await until(
                    lambda: len(reports(rec)) == 8 and any(e.msg.msg_type == "r" for e in rec.of(FixInbound)),
                    10,
                    "cancel, replace, mass cancel answers",
                )
                cx = dec.decode(reports(rec)[6])
                assert cx is not None and int(cx[0]["kind"]) == EXEC_CANCELED and int(cx[0]["order_id"]) == 1
                assert reports(rec)[7].get(S.EXEC_TYPE) == b"5"
                r = next(e.msg for e in rec.of(FixInbound) if e.msg.msg_type == "r")
                assert (r.get(S.CL_ORD_ID), r.get(S.MASS_CANCEL_RESPONSE)) == (b"kill-1", b"7")
                for t in ("F", "G", "q"):  # QuickFIX's own log of them (its stdout may lag our socket)
                    await qf.wait(
                        lambda e, t=t: e["ev"] == "from_app" and e["type"] == t, 5, f"35={t} at QuickFIX"
                    )
                no_rejects(qf, rec)
                await sequences_agree(node, "fix:qf", qf)
        finally:
            await qf.stop()

    run(scenario(), 60)


def test_dropped_connection_and_quickfix_restart_keep_sequence_continuity(tmp_path: Path) -> None:
    async def scenario() -> None:
        qf = await qf_acceptor(tmp_path)
        try:
            async with NodeRunner() as node:
                rec = Recorder()
                start_initiator(node, cfg(qf.port, tmp_path), rec, link=False)
                await until(lambda: rec.of(FixSessionUp), 10, "logon")
                send_orders(node, "fix:qf", orders([1]))
                await until(lambda: len(reports(rec)) == 2, 10, "fills")
                # 1) QuickFIX drops the TCP connection mid-session: we reconnect, numbers continue
                await qf.command(cmd="disconnect")
                await until(lambda: len(rec.of(FixSessionUp)) == 2, 10, "reconnect after the drop")
                send_orders(node, "fix:qf", orders([2]))
                await until(lambda: len(reports(rec)) == 4, 10, "fills after the drop")
                # 2) QuickFIX crashes (SIGKILL) and restarts on its file store
                await qf.hard_kill()
                qf2 = QuickFixPeer(tmp_path / "qf", "acceptor", "QFVENUE", "CNS", qf.port)
                await qf2.start()
                qf = qf2
                await until(lambda: len(rec.of(FixSessionUp)) == 3, 15, "reconnect after the restart")
                send_orders(node, "fix:qf", orders([3]))
                await until(lambda: len(reports(rec)) == 6, 10, "fills after the restart")
                assert [m.get(S.CL_ORD_ID) for m in reports(rec)] == [b"1", b"1", b"2", b"2", b"3", b"3"]
                # continuity: nobody logged out over a sequence number, both sides agree on both numbers; a
                # heartbeat written into the dying connection may legitimately be gap-filled afterwards
                assert session_status(node, "fix:qf").counters["logons"] == 3
                assert not any("too low" in d.reason for d in rec.of(FixSessionDown))
                assert not any("too low" in e.get("msg", "") for e in qf.events)
                await sequences_agree(node, "fix:qf", qf)
                no_rejects(qf, rec)
        finally:
            await qf.stop()

    run(scenario(), 60)


def test_sequence_gaps_and_resends_both_ways(tmp_path: Path) -> None:
    async def scenario() -> None:
        qf = await qf_acceptor(tmp_path)
        try:
            async with NodeRunner() as node:
                rec = Recorder()
                start_initiator(node, cfg(qf.port, tmp_path), rec, link=False)
                await until(lambda: rec.of(FixSessionUp), 10, "logon")
                # our side loses an order on the wire: QuickFIX asks for it, we resend it with PossDupFlag=Y
                inject(node, "fix:qf", "drop_next_outbound", 1)
                send_orders(node, "fix:qf", orders([11]))
                send_orders(node, "fix:qf", orders([12]))
                await qf.wait(
                    lambda e: e["ev"] == "to_admin" and e["type"] == "2", 10, "QuickFIX ResendRequest"
                )
                await until(
                    lambda: (
                        {m.get(S.CL_ORD_ID) for m in reports(rec)} == {b"11", b"12"}
                        and len(reports(rec)) == 4
                    ),
                    10,
                    "fills of the lost and the next order",
                )
                await until(
                    lambda: any(fields(e["msg"]).get(43) == "Y" for e in qf.received("D")), 5, "resent D"
                )
                d = [fields(e["msg"]) for e in qf.received("D")]
                lost = [x for x in d if x[11] == "11"]
                assert lost and lost[0].get(43) == "Y" and 122 in lost[0]
                # QuickFIX skips 3 numbers: we ask for them and get a GapFill
                since = len(qf.events)
                await qf.command(cmd="skip_seq", n=3)
                await qf.wait(lambda e: e["ev"] == "skipped", 5, "skip", since)
                send_orders(node, "fix:qf", orders([13]))
                await until(lambda: len(reports(rec)) == 6, 10, "fills after QuickFIX's gap")
                await qf.wait(
                    lambda e: e["ev"] == "from_admin" and e["type"] == "2", 5, "our ResendRequest", since
                )
                await qf.wait(
                    lambda e: e["ev"] == "to_admin" and e["type"] == "4", 5, "QuickFIX GapFill", since
                )
                st = session_status(node, "fix:qf")
                assert st.counters["resend_requests_sent"] == 1 and st.counters["gap_fills_received"] >= 1
                await sequences_agree(node, "fix:qf", qf)
                no_rejects(qf, rec)
        finally:
            await qf.stop()

    run(scenario(), 60)


def test_garbage_and_an_invalid_message_do_not_break_the_session(tmp_path: Path) -> None:
    async def scenario() -> None:
        qf = await qf_acceptor(tmp_path)
        try:
            async with NodeRunner() as node:
                rec = Recorder()
                start_initiator(node, cfg(qf.port, tmp_path), rec, link=False)
                await until(lambda: rec.of(FixSessionUp), 10, "logon")
                inject(
                    node,
                    "fix:qf",
                    "send_raw",
                    b"\x00\xffnot fix at all\x01" + b"8=FIX.4.4\x019=5\x0110=000\x01",
                )
                # a framed message QuickFIX must refuse: NewOrderSingle without Side and OrdType
                ts = utc_timestamp(time.time_ns())
                bad = send_message(
                    node,
                    "fix:qf",
                    S.NEW_ORDER_SINGLE,
                    [(S.CL_ORD_ID, 77), (S.SYMBOL, "AAPL"), (S.TRANSACT_TIME, ts), (S.ORDER_QTY, 1)],
                )
                await until(lambda: rec.of(FixRejectReceived), 10, "QuickFIX's Reject")
                rj = rec.of(FixRejectReceived)[0]
                assert rj.ref_seq == bad and rj.reason == S.R_REQUIRED_MISSING
                send_orders(node, "fix:qf", orders([78]))
                await until(lambda: len(reports(rec)) == 2, 10, "the session still works")
                assert session_status(node, "fix:qf").state == "active"
                await sequences_agree(node, "fix:qf", qf)
        finally:
            await qf.stop()

    run(scenario(), 60)
