"""The peer of ``cns bench live``: the news-to-order path built the way a user would build it without CNS.

An asyncio process with a ``websockets`` client reading the JSON feed (``docs/feeds.md``), a per-message
Python decision, and an order sent with QuickFIX (``quickfix-ssl``: ``Session.sendToTarget`` writes the
message on the calling thread) -- or, when QuickFIX is not installed, with a hand-built FIX message on a
plain socket (``sendall``); the JSON output says which (``"fix": "quickfix"|"socket"``).

Decision (per event, plain Python, the same rule family as CNS's corroboration, much simpler): an event is
*credible* when its source scores >= 60 in the canonical source table and its confidence >= 0.5; it is
ignored when it is a heartbeat/test or names no ticker; per (ticker, event type) a cluster collects the
distinct credible sources within 2 s of news time; when a second source joins, the cluster fires once: a
buy if the headline has more positive than negative words (a small word list), a sell otherwise, 100 shares
IOC at 5 bp through the configured reference price.

Measurement (``time.monotonic_ns``): per event the read stamp (after the message arrived, before JSON
decoding) and the done stamp (decision made; order written if any); per order the written stamp.
Written to an ``.npz`` at exit: ``seq``, ``t_read``, ``t_done`` per event; ``o_seq``, ``o_read``, ``o_written``
per order. The run ends ``drain_s`` after the feed's last data message (or at ``deadline_s``).

Run: ``python -m cns.bench.live_peer --ws-port P --fix-port Q --out stamps.npz``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np

__all__ = ["main"]

_POS = frozenset(
    "beats beat surge surges soars rises raises record strong upgrade approves gains jumps".split()
)
_NEG = frozenset(
    "misses miss plunge plunges falls cuts weak downgrade probe recall drops slumps halts".split()
)


class _QuickFix:
    """A QuickFIX initiator; ``send(symbol, side, qty, price, clordid)`` returns after the bytes are written."""

    def __init__(self, port: int) -> None:
        import quickfix as fix

        self.fix = fix
        self.logged_on = threading.Event()
        outer = self

        class App(fix.Application):  # type: ignore[misc]
            def onCreate(self, sid: Any) -> None:  # noqa: N802
                outer.sid = sid

            def onLogon(self, sid: Any) -> None:  # noqa: N802
                outer.logged_on.set()

            def onLogout(self, sid: Any) -> None:  # noqa: N802
                pass

            def toAdmin(self, m: Any, sid: Any) -> None:  # noqa: N802
                pass

            def fromAdmin(self, m: Any, sid: Any) -> None:  # noqa: N802
                pass

            def toApp(self, m: Any, sid: Any) -> None:  # noqa: N802
                pass

            def fromApp(self, m: Any, sid: Any) -> None:  # noqa: N802
                pass

        self.sid: Any = None
        self.dir = tempfile.mkdtemp(prefix="cns-peer-qf-")
        cfg = os.path.join(self.dir, "qf.cfg")
        with open(cfg, "w") as f:
            f.write(
                f"[DEFAULT]\nConnectionType=initiator\nReconnectInterval=1\nFileStorePath={self.dir}\n"
                "StartTime=00:00:00\nEndTime=00:00:00\nUseDataDictionary=N\nResetOnLogon=Y\n"
                f"[SESSION]\nBeginString=FIX.4.4\nSenderCompID=PEER\nTargetCompID=SINK\nHeartBtInt=30\n"
                f"SocketConnectHost=127.0.0.1\nSocketConnectPort={port}\nSocketNodelay=Y\n"
            )
        self.app = App()
        settings = fix.SessionSettings(cfg)
        self.engine = fix.SocketInitiator(self.app, fix.MemoryStoreFactory(), settings)
        self.engine.start()
        if not self.logged_on.wait(10.0):
            raise RuntimeError("QuickFIX did not log on within 10 s")

    def send(self, symbol: str, side: str, qty: int, price: float, clordid: str) -> None:
        fix = self.fix
        m = fix.Message()
        m.getHeader().setField(fix.MsgType("D"))
        m.setField(fix.ClOrdID(clordid))
        m.setField(fix.Symbol(symbol))
        m.setField(fix.Side(side))
        m.setField(fix.TransactTime())
        m.setField(fix.OrderQty(qty))
        m.setField(fix.OrdType("2"))
        m.setField(fix.Price(round(price, 2)))
        m.setField(fix.TimeInForce("3"))
        fix.Session.sendToTarget(m, self.sid)

    def close(self) -> None:
        self.engine.stop()


class _SocketFix:
    """Plain-socket FIX: Logon, then hand-built NewOrderSingles written with ``sendall``."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), 10.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.seq = 1
        self._send("A", "98=0\x01108=30\x01141=Y\x01")
        self.sock.recv(4096)

    def _send(self, mt: str, body: str) -> None:
        ts = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()) + ".000"
        msg = f"35={mt}\x0149=PEER\x0156=SINK\x0134={self.seq}\x0152={ts}\x01{body}"
        head = f"8=FIX.4.4\x019={len(msg)}\x01{msg}"
        raw = head.encode()
        self.sock.sendall(raw + b"10=%03d\x01" % (sum(raw) % 256))
        self.seq += 1

    def send(self, symbol: str, side: str, qty: int, price: float, clordid: str) -> None:
        ts = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())
        self._send(
            "D",
            f"11={clordid}\x0155={symbol}\x0154={side}\x0160={ts}\x0138={qty}\x0140=2\x01"
            f"44={price:.2f}\x0159=3\x01",
        )

    def close(self) -> None:
        self.sock.close()


