"""The Prometheus metrics of a running pipeline, read at scrape time (``prometheus_client`` custom collector).

Nothing is added to the hot path: every value is read, when Prometheus scrapes, from counters, dicts and
arrays the pipeline already keeps (``ServeState.counters``, ``FeedStats``, the risk gate's count array, the
OMS table, the portfolio, the latency probe's stamp lists, the supervisors' restart stamps). The scrape runs
in the HTTP server's thread and reads without locks: single reads and C-level copies (``dict(d)``,
``list(d.values())``, a list slice) are atomic under the GIL, and a value a scrape reads one batch early is
read right at the next one. A part that still fails (a structure mutated mid-read) is counted in
``cns_scrape_errors_total{part}`` and the rest of the scrape is served.

Parts (each a ``collect()`` yielding metric families):

- :class:`RuntimeMetrics` (a :class:`~cns.runtime.Node`): processes, runnable, registered names, messages
  lost; per named process (registered name, or its supervisor child id) the mailbox depth now and its
  high-water mark; per supervisor its children (up or not), restarts (observed from the restart stamps the
  supervisor keeps for its intensity rule: exact while the scrape interval is below the supervisor's
  period), restarts in the current window against the intensity; with :class:`SupervisorReports` installed
  (a ``cns.otp.logger`` handler, called only when a child exits) child exits by reason; with
  :class:`RuntimeEvents` attached (opt-in: it turns on the runtime's telemetry path, measured in
  ``docs/ops.md``) spawns, exits by reason and messages in/out per process.
- :class:`ServeMetrics` (a ``cns.serve`` ``ServeState``): pipeline counters, decisions, orders, fills,
  risk checks, kill switch, limits, positions, P&L, quotes, FIX sessions, feeds, quarantine, journal lag.
- :class:`LatencyMetrics`: ``cns_stage_latency_seconds`` histograms (:mod:`cns.ops.latency`) and budgets.
- :class:`ReplayMetrics` (``cns run``'s ingest): events, verdicts, quarantine, per-stage latency.

Units: seconds, bytes, shares, USD and messages are in the names; counters end in ``_total``; label
values are bounded (process names, feed names, instruments of the configured universe, reason codes).
:data:`METRIC_NAMES` lists every family this module can export (the dashboard and alert tests check against it).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from operator import length_hint
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from cns.ops.latency import StageHistogram

__all__ = [
    "RUNTIME_NAMES",
    "LatencyMetrics",
    "OpsCollector",
    "RuntimeEvents",
    "RuntimeMetrics",
    "SupervisorReports",
    "build_registry",
    "counter",
    "gauge",
    "reason_text",
]

_REASON_MAX = 60


def reason_text(reason: Any) -> str:
    """A bounded label for an exit reason: an exception's class name, a string as is, a tuple's first item."""
    if isinstance(reason, BaseException):
        return type(reason).__name__
    if isinstance(reason, tuple) and reason:
        return reason_text(reason[0])
    return str(reason)[:_REASON_MAX]


def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    """A Prometheus gauge family ``name`` with help ``doc`` and ``labels``."""
    return GaugeMetricFamily(name, doc, labels=list(labels))


def counter(name: str, doc: str, labels: Iterable[str] = ()) -> CounterMetricFamily:
    """A Prometheus counter family ``name`` with help ``doc`` and ``labels``."""
    return CounterMetricFamily(name, doc, labels=list(labels))


# --------------------------------------------------------------------------------------------- runtime
class RuntimeEvents:
    """Opt-in handler of :mod:`cns.runtime.telemetry` events: spawns, exits by reason, messages handled and
    sent per pid, mailbox high-water mark per pid. Attaching it switches the scheduler to its telemetry path
    (a per-turn emit and a counting ``send``): use it when that cost is acceptable (see ``docs/ops.md``).
    The handler runs on the node's thread; the scrape reads copies."""

    def __init__(self) -> None:
        self.spawns = 0
        self.exits: Counter[str] = Counter()
        self.messages_in: Counter[int] = Counter()
        self.messages_out: Counter[int] = Counter()
        self.high_water: dict[int, int] = {}
        self.dropped = 0
        self._attached = False

    def __call__(self, event: str, value: float, tags: dict[str, Any] | None) -> None:
        pid = int(tags.get("pid", -1)) if tags else -1
        if event == "messages":
            self.messages_in[pid] += int(value)
        elif event == "messages_out":
            self.messages_out[pid] += int(value)
        elif event == "mailbox_depth":
            if value > self.high_water.get(pid, -1):
                self.high_water[pid] = int(value)
        elif event == "spawn":
            self.spawns += 1
        elif event == "exit":
            self.exits[str(tags.get("reason", "?"))[:_REASON_MAX] if tags else "?"] += 1
        elif event == "dropped":
            self.dropped += 1

    def attach(self) -> RuntimeEvents:
        """Attach to every runtime telemetry event (idempotent; switches the scheduler to its telemetry path);
        returns self.
        """
        from cns.runtime import telemetry

        if not self._attached:
            telemetry.attach("*", self)
            self._attached = True
        return self

    def detach(self) -> None:
        """Detach from runtime telemetry; idempotent."""
        from cns.runtime import telemetry

        if self._attached:
            telemetry.detach("*", self)
            self._attached = False


