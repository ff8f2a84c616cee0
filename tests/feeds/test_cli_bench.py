"""``cns feed serve`` as a real process (ports, SIGTERM) and the throughput probe for ``cns bench live``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from cns.feeds import FeedThroughput, measure_throughput

from .conftest import start_handler

pytestmark = pytest.mark.timeout(60)


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cns", "feed", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.parametrize("transport", ["tcp", "ws"])
def test_cli_serves_a_file_and_stops_gracefully_on_sigterm(news_files, news, transport):
    proc = _serve(
        "--news",
        str(news_files["binary"]),
        "--speed",
        "max",
        "--port",
        "0",
        "--ws-port",
        "0",
        "--wait-clients",
        "1",
        "--heartbeat",
        "0.05",
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening" in line, line + (proc.stderr.read() if proc.stderr else "")
        kv = dict(p.split("=", 1) for p in line.split() if "=" in p)
        assert kv["host"] == "127.0.0.1" and int(kv["records"]) == len(news)
        port = int(kv["tcp_port" if transport == "tcp" else "ws_port"])

        async def main():
            h = start_handler(port, transport)
            try:
                await h.run_until(lambda: h.received >= len(news), 20)
                proc.send_signal(signal.SIGTERM)
                await h.run_until(lambda: not h.stats.connected, 10)  # BYE, then the server is gone
            finally:
                h.stop()
            return h

        h = asyncio.run(main())
        assert np.array_equal(h.seqs(), np.arange(1, len(news) + 1, dtype=np.uint64))
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "playback done" in out and "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_refuses_bad_input(tmp_path):
    p = _serve("--news", str(tmp_path / "missing.jsonl"), "--port", "0")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "error" in err
    bad = tmp_path / "x.jsonl"
    bad.write_text("")
    p = _serve("--news", str(bad), "--speed", "fast", "--port", "0")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "--speed" in err
    p = _serve("--news", str(bad), "--port", "0")  # nothing to serve
    _, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "empty" in err


def test_cli_refuses_a_taken_port(news_files):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        p = _serve("--news", str(news_files["jsonl"]), "--port", str(s.getsockname()[1]))
        _, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "cannot listen" in err


@pytest.mark.smoke
@pytest.mark.parametrize("transport", ["tcp", "ws"])
def test_throughput_probe_counts_every_record(transport):
    r = measure_throughput(3000, transport=transport, frame_records=256, batch_max=1024)
    assert isinstance(r, FeedThroughput)
    assert r.records == 3000 and r.records_per_s > 0 and r.wire_mb_per_s > 0 and r.batches >= 3
    assert transport in r.summary()
