"""Load tools for ``cns bench live`` (and anyone measuring a live feed consumer): an open-loop news
generator speaking the CNS feed protocol, and a FIX acceptor that swallows orders.

Both run in their own process (``python -m cns.serve.loadgen gen|sink ...``) so they do not share a core's
time with the system under test.

**Generator** (:func:`generate`; under ``--realtime`` it sleeps to each due time instead of spinning):
serves one client (binary TCP or JSON WebSocket, ``docs/feeds.md``). After
the client's HELLO it answers WELCOME (live edge 0) and waits ``lead_s``; then record ``i`` (0-based, sequence
number ``i + 1``) is *due* at ``t0 + i * interval`` (``t0`` monotonic ns, the clock every process of the host
shares; ``interval = 1e9 / rate``). The loop busy-waits (no ``sleep`` jitter) and sends, in one frame, every
record due and not yet sent (at most ``frame_records``); so at low rates each record has its own frame and at
high rates frames grow as the schedule demands -- never ahead of it. A consumer that does not keep up makes
the sends block: the schedule does *not* move (open loop), and whatever was not sent by ``t0 + seconds`` is
reported as ``not_sent``. Records come from a pool (a ``.cnsb`` file) cycled as needed, with ``id`` set to
the sequence number and the times shifted by the pool's span per cycle (so ``news_id`` of an order names
the record's sequence number, and news time never goes backwards). After the run it sends heartbeats every
0.5 s until the client closes (at most ``linger_s``). Stdout: ``port=N`` when listening, then -- as soon as
the schedule ends -- one JSON line: ``t0_ns``, ``interval_ns``, ``planned``, ``sent``, ``not_sent`` and the
generator's own lateness (send time of a frame minus the due time of its last record: p50/p99/max ns).

**FIX sink** (:func:`fix_sink`): a FIX 4.4 acceptor for any CompID pair: answers Logon (echoing
ResetSeqNumFlag and HeartBtInt), TestRequest, Logout and OrderMassCancelRequest (an OrderMassCancelReport, no
order affected); counts every other application message by type; sends nothing else (no execution
reports: the measured path ends when the order's bytes are written). Prints ``port=N`` when listening and a
JSON line of counts when stopped (SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import selectors
import signal
import socket
import sys
import time
from typing import Any

import numpy as np

__all__ = ["fix_sink", "generate", "main", "realtime"]


def _pool(path: str) -> Any:
    from cns.feeds.server import FeedSource
    from cns.news.formats import read_news

    return FeedSource(read_news(path, sentiment=False))


def _lateness(a: list[int]) -> dict[str, float]:
    if not a:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    x = np.asarray(a, np.int64)
    return {"p50": float(np.percentile(x, 50)), "p99": float(np.percentile(x, 99)), "max": float(x.max())}


class _Cutter:
    """Frames of records ``i .. j-1`` (0-based stream positions) cut from the cycled pool."""

    def __init__(self, src: Any) -> None:
        self.src = src
        self.n = len(src)
        w = src.wire
        self.span = int(w["publish_ns"].max() - w["publish_ns"].min()) + 1_000_000_000

    def chunks(self, i: int, j: int) -> list[tuple[int, int, int]]:
        """``(stream start, pool start, count)`` pieces of ``[i, j)`` that do not wrap the pool."""
        out = []
        while i < j:
            k = i % self.n
            m = min(j - i, self.n - k)
            out.append((i, k, m))
            i += m
        return out

    def binary(self, i: int, j: int, feed_id: int) -> bytes:
        from cns.feeds.protocol import encode_data_frame
        from cns.news.binary import WIRE_DTYPE

        parts = []
        for s, k, m in self.chunks(i, j):
            src = self.src
            base = int(src.starts[k])
            recs = np.empty(m, WIRE_DTYPE)
            recs.view(np.uint8)[:] = src.wire[k : k + m].view(np.uint8)
            if base:
                recs["headline_off"] -= np.uint64(base)
            recs["id"] = np.arange(s + 1, s + m + 1, dtype=np.uint64)
            shift = (s // self.n) * self.span
            if shift:
                for f in ("publish_ns", "receive_ns", "event_ns"):
                    recs[f] += shift
            parts.append(
                encode_data_frame(
                    recs,
                    src.blob[base : int(src.ends[k + m - 1])],
                    feed_id=feed_id,
                    seq=s + 1,
                    sent_ns=time.time_ns(),
                )
            )
        return b"".join(parts)

    def json(self, i: int, j: int, feed_id: int) -> list[bytes]:
        from cns.feeds.protocol import DATA
        from cns.feeds.protocol_json import encode_ws_message

        lines = self.src.json_lines()
        return [
            encode_ws_message(
                DATA, feed_id=feed_id, seq=s + 1, sent_ns=time.time_ns(), events=lines[k : k + m]
            )
            for s, k, m in self.chunks(i, j)
        ]


def _schedule(
    send: Any, cutter: _Cutter, rate: float, seconds: float, frame_records: int, lead_s: float
) -> dict[str, Any]:
    # under SCHED_FIFO a sleep has no timer slack and wakes within a few µs: sleep up to the due time instead of
    # spinning (a spinning real-time task would starve its core and trip the kernel's real-time throttling);
    # under normal scheduling a sleep can overshoot by 50 µs or more: spin for the last 2 ms
    import os

    rt = hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) == getattr(os, "SCHED_FIFO", -1)
    spin_ns = 20_000 if rt else 2_000_000
    interval = 1e9 / rate
    planned = int(rate * seconds)
    t0 = time.monotonic_ns() + int(lead_s * 1e9)
    end = t0 + int(seconds * 1e9) + 50_000_000  # records due by the end are "late", not "not sent", for 50 ms
    late: list[int] = []
    i = 0
    mono = time.monotonic_ns
    while i < planned:
        now = mono()
        if now >= end:
            break
        due = min(planned, int((now - t0) // interval) + 1) if now >= t0 else 0
        if due <= i:
            gap = t0 + i * interval - now
            if gap > spin_ns:
                time.sleep((gap - spin_ns // 2) / 1e9)
            continue
        j = min(due, i + frame_records)
        send(i, j)
        late.append(mono() - int(t0 + (j - 1) * interval))
        i = j
    return {
        "t0_ns": t0,
        "interval_ns": interval,
        "planned": planned,
        "sent": i,
        "not_sent": planned - i,
        "frames": len(late),
        "lateness_ns": _lateness(late),
        "rate": rate,
        "seconds": seconds,
    }


def generate(
    pool: str,
    *,
    transport: str = "tcp",
    rate: float = 15_200.0,
    seconds: float = 4.0,
    frame_records: int = 1024,
    lead_s: float = 0.3,
    linger_s: float = 30.0,
    feed_id: int = 1,
    port: int = 0,
    out: Any = None,
) -> dict[str, Any]:
    """Run the generator (see the module doc) for one client; returns (and prints) its report."""
    from cns.feeds.protocol import HEARTBEAT, HELLO, WELCOME, FrameDecoder, encode_frame

    out = out or sys.stdout
    cutter = _Cutter(_pool(pool))
    if transport == "tcp":
        lsock = socket.create_server(("127.0.0.1", port))
        print(f"port={lsock.getsockname()[1]}", file=out, flush=True)
        conn, _ = lsock.accept()
        lsock.close()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        dec = FrameDecoder(0)
        while not any(getattr(f, "type", 0) == HELLO for f in dec.feed(conn.recv(4096))):
            pass
        conn.sendall(encode_frame(WELCOME, feed_id=feed_id, seq=0, payload=cutter.src.welcome_payload))
        rep = _schedule(
            lambda i, j: conn.sendall(cutter.binary(i, j, feed_id)),
            cutter,
            rate,
            seconds,
            frame_records,
            lead_s,
        )
        print(json.dumps(rep), file=out, flush=True)
        conn.settimeout(0.5)
        deadline = time.monotonic() + linger_s
        while time.monotonic() < deadline:
            try:
                conn.sendall(
                    encode_frame(HEARTBEAT, feed_id=feed_id, seq=rep["sent"], sent_ns=time.time_ns())
                )
                if conn.recv(65536) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        conn.close()
    else:
        rep = _serve_ws(cutter, rate, seconds, frame_records, lead_s, linger_s, feed_id, port, out)
    return rep


def _serve_ws(
    cutter: _Cutter,
    rate: float,
    seconds: float,
    frame_records: int,
    lead_s: float,
    linger_s: float,
    feed_id: int,
    port: int,
    out: Any,
) -> dict[str, Any]:
    """The WebSocket side on a blocking socket with websockets' sans-I/O protocol: one thread, no event loop,
    so the busy-wait schedule is the only thing this process runs."""
    from websockets.frames import Opcode
    from websockets.http11 import Request
    from websockets.server import ServerProtocol

    from cns.feeds.protocol import HEARTBEAT, WELCOME
    from cns.feeds.protocol_json import encode_ws_message

    lsock = socket.create_server(("127.0.0.1", port))
    print(f"port={lsock.getsockname()[1]}", file=out, flush=True)
    conn, _ = lsock.accept()
    lsock.close()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    proto = ServerProtocol(max_size=None)

    def flush() -> None:
        for d in proto.data_to_send():
            if d:
                conn.sendall(d)

    hello = False
    while not hello:
        data = conn.recv(65536)
        if not data:
            raise OSError("the client left before its hello")
        proto.receive_data(data)
        for ev in proto.events_received():
            if isinstance(ev, Request):
                proto.send_response(proto.accept(ev))
            elif getattr(ev, "opcode", None) == Opcode.TEXT:
                hello = True
        flush()
    proto.send_text(encode_ws_message(WELCOME, feed_id=feed_id, seq=0))
    flush()

    def send(i: int, j: int) -> None:
        for m in cutter.json(i, j, feed_id):
            proto.send_text(m)
        flush()

    rep = _schedule(send, cutter, rate, seconds, frame_records, lead_s)
    print(json.dumps(rep), file=out, flush=True)
    conn.settimeout(0.5)
    deadline = time.monotonic() + linger_s
    while time.monotonic() < deadline:
        try:
            proto.send_text(
                encode_ws_message(HEARTBEAT, feed_id=feed_id, seq=rep["sent"], sent_ns=time.time_ns())
            )
            flush()
            if conn.recv(65536) == b"":
                break
        except TimeoutError:
            continue
        except OSError:
            break
    conn.close()
    return rep


def fix_sink(port: int = 0, out: Any = None) -> dict[str, int]:
    """Run the FIX sink (see the module doc) until SIGTERM/SIGINT; returns the counts by MsgType."""
    from cns.fix import spec as S
    from cns.fix.codec import FixCodec, FixFrameReader

    out = out or sys.stdout
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__(0, True))
    lsock = socket.create_server(("127.0.0.1", port))
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    counts: dict[str, int] = {}
    conns: dict[socket.socket, dict[str, Any]] = {}
    print(f"port={lsock.getsockname()[1]}", file=out, flush=True)
    while not stop[0]:
        for key, _ in sel.select(0.2):
            s = key.fileobj
            if s is lsock:
                c, _ = lsock.accept()
                c.setblocking(True)
                sel.register(c, selectors.EVENT_READ)
                conns[c] = {"reader": FixFrameReader(1 << 20), "codec": None, "seq": 1}
                continue
            st = conns[s]  # type: ignore[index]
            try:
                data = s.recv(1 << 20)  # type: ignore[union-attr]
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()  # type: ignore[union-attr]
                conns.pop(s, None)  # type: ignore[call-overload]
                continue
            st["reader"].feed(data)
            for fr in st["reader"].frames():
                if not isinstance(fr, bytes):
                    continue
                mt = fr.split(b"\x0135=", 1)[1].split(b"\x01", 1)[0].decode()
                counts[mt] = counts.get(mt, 0) + 1
                reply = _sink_reply(st, mt, fr, S, FixCodec)
                if reply:
                    s.sendall(reply)  # type: ignore[union-attr]
    for c in list(conns):
        c.close()
    lsock.close()
    print(json.dumps(counts), file=out, flush=True)
    return counts


def _sink_reply(st: dict[str, Any], mt: str, frame: bytes, S: Any, FixCodec: Any) -> bytes:  # noqa: N803
    def field(tag: int) -> str:
        k = frame.find(b"\x01%d=" % tag)
        if k < 0:
            return ""
        v = frame[k + len(b"%d=" % tag) + 1 :]
        return v[: v.find(b"\x01")].decode()

    if mt == S.LOGON:
        st["codec"] = FixCodec(field(56), field(49))
        st["seq"] = 1
        body: list[tuple[int, Any]] = [(98, 0), (108, int(field(108) or 30))]
        if field(141) == "Y":
            body.append((141, True))
    elif mt == S.TEST_REQUEST:
        body = [(112, field(112))]
        mt = S.HEARTBEAT
    elif mt == S.LOGOUT:
        body = []
    elif mt == S.ORDER_MASS_CANCEL_REQUEST:
        body = [(11, field(11)), (37, "SINK"), (530, field(530) or "7"), (531, field(530) or "7"), (533, 0)]
        mt = S.ORDER_MASS_CANCEL_REPORT
    else:
        return b""
    if st["codec"] is None:
        return b""
    raw: bytes = st["codec"].encode(mt, st["seq"], body)
    st["seq"] += 1
    return raw


def realtime(priority: int) -> bool:
    """Run this process under ``SCHED_FIFO`` at ``priority`` (1..99); False when not permitted. A real-time
    process runs as soon as it is runnable instead of waiting for a CFS time slice behind other processes:
    what a trading host does (with isolated cores) and what keeps a shared host's load out of the figures."""
    import os

    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (AttributeError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    """``python -m cns.serve.loadgen gen --pool F --rate R --seconds S [--ws]`` or ``... sink``."""
    p = argparse.ArgumentParser(prog="python -m cns.serve.loadgen")
    sub = p.add_subparsers(dest="what", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--pool", required=True)
    g.add_argument("--rate", type=float, required=True)
    g.add_argument("--seconds", type=float, required=True)
    g.add_argument("--ws", action="store_true")
    g.add_argument("--frame-records", type=int, default=1024)
    g.add_argument("--lead", type=float, default=0.3)
    g.add_argument("--linger", type=float, default=30.0)
    g.add_argument("--cpu", type=int, default=None)
    g.add_argument("--realtime", type=int, default=0, help="SCHED_FIFO priority (0: normal scheduling)")
    k = sub.add_parser("sink")
    k.add_argument("--cpu", type=int, default=None)
    a = p.parse_args(argv)
    if a.cpu is not None:
        import os

        os.sched_setaffinity(0, {a.cpu})
    if getattr(a, "realtime", 0):
        realtime(a.realtime)
    if a.what == "gen":
        generate(
            a.pool,
            transport="ws" if a.ws else "tcp",
            rate=a.rate,
            seconds=a.seconds,
            frame_records=a.frame_records,
            lead_s=a.lead,
            linger_s=a.linger,
        )
    else:
        fix_sink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
