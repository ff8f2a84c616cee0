"""The supervision tree of one shard, and the :class:`~cns.otp.Application` that starts and stops it.

::

    serve:<shard>                       Application (permanent: if the tree gives up, the node stops)
    └── <shard>:serve                   one_for_one, 3 restarts / 60 s
        ├── <shard>:fix_sup             one_for_one, 10 / 60 s
        │   └── fix:<session> ...       FixSession initiators (cns.fix), app = the desk
        ├── <shard>:market_data         MarketDataFeed (only with [market_data])
        ├── <shard>:trading_sup         rest_for_one, 5 / 10 s
        │   ├── <shard>:validate        ValidateStage
        │   ├── <shard>:corroborate     CorroborateStage
        │   ├── <shard>:signal          SignalStage
        │   ├── <shard>:risk            RiskStage
        │   └── <shard>:desk            LiveDesk (OMS, order sink, exits, kill switch)
        ├── <shard>:feeds_sup           one_for_one, 1000 / 10 s
        │   └── feed:<name> ...         FeedHandlers (cns.feeds)
        └── <shard>:snapshots           Snapshotter (with [journal] snapshot_every > 0): journal -> model
                                        -> a state snapshot every N entries (cns.serve.snapshots)

Why these strategies (docs/serve.md has the long form):

- **top, one_for_one**: the subtrees share nothing but registered names and the shard's
  :class:`~cns.serve.state.ServeState` (owned by the tree, not by a process), so none needs a restart when
  another one restarts. A subtree that exhausts its own intensity is restarted alone; more than 3 such
  restarts in 60 s and the shard stops (``cns serve`` exits 1) -- a shard that cannot keep its pieces up
  must not trade half-blind.
- **fix_sup, one_for_one**: sessions are independent; a session reconnects by itself (backoff), so a
  restart means a crash in the session code, rare.
- **trading_sup, rest_for_one**, in pipeline order: what a stage holds derives from its upstream output,
  so a crashed stage restarts with the stages after it, never the ones before; the desk is last: only its
  own crash or an upstream stage's restarts it.
- **feeds_sup, one_for_one with a high intensity**: a flapping feed (a vendor sending garbage that crashes
  the handler) restarts alone, as often as it needs, resuming after its last sequence number (its
  ``FeedStats`` is tree state); it can never take the desk down with it.
"""

from __future__ import annotations

from typing import Any

from cns.feeds import FeedConfig, feed_child_spec
from cns.fix import FixSessionConfig, initiator_child_spec
from cns.otp import Application, ChildSpec, Supervisor, SupFlags
from cns.runtime import Node, Pid
from cns.serve.desk import LiveDesk, SinkFactory
from cns.serve.marketdata import MarketDataFeed
from cns.serve.sink import FixOrderSink, InProcessVenue
from cns.serve.stages import CorroborateStage, FeedForwarder, RiskStage, SignalStage, ValidateStage
from cns.serve.state import ServeState

__all__ = [
    "FEEDS_FLAGS",
    "FIX_FLAGS",
    "TOP_FLAGS",
    "TRADING_FLAGS",
    "default_sink_factory",
    "fix_session_configs",
    "serve_application",
    "serve_tree",
]

TOP_FLAGS = SupFlags("one_for_one", intensity=3, period=60.0)
FIX_FLAGS = SupFlags("one_for_one", intensity=10, period=60.0)
TRADING_FLAGS = SupFlags("rest_for_one", intensity=5, period=10.0)
FEEDS_FLAGS = SupFlags("one_for_one", intensity=1000, period=10.0)


def default_sink_factory(state: ServeState) -> SinkFactory:
    """The sink of ``[serve] order_sink``: FIX sessions, or the in-process simulated venue."""
    if state.config.order_sink == "inprocess":
        return lambda node, st, desk: InProcessVenue(node, st, desk)
    return lambda node, st, desk: FixOrderSink(node, st, timeout_s=min(2.0, st.config.stop_timeout_s))


