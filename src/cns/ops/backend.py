"""The operations layer mounted on a ``cns serve`` shard: metrics, control and hot reload in a few lines.

::

    from cns.ops import mount_serve

    async def main():
        svc = Service(cfg)
        await svc.start()
        ops = mount_serve(svc, port=9464)      # in the loop thread; token from $CNS_OPS_TOKEN
        ...                                      # scrape http://127.0.0.1:9464/metrics
        ops.close()
        await svc.stop()

or ``run_service(cfg, started=lambda svc: holder.append(mount_serve(svc, port=...)))``.

:class:`ServeBackend` implements the control API (:class:`~cns.ops.control.ControlBackend`) on the shard's
tree and state; every action runs on the node's thread (a :class:`~cns.ops.executor.LoopExecutor`):

- kill switch on: the risk gate's kill switch is engaged inside the risk stage (no new order passes, exits
  included) and, with ``cancel_open``, the desk's order sink sends its mass cancel; off: released. The
  shard keeps running (unlike the graceful stop, which also sets ``state.stopping``).
- pause/resume a **feed**: its handler process is suspended (``cns.otp.sysapi.suspend``: it reads nothing
  more, the transport applies back-pressure, the server replays what it missed after a resume) and its
  ``FeedStats.paused`` is set, so the signal stage holds the decisions on the instruments it covers; resume
  lets the handler drain its queue and its next valid frame clears ``paused``.
- pause/resume a **strategy**: its stage process (``strategies``: name -> registered name, default
  ``{"signal": <shard>:signal}``) is suspended: its decisions queue, nothing is dropped, and they are acted
  on at resume (engage the kill switch first to drop them instead).
- limits, credibility, rules and code: :mod:`cns.ops.reload`; ``upgrade`` hot-loads a ``cns.*`` module
  (:func:`cns.otp.hotload.reload_module`) and reports per behaviour what was upgraded.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client.core import Metric

from cns.ops.control import OpsServer
from cns.ops.errors import ActionFailed, BadRequest, NotFound, ReloadError
from cns.ops.executor import Executor, LoopExecutor
from cns.ops.metrics import (
    LatencyMetrics,
    RuntimeEvents,
    RuntimeMetrics,
    SupervisorReports,
    build_registry,
    gauge,
)
from cns.ops.pipeline import ServeMetrics, serve_latency
from cns.ops.reload import (
    CredibilityUpdate,
    RulesReloader,
    ValidatorSlot,
    checked_risk_config,
    swap_risk_config,
)

__all__ = ["OpsHandle", "ServeBackend", "credibility_scores", "mount_serve"]

_TIMEOUT = 10.0


def credibility_scores(sources: Any, cfg: Any) -> np.ndarray:
    """The validator's per-source credibility table (int16, -1 = source not in ``cfg``), as ServeState's."""
    from cns.trading.credibility import CredibilityTable

    table = CredibilityTable.for_dictionary(sources, cfg)
    known = {domain for domain, _ in cfg.sources}
    cred: np.ndarray = np.rint(table.scores).astype(np.int16)
    for code, name in enumerate(sources.strings()):
        if name not in known:
            cred[code] = -1
    return cred


def _spawn_async(node: Any, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
    """Run coroutine function ``fn`` inside a helper process (so it may ``acall``); a future of its result."""
    from cns.runtime import Stop

    fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

    async def helper(_msg: Any) -> None:
        try:
            v = await fn()
        except Exception as e:  # noqa: BLE001 - handed to the waiting thread
            fut.set_exception(e)
        else:
            fut.set_result(v)
        raise Stop("normal")

    pid = node.spawn(helper)
    node.send(pid, None)
    return fut


class ServeBackend:
    """Control actions on one serve shard (see the module doc). ``node``/``state``: the shard's;
    ``executor``: runs on the node's thread; ``reloader``: rules reloads (None: refused);
    ``credibility``: credibility updates (None: refused); ``strategies``: pausable stages."""

    def __init__(
        self,
        node: Any,
        state: Any,
        executor: Executor,
        *,
        reloader: RulesReloader | None = None,
        credibility: CredibilityUpdate | None = None,
        strategies: Mapping[str, str] | None = None,
        cancel_open: bool = True,
    ) -> None:
        self.node, self.st, self.executor = node, state, executor
        self.reloader, self.credibility = reloader, credibility
        self.strategies = dict(strategies) if strategies is not None else {"signal": state.names.signal}
        self.cancel_open = cancel_open
        self.paused: dict[tuple[str, str], Any] = {}  # (kind, name) -> suspended pid

    # ------------------------------------------------------------------ helpers (node thread)
    def _sup(self, name: str) -> Any:
        p = self.node.whereis(name)
        return p.actor if p is not None else None

    def _feed_pid(self, name: str) -> Any:
        if name not in self.st.feed_stats:
            raise NotFound(f"unknown feed {name!r} (feeds: {', '.join(sorted(self.st.feed_stats))})")
        sup = self._sup(self.st.names.feeds_sup)
        for c in list(getattr(sup, "children", ())):
            if str(c.spec.id) == f"feed:{name}" and c.pid is not None and not c.restarting:
                return c.pid
        raise ActionFailed(f"feed {name!r} has no running handler now (restarting?)")

    def _target(self, kind: str, name: str) -> Any:
        if kind == "feed":
            return self._feed_pid(name)
        proc = self.strategies.get(name)
        if proc is None:
            raise NotFound(f"unknown strategy {name!r} (strategies: {', '.join(sorted(self.strategies))})")
        pid = self.node.whereis(proc)
        if pid is None:
            raise ActionFailed(f"strategy {name!r} ({proc}) is not running now (restarting?)")
        return pid

    # ------------------------------------------------------------------ actions
    def kill_switch(self, on: bool) -> dict[str, Any]:
        """Engage (``on``) or release the risk kill switch on the risk stage's thread; engaging also mass-cancels
        open orders when ``cancel_open`` (``mass_cancel_requests`` or ``mass_cancel_error`` in the result).
        """
        st, node = self.st, self.node
        risk = st.pipeline.risk

        def act() -> tuple[bool, Any]:
            before = risk.kill_switch_engaged

            def flip(_actor: Any) -> None:
                if on:
                    risk.engage_kill_switch(time.time_ns())
                else:
                    risk.release_kill_switch()

            if node.whereis(st.names.risk) is not None:
                node.run_in(st.names.risk, flip, _TIMEOUT)
            else:
                flip(None)
            fut = None
            desk = node.whereis(st.names.desk)
            if on and self.cancel_open and desk is not None and hasattr(desk.actor, "sink"):
                fut = _spawn_async(node, desk.actor.sink.cancel_all)
            return before, fut

        before, fut = self.executor.call(act, _TIMEOUT + 1.0)
        out: dict[str, Any] = {"kill_switch": {"old": before, "new": on}}
        if fut is not None:
            try:
                out["mass_cancel_requests"] = int(fut.result(_TIMEOUT))
            except Exception as e:  # noqa: BLE001 - the switch is on; say what the cancel did
                out["mass_cancel_error"] = f"{type(e).__name__}: {e}"
        return out

    def pause(self, kind: str, name: str) -> dict[str, Any]:
        """Suspend the feed handler or strategy process ``name`` (sys suspend); idempotent. Raises NotFound for an
        unknown name, ActionFailed if it is not running (restarting).
        """
        from cns.otp import sysapi

        def act() -> dict[str, Any]:
            if (kind, name) in self.paused:
                return {"paused": {"old": True, "new": True}}
            pid = self._target(kind, name)
            sysapi.suspend(self.node, pid, _TIMEOUT)
            self.paused[(kind, name)] = pid
            if kind == "feed":
                self.st.feed_stats[name].paused = True
            return {"paused": {"old": False, "new": True}, "process": repr(pid)}

        return {kind: name, **self.executor.call(act, _TIMEOUT + 1.0)}

    def resume(self, kind: str, name: str) -> dict[str, Any]:
        """Resume what :meth:`pause` suspended (a process that died meanwhile restarts unsuspended); idempotent.
        Raises NotFound for an unknown name.
        """
        from cns.otp import sysapi
        from cns.runtime import NoProc

        def act() -> dict[str, Any]:
            if kind == "feed" and name not in self.st.feed_stats:
                raise NotFound(f"unknown feed {name!r}")
            if kind == "strategy" and name not in self.strategies:
                raise NotFound(f"unknown strategy {name!r}")
            pid = self.paused.pop((kind, name), None)
            if pid is None:
                return {"paused": {"old": False, "new": False}}
            try:
                sysapi.resume(self.node, pid, _TIMEOUT)
            except NoProc:
                pass  # it died (and was restarted unsuspended): nothing to resume
            return {"paused": {"old": True, "new": False}}

        return {kind: name, **self.executor.call(act, _TIMEOUT + 1.0)}

    def set_limit(self, key: str, value: Any) -> dict[str, Any]:
        """Swap in a RiskConfig with ``key`` set to ``value`` on the risk stage's thread; returns what changed.
        Raises BadRequest naming the key for an unknown key or an invalid value.
        """
        st, node = self.st, self.node
        gate = st.pipeline.risk
        new = checked_risk_config(gate.config, key, value)  # BadRequest naming the key

        def act() -> dict[str, Any]:
            if node.whereis(st.names.risk) is not None:
                return node.run_in(st.names.risk, lambda _a: swap_risk_config(gate, new), _TIMEOUT)  # type: ignore[no-any-return]
            return swap_risk_config(gate, new)

        return {"limits": self.executor.call(act, _TIMEOUT + 1.0)}

    def set_credibility(self, sources: Mapping[str, Any]) -> dict[str, Any]:
        """Apply credibility scores via the shard's CredibilityUpdate; raises NotFound when not enabled."""
        if self.credibility is None:
            raise NotFound("credibility updates are not enabled on this shard")
        return self.credibility.apply(sources, _TIMEOUT)

    def reload_rules(self, path: str | None) -> dict[str, Any]:
        """Reload the news rules (see RulesReloader.reload); raises NotFound when reload is not enabled."""
        if self.reloader is None:
            raise NotFound("rules reload is not enabled on this shard")
        return self.reloader.reload(path)

    def upgrade(self, module: str) -> dict[str, Any]:
        """Hot-reload the ``cns.*`` module ``module`` and upgrade its behaviours; raises BadRequest for a module
        outside ``cns.*`` or inside ``cns.ops``, NotFound if not imported, ReloadError if the reload fails.
        """
        from cns.otp.hotload import HotLoadError, reload_module

        if not module.startswith("cns.") or module.startswith("cns.ops"):
            raise BadRequest(f"module {module!r}: only cns.* modules (not cns.ops) can be upgraded", "module")
        if module not in sys.modules:
            raise NotFound(f"module {module!r} is not imported")

        def act() -> list[Any]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                reports = reload_module(self.node, module, timeout=_TIMEOUT)
            return [reports, [str(w.message) for w in caught]]

        try:
            reports, warned = self.executor.call(act, _TIMEOUT * 4)
        except HotLoadError as e:
            raise ReloadError(str(e)) from None
        return {
            "module": module,
            "warnings": warned,
            "behaviours": [
                {
                    "behaviour": r.behaviour,
                    "old_vsn": r.old_vsn,
                    "new_vsn": r.new_vsn,
                    "upgraded": len(r.upgraded),
                    "failed": [f"{p!r}: {why}" for p, why in r.failed],
                    "gone": r.gone,
                    "elapsed_s": r.elapsed_ns / 1e9,
                }
                for r in reports
            ],
        }

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        """The shard snapshot (see ControlBackend.state), taken on the node's thread."""
        return self.executor.call(self._snapshot, _TIMEOUT)

    def _tree(self, name: str, depth: int = 0) -> dict[str, Any]:
        sup = self._sup(name)
        if sup is None or depth > 8:
            return {"name": name, "alive": False, "children": []}
        kids = []
        for c in list(sup.children):
            p = c.pid
            item: dict[str, Any] = {
                "id": str(c.spec.id),
                "type": c.spec.type,
                "state": "restarting" if c.restarting else ("running" if p is not None else "stopped"),
                "pid": getattr(p, "id", None),
                "mailbox": getattr(p, "mailbox_size", 0),
            }
            if c.spec.type == "supervisor" and p is not None:
                sub = self._tree(p.name or str(c.spec.id), depth + 1) if p.name else {"children": []}
                item.update(
                    children=sub.get("children", []),
                    restarts_in_window=sub.get("restarts_in_window", 0),
                    intensity=sub.get("intensity", 0),
                )
            kids.append(item)
        now = time.monotonic_ns()
        lo = now - int(sup.flags.period * 1e9)
        return {
            "name": name,
            "alive": True,
            "strategy": sup.flags.strategy,
            "intensity": sup.flags.intensity,
            "period_s": sup.flags.period,
            "restarts_in_window": sum(1 for t in list(sup.restarts) if t >= lo),
            "children": kids,
        }

    def _snapshot(self) -> dict[str, Any]:
        st = self.st
        pipe = st.pipeline
        risk = pipe.risk
        pf = pipe.portfolio
        tickers = st.dictionaries[1]
        cfg = risk.config
        limits = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
        feeds = {}
        for name, s in st.feed_stats.items():
            feeds[name] = {
                "paused": s.paused,
                "operator_paused": ("feed", name) in self.paused,
                "connected": s.connected,
                "staleness_s": s.staleness_s,
                "last_seq": s.last_seq,
                "gaps_lost": s.gaps_lost,
                "reconnects": s.reconnects,
                "quarantined": dict(s.quarantined),
            }
        return {
            "shard": st.config.shard,
            "kill_switch": risk.kill_switch_engaged,
            "stopping": st.stopping,
            "limits": limits,
            "feeds": feeds,
            "strategies": {
                n: {"process": p, "paused": ("strategy", n) in self.paused}
                for n, p in self.strategies.items()
            },
            "rules": self.reloader.describe() if self.reloader is not None else None,
            "tree": self._tree(st.names.top),
            "positions": {tickers.string(int(k)): int(pf.position[k]) for k in np.flatnonzero(pf.position)},
            "pnl_usd": {"realized": pf.realized_total, "unrealized": pf.unrealized_total},
            "risk_rejects": risk.rejections(),
            "orders": pipe.oms.state_counts(),
            "counters": dict(st.counters),
        }

    def metrics(self) -> Iterator[Metric]:
        """``cns_ops_paused{kind,name}`` = 1 for each feed or strategy the operator paused."""
        g = gauge("cns_ops_paused", "1 while the operator has paused the feed or strategy", ["kind", "name"])
        for kind, name in list(self.paused):
            g.add_metric([kind, name], 1.0)
        yield g


