"""A fake ops endpoint for the monitor tests: canned metrics that move on each scrape, and a control backend
that records what it was asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from cns.ops import OpsServer


class FakeCollector(Collector):
    def __init__(self) -> None:
        self.n = 0
        self.kill = 0.0

    def collect(self) -> Iterator[Metric]:
        self.n += 1
        n = self.n
        c = CounterMetricFamily("cns_pipeline_events_total", "events")
        c.add_metric([], 1000.0 * n)
        yield c
        g = GaugeMetricFamily("cns_shard_info", "shard", labels=["shard"])
        g.add_metric(["demo"], 1)
        yield g
        h = HistogramMetricFamily("cns_stage_latency_seconds", "lat", labels=["stage"])
        h.add_metric(["order"], [("0.0001", 10.0 * n), ("0.001", 90.0 * n), ("+Inf", 100.0 * n)], 0.05 * n)
        yield h
        for name, val in (
            ("cns_feed_connected", 1.0),
            ("cns_feed_paused", 0.0),
            ("cns_feed_staleness_seconds", 0.25),
            ("cns_feed_last_sequence", 500.0 * n),
        ):
            g = GaugeMetricFamily(name, name, labels=["feed"])
            g.add_metric(["vendor-a"], val)
            g.add_metric(["vendor-b"], val)
            yield g
        c = CounterMetricFamily("cns_feed_reconnects_total", "r", labels=["feed"])
        c.add_metric(["vendor-a"], 2)
        yield c
        g = GaugeMetricFamily("cns_position_shares", "p", labels=["instrument"])
        g.add_metric(["AAPL"], 300)
        g.add_metric(["MSFT"], -150)
        yield g
        g = GaugeMetricFamily("cns_pnl_realized_usd", "p")
        g.add_metric([], 1234.5)
        yield g
        g = GaugeMetricFamily("cns_pnl_unrealized_usd", "p")
        g.add_metric([], -20.25)
        yield g
        g = GaugeMetricFamily("cns_risk_kill_switch_engaged", "k")
        g.add_metric([], self.kill)
        yield g
        c = CounterMetricFamily("cns_risk_checks_total", "r", labels=["result"])
        c.add_metric(["accepted"], 40.0 * n)
        c.add_metric(["collar"], 3.0 * n)
        c.add_metric(["rate"], 0.0)
        yield c
        for name, val in (("cns_supervisor_child_up", 1.0),):
            g = GaugeMetricFamily(name, name, labels=["supervisor", "child", "type"])
            g.add_metric(["demo:trading_sup", "demo:validate", "worker"], val)
            yield g


class FakeBackend:
    def __init__(self, col: FakeCollector) -> None:
        self.col = col
        self.calls: list[tuple[str, Any]] = []
        self.paused: set[str] = set()

    def state(self) -> dict[str, Any]:
        return {
            "kill_switch": bool(self.col.kill),
            "feeds": {f: {"operator_paused": f in self.paused} for f in ("vendor-a", "vendor-b")},
            "tree": {
                "name": "demo:serve",
                "restarts_in_window": 1,
                "intensity": 3,
                "children": [
                    {
                        "id": "demo:trading_sup",
                        "type": "supervisor",
                        "state": "running",
                        "restarts_in_window": 2,
                        "intensity": 5,
                        "children": [
                            {"id": "demo:validate", "type": "worker", "state": "running", "mailbox": 4}
                        ],
                    },
                    {"id": "feed:vendor-a", "type": "worker", "state": "restarting", "mailbox": 0},
                ],
            },
        }

    def kill_switch(self, on: bool) -> dict[str, Any]:
        self.calls.append(("kill_switch", on))
        old, self.col.kill = bool(self.col.kill), 1.0 if on else 0.0
        return {"kill_switch": {"old": old, "new": on}}

    def pause(self, kind: str, name: str) -> dict[str, Any]:
        self.calls.append(("pause", name))
        self.paused.add(name)
        return {"paused": {"old": False, "new": True}}

    def resume(self, kind: str, name: str) -> dict[str, Any]:
        self.calls.append(("resume", name))
        self.paused.discard(name)
        return {"paused": {"old": True, "new": False}}

    def set_limit(self, key: str, value: Any) -> dict[str, Any]:
        return {}

    def set_credibility(self, sources: Any) -> dict[str, Any]:
        return {}

    def reload_rules(self, path: str | None) -> dict[str, Any]:
        return {}

    def upgrade(self, module: str) -> dict[str, Any]:
        return {}


def start(token: str) -> tuple[OpsServer, FakeBackend]:
    reg = CollectorRegistry(auto_describe=False)
    col = FakeCollector()
    reg.register(col)
    backend = FakeBackend(col)
    return OpsServer(reg, backend, token=token).start(), backend