class SupervisorReports:
    """A ``cns.otp.logger`` handler (level ``error``) counting supervisor reports: child exits by supervisor,
    child and reason (``child_terminated``), start errors, and shutdowns at the restart intensity. It runs
    only when a child exits; the default handler already makes the supervisor build these reports."""

    handler_id = "cns.ops.metrics"

    def __init__(self) -> None:
        self.child_exits: Counter[tuple[str, str, str]] = Counter()
        self.start_errors: Counter[tuple[str, str]] = Counter()
        self.intensity_shutdowns: Counter[str] = Counter()
        self.installed = False

    def __call__(self, event: Any) -> None:
        rep = event.msg if hasattr(event, "msg") else getattr(event, "report", None)
        if not isinstance(rep, dict):
            return
        label = rep.get("label")
        if not isinstance(label, tuple) or len(label) != 2 or label[0] != "supervisor":
            return
        sup = _pid_label(rep.get("supervisor"))
        child = str((rep.get("offender") or {}).get("id", "?"))
        if label[1] == "child_terminated":
            self.child_exits[(sup, child, reason_text(rep.get("reason")))] += 1
        elif label[1] == "start_error":
            self.start_errors[(sup, child)] += 1
        elif label[1] == "shutdown":
            self.intensity_shutdowns[sup] += 1

    def install(self) -> SupervisorReports:
        """Add this handler to ``cns.otp.logger`` at level ``error`` (idempotent); returns self."""
        from cns.otp import logger

        if not self.installed:
            logger.add_handler(self.handler_id, self, level="error")
            self.installed = True
        return self

    def remove(self) -> None:
        """Remove this handler from ``cns.otp.logger``; idempotent."""
        from cns.otp import logger

        if self.installed:
            logger.remove_handler(self.handler_id)
            self.installed = False


def _pid_label(pid: Any) -> str:
    name = getattr(pid, "name", None)
    if name:
        return str(name)
    return f"<{getattr(pid, 'id', pid)}>"