def fix_session_configs(state: ServeState) -> list[FixSessionConfig]:
    """One initiator config per ``[[fix]]`` session: credentials from the serve config, the shard's symbol
    table, the connect timeout of ``[serve]``."""
    cfg = state.config
    out = []
    for s in cfg.fix:
        out.append(
            FixSessionConfig(
                name=s.name,
                sender_comp_id=s.sender_comp_id,
                target_comp_id=s.target_comp_id,
                role="initiator",
                host=s.host,
                port=s.port,
                heartbeat_s=s.heartbeat_s,
                username=s.username,
                password=s.password,
                reset_on_logon=s.reset_on_logon,
                connect_timeout_s=min(cfg.connect_timeout_s, 3600.0),
                reconnect_base_s=0.1,
                reconnect_max_s=5.0,
                store_dir=s.store_dir,
                symbols=state.symbols,
            )
        )
    return out


def _sup(name: str, flags: SupFlags, specs: list[ChildSpec]) -> ChildSpec:
    def start(node: Node) -> Pid | None:
        return Supervisor.start_link(node, flags, specs, name=name)

    return ChildSpec(name, start, type="supervisor")


def _worker(name: str, cls: Any, *args: Any, shutdown: float = 2.0) -> ChildSpec:
    def start(node: Node) -> Pid | None:
        return cls.start_link(node, *args, name=name)  # type: ignore[no-any-return]

    return ChildSpec(name, start, shutdown=shutdown)


def serve_tree(
    node: Node, state: ServeState, *, sink_factory: SinkFactory | None = None
) -> tuple[SupFlags, list[ChildSpec]]:
    """The top supervisor's flags and children for ``state`` on ``node`` (see the module doc).

    ``state.extra["validator"]`` must hold the loaded :class:`~cns.engine.NewsValidator` (compiling the rules
    is done once, before the tree starts: :func:`cns.serve.service.prepare`)."""
    cfg = state.config
    names = state.names
    children: list[ChildSpec] = []
    if cfg.order_sink == "fix":
        sessions = [initiator_child_spec(c, app=names.desk) for c in fix_session_configs(state)]
        children.append(_sup(names.fix_sup, FIX_FLAGS, sessions))
    if cfg.market_data is not None:
        children.append(
            _worker(
                names.market_data, MarketDataFeed, state, cfg.market_data, min(cfg.connect_timeout_s, 10.0)
            )
        )
    sink = sink_factory or default_sink_factory(state)
    trading = [
        _worker(names.validate, ValidateStage, state),
        _worker(names.corroborate, CorroborateStage, state),
        _worker(names.signal, SignalStage, state),
        _worker(names.risk, RiskStage, state),
        _worker(names.desk, LiveDesk, state, sink, shutdown=cfg.stop_timeout_s),
    ]
    flags = state.extra.get("sup_flags", {})  # overrides by supervisor name (cns.serve.chaos)
    children.append(_sup(names.trading_sup, flags.get(names.trading_sup, TRADING_FLAGS), trading))
    consumer = FeedForwarder(node, state)
    feeds = []
    for f in cfg.feeds:
        fc = FeedConfig(
            f.name,
            f.port,
            host=f.host,
            transport=f.transport,
            feed_id=f.feed_id,
            stale_after_s=f.stale_after_s,
            batch_max=f.batch_max,
            sentiment=f.sentiment,
            connect_timeout_s=min(cfg.connect_timeout_s, 1e5),
        )
        feeds.append(
            feed_child_spec(
                fc,
                consumer,
                stats=state.feed_stats[f.name],
                on_alert=_log_alert,
                dictionaries=state.dictionaries,
            )
        )
    children.append(_sup(names.feeds_sup, flags.get(names.feeds_sup, FEEDS_FLAGS), feeds))
    j = state.extra.get("journal")
    if j is not None and j.spec.snapshot_every > 0:
        from cns.serve.snapshots import Snapshotter

        children.append(_worker(names.snapshots, Snapshotter, state))
    return TOP_FLAGS, children


def _log_alert(alert: Any) -> None:
    import logging

    logging.getLogger("cns.serve").info("feed %s: %s %s", alert.feed, alert.kind, alert.detail)


def serve_application(
    node: Node, state: ServeState, *, sink_factory: SinkFactory | None = None, type: str = "permanent"
) -> Application:  # noqa: A002 - OTP's name
    """The shard as an OTP application named ``serve:<shard>`` (start it with ``app.start(node)`` from the
    asyncio task that then runs ``node.run_async()``)."""
    flags, children = serve_tree(node, state, sink_factory=sink_factory)
    names = state.names

    def top(n: Node) -> Pid | None:
        return Supervisor.start_link(n, flags, children, name=names.top)

    return Application(f"serve:{state.config.shard}", top, env={"shard": state.config.shard}, type=type)
