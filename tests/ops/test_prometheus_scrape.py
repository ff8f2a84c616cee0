"""Acceptance: a real Prometheus (Debian package ``prometheus``), started by the test on loopback with a
temporary data directory and a 250 ms scrape interval, scrapes a running serve shard's ops endpoint; the
metrics appear through its HTTP API and the alerting rules load and evaluate."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

from .helpers import http, need_tool, run, shard, until

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "cns-alerts.yml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(base: str, q: str) -> list[dict[str, Any]]:
    try:
        status, body = http(f"{base}/api/v1/query?query={urllib.parse.quote(q)}", timeout=3.0)
    except OSError:  # not listening yet
        return []
    if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
        return []
    return body["data"]["result"]  # type: ignore[no-any-return]


def test_a_real_prometheus_scrapes_the_shard_and_serves_its_metrics(tmp_path: Path) -> None:
    prom = need_tool("prometheus", "prometheus")

    async def scenario() -> dict[str, Any]:
        async with shard(n_news=20_000, seconds=60.0, speed=1.0) as (svc, ops, _):
            await until(lambda: svc.state.counters["events_in"] > 50, 20.0, "events")
            port = _free_port()
            (tmp_path / "cns-alerts.yml").write_text(RULES.read_text())
            (tmp_path / "prometheus.yml").write_text(
                "global:\n  scrape_interval: 250ms\n  scrape_timeout: 250ms\n  evaluation_interval: 250ms\n"
                "rule_files:\n  - cns-alerts.yml\n"
                "scrape_configs:\n  - job_name: cns\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{ops.port}']\n"
            )
            proc = subprocess.Popen(
                [
                    prom,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(tmp_path / "prometheus.log", "wb"),
            )  # noqa: SIM115
            base = f"http://127.0.0.1:{port}"
            try:

                def scraped() -> list[dict[str, Any]]:
                    return _query(base, "cns_pipeline_events_total > 50")

                deadline = time.monotonic() + 40.0
                got: list[dict[str, Any]] = []
                while time.monotonic() < deadline and proc.poll() is None:
                    got = await asyncio.to_thread(scraped)
                    if got:
                        break
                    await asyncio.sleep(0.25)
                assert got, (
                    f"Prometheus never saw the metrics: {(tmp_path / 'prometheus.log').read_text()[-2000:]}"
                )
                await asyncio.sleep(1.0)  # a few more scrapes for rate()
                out = {
                    "events": got,
                    "up": await asyncio.to_thread(_query, base, 'up{job="cns"}'),
                    "feed": await asyncio.to_thread(_query, base, 'cns_feed_last_sequence{feed="f1"}'),
                    "hist": await asyncio.to_thread(_query, base, "cns_stage_latency_seconds_bucket"),
                    "rate": await asyncio.to_thread(_query, base, "rate(cns_pipeline_events_total[2s])"),
                    "sup": await asyncio.to_thread(_query, base, "cns_supervisor_child_up"),
                    "names": await asyncio.to_thread(http, f"{base}/api/v1/label/__name__/values"),
                    "rules": await asyncio.to_thread(http, f"{base}/api/v1/rules"),
                }
                return out
            finally:
                proc.terminate()
                try:
                    proc.wait(10.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5.0)

    out = run(scenario(), 120.0)
    assert float(out["events"][0]["value"][1]) > 50
    assert out["up"] and out["up"][0]["value"][1] == "1"
    assert float(out["feed"][0]["value"][1]) > 0
    assert {r["metric"]["stage"] for r in out["hist"]} == {"ingest", "order"}
    assert out["rate"] and float(out["rate"][0]["value"][1]) >= 0
    assert any(r["metric"]["child"].endswith(":desk") for r in out["sup"])
    status, names = out["names"]
    assert status == 200
    cns = {n for n in names["data"] if n.startswith("cns_")}
    for must in (
        "cns_risk_checks_total",
        "cns_feed_staleness_seconds",
        "cns_position_shares",
        "cns_supervisor_restarts_total",
        "cns_journal_fsync_lag_seconds",
        "cns_rules_version",
    ):
        assert must in cns, must
    status, rules = out["rules"]
    groups = rules["data"]["groups"]
    assert status == 200 and len(groups[0]["rules"]) == 10
    assert all(r["health"] in ("ok", "unknown") for r in groups[0]["rules"]), json.dumps(groups)[:2000]