class Peer:
    """The per-message decision and the stamps (see the module doc)."""

    def __init__(self, sender: Any, capacity: int) -> None:
        from cns.signals.universe import DEFAULT_SOURCES, default_instruments

        self.cred = {s.domain: s.credibility for s in DEFAULT_SOURCES}
        self.price = {i.ticker: i.price for i in default_instruments()}
        self.sender = sender
        self.clusters: dict[tuple[str, str], tuple[int, set[str], bool]] = {}
        self.seq = np.zeros(capacity, np.int64)
        self.t_read = np.zeros(capacity, np.int64)
        self.t_done = np.zeros(capacity, np.int64)
        self.n = 0
        self.o_seq: list[int] = []
        self.o_read: list[int] = []
        self.o_written: list[int] = []
        self.last_data = time.monotonic()

    def on_message(self, text: str | bytes) -> None:
        t_read = time.monotonic_ns()
        m = json.loads(text)
        if m.get("type") != "data":
            return
        self.last_data = time.monotonic()
        seq0 = int(m["seq"])
        for j, ev in enumerate(m["events"]):
            self.decide(ev, seq0 + j, t_read)
            i = self.n
            if i < len(self.seq):
                self.seq[i] = seq0 + j
                self.t_read[i] = t_read
                self.t_done[i] = time.monotonic_ns()
                self.n = i + 1

    def decide(self, ev: dict[str, Any], seq: int, t_read: int) -> None:
        if ev.get("type") in ("heartbeat", "test") or not ev.get("tickers"):
            return
        src = ev.get("source", "")
        if self.cred.get(src, 0) < 60 or float(ev.get("confidence") or 0.0) < 0.5:
            return
        pub = int(ev.get("publish_ns") or 0)
        ticker = ev["tickers"][0]
        key = (ticker, ev.get("type", ""))
        c = self.clusters.get(key)
        if c is None or pub - c[0] > 2_000_000_000:
            self.clusters[key] = (pub, {src}, False)
            return
        t0, srcs, fired = c
        srcs.add(src)
        if fired or len(srcs) < 2:
            return
        self.clusters[key] = (t0, srcs, True)
        words = ev.get("headline", "").lower().split()
        score = sum(w in _POS for w in words) - sum(w in _NEG for w in words)
        side = "1" if score > 0 else "2"
        ref = self.price.get(ticker, 100.0)
        price = ref * (1.0005 if side == "1" else 0.9995)
        self.sender.send(ticker, side, 100, price, str(seq))
        self.o_seq.append(seq)
        self.o_read.append(t_read)
        self.o_written.append(time.monotonic_ns())


async def _run(ws_port: int, peer: Peer, drain_s: float, deadline_s: float) -> None:
    from websockets.asyncio.client import connect

    async with connect(
        f"ws://127.0.0.1:{ws_port}/", max_size=None, compression=None, ping_interval=None
    ) as ws:
        await ws.send('{"type":"hello","feed":0}')
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                msg = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                if peer.n and time.monotonic() - peer.last_data > drain_s:
                    break
                continue
            peer.on_message(msg)
            if peer.n and time.monotonic() - peer.last_data > drain_s:
                break


def main(argv: list[str] | None = None) -> int:
    """Run the peer process: read the feed at ``--ws-port``, send orders over FIX to ``--fix-port``, write the
    per-event stamps to ``--out``; prints ``ready``/``done`` JSON lines and returns the exit status 0.
    """
    p = argparse.ArgumentParser(prog="python -m cns.bench.live_peer")
    p.add_argument("--ws-port", type=int, required=True)
    p.add_argument("--fix-port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--capacity", type=int, default=1 << 22)
    p.add_argument("--drain", type=float, default=2.0)
    p.add_argument("--deadline", type=float, default=60.0)
    p.add_argument("--cpu", type=int, default=None)
    p.add_argument("--realtime", type=int, default=0, help="SCHED_FIFO priority (0: normal scheduling)")
    p.add_argument("--socket-fix", action="store_true", help="plain-socket FIX even if QuickFIX is installed")
    a = p.parse_args(argv)
    if a.cpu is not None:
        os.sched_setaffinity(0, {a.cpu})
    try:
        if a.socket_fix:
            raise ImportError
        sender: Any = _QuickFix(a.fix_port)
        kind = "quickfix"
    except ImportError:
        sender, kind = _SocketFix(a.fix_port), "socket"
    if a.realtime:  # this thread only (as the shard's event-loop thread); QuickFIX's own threads keep theirs
        from cns.serve.loadgen import realtime

        realtime(a.realtime)
    peer = Peer(sender, a.capacity)
    print(json.dumps({"ready": True, "fix": kind}), flush=True)
    asyncio.run(_run(a.ws_port, peer, a.drain, a.deadline))
    np.savez(
        a.out,
        seq=peer.seq[: peer.n],
        t_read=peer.t_read[: peer.n],
        t_done=peer.t_done[: peer.n],
        o_seq=np.asarray(peer.o_seq, np.int64),
        o_read=np.asarray(peer.o_read, np.int64),
        o_written=np.asarray(peer.o_written, np.int64),
    )
    print(json.dumps({"done": True, "fix": kind, "events": peer.n, "orders": len(peer.o_seq)}), flush=True)
    sender.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