@dataclass
class OpsHandle:
    """What :func:`mount_serve` started: the server (:attr:`url`), its registry and the backend."""

    server: OpsServer
    backend: ServeBackend
    parts: dict[str, Any] = field(default_factory=dict)
    events: RuntimeEvents | None = None
    reports: SupervisorReports | None = None

    @property
    def url(self) -> str:
        """The server's base URL, ``http://host:port``."""
        return self.server.url

    @property
    def port(self) -> int:
        """The TCP port the server listens on (the real one when started with port 0)."""
        return self.server.port

    def close(self) -> None:
        """Stop serving and detach the telemetry/logger handlers (idempotent)."""
        self.server.close()
        if self.events is not None:
            self.events.detach()
        if self.reports is not None:
            self.reports.remove()


def mount_serve(
    svc: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    journal: Callable[[dict[str, Any]], Any] | None = None,
    control: bool = True,
    runtime_events: bool = False,
    latency_budgets_s: Mapping[str, float] | None = None,
    journal_lag: Callable[[], Mapping[str, float]] | None = None,
    executor: Executor | None = None,
) -> OpsHandle:
    """Serve metrics (and, with ``control``, the control API) for a started ``cns.serve.Service`` ``svc``
    (anything with ``node``, ``state`` and ``config``). Call it from the asyncio loop that runs the node
    (e.g. the ``started`` hook of ``run_service``). ``port`` 0: chosen by the OS (``handle.port``).
    ``runtime_events``: also count spawns/exits/messages per process (turns on the runtime's telemetry
    path). ``latency_budgets_s``: p99 budgets per stage (``ingest``, ``order``) exported for the alerts.
    :class:`~cns.ops.errors.UnsafeBind` for a non-loopback ``host`` without a token."""
    from cns.engine import NewsValidator
    from cns.engine.validator import DEFAULT_SHAPES

    node, state = svc.node, svc.state
    ex = executor if executor is not None else LoopExecutor()
    reports = SupervisorReports().install()
    events = RuntimeEvents().attach() if runtime_events else None
    names = state.names
    src, tick, dsrc = state.dictionaries
    dicts = {"source": src, "ticker": tick, "data_source": dsrc}
    cred = {"config": state.extra.get("credibility_config", state.config.trading.credibility)}

    def build(path: str) -> Any:
        return NewsValidator.load(
            path, dictionaries=dicts, tables={"credibility": credibility_scores(src, cred["config"])}
        )

    def rebind(old: Any, cfg: Any) -> Any:
        v = NewsValidator(old.artifact, sample_every=old.sample_every, budget_cycles=old.budget_cycles)
        v.bind(dicts, {"credibility": credibility_scores(src, cfg)})
        v.warm_up()
        return v

    def counted(actor: Any) -> int:
        c = state.counters
        return int(c["validated"] + c["violations"] + c["elided"])

    def stored(v: Any) -> None:
        state.extra["validator"] = v

    def stored_cred(v: Any, cfg: Any) -> None:
        state.extra["validator"] = v
        state.extra["credibility_config"] = cfg
        cred["config"] = cfg

    reloader = RulesReloader(
        node,
        ValidatorSlot(names.validate, counted, on_swap=stored),
        build,
        path=str(state.config.rules or DEFAULT_SHAPES),
        executor=ex,
    )
    credibility = CredibilityUpdate(
        node,
        ex,
        validate=names.validate,
        corroborate=names.corroborate,
        corroborator=lambda a: a.corroborator,
        sources=src,
        config=cred["config"],
        rebind=rebind,
        current_validator=lambda: state.extra["validator"],
        on_swap=stored_cred,
    )
    backend = ServeBackend(node, state, ex, reloader=reloader, credibility=credibility)
    lat: LatencyMetrics = serve_latency(state, budgets_s=latency_budgets_s)
    parts: dict[str, Any] = {
        "runtime": RuntimeMetrics(node, events=events, reports=reports),
        "serve": ServeMetrics(state, journal_lag=journal_lag),
        "latency": lat,
        "rules": _Part(reloader.metrics),
        "ops": _Part(backend.metrics),
    }
    registry, col = build_registry(parts)
    server = OpsServer(
        registry, backend if control else None, host=host, port=port, token=token, journal=journal
    )
    col.parts["control"] = parts["control"] = _Part(server.metrics)
    server.start()
    return OpsHandle(server, backend, parts, events, reports)


class _Part:
    """A collector part from a ``collect``-like callable."""

    def __init__(self, fn: Callable[[], Iterator[Metric]]) -> None:
        self.fn = fn

    def collect(self) -> Iterator[Metric]:
        return self.fn()