class RuntimeMetrics:
    """Runtime and supervision metrics of ``node`` (see the module doc). ``max_processes``: per-process
    series are exported for at most this many named processes (bounded cardinality)."""

    def __init__(
        self,
        node: Any,
        *,
        events: RuntimeEvents | None = None,
        reports: SupervisorReports | None = None,
        max_processes: int = 256,
    ) -> None:
        self.node = node
        self.events = events
        self.reports = reports
        self.max_processes = max_processes
        self.high_water: dict[str, int] = {}
        self._restarts: dict[str, tuple[int, int]] = {}  # supervisor name -> (newest stamp seen, total)

    def _names(self, procs: list[Any], sups: list[Any]) -> dict[int, str]:
        out: dict[int, str] = {}
        for s in sups:
            for c in list(getattr(s, "children", ())):
                p = c.pid
                if p is not None and hasattr(p, "id"):
                    out[p.id] = str(c.spec.id)
        for p in procs:
            if p.name:
                out[p.id] = p.name
        return out

    def collect(self) -> Iterator[Metric]:
        """Process, run-queue, name, mailbox and supervision gauges/counters read from the node now."""
        from cns.otp.supervisor import Supervisor

        node = self.node
        procs = list(node._procs.values())
        sups = [p.actor for p in procs if isinstance(p.actor, Supervisor)]
        names = self._names(procs, sups)
        g = gauge("cns_runtime_processes", "Live processes on the node")
        g.add_metric([], len(procs))
        yield g
        g = gauge("cns_runtime_runnable_processes", "Processes queued to run")
        g.add_metric([], len(node._runq))
        yield g
        g = gauge("cns_runtime_registered_names", "Registered process names")
        g.add_metric([], len(node._names))
        yield g
        c = counter("cns_runtime_lost_messages_total", "Messages the node lost, by cause", ["cause"])
        c.add_metric(["exit"], node.lost_on_exit)
        c.add_metric(["dead"], node.sent_to_dead)
        c.add_metric(["full"], node.dropped_full)
        yield c
        depth = gauge(
            "cns_process_mailbox_depth_messages",
            "Messages waiting in a named process's mailbox now",
            ["process"],
        )
        hwm = gauge(
            "cns_process_mailbox_depth_max_messages",
            "Highest mailbox depth seen (at scrapes; every turn with runtime events on) of a named process",
            ["process"],
        )
        ev = self.events
        ev_hw = dict(ev.high_water) if ev is not None else {}
        named = [(names[p.id], p) for p in procs if p.id in names][: self.max_processes]
        for name, p in named:
            mb = p.mbox
            if mb is None:
                continue
            rest = p.rest
            d = len(mb) + (length_hint(rest) if rest is not None else 0)
            hw = max(self.high_water.get(name, 0), d, ev_hw.get(p.id, 0))
            self.high_water[name] = hw
            depth.add_metric([name], d)
            hwm.add_metric([name], hw)
        yield depth
        yield hwm
        yield from self._supervisors(sups)
        if ev is not None:
            yield from self._events(ev, names)
        if self.reports is not None:
            yield from self._reports(self.reports)

    def _supervisors(self, sups: list[Any]) -> Iterator[Metric]:
        up = gauge(
            "cns_supervisor_child_up",
            "1 if the supervisor's child is running, 0 if stopped or restarting",
            ["supervisor", "child", "type"],
        )
        total = counter(
            "cns_supervisor_restarts_total", "Child restarts by the supervisor (observed)", ["supervisor"]
        )
        window = gauge(
            "cns_supervisor_restarts_in_window", "Restarts within the supervisor's period now", ["supervisor"]
        )
        intensity = gauge(
            "cns_supervisor_restart_intensity",
            "Restarts allowed within the period (more: the supervisor gives up)",
            ["supervisor"],
        )
        period = gauge(
            "cns_supervisor_restart_period_seconds", "The supervisor's intensity period", ["supervisor"]
        )
        now = time.monotonic_ns()
        for s in sups:
            sname = _pid_label(getattr(s, "pid", None))
            for ch in list(s.children):
                up.add_metric(
                    [sname, str(ch.spec.id), ch.spec.type],
                    1.0 if ch.pid is not None and not ch.restarting else 0.0,
                )
            stamps = list(s.restarts)
            newest, n = self._restarts.get(sname, (0, 0))
            fresh = [t for t in stamps if t > newest]
            if fresh:
                newest, n = max(fresh), n + len(fresh)
                self._restarts[sname] = (newest, n)
            flags = s.flags
            lo = now - int(flags.period * 1e9)
            total.add_metric([sname], n)
            window.add_metric([sname], sum(1 for t in stamps if t >= lo))
            intensity.add_metric([sname], flags.intensity)
            period.add_metric([sname], flags.period)
        yield from (up, total, window, intensity, period)

    @staticmethod
    def _events(ev: RuntimeEvents, names: Mapping[int, str]) -> Iterator[Metric]:
        c = counter("cns_runtime_spawns_total", "Processes spawned (runtime events)")
        c.add_metric([], ev.spawns)
        yield c
        c = counter("cns_runtime_exits_total", "Process exits by reason (runtime events)", ["reason"])
        for r, v in dict(ev.exits).items():
            c.add_metric([r], v)
        yield c
        for fam, src, what in (
            ("cns_process_messages_in_total", ev.messages_in, "handled"),
            ("cns_process_messages_out_total", ev.messages_out, "sent"),
        ):
            c = counter(fam, f"Messages {what} by a named process (runtime events)", ["process"])
            for pid, v in dict(src).items():
                if pid in names:
                    c.add_metric([names[pid]], v)
            yield c

    @staticmethod
    def _reports(r: SupervisorReports) -> Iterator[Metric]:
        c = counter(
            "cns_supervisor_child_exits_total",
            "Abnormal child exits reported by supervisors, by reason",
            ["supervisor", "child", "reason"],
        )
        for (s, ch, why), v in dict(r.child_exits).items():
            c.add_metric([s, ch, why], v)
        yield c
        c = counter(
            "cns_supervisor_start_errors_total", "Children that failed to start", ["supervisor", "child"]
        )
        for (s, ch), v in dict(r.start_errors).items():
            c.add_metric([s, ch], v)
        yield c
        c = counter(
            "cns_supervisor_intensity_shutdowns_total",
            "Supervisors that gave up (restart intensity reached)",
            ["supervisor"],
        )
        for s, v in dict(r.intensity_shutdowns).items():
            c.add_metric([s], v)
        yield c


