"""Operations: a Prometheus endpoint, a control API, a terminal monitor and hot reload for a running pipeline
(``docs/ops.md``).

::

    from cns.ops import mount_serve
    ops = mount_serve(svc, port=9464)   # a started cns.serve Service, from its asyncio loop
    ...                                 # GET /metrics, POST /control/kill_switch {"on": true}, ...
    ops.close()

Modules: :mod:`~cns.ops.metrics` (collector, runtime and supervision metrics), :mod:`~cns.ops.pipeline` (serve
and replay metrics), :mod:`~cns.ops.latency` (histograms folded from stamps), :mod:`~cns.ops.control` (the HTTP
server, token auth), :mod:`~cns.ops.backend` (control actions on a serve shard, :func:`mount_serve`),
:mod:`~cns.ops.reload` (rules, risk limits, credibility swapped at safe points), :mod:`~cns.ops.executor`
(running work on the node's thread), :mod:`~cns.ops.monitor` (``cns monitor``), :mod:`~cns.ops.bench`
(scrape cost).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "OpsError": "errors",
    "BadRequest": "errors",
    "AuthError": "errors",
    "NotFound": "errors",
    "Conflict": "errors",
    "ActionFailed": "errors",
    "ReloadError": "errors",
    "UnsafeBind": "errors",
    "LoopExecutor": "executor",
    "PumpExecutor": "executor",
    "InlineExecutor": "executor",
    "OpsCollector": "metrics",
    "RuntimeMetrics": "metrics",
    "RuntimeEvents": "metrics",
    "SupervisorReports": "metrics",
    "LatencyMetrics": "metrics",
    "build_registry": "metrics",
    "METRIC_NAMES": "pipeline",
    "ServeMetrics": "pipeline",
    "ReplayMetrics": "pipeline",
    "StageHistogram": "latency",
    "OpsServer": "control",
    "ControlBackend": "control",
    "ServeBackend": "backend",
    "OpsHandle": "backend",
    "mount_serve": "backend",
    "RulesReloader": "reload",
    "VersionLog": "reload",
    "ValidatorSlot": "reload",
    "CredibilityUpdate": "reload",
    "swap_risk_config": "reload",
    "checked_risk_config": "reload",
    "serve_replay_metrics": "replay",
}


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'cns.ops' has no attribute {name!r}")
    return getattr(importlib.import_module(f"cns.ops.{mod}"), name)


__all__ = sorted(_EXPORTS)
