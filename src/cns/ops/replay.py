"""The metrics endpoint of ``cns run`` while it replays (``ReplayOptions.metrics_port``).

``cns.replay.driver`` calls :func:`serve_replay_metrics` once the measured ingest pipeline has started and
``close()`` on what it returns when the replay is done. The endpoint serves runtime/supervision metrics of the
replay's node and :class:`~cns.ops.pipeline.ReplayMetrics` (events, verdicts, quarantine, per-stage latency);
it has no control API. The URL is printed to stderr (``cns run: metrics on http://127.0.0.1:PORT/metrics``)
so a port of 0 (chosen by the OS) can be found.
"""

from __future__ import annotations

import sys
from typing import Any

from cns.ops.control import OpsServer
from cns.ops.metrics import RuntimeMetrics, SupervisorReports, build_registry
from cns.ops.pipeline import ReplayMetrics

__all__ = ["ReplayEndpoint", "serve_replay_metrics"]


class ReplayEndpoint:
    """A started metrics server over one replay ingest; :meth:`close` stops it (idempotent)."""

    last: ReplayEndpoint | None = None  # the most recent one (for in-process tests)

    def __init__(self, server: OpsServer, reports: SupervisorReports) -> None:
        self.server, self.reports = server, reports

    @property
    def port(self) -> int:
        """The TCP port the metrics server listens on."""
        return self.server.port

    def close(self) -> None:
        """Stop the server and remove the supervisor-report handler."""
        self.server.close()
        self.reports.remove()


def serve_replay_metrics(
    ingest: Any, *, batch: int, port: int = 0, host: str = "127.0.0.1", announce: bool = True
) -> ReplayEndpoint:
    """Serve the metrics of ``ingest`` (a ``cns.replay.driver.Ingest``; ``batch`` its chunk size) on
    ``host:port`` until ``close()``."""
    reports = SupervisorReports().install()
    registry, _ = build_registry(
        {"runtime": RuntimeMetrics(ingest.node, reports=reports), "replay": ReplayMetrics(ingest, batch)}
    )
    server = OpsServer(registry, None, host=host, port=port).start()
    if announce:
        print(f"cns run: metrics on {server.url}/metrics", file=sys.stderr, flush=True)
    ep = ReplayEndpoint(server, reports)
    ReplayEndpoint.last = ep
    return ep
