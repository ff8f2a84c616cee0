"""FIX session rules, CNS against CNS and against a hand-driven peer: logon, heartbeats and test requests,
Reject on bad messages, sequence gaps (ResendRequest, resend with PossDupFlag, gap fill), too-low sequence
numbers, persistence across restarts, reconnect with backoff, credentials never logged."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cns.fix import (
    FixAcceptor,
    FixConfigError,
    FixEncodeError,
    FixInbound,
    FixNotActive,
    FixRejectReceived,
    FixSession,
    FixSessionConfig,
    FixSessionDown,
    FixSessionUp,
    MemorySessionStore,
    SymbolTable,
    inject,
    logout,
    loop_call,
    reconnect,
    send_message,
    send_orders,
    session_status,
    start_initiator,
)
from cns.fix import spec as S
from cns.fix.codec import utc_timestamp
from cns.venue.dtypes import ORDER_DTYPE, ORDER_LIMIT
from tests.fix.harness import NodeRunner, RawPeer, RawServer, Recorder, run, until

SYMS = SymbolTable(["", "AAPL", "MSFT"])


def orders(ids: list[int]) -> np.ndarray:
    o = np.zeros(len(ids), ORDER_DTYPE)
    o["order_id"] = ids
    o["instrument"] = 1
    o["side"] = 1
    o["type"] = ORDER_LIMIT
    o["qty"] = 10
    o["price"] = 12.5
    return o


def acc_cfg(**kw: Any) -> FixSessionConfig:
    base: dict[str, Any] = {
        "name": "acc",
        "sender_comp_id": "VENUE",
        "target_comp_id": "CNS",
        "role": "acceptor",
        "heartbeat_s": 1,
    }
    base.update(kw)
    return FixSessionConfig(**base)


def ini_cfg(port: int, **kw: Any) -> FixSessionConfig:
    base: dict[str, Any] = {
        "name": "ini",
        "sender_comp_id": "CNS",
        "target_comp_id": "VENUE",
        "port": port,
        "heartbeat_s": 1,
        "symbols": SYMS,
        "reconnect_base_s": 0.05,
        "reconnect_max_s": 0.2,
        "seed": 1,
    }
    base.update(kw)
    return FixSessionConfig(**base)


async def start_acceptor(node: Any, cfg: FixSessionConfig, rec: Recorder, store: Any = None) -> int:
    FixSession.start_session(node, cfg, rec, store=store, link=False)
    acc = FixAcceptor.start_acceptor(node, [cfg], link=False, logon_timeout_s=2.0)
    return int(await loop_call(node, acc, "port"))


def state(node: Any, name: str) -> str:
    return session_status(node, name).state


# ------------------------------------------------------------------------------------------ CNS <-> CNS
def test_logon_orders_heartbeats_logout() -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            arec, irec = Recorder(), Recorder()
            port = await start_acceptor(node, acc_cfg(), arec)
            start_initiator(node, ini_cfg(port), irec, link=False)
            await until(lambda: irec.of(FixSessionUp) and arec.of(FixSessionUp), 5, "logon")
            assert send_orders(node, "fix:ini", orders([1, 2, 3])) == (2, 3)
            await until(lambda: len(arec.of(FixInbound)) == 3, 5, "orders")
            msgs = [e.msg for e in arec.of(FixInbound)]
            assert [m.get(S.CL_ORD_ID) for m in msgs] == [b"1", b"2", b"3"] and not any(
                m.poss_dup for m in msgs
            )
            n = send_message(
                node,
                "fix:acc",
                S.EXECUTION_REPORT,
                [
                    (S.ORDER_ID, 1),
                    (S.CL_ORD_ID, 1),
                    (S.EXEC_ID, "e1"),
                    (S.EXEC_TYPE, "0"),
                    (S.ORD_STATUS, "0"),
                    (S.SYMBOL, "AAPL"),
                    (S.SIDE, 1),
                    (S.LEAVES_QTY, 10),
                    (S.CUM_QTY, 0),
                    (S.AVG_PX, 0),
                ],
            )
            assert n == 2
            await until(lambda: irec.of(FixInbound), 5, "report")
            await asyncio.sleep(2.3)  # two heartbeat intervals: heartbeats flow, no test request needed
            st = session_status(node, "fix:ini")
            assert st.state == "active" and st.counters["test_requests_sent"] == 0
            assert st.next_sender_seq >= 6  # Logon, 3 orders, >= 1 heartbeat
            assert await loop_call(node, "fix:ini", "logout") == "logged_out"
            await until(lambda: state(node, "fix:acc") == "disconnected", 3, "acceptor down")
            assert irec.of(FixSessionDown) and arec.of(FixSessionDown)
            await asyncio.sleep(0.3)
            assert state(node, "fix:ini") == "disconnected"  # no reconnect after our own logout
            with pytest.raises(FixNotActive):
                send_orders(node, "fix:ini", orders([4]))
            assert reconnect(node, "fix:ini") == "ok"
            await until(lambda: state(node, "fix:ini") == "active", 5, "reconnect after logout")

    run(scenario())


def test_dropped_outbound_is_resent_with_poss_dup_and_admin_gap_filled() -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            arec, irec = Recorder(), Recorder()
            port = await start_acceptor(node, acc_cfg(), arec)
            start_initiator(node, ini_cfg(port), irec, link=False)
            await until(lambda: irec.of(FixSessionUp) and arec.of(FixSessionUp), 5, "logon")
            inject(node, "fix:ini", "drop_next_outbound", 2)  # stored, never written: the acceptor sees a gap
            send_orders(node, "fix:ini", orders([10, 11]))
            inject(node, "fix:ini", "skip_outbound_seq", 2)  # two numbers never stored: must be gap-filled
            send_orders(node, "fix:ini", orders([12]))
            await until(lambda: len(arec.of(FixInbound)) == 3, 5, "resent orders")
            msgs = [e.msg for e in arec.of(FixInbound)]
            assert [(m.get(S.CL_ORD_ID), m.poss_dup) for m in msgs] == [
                (b"10", True),
                (b"11", True),
                (b"12", False),
            ]
            assert all(m.has(S.ORIG_SENDING_TIME) for m in msgs[:2])
            a = session_status(node, "fix:acc").counters
            i = session_status(node, "fix:ini").counters
            assert a["resend_requests_sent"] == 1 and i["resend_requests_received"] == 1
            # EndSeqNo 0: everything up to the last sent is resent, order 12 included (a duplicate, ignored)
            assert i["messages_resent"] == 3 and i["gap_fills_sent"] >= 1 and a["gap_fills_received"] >= 1
            assert a["duplicates_ignored"] == 1
            assert (
                session_status(node, "fix:acc").next_target_seq
                == session_status(node, "fix:ini").next_sender_seq
            )
            send_orders(node, "fix:ini", orders([13]))  # and the session goes on
            await until(lambda: len(arec.of(FixInbound)) == 4, 5, "order after the resend")

    run(scenario())


def test_sequence_numbers_survive_a_restart(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            arec, irec = Recorder(), Recorder()
            port = await start_acceptor(node, acc_cfg(store_dir=str(tmp_path / "acc")), arec)
            cfg = ini_cfg(port, store_dir=str(tmp_path / "ini"))
            pid = start_initiator(node, cfg, irec, link=False)
            await until(lambda: irec.of(FixSessionUp), 5, "logon")
            send_orders(node, "fix:ini", orders([1, 2]))
            await until(lambda: len(arec.of(FixInbound)) == 2, 5, "orders")
            before = session_status(node, "fix:ini")
            node.exit(pid, "kill")  # a crash: no Logout, no terminate
            await until(lambda: state(node, "fix:acc") == "disconnected", 5, "acceptor sees the drop")
            irec2 = Recorder()
            start_initiator(node, cfg, irec2, link=False)  # a new process re-opens the file store
            await until(lambda: irec2.of(FixSessionUp), 5, "logon after restart")
            up = irec2.of(FixSessionUp)[0]
            assert up.next_sender_seq == before.next_sender_seq + 1  # continued, plus the new Logon
            send_orders(node, "fix:ini", orders([3]))
            await until(lambda: len(arec.of(FixInbound)) == 3, 5, "order after restart")
            # our numbering continued without a gap: the acceptor never had to ask for a resend (the
            # acceptor's heartbeats sent to the dead session are gap-filled for us on our ResendRequest)
            assert session_status(node, "fix:acc").counters["resend_requests_sent"] == 0
            assert (
                session_status(node, "fix:acc").next_target_seq
                == session_status(node, "fix:ini").next_sender_seq
            )

    run(scenario())


def test_initiator_reconnects_with_backoff_until_the_acceptor_listens() -> None:
    async def scenario() -> None:
        from tests.fix.harness import free_port

        port = free_port()
        async with NodeRunner() as node:
            irec, arec = Recorder(), Recorder()
            start_initiator(node, ini_cfg(port), irec, link=False)
            await until(
                lambda: session_status(node, "fix:ini").counters["connect_failures"] >= 2, 5, "failures"
            )
            FixSession.start_session(node, acc_cfg(), arec, link=False)
            FixAcceptor.start_acceptor(node, [acc_cfg()], port=port, link=False)
            await until(lambda: irec.of(FixSessionUp), 5, "logon once listening")
            inject(node, "fix:ini", "disconnect")  # a dropped connection mid-session
            await until(lambda: len(irec.of(FixSessionUp)) == 2, 5, "reconnected")
            ups = irec.of(FixSessionUp)
            assert ups[1].next_sender_seq > ups[0].next_sender_seq  # continued, not reset
            assert not any("too low" in d.reason for d in irec.of(FixSessionDown))

            def agree() -> bool:
                i, a = session_status(node, "fix:ini"), session_status(node, "fix:acc")
                return (i.next_sender_seq, i.next_target_seq) == (a.next_target_seq, a.next_sender_seq)

            await until(agree, 5, "both sides agree on both sequence numbers")

    run(scenario())


# ------------------------------------------------------------------------------------------ hand-driven peer
def test_bad_messages_get_session_rejects_and_the_session_survives() -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            arec = Recorder()
            port = await start_acceptor(node, acc_cfg(), arec)
            peer = await RawPeer("CNS", "VENUE").connect(port)
            await peer.logon()
            ts = utc_timestamp(time.time_ns())
            nan = await peer.send(
                "D", [(11, 1), (55, "AAPL"), (54, 1), (60, ts), (38, 10), (40, 2), (44, "NaN")]
            )
            r = await peer.expect("3")
            assert (
                r.get_int(S.REF_SEQ_NUM),
                r.get_int(S.REF_TAG_ID),
                r.get_int(S.SESSION_REJECT_REASON),
                r.get(S.REF_MSG_TYPE),
            ) == (nan, S.PRICE, S.R_BAD_FORMAT, b"D")
            side = await peer.send("D", [(11, 2), (55, "AAPL"), (60, ts), (38, 10), (40, 1)])
            r = await peer.expect("3")
            assert (
                r.get_int(S.REF_SEQ_NUM),
                r.get_int(S.REF_TAG_ID),
                r.get_int(S.SESSION_REJECT_REASON),
            ) == (
                side,
                S.SIDE,
                S.R_REQUIRED_MISSING,
            )
            await peer.send_raw(b"garbage\x01\x02" + b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01")  # ignored
            await peer.send_raw(b"8=FIX.4.4\x019=999999999\x01")  # hostile BodyLength: ignored
            bad_tag = peer.codec.encode("0", peer.seq).replace(b"\x0152=", b"\x01x2=")
            bad_tag = _reframe(bad_tag)
            peer.seq += 1
            await peer.send_raw(bad_tag)
            r = await peer.expect("3")
            assert r.get_int(S.SESSION_REJECT_REASON) == S.R_INVALID_TAG
            await peer.send("1", [(S.TEST_REQ_ID, "still-there")])
            hb = await peer.expect("0")
            assert hb.get(S.TEST_REQ_ID) == b"still-there"
            await peer.send("D", [(11, 3), (55, "AAPL"), (54, 1), (60, ts), (38, 10), (40, 1)])
            await until(lambda: arec.of(FixInbound), 5, "valid order after the rejects")
            st = session_status(node, "fix:acc")
            assert st.state == "active" and st.counters["rejects_sent"] == 3 and st.counters["garbled"] >= 1
            assert st.next_target_seq == peer.seq  # rejected messages consumed their numbers; garbled did not
            peer.close()

    run(scenario())


def _reframe(msg: bytes) -> bytes:
    body = msg[msg.index(b"35=") : msg.rindex(b"10=")]
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    m = head + body
    return m + b"10=%03d\x01" % (sum(m) & 0xFF)


def test_gap_triggers_resend_request_and_queued_messages_are_processed_in_order() -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            arec = Recorder()
            port = await start_acceptor(node, acc_cfg(), arec)
            peer = await RawPeer("CNS", "VENUE").connect(port)
            await peer.logon()  # seq 1
            ts = utc_timestamp(time.time_ns())
            body = [(11, 5), (55, "AAPL"), (54, 1), (60, ts), (38, 10), (40, 1)]
            await peer.send("D", body, seq=4)  # 2 and 3 missing
            rr = await peer.expect("2")
            assert (rr.get_int(S.BEGIN_SEQ_NO), rr.get_int(S.END_SEQ_NO)) == (2, 0)
            assert not arec.of(FixInbound)  # held back until the gap is filled
            await peer.send("D", [(11, 6)] + body[1:], seq=5)  # still early: no second ResendRequest
            # resend 2 (an order, PossDup) and gap-fill 3
            await peer.send("D", [(11, 4)] + body[1:], seq=2, poss_dup_orig=ts)
            await peer.send("4", [(123, "Y"), (36, 4)], seq=3, poss_dup_orig=ts)
            await until(lambda: len(arec.of(FixInbound)) == 3, 5, "gap filled")
            assert [e.msg.get(S.CL_ORD_ID) for e in arec.of(FixInbound)] == [b"4", b"5", b"6"]
            st = session_status(node, "fix:acc")
            assert st.next_target_seq == 6 and st.counters["resend_requests_sent"] == 1
            peer.seq = 6
            await peer.send("1", [(S.TEST_REQ_ID, "x")])
            await peer.expect("0")
            # a duplicate with PossDupFlag is ignored, without it the session logs out
            await peer.send("D", [(11, 4)] + body[1:], seq=2, poss_dup_orig=ts)
            await peer.send("1", [(S.TEST_REQ_ID, "y")])
            assert (await peer.expect("0")).get(S.TEST_REQ_ID) == b"y"
            assert session_status(node, "fix:acc").counters["duplicates_ignored"] == 1
            await peer.send("0", seq=3)
            lo = await peer.expect("5")
            assert b"MsgSeqNum too low, expecting 8 but received 3" in (lo.get(S.TEXT) or b"")
            await peer.drain_until_closed(3)
            await until(lambda: state(node, "fix:acc") == "disconnected", 3, "disconnect")

    run(scenario())


def test_resend_request_from_peer_gets_poss_dup_reports_and_gap_fills() -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            port = await start_acceptor(node, acc_cfg(), Recorder())
            peer = await RawPeer("CNS", "VENUE").connect(port)
            await peer.logon(hb=30)  # acceptor seq 1 = Logon
            er = [
                (S.ORDER_ID, 1),
                (S.CL_ORD_ID, 1),
                (S.EXEC_ID, "e"),
                (S.EXEC_TYPE, "0"),
                (S.ORD_STATUS, "0"),
                (S.SYMBOL, "AAPL"),
                (S.SIDE, 1),
                (S.LEAVES_QTY, 1),
                (S.CUM_QTY, 0),
                (S.AVG_PX, 0),
            ]
            for _ in range(2):
                send_message(node, "fix:acc", S.EXECUTION_REPORT, er)  # seq 2, 3
                await peer.expect("8")
            await peer.send("2", [(S.BEGIN_SEQ_NO, 1), (S.END_SEQ_NO, 0)])
            gf = await peer.recv()
            assert (gf.msg_type, gf.seq, gf.get(S.GAP_FILL_FLAG), gf.get_int(S.NEW_SEQ_NO), gf.poss_dup) == (
                "4",
                1,
                b"Y",
                2,
                True,
            )
            for seq in (2, 3):
                m = await peer.recv()
                assert (m.msg_type, m.seq, m.poss_dup, m.problem) == ("8", seq, True, None)
                assert m.has(S.ORIG_SENDING_TIME)

    run(scenario())


def test_too_high_resend_request_is_answered_once_not_again_when_the_gap_fills() -> None:
    """A ResendRequest numbered too high is answered at once and queued for its number only: when the gap
    before it is filled it is not answered a second time (QuickFIX's nextQueued just consumes it)."""

    async def scenario() -> None:
        async with NodeRunner() as node:
            port = await start_acceptor(node, acc_cfg(), Recorder())
            peer = await RawPeer("CNS", "VENUE").connect(port)
            await peer.logon(hb=30)  # seq 1 both ways
            er = [
                (S.ORDER_ID, 1),
                (S.CL_ORD_ID, 1),
                (S.EXEC_ID, "e"),
                (S.EXEC_TYPE, "0"),
                (S.ORD_STATUS, "0"),
                (S.SYMBOL, "AAPL"),
                (S.SIDE, 1),
                (S.LEAVES_QTY, 1),
                (S.CUM_QTY, 0),
                (S.AVG_PX, 0),
            ]
            for _ in range(2):
                send_message(node, "fix:acc", S.EXECUTION_REPORT, er)  # seq 2, 3
                await peer.expect("8")
            # our seq 2 is lost: the ResendRequest comes as seq 3, too high
            await peer.send("2", [(S.BEGIN_SEQ_NO, 2), (S.END_SEQ_NO, 0)], seq=3)
            got = [await peer.recv() for _ in range(3)]
            assert [(m.msg_type, m.seq, m.poss_dup) for m in got] == [
                ("8", 2, True),
                ("8", 3, True),
                ("2", 4, False),
            ]
            assert (got[2].get_int(S.BEGIN_SEQ_NO), got[2].get_int(S.END_SEQ_NO)) == (2, 0)
            ts = utc_timestamp(time.time_ns())
            await peer.send("4", [(S.GAP_FILL_FLAG, "Y"), (S.NEW_SEQ_NO, 3)], seq=2, poss_dup_orig=ts)
            peer.seq = 4  # 3 (the queued ResendRequest) is now in sequence
            await peer.send("1", [(S.TEST_REQ_ID, "after")])
            rest = []
            while not rest or rest[-1].msg_type != "0":
                rest.append(await peer.recv())
            assert [(m.msg_type, m.seq) for m in rest] == [("0", 5)]  # no second resend before the Heartbeat
            assert rest[-1].get(S.TEST_REQ_ID) == b"after"
            st = session_status(node, "fix:acc")
            assert st.next_target_seq == 5
            assert st.counters["resend_requests_received"] == 1 and st.counters["messages_resent"] == 2

    run(scenario())


def test_too_high_resend_request_with_a_header_problem_is_refused_not_answered() -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            port = await start_acceptor(node, acc_cfg(max_latency_s=5.0), Recorder())
            peer = await RawPeer("CNS", "VENUE").connect(port)
            await peer.logon(hb=30)
            stale = time.time_ns() - 60 * 10**9
            rr = peer.codec.encode("2", 3, [(S.BEGIN_SEQ_NO, 1), (S.END_SEQ_NO, 0)], sending_ns=stale)
            await peer.send_raw(rr)
            got = await peer.drain_until_closed(3)
            assert [m.msg_type for m in got] == ["3", "5"]  # Reject (SendingTime), Logout: nothing resent
            assert got[0].get_int(S.SESSION_REJECT_REASON) == S.R_SENDING_TIME
            assert session_status(node, "fix:acc").counters["resend_requests_received"] == 0

    run(scenario())


def test_silent_counterparty_gets_a_test_request_then_is_disconnected() -> None:
    async def scenario() -> None:
        srv = await RawServer("VENUE", "CNS").start()
        async with NodeRunner() as node:
            irec = Recorder()
            start_initiator(node, ini_cfg(srv.port, reconnect_base_s=5.0), irec, link=False)
            peer = await srv.next_peer()
            lg = await peer.expect("A")
            assert lg.get_int(S.HEART_BT_INT) == 1 and lg.get(S.ENCRYPT_METHOD) == b"0"
            await peer.send("A", [(98, 0), (108, 1)])
            await until(lambda: irec.of(FixSessionUp), 3, "logon")
            t0 = time.monotonic()
            got = await peer.drain_until_closed(8)  # we never answer
            assert any(m.msg_type == "1" for m in got) and any(m.msg_type == "0" for m in got)
            assert 2.0 < time.monotonic() - t0 < 7.0  # TestRequest at 1.5 s of silence, disconnect 1 s later
            await until(lambda: irec.of(FixSessionDown), 2, "down")
            assert "TestRequest" in irec.of(FixSessionDown)[0].reason
        srv.close()

    run(scenario())


def test_acceptor_refuses_wrong_password_unknown_comp_ids_and_non_logon() -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            arec = Recorder()
            port = await start_acceptor(node, acc_cfg(password="pw-1"), arec)
            p1 = await RawPeer("CNS", "VENUE").connect(port)
            await p1.send("A", [(98, 0), (108, 1), (553, "u"), (554, "wrong")])
            got = await p1.drain_until_closed(3)
            assert [m.msg_type for m in got] == ["5"] and b"credentials" in (got[0].get(S.TEXT) or b"")
            p2 = await RawPeer("SOMEONE", "VENUE").connect(port)  # unknown CompIDs: dropped without an answer
            await p2.send("A", [(98, 0), (108, 1)])
            assert await p2.drain_until_closed(3) == []
            p3 = await RawPeer("CNS", "VENUE").connect(port)
            await p3.send("0")
            assert await p3.drain_until_closed(3) == []
            p4 = await RawPeer("CNS", "VENUE").connect(port)
            await p4.logon(extra=[(554, "pw-1")])
            assert state(node, "fix:acc") == "active"
            p5 = await RawPeer("CNS", "VENUE").connect(port)  # a second connection for a logged-on session
            await p5.send("A", [(98, 0), (108, 1), (554, "pw-1")])
            assert await p5.drain_until_closed(3) == []
            assert state(node, "fix:acc") == "active"

    run(scenario())


def test_comp_id_and_sending_time_problems_log_out() -> None:
    async def scenario() -> None:
        async with NodeRunner() as node:
            port = await start_acceptor(node, acc_cfg(max_latency_s=5.0), Recorder())
            peer = await RawPeer("CNS", "VENUE").connect(port)
            await peer.logon()
            await peer.send_raw(peer.codec.encode("0", peer.seq, sending_ns=time.time_ns() - 60 * 10**9))
            got = await peer.drain_until_closed(3)
            assert [m.msg_type for m in got][-2:] == ["3", "5"]
            assert got[-2].get_int(S.SESSION_REJECT_REASON) == S.R_SENDING_TIME

    run(scenario())


def test_initiator_handles_logon_refusal_and_seq_reset_flag() -> None:
    async def scenario() -> None:
        srv = await RawServer("VENUE", "CNS").start()
        async with NodeRunner() as node:
            irec = Recorder()
            start_initiator(
                node, ini_cfg(srv.port, reset_on_logon=True, username="u1", password="p1"), irec, link=False
            )
            peer = await srv.next_peer()
            lg = await peer.expect("A")
            assert lg.seq == 1 and lg.get(S.RESET_SEQ_NUM_FLAG) == b"Y"
            assert (lg.get(S.USERNAME), lg.get(S.PASSWORD)) == (b"u1", b"p1")
            await peer.send("5", [(58, "go away")])
            await peer.drain_until_closed(3)
            peer2 = await srv.next_peer()  # it comes back after its backoff
            await peer2.expect("A")
            await peer2.send("A", [(98, 0), (108, 1), (141, "Y")])
            await until(lambda: irec.of(FixSessionUp), 3, "logon")
            # SequenceReset (reset mode) moves the expected number regardless of MsgSeqNum
            await peer2.send("4", [(36, 50)], seq=99)
            await until(lambda: session_status(node, "fix:ini").next_target_seq == 50, 3, "reset")
            await peer2.send("j", [(S.REF_MSG_TYPE, "D"), (S.BUSINESS_REJECT_REASON, 3), (58, "no")], seq=50)
            await until(lambda: irec.of(FixRejectReceived), 3, "business reject")
        srv.close()

    run(scenario())


def test_orders_refused_while_down_and_bad_records_fail_closed() -> None:
    async def scenario() -> None:
        from tests.fix.harness import free_port

        async with NodeRunner() as node:
            store = MemorySessionStore()
            start_initiator(
                node, ini_cfg(free_port(), reconnect_base_s=5.0), Recorder(), store=store, link=False
            )
            with pytest.raises(FixNotActive):
                send_orders(node, "fix:ini", orders([1]))
            assert store.next_sender_seq == 1  # nothing consumed

        async with NodeRunner() as node:
            arec = Recorder()
            port = await start_acceptor(node, acc_cfg(), arec)
            irec = Recorder()
            start_initiator(node, ini_cfg(port), irec, link=False)
            await until(lambda: irec.of(FixSessionUp), 5, "logon")
            seq = session_status(node, "fix:ini").next_sender_seq
            bad = orders([1, 2])
            bad["price"][1] = np.nan
            with pytest.raises(FixEncodeError, match="record 1"):
                send_orders(node, "fix:ini", bad)
            assert session_status(node, "fix:ini").next_sender_seq == seq
            with pytest.raises(FixEncodeError):
                send_message(node, "fix:ini", S.NEW_ORDER_SINGLE, [(S.TEXT, "a\x01b")])

    run(scenario())


def test_credentials_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret_ids = ("SECRETSENDER", "SECRETTARGET", "hunter2")

    async def scenario() -> None:
        async with NodeRunner() as node:
            cfg = acc_cfg(sender_comp_id="SECRETTARGET", target_comp_id="SECRETSENDER", password="hunter2")
            port = await start_acceptor(node, cfg, Recorder())
            peer = await RawPeer("SECRETSENDER", "SECRETTARGET").connect(port)
            await peer.logon(extra=[(554, "hunter2")])
            await peer.send("D", [(11, 1)])  # rejected: missing tags
            await peer.expect("3")
            await peer.send_raw(b"junk")
            await peer.send("0", seq=1)  # too low: logout
            await peer.drain_until_closed(3)
            st = session_status(node, "fix:acc")
            assert "SECRET" not in repr(cfg) and "hunter2" not in repr(cfg) and "SECRET" not in repr(st)

    with caplog.at_level(logging.DEBUG):
        run(scenario())
    text = caplog.text
    assert "rejected inbound" in text and "disconnected" in text
    assert not any(s in text for s in secret_ids)


def test_config_validation_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FixConfigError, match="port"):
        FixSessionConfig(name="x", sender_comp_id="A", target_comp_id="B")
    with pytest.raises(FixConfigError, match="name"):
        FixSessionConfig(name="a b", sender_comp_id="A", target_comp_id="B", port=1)
    with pytest.raises(FixConfigError, match="heartbeat_s"):
        FixSessionConfig(name="x", sender_comp_id="A", target_comp_id="B", port=1, heartbeat_s=-1)
    monkeypatch.delenv("CNS_FIX_SENDER_COMP_ID", raising=False)
    with pytest.raises(FixConfigError, match="CNS_FIX_SENDER_COMP_ID"):
        FixSessionConfig.from_env("x", port=1)
    monkeypatch.setenv("CNS_FIX_SENDER_COMP_ID", "ME")
    monkeypatch.setenv("CNS_FIX_TARGET_COMP_ID", "YOU")
    monkeypatch.setenv("CNS_FIX_PASSWORD", "pw")
    c = FixSessionConfig.from_env("x", port=1)
    assert (c.sender_comp_id, c.target_comp_id, c.password) == ("ME", "YOU", "pw") and "ME" not in repr(c)


def test_session_outside_asyncio_fails_clearly() -> None:
    from cns.runtime import Node

    node = Node()
    pid = FixSession.start_session(node, ini_cfg(1), link=False)
    node.run_until_idle()
    assert pid.mbox is None and isinstance(pid.exit_reason, FixConfigError)
    _ = logout
