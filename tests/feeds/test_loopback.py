"""End to end over loopback: a FeedServer replays a small generated file, a FeedHandler receives it.

Every test binds 127.0.0.1 on OS-chosen ports and is bounded in time (asyncio.wait_for + pytest-timeout)."""

from __future__ import annotations

import asyncio

import msgspec
import numpy as np
import pytest

from cns.feeds import FeedServer
from cns.feeds.protocol import DATA, FrameDecoder, encode_frame
from cns.news.binary import RECORD_SIZE

from .conftest import assert_same_content, concat, load, port_of, server_for, start_handler

pytestmark = pytest.mark.timeout(30)

TRANSPORTS = ["tcp", "ws"]


@pytest.mark.parametrize("fmt", ["jsonl", "binary"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_record_in_order_with_the_file_content(news_files, transport, fmt):
    want = load(news_files[fmt])

    async def main():
        srv = server_for(want, speed=None, wait_clients=1)
        await srv.start()
        h = start_handler(port_of(srv, transport), transport, batch_max=128)
        try:
            await h.run_until(lambda: h.received >= len(want))
        finally:
            h.stop()
            await srv.stop()
        return h

    h = asyncio.run(main())
    assert np.array_equal(h.seqs(), np.arange(1, len(want) + 1, dtype=np.uint64))
    assert_same_content(concat(h.batches), want)
    st = h.stats
    assert st.last_seq == len(want) and st.events_delivered == len(want)
    assert st.duplicates == 0 and st.gaps_detected == 0 and st.quarantined == {}
    assert st.batches_delivered == len(h.batches) and max(len(b) for b in h.batches) <= 128
    assert all(b.recv_ns > 0 and b.sent_ns > 0 for b in h.batches)
    assert h.kinds()[:2] == ["connected", "live"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_real_time_pacing_and_receive_stamp(news, transport):
    """At 10x, the 2 s of generated news take about 0.2 s; records are stamped with our receive time."""

    async def main():
        srv = server_for(news, speed=10.0, wait_clients=1)
        await srv.start()
        h = start_handler(port_of(srv, transport), transport, stamp_receive_ns=True)
        loop = asyncio.get_running_loop()
        try:
            t0 = loop.time()
            await h.run_until(lambda: h.received >= len(news))
            took = loop.time() - t0
        finally:
            h.stop()
            await srv.stop()
        return h, took

    import time

    before = time.time_ns()
    h, took = asyncio.run(main())
    span = (int(news.records["receive_ns"].max()) - int(news.records["receive_ns"].min())) / 1e9
    assert span / 10 * 0.7 <= took <= span / 10 + 3.0
    spread = (h.batches[-1].recv_ns - h.batches[0].recv_ns) / 1e9
    assert spread >= span / 10 * 0.5  # delivered as it arrives, not in one lump at the end
    rec = np.concatenate([b.news.records["receive_ns"] for b in h.batches])
    assert rec.min() >= before and rec.max() <= time.time_ns()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dropped_frame_is_detected_and_filled_by_replay(news, transport):
    async def main():
        srv = server_for(news, speed=None, wait_clients=1)
        dropped = []

        def hook(kind, seq, frame):
            if seq == 151 and not dropped:
                dropped.append(seq)
                return None
            return frame

        srv.on_frame = hook
        await srv.start()
        h = start_handler(port_of(srv, transport), transport)
        try:
            await h.run_until(lambda: h.received >= len(news))
        finally:
            h.stop()
            await srv.stop()
        return h, dropped

    h, dropped = asyncio.run(main())
    assert dropped == [151]
    assert np.array_equal(h.seqs(), np.arange(1, len(news) + 1, dtype=np.uint64))
    st = h.stats
    assert st.gaps_detected == 1 and st.gaps_filled == 1 and st.gaps_lost == 0 and st.lost_records == 0
    assert st.replay_requests >= 1
    assert_same_content(concat(h.batches), news)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dropped_last_frame_is_found_by_the_heartbeat(news, transport):
    async def main():
        srv = server_for(news, speed=None, wait_clients=1)
        last = len(news) - (len(news) - 1) % 50  # first seq of the last frame
        srv.on_frame = lambda kind, seq, frame: None if seq == last else frame
        await srv.start()
        h = start_handler(port_of(srv, transport), transport)
        try:
            await h.run_until(lambda: h.received >= len(news))
        finally:
            h.stop()
            await srv.stop()
        return h

    h = asyncio.run(main())
    assert np.array_equal(h.seqs(), np.arange(1, len(news) + 1, dtype=np.uint64))
    assert h.stats.gaps_detected == 1 and h.stats.gaps_filled == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_reconnect_after_server_crash_resumes_without_loss_or_duplicates(news, transport):
    async def main():
        srv = server_for(news, speed=4.0, wait_clients=1)
        await srv.start()
        port = port_of(srv, transport)
        h = start_handler(port, transport)
        try:
            await h.run_until(lambda: h.received >= 100)
            await srv.abort()  # crash: connections reset, no BYE
            await h.run_until(lambda: not h.stats.connected)
            await h.run_for(0.15)  # a few refused reconnects, with growing delays
            ports = {"port": port} if transport == "tcp" else {"port": 0, "ws_port": port}
            srv2 = server_for(news, speed=None, **ports)  # the restarted vendor: everything is in its buffer
            await srv2.start()
            try:
                await h.run_until(lambda: h.received >= len(news) and h.stats.connected, 10)
            finally:
                await srv2.stop()
        finally:
            h.stop()
        return h

    h = asyncio.run(main())
    assert np.array_equal(h.seqs(), np.arange(1, len(news) + 1, dtype=np.uint64))  # none lost, none twice
    st = h.stats
    assert st.reconnects >= 1 and st.connects >= 2 and st.lost_records == 0
    assert st.catchups >= 1
    assert "disconnected" in h.kinds()
    assert_same_content(concat(h.batches), news)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stale_feed_pauses_and_data_resumes_it(news, transport):
    async def main():
        srv = server_for(news, speed=1.0, wait_clients=1, heartbeat_s=0.03)
        await srv.start()
        h = start_handler(port_of(srv, transport), transport, stale_after_s=0.25)
        try:
            await h.run_until(lambda: h.received >= 20)
            assert not h.stats.paused
            srv.pause()  # no data, heartbeats still on: alive
            await h.run_for(0.05)
            n0 = h.received
            await h.run_for(0.5)
            assert not h.stats.paused and h.received == n0
            srv.heartbeats = False  # now silent: the watchdog trips
            await h.run_until(lambda: h.stats.paused, 2)
            assert h.kinds().count("stale") == 1 and h.stats.stale_trips == 1
            assert h.stats.staleness_s >= 0.25
            srv.heartbeats = True
            srv.resume()  # data again: live
            await h.run_until(lambda: not h.stats.paused and h.received > n0, 3)
        finally:
            h.stop()
            await srv.stop()
        return h

    h = asyncio.run(main())
    kinds = h.kinds()
    assert kinds.index("stale") < len(kinds) - 1 - kinds[::-1].index("live")  # live again after stale
    assert h.stats.connects == 1  # a stale feed is not a dead connection


def _mutate_first_record_confidence(frame: bytes) -> bytes:
    f = FrameDecoder().feed(frame)[0]
    payload = bytearray(f.payload)
    payload[64:72] = np.array([np.nan]).tobytes()  # confidence of record 0 (docs/news-binary.md offset 64)
    return encode_frame(
        DATA,
        feed_id=f.feed_id,
        seq=f.seq,
        count=f.count,
        flags=f.flags,
        sent_ns=f.sent_ns,
        payload=bytes(payload),
    )


def test_malformed_tcp_frames_are_quarantined_and_the_feed_recovers(news):
    async def main():
        srv = server_for(news, speed=None, wait_clients=1)
        srv.on_frame = lambda kind, seq, frame: (
            _mutate_first_record_confidence(frame) if seq == 101 else frame
        )
        srv.pause()
        await srv.start()
        h = start_handler(port_of(srv, "tcp"), "tcp", max_frame_bytes=1 << 20)
        try:
            await h.run_until(lambda: h.stats.frames >= 1 and srv.live_clients == 1)  # WELCOME in
            good = encode_frame(DATA, feed_id=1, seq=10**9, count=1, payload=bytes(RECORD_SIZE))
            bad_crc = bytearray(good)
            bad_crc[-1] ^= 0xFF
            assert srv.inject("tcp", bytes(bad_crc)) == 1  # skipped, the connection survives
            await h.run_until(lambda: h.stats.quarantined.get("frame_crc") == 1)
            assert h.stats.connects == 1 and h.stats.connected
            huge = bytearray(encode_frame(DATA, feed_id=1, seq=1, count=1, payload=bytes(RECORD_SIZE)))
            huge[32:36] = (2**31).to_bytes(4, "little")  # payload_len, header CRC recomputed below
            import struct
            import zlib

            struct.pack_into("<I", huge, 44, zlib.crc32(bytes(huge[:44])))
            srv.inject("tcp", bytes(huge))  # refused before allocation: fatal, reconnect
            await h.run_until(
                lambda: (
                    h.stats.quarantined.get("frame_too_large") == 1
                    and h.stats.connects >= 2
                    and srv.live_clients == 1
                )
            )
            srv.inject("tcp", b"\x00garbage that is not a frame at all, at least 48 bytes long........")
            await h.run_until(
                lambda: (
                    h.stats.quarantined.get("frame_magic") == 1
                    and h.stats.connects >= 3
                    and srv.live_clients == 1
                )
            )
            srv.resume()
            await h.run_until(lambda: h.stats.last_seq >= len(news))
        finally:
            h.stop()
            await srv.stop()
        return h

    h = asyncio.run(main())
    want = np.setdiff1d(np.arange(1, len(news) + 1, dtype=np.uint64), [101])
    assert np.array_equal(
        h.seqs(), want
    )  # the NaN record quarantined, its number consumed, nothing else missing
    q = h.stats.quarantined
    assert q.get("confidence_range") == 1 and q.get("frame_crc") == 1
    assert h.stats.lost_records == 0 and h.stats.gaps_lost == 0


def test_truncated_frame_on_tcp_forces_a_clean_reconnect(news):
    async def main():
        srv = server_for(news, speed=None, wait_clients=1)
        srv.pause()
        await srv.start()
        h = start_handler(port_of(srv, "tcp"), "tcp")
        try:
            await h.run_until(lambda: h.stats.frames >= 1 and srv.live_clients == 1)
            whole = encode_frame(DATA, feed_id=1, seq=1, count=2, payload=bytes(2 * RECORD_SIZE))
            srv.inject("tcp", whole[: len(whole) // 2])  # the rest never comes: what follows is misread
            srv.resume()
            await h.run_until(lambda: h.stats.last_seq >= len(news), 10)
        finally:
            h.stop()
            await srv.stop()
        return h

    h = asyncio.run(main())
    assert np.array_equal(h.seqs(), np.arange(1, len(news) + 1, dtype=np.uint64))
    q = h.stats.quarantined
    assert sum(q.values()) >= 1 and set(q) <= {
        "frame_crc",
        "frame_magic",
        "frame_header_crc",
        "frame_too_large",
        "frame_truncated",
        "frame_layout",
        "frame_version",
    }


def test_malformed_ws_messages_are_quarantined_and_the_feed_recovers(news):
    def bad_event(kind, seq, frame):
        if seq == 201:  # replace the first event with one missing its required keys
            msg = msgspec.json.decode(frame)
            msg["events"][0] = {"id": 5}
            return msgspec.json.encode(msg)
        return frame

    async def main():
        srv = server_for(news, speed=None, wait_clients=1)
        srv.on_frame = bad_event
        srv.pause()
        await srv.start()
        h = start_handler(port_of(srv, "ws"), "ws", max_frame_bytes=1 << 16)
        try:
            await h.run_until(lambda: h.stats.frames >= 1 and srv.live_clients == 1)
            for raw in (
                b"this is not json",
                b'{"type":"data","feed":1,"seq":1000000,"events":[{"confidence":NaN}]}',
                b'{"type":"gossip","feed":1}',
                b'{"type":"heartbeat"}',
                b'{"type":"heartbeat","feed":1,"seq":-4}',
                b"[1,2,3]",
            ):
                srv.inject("ws", raw)
            await h.run_until(lambda: sum(h.stats.quarantined.values()) >= 6)
            assert h.stats.connects == 1 and h.stats.connected  # all skipped, the connection survives
            srv.inject("ws", b'{"type":"heartbeat","feed":1,"seq":0,"pad":"' + b"x" * (1 << 17) + b'"}')
            await h.run_until(
                lambda: h.stats.connects >= 2 and srv.live_clients == 1, 5
            )  # over max_size: reconnect
            srv.resume()
            await h.run_until(lambda: h.stats.last_seq >= len(news))
        finally:
            h.stop()
            await srv.stop()
        return h

    h = asyncio.run(main())
    q = h.stats.quarantined
    assert q.get("frame_json") == 2 and q.get("frame_type") == 1 and q.get("frame_schema") == 3
    assert q.get("missing_field") == 1 and q.get("frame_too_large") == 1
    want = np.setdiff1d(np.arange(1, len(news) + 1, dtype=np.uint64), [201])
    assert np.array_equal(h.seqs(), want)


def test_supervised_handler_restarts_and_resumes_after_its_last_sequence(news):
    from cns.feeds import FeedConfig, FeedStats, feed_child_spec
    from cns.otp import Supervisor, SupFlags, which_children
    from cns.runtime import Node

    async def main():
        srv = server_for(news, speed=4.0, wait_clients=1)
        await srv.start()
        node = Node()
        got, stats = [], FeedStats()
        cfg = FeedConfig("sup", srv.port, start_seq=1, seed=1, backoff_base_s=0.02, stamp_receive_ns=False)
        sup = Supervisor.start_link(
            node, SupFlags("one_for_one", 3, 5.0), [feed_child_spec(cfg, got.append, stats=stats)]
        )
        try:
            await asyncio.wait_for(node.run_async(until=lambda: sum(map(len, got)) >= 100), 5)
            (child,) = which_children(node, sup)
            node.exit(child.pid, "kill")  # the handler dies without terminate; its supervisor restarts it
            await asyncio.wait_for(node.run_async(until=lambda: sum(map(len, got)) >= len(news)), 10)
            (child2,) = which_children(node, sup)
            assert child2.pid is not child.pid
        finally:
            node.shutdown()
            await srv.stop()
        return got, stats

    got, stats = asyncio.run(main())
    seqs = np.concatenate([b.seqs for b in got])
    assert np.array_equal(seqs, np.arange(1, len(news) + 1, dtype=np.uint64))
    assert stats.connects >= 2


def test_server_refuses_empty_news_and_bad_options(news):
    from cns.feeds import FeedConfigError
    from cns.news import NewsBatch

    empty = NewsBatch(news.records[:0], news.headlines, news.sources, news.tickers, news.data_sources)
    with pytest.raises(FeedConfigError, match="empty"):
        FeedServer(empty)
    for kw in (
        {"speed": 0},
        {"speed": -1.0},
        {"frame_records": 0},
        {"heartbeat_s": 0},
        {"port": 70000},
        {"feed_id": 0},
    ):
        with pytest.raises(FeedConfigError):
            FeedServer(news, **kw)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_duplicate_frames_are_dropped_and_counted(news, transport):
    async def main():
        srv = server_for(news, speed=None, wait_clients=1)
        saved = {}

        def hook(kind, seq, frame):
            if seq == 51:
                saved["frame"] = frame
                if kind == "tcp":
                    return frame + frame  # the same frame twice in a row
            return frame

        srv.on_frame = hook
        await srv.start()
        h = start_handler(port_of(srv, transport), transport)
        try:
            await h.run_until(lambda: h.received >= len(news))
            srv.inject(transport, saved["frame"])  # and once more, long after
            await h.run_until(lambda: h.stats.duplicates >= (100 if transport == "tcp" else 50))
            await h.run_for(0.1)
        finally:
            h.stop()
            await srv.stop()
        return h

    h = asyncio.run(main())
    assert np.array_equal(h.seqs(), np.arange(1, len(news) + 1, dtype=np.uint64))
    assert h.stats.duplicates == (100 if transport == "tcp" else 50) and h.stats.gaps_detected == 0
