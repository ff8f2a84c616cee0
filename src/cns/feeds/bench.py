"""Feed throughput: records per second from a :class:`FeedServer` at maximum speed to a :class:`FeedHandler`'s
consumer over loopback, for ``cns bench live`` (which reports it) and for quick checks.

The measurement covers the whole path: the server cuts and encodes frames (CRC32 included), the kernel
moves the bytes over loopback, the handler's protocol cuts frames and checks CRCs, the actor decodes the
records in bulk (parse kernel or msgspec), orders them, micro-batches them, recomputes sentiment (when
``sentiment``) and delivers :class:`FeedBatch` objects to a counting callback. ``server="inprocess"`` runs
server and handler in one asyncio loop (one core: the figure is the sum of both sides' costs);
``server="subprocess"`` runs ``cns feed serve --speed max`` in its own process (two cores).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cns.feeds.errors import FeedConfigError, FeedError
from cns.feeds.handler import FeedBatch, FeedConfig, FeedHandler, FeedStats
from cns.feeds.server import FeedServer
from cns.news.batch import NewsBatch

__all__ = ["FeedThroughput", "measure_throughput", "measure_throughput_async"]


@dataclass(frozen=True, slots=True)
class FeedThroughput:
    """One measurement. ``seconds``: from the first record published to the last one delivered (monotonic);
    ``wire_mb_per_s``: bytes read from the socket per second (MB = 1e6 bytes)."""

    transport: str
    server: str
    records: int
    seconds: float
    records_per_s: float
    wire_mb_per_s: float
    batches: int
    frames: int
    frame_records: int
    batch_max: int
    sentiment: bool

    def summary(self) -> str:
        """One line: records, seconds, records/s, MB/s on the wire, batches and frames."""
        return (
            f"{self.transport} ({self.server} server): {self.records} records in {self.seconds:.3f} s = "
            f"{self.records_per_s:,.0f} records/s, {self.wire_mb_per_s:.1f} MB/s on the wire, "
            f"{self.batches} batches, {self.frames} frames of <= {self.frame_records} records"
            f"{', sentiment recomputed' if self.sentiment else ''}"
        )


def _warm_up(news: NewsBatch) -> None:
    """Load the compiled kernels (parse, sentiment) so that JIT/cache loading is not timed."""
    from cns.feeds.protocol import FrameDecoder, code_maps, decode_binary_records
    from cns.feeds.server import FeedSource
    from cns.news.batch import new_dictionaries
    from cns.news.sentiment import score_records

    small = NewsBatch(news.records[:16].copy(), news.headlines, news.sources, news.tickers, news.data_sources)
    src = FeedSource(small)
    frame = FrameDecoder().feed(src.data_frame(0, len(src), feed_id=1))[0]
    strings = (news.sources.strings()[1:], news.tickers.strings()[1:], news.data_sources.strings()[1:])
    d = decode_binary_records(frame, code_maps(strings, new_dictionaries(None, None, None)))  # type: ignore[arg-type]
    score_records(d.records, d.blob)


async def measure_throughput_async(
    n_events: int = 200_000,
    *,
    transport: str = "tcp",
    frame_records: int = 1024,
    batch_max: int = 16384,
    sentiment: bool = True,
    server: str = "inprocess",
    seed: int = 1,
    news: NewsBatch | None = None,
    timeout_s: float = 120.0,
) -> FeedThroughput:
    """Measure (see the module doc) with ``n_events`` generated records (or ``news``); must run inside an
    asyncio loop. Timed from the socket read of the first delivered record to the delivery of the last.
    Raises :class:`FeedError` if not every record arrives within ``timeout_s``."""
    if transport not in ("tcp", "ws"):
        raise FeedConfigError(f"measure_throughput transport={transport!r}: must be 'tcp' or 'ws'")
    if server not in ("inprocess", "subprocess"):
        raise FeedConfigError(f"measure_throughput server={server!r}: must be 'inprocess' or 'subprocess'")
    if news is None:
        from cns.market.newsgen import generate_news

        news = generate_news(n_events, max(1.0, n_events / 10_000), seed).batch
    n = len(news)
    _warm_up(news)
    from cns.runtime import Node

    node = Node()
    got = 0
    first_ns = last_ns = 0

    def consume(b: FeedBatch) -> None:
        nonlocal got, first_ns, last_ns
        if not got:
            first_ns = b.recv_ns
        got += len(b)
        last_ns = time.monotonic_ns()

    proc: subprocess.Popen[str] | None = None
    srv: FeedServer | None = None
    tmp = tempfile.TemporaryDirectory(prefix="cns-feed-bench-")
    try:
        if server == "inprocess":
            srv = FeedServer(
                news,
                speed=None,
                wait_clients=1,
                frame_records=frame_records,
                heartbeat_s=1.0,
                ws_port=0 if transport == "ws" else None,
            )
            await srv.start()
            port = srv.port if transport == "tcp" else srv.ws_port
        else:
            from cns.news.binary import write_binary

            path = Path(tmp.name) / "bench.cnsb"
            write_binary(news, path)
            proc, port = await _spawn_server(path, transport, frame_records)
        assert port is not None
        stats = FeedStats()
        cfg = FeedConfig(
            "bench",
            port,
            transport=transport,
            start_seq=1,
            batch_max=batch_max,
            sentiment=sentiment,
            stamp_receive_ns=True,
            stale_after_s=30.0,
            replay_timeout_s=30.0,
            seed=seed,
        )
        FeedHandler.start_feed(node, cfg, consume, stats=stats, link=False)
        await asyncio.wait_for(node.run_async(until=lambda: got >= n), timeout_s)
    except TimeoutError:
        raise FeedError(f"measure_throughput: {got} of {n} records arrived within {timeout_s} s") from None
    finally:
        node.shutdown()
        if srv is not None:
            await srv.stop()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        tmp.cleanup()
    secs = max(1e-9, (last_ns - first_ns) / 1e9)
    return FeedThroughput(
        transport,
        server,
        got,
        secs,
        got / secs,
        stats.bytes_received / secs / 1e6,
        stats.batches_delivered,
        stats.frames,
        frame_records,
        batch_max,
        sentiment,
    )


async def _spawn_server(path: Path, transport: str, frame_records: int) -> tuple[subprocess.Popen[str], int]:
    """Start ``cns feed serve --speed max`` on OS-chosen ports; returns the process and the port to use."""
    cmd = [
        sys.executable,
        "-m",
        "cns",
        "feed",
        "serve",
        "--news",
        str(path),
        "--speed",
        "max",
        "--port",
        "0",
        "--wait-clients",
        "1",
        "--frame-records",
        str(frame_records),
    ]
    if transport == "ws":
        cmd += ["--ws-port", "0"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(
        asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline), 60.0
    )
    ports = dict(part.split("=", 1) for part in line.split() if "=" in part)
    if "tcp_port" not in ports:
        proc.kill()
        raise FeedError(
            f"measure_throughput: the server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    return proc, int(ports["ws_port" if transport == "ws" else "tcp_port"])


def measure_throughput(n_events: int = 200_000, **kw: object) -> FeedThroughput:
    """:func:`measure_throughput_async` in a fresh asyncio loop (call it from plain Python)."""
    return asyncio.run(measure_throughput_async(n_events, **kw))  # type: ignore[arg-type]
