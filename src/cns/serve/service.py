"""Running one shard in an asyncio loop: prepare its state, start its application, wait until every peer is
up, and stop it gracefully. Used by ``cns serve``, ``cns demo live``, ``cns bench live`` and the tests.

::

    svc = Service(load_serve_config("serve.toml"))
    await svc.start()          # PeerUnreachable (a ServeError) if a peer is not up within connect_timeout_s
    ...                        # trading; svc.summary() any time
    summary = await svc.stop() # mass cancel, FIX Logout, tree stopped in order

Start-up contract: :meth:`Service.start` returns once every FIX session is logged on, every feed handler
is connected and (with ``[market_data]``) the quote stream is connected -- or raises
:class:`~cns.serve.errors.PeerUnreachable` naming what was not up after ``[serve] connect_timeout_s``
(the tree is stopped first), or :class:`~cns.serve.errors.ServeStartError` if a process failed its init.

Stop contract (:meth:`Service.stop`, what SIGTERM/SIGINT trigger in ``cns serve``): (1) the desk's kill
switch: no new order, every open order canceled by an OrderMassCancelRequest per session, answered by the
venue's OrderMassCancelReport or ``stop_timeout_s``; (2) a FIX Logout per session (bounded by
``stop_timeout_s``); (3) the node stops and the application stops the tree in reverse start order (feed
sockets closed, stores closed); (4) the summary. A second call is a no-op returning the same summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from typing import Any

import numpy as np

from cns.engine import NewsValidator
from cns.engine.validator import DEFAULT_SHAPES
from cns.fix.transport import loop_call
from cns.otp import ApplicationError, on_node_stop
from cns.runtime import Node
from cns.serve.config import ServeConfig
from cns.serve.desk import SinkFactory
from cns.serve.errors import PeerUnreachable, ServeConfigError, ServeStartError
from cns.serve.state import ServeState, build_state
from cns.serve.tree import serve_application
from cns.telemetry.stats import summarize

__all__ = ["Service", "prepare"]


def prepare(config: ServeConfig, *, probe_capacity: int = 1 << 16, warm: bool = True) -> ServeState:
    """The shard's state with the news rules compiled (or loaded from the kernel cache) and bound to its
    dictionaries; ``warm`` runs every trading kernel once on throwaway state so the first live batch does
    not pay for loading them. :class:`ServeConfigError` for unreadable rules."""
    state = build_state(config, probe_capacity=probe_capacity)
    src, tick, dsrc = state.dictionaries
    try:
        validator = NewsValidator.load(
            config.rules or DEFAULT_SHAPES,
            dictionaries={"source": src, "ticker": tick, "data_source": dsrc},
            tables={"credibility": state.credibility()},
        )
    except OSError as e:
        raise ServeConfigError(f"cannot read serve.rules {config.rules}: {e.strerror or e}") from None
    state.extra["validator"] = validator
    if warm:
        _warm(state)
    if config.journal is not None:
        from cns.serve.journal import ServeJournal

        j = ServeJournal(config.journal, config.shard, tuple(f.name for f in config.feeds))
        state.extra["journal"] = j
        if j.writer.last_index > 0:
            state.extra["recovered"] = state.extra["recovery"] = j.recover(state)
        else:
            from cns.serve.model import ShardModel

            state.extra["model"] = ShardModel(state, j.feeds)
    return state


def _warm(state: ServeState) -> None:
    """Load the trading kernels (corroborate, signal, risk, OMS, marking, exits) on throwaway objects."""
    from cns.market.newsgen import generate_news
    from cns.replay.desk_kernels import plan_exits
    from cns.trading.pipeline import TradingPipeline
    from cns.venue.dtypes import ORDER_DTYPE

    cfg = state.config.trading
    src, tick, _ = state.dictionaries
    pipe = TradingPipeline(cfg, src, tick, n_instruments=len(state.tradable))
    news = generate_news(256, 1.0, 1).batch.records
    mid = state.quotes.mid.copy()
    mid[~np.isfinite(mid)] = 100.0
    now = time.time_ns()
    news["receive_ns"] = now
    pipe.on_news(news, mid, np.full(len(mid), now, np.int64), now)
    pipe.portfolio.mark(mid)
    pipe.risk.refresh(mid)
    n = len(mid)
    plan_exits(
        pipe.oms.table,
        0,
        0,
        now,
        1,
        1,
        pipe.portfolio.position,
        mid,
        np.zeros(n, np.int64),
        np.zeros(4, np.int64),
        0,
        1,
        1,
        0.001,
        10,
        1e6,
        np.zeros(n + 4, ORDER_DTYPE),
    )
    v = state.extra["validator"]
    out_v, out_c = np.empty(len(news), np.uint8), np.empty(len(news), np.uint16)
    v.process(news, out_v, out_c)


class Service:
    """One shard running in the current asyncio loop (see the module doc). ``state``: prepared state
    (default :func:`prepare` of ``config``); ``sink_factory``: override the order sink (tests)."""

    def __init__(
        self, config: ServeConfig, *, state: ServeState | None = None, sink_factory: SinkFactory | None = None
    ) -> None:
        self.config = config
        self.state = state if state is not None else prepare(config)
        self.sink_factory = sink_factory
        self.node = Node()
        self.app = serve_application(self.node, self.state, sink_factory=sink_factory)
        self.runner: asyncio.Task[None] | None = None
        self.failed: asyncio.Event | None = None
        self.failure: Any = None
        self._summary: dict[str, Any] | None = None
        self.started_s = 0.0

    # ------------------------------------------------------------------ start
    async def start(self) -> None:
        """Start the tree and wait for every peer (see the module doc for the contract)."""
        loop = asyncio.get_running_loop()
        self.failed = asyncio.Event()

        def on_stop(reason: Any) -> None:
            self.failure = reason
            loop.call_soon_threadsafe(self.failed.set)  # type: ignore[union-attr]

        on_node_stop(on_stop, self.node)
        try:
            self.app.start(self.node)
        except ApplicationError as e:
            self.node.shutdown()
            raise ServeStartError(f"shard {self.config.shard} failed to start: {_reason(e.reason)}") from None
        self.runner = loop.create_task(self.node.run_async())
        self.started_s = time.monotonic()
        try:
            await self._wait_ready(self.config.connect_timeout_s)
        except BaseException:
            await self._halt()
            raise
        # everything allocated so far (kernels, dictionaries, tables, the tree) lives as long as the shard:
        # move it out of the collector's generations, so a full collection no longer walks it (a pause of tens
        # of ms on the hot path otherwise); gc.unfreeze() in _halt
        gc.collect()
        gc.freeze()

    def not_ready(self) -> list[str]:
        """What is not up yet: FIX sessions not logged on, feeds not connected, quotes not connected."""
        st = self.state
        out = []
        for s in self.config.fix if self.config.order_sink == "fix" else ():
            if not st.session_up.get(f"fix:{s.name}"):
                out.append(f"FIX session {s.name} ({s.host}:{s.port}) not logged on")
        for f in self.config.feeds:
            if not st.feed_stats[f.name].connected:
                out.append(f"feed {f.name} ({f.transport}://{f.host}:{f.port}) not connected")
        md = self.config.market_data
        if md is not None and not st.quotes.connected:
            out.append(f"market data ({md.host}:{md.port}) not connected")
        return out

    async def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            missing = self.not_ready()
            if not missing:
                return
            if self.failed is not None and self.failed.is_set():
                raise ServeStartError(
                    f"shard {self.config.shard} stopped while starting: {_reason(self.failure)}"
                )
            if time.monotonic() >= deadline:
                raise PeerUnreachable(f"not up within {timeout_s:g} s: " + "; ".join(missing))
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ stop
    async def _halt(self) -> None:
        """Stop the node and the tree without the trading steps (start-up failure)."""
        if self.runner is not None and not self.runner.done():
            self.node.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.runner, 5.0)
        if self.app.running:
            with contextlib.suppress(Exception):
                self.app.stop(10.0)
        self.node.shutdown()
        gc.unfreeze()
        await asyncio.sleep(0.02)  # let the transports close

    async def stop(self) -> dict[str, Any]:
        """Graceful stop (see the module doc); returns :meth:`summary` taken before the tree stops."""
        if self._summary is not None:
            return self._summary
        cfg, names = self.config, self.state.names
        cancel: Any = None
        logouts: dict[str, Any] = {}
        alive = self.runner is not None and not self.runner.done() and self.app.running
        if alive:
            try:
                cancel = await asyncio.wait_for(
                    loop_call(self.node, names.desk, "cancel_all", cfg.stop_timeout_s + 1.0),
                    cfg.stop_timeout_s + 2.0,
                )
            except Exception as e:  # noqa: BLE001 - the desk is down: report it, go on stopping
                cancel = {"error": f"{type(e).__name__}: {e}"}
            for session in self.state.sessions:
                try:
                    logouts[session] = await asyncio.wait_for(
                        loop_call(self.node, session, "logout", cfg.stop_timeout_s), cfg.stop_timeout_s + 1.0
                    )
                except Exception as e:  # noqa: BLE001
                    logouts[session] = f"{type(e).__name__}"
        summary = self.summary(desk=alive)
        summary["stop"] = {"mass_cancel": cancel, "logout": logouts}
        await self._halt()
        self._summary = summary
        return summary

    # ------------------------------------------------------------------ figures
    def summary(self, *, desk: bool = True) -> dict[str, Any]:
        """Counters, feed stats, desk figures (P&L USD, positions, orders) and latency percentiles (ns)."""
        st = self.state
        out: dict[str, Any] = {
            "shard": self.config.shard,
            "uptime_s": time.monotonic() - self.started_s,
            "counters": dict(st.counters),
            "feeds": {k: v.as_dict() for k, v in st.feed_stats.items()},
        }
        if desk:
            out["desk"] = _desk_stats(st)
        j = st.extra.get("journal")
        if j is not None:
            out["journal"] = {
                "dir": j.directory,
                "last_index": j.writer.last_index,
                "appended": dict(j.appended),
                "recovery": st.extra.get("recovery"),
            }
        out["latency_ns"] = {
            "event": summarize(st.probe.event_latency_ns()),
            "order": summarize(st.probe.order_latency_ns()),
        }
        return out


def _desk_stats(st: ServeState) -> dict[str, Any]:
    """The desk's figures read from the shard state (the same numbers as the desk's ``"stats"`` call)."""
    pf = st.pipeline.portfolio
    pf.mark(st.quotes.mid)
    tickers = st.dictionaries[1]
    return {
        "realized_usd": pf.realized_total,
        "unrealized_usd": pf.unrealized_total,
        "pnl_usd": pf.realized_total + pf.unrealized_total,
        "positions": {tickers.string(int(k)): int(pf.position[k]) for k in np.flatnonzero(pf.position)},
        "orders": st.pipeline.oms.state_counts(),
        "risk_rejects": st.pipeline.risk.rejections(),
        "sessions_up": dict(st.session_up),
    }


def _reason(r: Any) -> str:
    """A one-line form of an exit or start failure reason."""
    text = repr(r) if not isinstance(r, BaseException) else f"{type(r).__name__}: {r}"
    return text.replace("\n", " ")[:300]