# --------------------------------------------------------------------------------------------- latency
class LatencyMetrics:
    """``cns_stage_latency_seconds{stage}`` histograms and ``cns_stage_latency_budget_seconds{stage}``."""

    def __init__(self, stages: Iterable[StageHistogram] = ()) -> None:
        self.stages: dict[str, StageHistogram] = {s.stage: s for s in stages}

    def add(self, h: StageHistogram) -> None:
        """Add (or replace, by stage name) a stage's histogram."""
        self.stages[h.stage] = h

    def collect(self) -> Iterator[Metric]:
        """One ``cns_stage_latency_seconds`` histogram and p99 budget (s) per stage, folded now."""
        h = HistogramMetricFamily(
            "cns_stage_latency_seconds",
            "Latency of a pipeline stage (from the pipeline's own stamps, folded at scrape time)",
            labels=["stage"],
        )
        b = gauge("cns_stage_latency_budget_seconds", "The stage's p99 latency budget", ["stage"])
        for name, st in list(self.stages.items()):
            buckets, sum_s, _count = st.snapshot()
            h.add_metric([name], buckets, sum_s)
            if st.budget_s is not None:
                b.add_metric([name], st.budget_s)
        yield h
        yield b


# --------------------------------------------------------------------------------------------- collector
class OpsCollector(Collector):
    """A ``prometheus_client`` collector over parts (objects with ``collect()``); a part that raises is
    retried once, then skipped and counted in ``cns_scrape_errors_total{part}``. Exports its own cost as
    ``cns_scrape_collect_seconds`` (the previous scrape's collection time)."""

    def __init__(self, parts: Mapping[str, Any]) -> None:
        self.parts = dict(parts)
        self.errors: Counter[str] = Counter()
        self.last_collect_s = 0.0
        self.scrapes = 0

    def collect(self) -> Iterator[Metric]:
        t0 = time.perf_counter()
        out: list[Metric] = []
        for name, part in list(self.parts.items()):
            for attempt in (0, 1):
                try:
                    out.extend(part.collect())
                    break
                except (RuntimeError, KeyError, IndexError, ValueError, AttributeError, TypeError):
                    if attempt:
                        self.errors[name] += 1
        c = counter("cns_scrape_errors_total", "Metric parts that failed to read during a scrape", ["part"])
        for name in self.parts:
            c.add_metric([name], self.errors[name])
        out.append(c)
        g = gauge("cns_scrape_collect_seconds", "Time the previous scrape spent reading the pipeline's state")
        g.add_metric([], self.last_collect_s)
        out.append(g)
        self.scrapes += 1
        self.last_collect_s = time.perf_counter() - t0
        yield from _merge(out)

    def describe(self) -> Iterator[Metric]:
        """No families up front: they depend on the parts, so the registry skips its duplicate check."""
        return iter(())  # families depend on the parts: no check at registration


def _merge(fams: list[Metric]) -> Iterator[Metric]:
    """Families of the same name from several parts merged into one (Prometheus refuses duplicates)."""
    by: dict[str, Metric] = {}
    for f in fams:
        have = by.get(f.name)
        if have is None:
            by[f.name] = f
        else:
            have.samples.extend(f.samples)
    yield from by.values()


def build_registry(
    parts: Mapping[str, Any], *, process_metrics: bool = True
) -> tuple[CollectorRegistry, OpsCollector]:
    """A fresh registry holding an :class:`OpsCollector` over ``parts`` (plus ``process_*`` CPU/memory of
    this OS process when ``process_metrics``)."""
    reg = CollectorRegistry(auto_describe=False)
    col = OpsCollector(parts)
    reg.register(col)
    if process_metrics:
        from prometheus_client import ProcessCollector

        ProcessCollector(registry=reg)
    return reg, col


#: the families of this module (runtime, supervision, latency, scrape); :data:`cns.ops.pipeline.METRIC_NAMES`
#: adds the pipeline's
RUNTIME_NAMES: frozenset[str] = frozenset(
    {
        "cns_runtime_processes",
        "cns_runtime_runnable_processes",
        "cns_runtime_registered_names",
        "cns_runtime_lost_messages_total",
        "cns_process_mailbox_depth_messages",
        "cns_process_mailbox_depth_max_messages",
        "cns_supervisor_child_up",
        "cns_supervisor_restarts_total",
        "cns_supervisor_restarts_in_window",
        "cns_supervisor_restart_intensity",
        "cns_supervisor_restart_period_seconds",
        "cns_runtime_spawns_total",
        "cns_runtime_exits_total",
        "cns_process_messages_in_total",
        "cns_process_messages_out_total",
        "cns_supervisor_child_exits_total",
        "cns_supervisor_start_errors_total",
        "cns_supervisor_intensity_shutdowns_total",
        "cns_stage_latency_seconds",
        "cns_stage_latency_budget_seconds",
        "cns_scrape_errors_total",
        "cns_scrape_collect_seconds",
    }
)
