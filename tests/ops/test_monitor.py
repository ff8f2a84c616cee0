"""``cns monitor``: headless with textual's pilot against a fake endpoint (panels filled, kill switch and feed
pause behind a confirmation), and in a real terminal under tmux (capture-pane shows the dashboard)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

from cns.ops.monitor import HttpClient, MonitorApp, parse_metrics

from .fake_endpoint import start
from .helpers import TOKEN, need_tool


@pytest.fixture()
def endpoint() -> Any:
    srv, backend = start(TOKEN)
    yield srv, backend
    srv.close()


def test_the_monitor_shows_the_pipeline_and_trips_the_kill_switch_after_confirmation(endpoint: Any) -> None:
    from textual.widgets import DataTable, Static

    srv, backend = endpoint

    async def scenario() -> None:
        app = MonitorApp(HttpClient(srv.url, TOKEN), interval=0.2)
        async with app.run_test(size=(160, 50)) as pilot:
            for _ in range(100):
                await pilot.pause(0.05)
                if len(app.series.throughput) >= 2:
                    break
            assert len(app.series.throughput) >= 2
            tree = str(app.query_one("#tree", Static).render())
            assert "demo:serve" in tree and "demo:validate" in tree and "restarting" in tree
            feeds = app.query_one("#feeds", DataTable)
            assert feeds.row_count == 2 and feeds.get_row_at(0)[0] == "vendor-a"
            pos = app.query_one("#positions", DataTable)
            rows = [pos.get_row_at(i) for i in range(pos.row_count)]
            assert ["AAPL", "300"] in [list(r) for r in rows] and any("1,234.50" in str(r[1]) for r in rows)
            assert "collar" in str(app.query_one("#risk", Static).render())
            assert app.series.throughput[-1] > 0 and app.series.p99["order"][-1] > 0
            # kill switch: k, then n cancels; k, then y engages
            await pilot.press("k")
            await pilot.pause(0.1)
            await pilot.press("n")
            await pilot.pause(0.3)
            assert backend.calls == []
            await pilot.press("k")
            await pilot.pause(0.1)
            await pilot.press("y")
            for _ in range(40):
                await pilot.pause(0.05)
                if backend.calls:
                    break
            assert backend.calls == [("kill_switch", True)]
            # pause the selected feed (second row) after confirmation
            feeds.focus()
            await pilot.press("down")
            await pilot.press("p")
            await pilot.pause(0.1)
            await pilot.press("y")
            for _ in range(40):
                await pilot.pause(0.05)
                if len(backend.calls) == 2:
                    break
            assert backend.calls[-1] == ("pause", "vendor-b")
            await pilot.press("q")

    asyncio.run(asyncio.wait_for(scenario(), 60.0))


def test_parse_metrics_reads_the_exposition(endpoint: Any) -> None:
    srv, _ = endpoint
    s = HttpClient(srv.url).metrics()
    assert s["cns_pipeline_events_total"][0][1] > 0
    assert parse_metrics("# TYPE x counter\nx_total 3\n")["x_total"] == [({}, 3.0)]
    assert HttpClient(srv.url, "wrong").state() is None  # 401: the monitor runs without the control panel


def test_the_monitor_in_a_real_terminal_under_tmux(endpoint: Any, tmp_path: Any) -> None:
    tmux = need_tool("tmux", "tmux")
    srv, _ = endpoint
    session = f"cnsmon{os.getpid()}"
    cns = shutil.which("cns", path=os.path.dirname(sys.executable)) or ""
    cmd = (
        f"{cns} monitor --url {srv.url} --interval 0.3"
        if cns
        else f"{sys.executable} -m cns monitor --url {srv.url} --interval 0.3"
    )
    env = dict(os.environ, CNS_OPS_TOKEN=TOKEN, TERM="xterm-256color")
    sock = ["-S", str(tmp_path / "tmux.sock")]
    subprocess.run(
        [tmux, *sock, "new-session", "-d", "-s", session, "-x", "180", "-y", "50", cmd],
        env=env,
        check=True,
        timeout=20,
    )
    try:
        screen = ""
        deadline = time.monotonic() + 40.0
        while time.monotonic() < deadline:
            time.sleep(0.5)
            r = subprocess.run(
                [tmux, *sock, "capture-pane", "-p", "-t", session], capture_output=True, text=True, timeout=10
            )
            screen = r.stdout
            if "vendor-b" in screen and "AAPL" in screen and "demo:validate" in screen:
                break
        (tmp_path / "screen.txt").write_text(screen)
        assert "cns monitor" in screen, screen
        for text in ("vendor-a", "vendor-b", "AAPL", "demo:validate", "kill switch", "collar", "throughput"):
            assert text in screen, f"{text!r} not on screen:\n{screen}"
        subprocess.run([tmux, *sock, "send-keys", "-t", session, "k"], check=True, timeout=10)
        time.sleep(1.0)
        r = subprocess.run(
            [tmux, *sock, "capture-pane", "-p", "-t", session], capture_output=True, text=True, timeout=10
        )
        assert "ENGAGE the kill switch" in r.stdout, r.stdout
        subprocess.run([tmux, *sock, "send-keys", "-t", session, "n"], check=True, timeout=10)
        subprocess.run([tmux, *sock, "send-keys", "-t", session, "q"], check=True, timeout=10)
    finally:
        subprocess.run([tmux, *sock, "kill-server"], capture_output=True, timeout=10)
