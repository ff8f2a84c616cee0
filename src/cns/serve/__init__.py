"""The live service: one shard of the news-to-order pipeline as a supervision tree (``cns serve``,
``docs/serve.md``).

::

    from cns.serve import Service, load_serve_config

    svc = Service(load_serve_config("serve.toml"))
    await svc.start()        # every peer up within connect_timeout_s, else PeerUnreachable (exit 2 in the CLI)
    ...
    summary = await svc.stop()   # kill switch + mass cancel, FIX Logout, tree stopped in order

Modules: :mod:`~cns.serve.config` (TOML), :mod:`~cns.serve.state` (state owned by the tree),
:mod:`~cns.serve.stages` (validate, corroborate, signal, risk), :mod:`~cns.serve.desk` (desk + OMS),
:mod:`~cns.serve.sink` (order sinks: FIX, in-process venue), :mod:`~cns.serve.marketdata` (quotes from the
venue gateway), :mod:`~cns.serve.tree` (the tree and its application), :mod:`~cns.serve.service` (start,
wait, stop), :mod:`~cns.serve.cli`, :mod:`~cns.serve.demo` (``cns demo live``), :mod:`~cns.serve.loadgen`
(open-loop generator and FIX sink of ``cns bench live``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {  # name -> module: imported on first use, so `python -m cns.serve.loadgen` stays light
    "ServeConfig": "config",
    "load_serve_config": "config",
    "serve_config_from_dict": "config",
    "PeerUnreachable": "errors",
    "ServeConfigError": "errors",
    "ServeError": "errors",
    "ServeStartError": "errors",
    "Service": "service",
    "prepare": "service",
    "FixOrderSink": "sink",
    "InProcessVenue": "sink",
    "OrderSink": "sink",
    "SendResult": "sink",
    "LatencyProbe": "state",
    "ServeState": "state",
    "build_state": "state",
    "serve_application": "tree",
    "serve_tree": "tree",
}


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'cns.serve' has no attribute {name!r}")
    return getattr(importlib.import_module(f"cns.serve.{mod}"), name)


__all__ = [
    "FixOrderSink",
    "InProcessVenue",
    "LatencyProbe",
    "OrderSink",
    "PeerUnreachable",
    "SendResult",
    "ServeConfig",
    "ServeConfigError",
    "ServeError",
    "ServeStartError",
    "ServeState",
    "Service",
    "build_state",
    "load_serve_config",
    "prepare",
    "serve_application",
    "serve_config_from_dict",
    "serve_tree",
]
