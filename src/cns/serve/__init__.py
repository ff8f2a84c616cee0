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

from cns.serve.config import ServeConfig, load_serve_config, serve_config_from_dict
from cns.serve.errors import PeerUnreachable, ServeConfigError, ServeError, ServeStartError
from cns.serve.service import Service, prepare
from cns.serve.sink import FixOrderSink, InProcessVenue, OrderSink, SendResult
from cns.serve.state import LatencyProbe, ServeState, build_state
from cns.serve.tree import serve_application, serve_tree

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
