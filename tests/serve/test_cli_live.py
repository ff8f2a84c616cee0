"""``cns serve`` and ``cns demo live`` as processes: SIGTERM stops gracefully (mass cancel, Logout, exit 0);
an unreachable FIX peer is one line and exit 2; the demo trades and exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cns.feeds import FeedServer
from cns.fix.transport import loop_call
from cns.runtime import Node

from .helpers import free_port, run, serve_dict, venue_config, venue_news


def _toml(d: dict, path: Path) -> Path:  # type: ignore[type-arg]
    """A minimal TOML writer for the test configs (tables, arrays of tables, scalars, lists)."""

    def val(v: object) -> str:
        return json.dumps(v) if not isinstance(v, bool) else ("true" if v else "false")

    lines: list[str] = []
    for key, v in d.items():
        if isinstance(v, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {val(x)}" for k, x in v.items()]
        elif isinstance(v, list):
            for item in v:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {val(x)}" for k, x in item.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def test_sigterm_mass_cancels_logs_out_and_exits_0(tmp_path: Path) -> None:
    from cns.gateway.server import start_venue, stop_venue

    async def scenario() -> None:
        vnode = Node()
        vrun = asyncio.get_running_loop().create_task(vnode.run_async())
        venue = await start_venue(vnode, venue_config())
        srv = FeedServer(venue_news(6000, 60.0), speed=5.0, heartbeat_s=0.5, wait_clients=1)
        await srv.start()
        cfg = _toml(
            serve_dict(srv.port, fix_port=venue.fix_port, md_port=venue.md_port), tmp_path / "serve.toml"
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cns",
            "serve",
            "--config",
            str(cfg),
            "--summary",
            str(tmp_path / "s.json"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=ENV,
        )
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 60.0)).decode()
            assert line.startswith("cns serve: started shard=t"), line
            stats = {}

            async def gateway_orders() -> int:
                nonlocal stats
                stats = await loop_call(vnode, "venue_gateway", "stats", 20.0)  # a loaded host can be slow
                return int(stats["orders"])

            deadline = time.monotonic() + 30
            while await gateway_orders() < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert stats["orders"] >= 3
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 30.0)
            assert proc.returncode == 0, err
            last = out.decode().strip().splitlines()[-1]
            assert last.startswith("cns serve: stopped shard=t"), last
            for token in (
                "mass_cancel_requests=1",
                "mass_cancel_reports=1",
                "open_after=0",
                "logout=logged_out",
            ):
                assert token in last, last
            summary = json.loads((tmp_path / "s.json").read_text())
            assert summary["counters"]["orders_sent"] > 0
            assert (
                "CNSTEST" not in out.decode() + err.decode() and "pw-test" not in out.decode() + err.decode()
            )
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await srv.stop()
            await stop_venue(venue)
            vnode.stop()
            await asyncio.wait_for(vrun, 5.0)

    run(scenario(), 150.0)


def test_cli_unreachable_fix_peer_exits_2_with_one_line(tmp_path: Path) -> None:
    cfg = _toml(serve_dict(free_port(), fix_port=free_port(), connect_timeout_s=1.0), tmp_path / "serve.toml")
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "cns", "serve", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cns serve: error: not up within 1 s:"), r.stderr
    assert "FIX session venue1" in lines[0] and "feed f1" in lines[0]
    assert r.stdout == "" and time.monotonic() - t0 < 60


def test_demo_live_trades_and_exits_0() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "cns", "demo", "live", "--seconds", "5"],
        capture_output=True,
        text=True,
        timeout=180,
        env=ENV,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    for needle in (
        "events in",
        "decisions",
        "orders sent",
        "fills",
        "P&L",
        "feed demo-feed",
        "latency",
        "mass cancel requests 1",
    ):
        assert needle in out, out
