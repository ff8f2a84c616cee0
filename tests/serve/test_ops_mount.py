"""`cns serve --ops-port`: the shard's metrics and control API are served for its whole life."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import pytest

from cns.feeds import FeedServer
from cns.serve.config import serve_config_from_dict
from cns.serve.service import Service

from .helpers import run, serve_dict, until, venue_news

pytest.importorskip("prometheus_client", reason="prometheus-client (the [ops] extra) is not installed")


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5.0) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def test_serve_exposes_metrics_and_refuses_unauthenticated_control(monkeypatch: pytest.MonkeyPatch) -> None:
    from cns.serve.cli import run_service

    monkeypatch.setenv("CNS_OPS_TOKEN", "s3cret-test-token")

    async def scenario() -> None:
        srv = FeedServer(venue_news(2000, 20.0), speed=5.0, heartbeat_s=0.2, wait_clients=1)
        await srv.start()
        cfg = serve_config_from_dict(serve_dict(srv.port, shard="opsmount"))
        svcs: list[Service] = []

        async def body() -> tuple[int, dict]:
            task = asyncio.get_running_loop().create_task(
                run_service(cfg, announce=False, started=svcs.append, ops_port=0, seconds=30.0)
            )
            await until(lambda: svcs, 60.0, "the service")
            port = svcs[0].ops_port  # type: ignore[attr-defined]
            loop = asyncio.get_running_loop()
            status, text = await loop.run_in_executor(None, _get, f"http://127.0.0.1:{port}/metrics")
            assert status == 200 and "cns_runtime_processes" in text and "cns_feed_last_sequence" in text
            status, _ = await loop.run_in_executor(None, _get, f"http://127.0.0.1:{port}/control/state")
            assert status == 401
            status, text = await loop.run_in_executor(
                None, _get, f"http://127.0.0.1:{port}/control/state", "s3cret-test-token"
            )
            assert status == 200 and "opsmount" in text
            task.cancel()
            return 0, {}

        try:
            await body()
        finally:
            await srv.stop()

    run(scenario(), 120.0)
