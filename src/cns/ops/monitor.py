"""``cns monitor --url http://127.0.0.1:PORT [--token T]``: a terminal dashboard attached to a running pipeline
through its metrics endpoint and control API (:mod:`cns.ops.control`).

Every ``--interval`` seconds (default 1) it reads ``/metrics`` (and ``/control/state`` when the control API
answers) in a worker thread and shows: the supervision tree with process states and restart counts; per
stage the throughput (events/s from ``cns_pipeline_events_total``) and p99 latency (from the
``cns_stage_latency_seconds`` bucket deltas) as sparklines over the last 60 readings; feed health; positions
and P&L; risk rejects by check (the total and what the last interval added); the kill switch.

Keys: ``k`` kill switch on/off, ``p`` pause/resume the selected feed (``up``/``down`` in the feed table),
both behind a confirmation (``y`` confirms, ``n``/``escape`` cancels); ``r`` refresh now; ``q`` quit.
The token comes from ``--token`` or ``$CNS_OPS_TOKEN`` and is only sent as a header.
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Label, Sparkline, Static

__all__ = ["HttpClient", "MonitorApp", "Snapshot", "monitor_main", "parse_metrics"]

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse_metrics(text: str) -> Samples:
    """Prometheus text exposition -> ``{sample name: [(labels, value), ...]}``."""
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


class HttpClient:
    """GET ``/metrics`` and ``/control/state``, POST ``/control/<action>`` (bounded by ``timeout`` s)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 3.0) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("CNS_OPS_TOKEN") or None
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"HttpClient({self.url!r})"

    def _req(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310 - the operator's URL
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def metrics(self) -> Samples:
        """GET ``/metrics`` parsed into samples; raises OSError on a non-200 answer or a network failure."""
        status, body = self._req("/metrics")
        if status != 200:
            raise OSError(f"GET /metrics: HTTP {status}")
        return parse_metrics(body.decode())

    def state(self) -> dict[str, Any] | None:
        """GET ``/control/state``'s ``state``, or None on a non-200 answer (control API off or unauthorised)."""
        status, body = self._req("/control/state")
        if status != 200:
            return None
        return json.loads(body).get("state")  # type: ignore[no-any-return]

    def post(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``/control/<action>``; returns the JSON answer with ``status`` (the HTTP code) added."""
        status, raw = self._req(f"/control/{action}", body)
        try:
            out: dict[str, Any] = json.loads(raw)
        except ValueError:
            out = {"ok": False, "error": raw.decode(errors="replace")[:200]}
        out["status"] = status
        return out


@dataclass
class Snapshot:
    """One reading: the samples, the control state (None without control), the wall time (s)."""

    samples: Samples
    state: dict[str, Any] | None
    at_s: float
    error: str = ""


def _value(s: Samples, name: str, **labels: str) -> float:
    tot = 0.0
    for lab, v in s.get(name, ()):
        if all(lab.get(k) == x for k, x in labels.items()):
            tot += v
    return tot


def _quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """histogram_quantile over cumulative ``(le, count)`` pairs (le ascending, +Inf last); NaN when empty."""
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    rank = q * buckets[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if math.isinf(le):
                return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 0.0)
        prev_le, prev_c = le, c
    return prev_le


@dataclass
class _Series:
    """What the sparklines and deltas need from consecutive snapshots."""

    throughput: deque[float] = field(default_factory=lambda: deque(maxlen=60))
    p99: dict[str, deque[float]] = field(default_factory=dict)
    prev: Snapshot | None = None
    last_rejects: dict[str, float] = field(default_factory=dict)

    def add(self, snap: Snapshot) -> None:
        prev, self.prev = self.prev, snap
        if prev is None:
            return
        dt = max(1e-6, snap.at_s - prev.at_s)
        ev = _value(snap.samples, "cns_pipeline_events_total") - _value(
            prev.samples, "cns_pipeline_events_total"
        )
        self.throughput.append(max(0.0, ev / dt))
        for stage in sorted(
            {lab.get("stage", "") for lab, _ in snap.samples.get("cns_stage_latency_seconds_bucket", ())}
        ):
            cur = _buckets(snap.samples, stage)
            old = dict(_buckets(prev.samples, stage))
            delta = [(le, c - old.get(le, 0.0)) for le, c in cur]
            p = _quantile(0.99, delta)
            self.p99.setdefault(stage, deque(maxlen=60)).append(0.0 if math.isnan(p) else p * 1e6)
        rej = {
            lab["result"]: v
            for lab, v in snap.samples.get("cns_risk_checks_total", ())
            if lab["result"] != "accepted"
        }
        old_rej = {lab["result"]: v for lab, v in prev.samples.get("cns_risk_checks_total", ())}
        self.last_rejects = {k: v - old_rej.get(k, 0.0) for k, v in rej.items()}


def _buckets(s: Samples, stage: str) -> list[tuple[float, float]]:
    out = [
        (float(lab["le"]), v)
        for lab, v in s.get("cns_stage_latency_seconds_bucket", ())
        if lab.get("stage") == stage
    ]
    return sorted(out)


class Confirm(ModalScreen[bool]):
    """A yes/no question: ``y`` confirms, ``n`` or ``escape`` cancels."""

    BINDINGS = [
        Binding("y", "answer(True)", "yes"),
        Binding("n", "answer(False)", "no"),
        Binding("escape", "answer(False)", "cancel"),
    ]
    DEFAULT_CSS = "Confirm { align: center middle; } #q { width: 60; border: thick $error; padding: 1 2; }"

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Label(f"{self.question}\n\n[y] yes    [n] no", id="q")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class MonitorApp(App[None]):
    """The dashboard (see the module doc). ``client``: an :class:`HttpClient` or anything with ``metrics()``,
    ``state()`` and ``post(action, body)``; ``interval``: seconds between readings."""

    TITLE = "cns monitor"
    CSS = """
    #top { height: 1fr; } #bottom { height: 1fr; }
    .panel { border: round $accent; width: 1fr; height: 1fr; padding: 0 1; }
    Sparkline { height: 2; margin-bottom: 1; }
    #status { height: 1; }
    """
    BINDINGS = [
        Binding("k", "kill", "kill switch"),
        Binding("p", "pause_feed", "pause/resume feed"),
        Binding("r", "refresh", "refresh"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, client: Any, *, interval: float = 1.0) -> None:
        super().__init__()
        self.client = client
        self.interval = interval
        self.series = _Series()
        self.snap: Snapshot | None = None
        self.message = ""

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="status")
        with Horizontal(id="top"):
            yield Static("", id="tree", classes="panel")
            with Vertical(id="stages", classes="panel"):
                yield Label("throughput (events/s)", id="tp_label")
                yield Sparkline([0.0], id="tp")
                yield Label("p99 latency (us)", id="lat_label")
                yield Sparkline([0.0], id="lat")
                yield Static("", id="stage_text")
        with Horizontal(id="bottom"):
            yield DataTable(id="feeds", classes="panel", cursor_type="row")
            yield DataTable(id="positions", classes="panel")
            yield Static("", id="risk", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        """Build the tables and start polling every ``interval`` s."""
        self.query_one("#feeds", DataTable).add_columns(
            "feed", "conn", "paused", "stale s", "last seq", "gaps lost", "reconn", "quarantined"
        )
        self.query_one("#positions", DataTable).add_columns("instrument", "shares")
        self.action_refresh()
        self.set_interval(self.interval, self.action_refresh)

    # ------------------------------------------------------------------ data
    @work(thread=True, exclusive=True, group="poll")
    def action_refresh(self) -> None:
        """Poll metrics and state off the UI thread, then :meth:`apply` them; a failure shows as unreachable."""
        t = time.time()
        try:
            snap = Snapshot(self.client.metrics(), self.client.state(), t)
        except Exception as e:  # noqa: BLE001 - shown in the status line, the monitor keeps polling
            snap = Snapshot({}, None, t, f"{type(e).__name__}: {e}")
        self.call_from_thread(self.apply, snap)

    def apply(self, snap: Snapshot) -> None:
        """Render a snapshot: tree, throughput and p99 sparklines (us), feeds, positions (shares), risk."""
        if snap.error:
            self._status(f"unreachable: {snap.error}")
            return
        self.snap = snap
        self.series.add(snap)
        s = snap.samples
        self._status(self.message)
        self.query_one("#tree", Static).update(self._tree_text(snap))
        tp = list(self.series.throughput) or [0.0]
        self.query_one("#tp", Sparkline).data = tp
        stage_lines = []
        for stage, d in sorted(self.series.p99.items()):
            stage_lines.append(f"{stage:<12} p99 {d[-1]:10.1f} us" if d else stage)
        first = next(iter(sorted(self.series.p99.items())), None)
        self.query_one("#lat", Sparkline).data = list(first[1]) if first and first[1] else [0.0]
        self.query_one("#tp_label", Label).update(f"throughput {tp[-1]:,.0f} events/s")
        self.query_one("#stage_text", Static).update("\n".join(stage_lines) or "no latency samples yet")
        self._feeds(s, snap.state)
        self._positions(s)
        self.query_one("#risk", Static).update(self._risk_text(s))

    def _status(self, extra: str) -> None:
        s = self.snap.samples if self.snap else {}
        kill = _value(s, "cns_risk_kill_switch_engaged")
        shard = next((lab.get("shard", "") for lab, _ in s.get("cns_shard_info", ())), "")
        text = f"shard {shard or '?'}  |  kill switch {'ON' if kill else 'off'}  |  {extra}"
        self.query_one("#status", Static).update(text)

    def _tree_text(self, snap: Snapshot) -> str:
        st = snap.state
        if st and st.get("tree"):
            lines = ["supervision tree"]

            def walk(node: dict[str, Any], depth: int) -> None:
                lines.append(
                    f"{'  ' * depth}{node.get('name', node.get('id'))}  restarts "
                    f"{node.get('restarts_in_window', 0)}/{node.get('intensity', '?')}"
                )
                for c in node.get("children", []):
                    if c.get("type") == "supervisor":
                        walk({"name": c["id"], **c}, depth + 1)
                    else:
                        lines.append(
                            f"{'  ' * (depth + 1)}{c['id']}  {c['state']}  mbox {c.get('mailbox', 0)}"
                        )

            walk(st["tree"], 0)
            return "\n".join(lines)
        s = snap.samples
        lines = ["supervisors"]
        restarts = {lab["supervisor"]: v for lab, v in s.get("cns_supervisor_restarts_total", ())}
        inten = {lab["supervisor"]: v for lab, v in s.get("cns_supervisor_restart_intensity", ())}
        window = {lab["supervisor"]: v for lab, v in s.get("cns_supervisor_restarts_in_window", ())}
        for lab, v in s.get("cns_supervisor_child_up", ()):
            sup = lab["supervisor"]
            if sup not in lines:
                lines.append(
                    f"{sup}  restarts {restarts.get(sup, 0):.0f} (window {window.get(sup, 0):.0f}/"
                    f"{inten.get(sup, 0):.0f})"
                )
            lines.append(f"  {lab['child']}  {'up' if v else 'DOWN'}")
        return "\n".join(lines)

    def _feeds(self, s: Samples, state: dict[str, Any] | None) -> None:
        t = self.query_one("#feeds", DataTable)
        cur = t.cursor_row
        t.clear()
        op = (state or {}).get("feeds", {})
        for lab, v in sorted(s.get("cns_feed_connected", ()), key=lambda x: x[0]["feed"]):
            f = lab["feed"]
            paused = (
                "OPERATOR"
                if op.get(f, {}).get("operator_paused")
                else ("yes" if _value(s, "cns_feed_paused", feed=f) else "no")
            )
            t.add_row(
                f,
                "up" if v else "DOWN",
                paused,
                f"{_value(s, 'cns_feed_staleness_seconds', feed=f):.1f}",
                f"{_value(s, 'cns_feed_last_sequence', feed=f):.0f}",
                f"{_value(s, 'cns_feed_gaps_total', feed=f, outcome='lost'):.0f}",
                f"{_value(s, 'cns_feed_reconnects_total', feed=f):.0f}",
                f"{_value(s, 'cns_quarantined_total', feed=f):.0f}",
                key=f,
            )
        if t.row_count:
            t.move_cursor(row=min(max(cur, 0), t.row_count - 1))

    def _positions(self, s: Samples) -> None:
        t = self.query_one("#positions", DataTable)
        t.clear()
        for lab, v in sorted(s.get("cns_position_shares", ()), key=lambda x: x[0]["instrument"]):
            t.add_row(lab["instrument"], f"{v:,.0f}")
        t.add_row("P&L realized", f"{_value(s, 'cns_pnl_realized_usd'):,.2f} USD")
        t.add_row("P&L unrealized", f"{_value(s, 'cns_pnl_unrealized_usd'):,.2f} USD")

    def _risk_text(self, s: Samples) -> str:
        lines = [
            f"kill switch: {'ON' if _value(s, 'cns_risk_kill_switch_engaged') else 'off'}",
            f"accepted: {_value(s, 'cns_risk_checks_total', result='accepted'):,.0f}",
            "rejects (total, last):",
        ]
        last = self.series.last_rejects
        for lab, v in s.get("cns_risk_checks_total", ()):
            r = lab["result"]
            if r != "accepted" and (v or last.get(r)):
                lines.append(f"  {r:<15} {v:8,.0f}  +{last.get(r, 0):,.0f}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ actions
    def action_kill(self) -> None:
        """Ask to confirm, then engage the kill switch (or release it when engaged)."""
        on = not bool(self.snap and _value(self.snap.samples, "cns_risk_kill_switch_engaged"))
        q = "ENGAGE the kill switch (no new orders)?" if on else "RELEASE the kill switch?"

        def done(yes: bool | None) -> None:
            if yes:
                self._post("kill_switch", {"on": on})

        self.push_screen(Confirm(q), done)

    def action_pause_feed(self) -> None:
        """Ask to confirm, then pause the selected feed (or resume it when operator-paused)."""
        t = self.query_one("#feeds", DataTable)
        if not t.row_count:
            self.message = "no feed to pause"
            self._status(self.message)
            return
        feed = str(t.get_row_at(t.cursor_row)[0])
        st = (self.snap.state or {}) if self.snap else {}
        paused = bool(st.get("feeds", {}).get(feed, {}).get("operator_paused"))
        action = "resume" if paused else "pause"

        def done(yes: bool | None) -> None:
            if yes:
                self._post(action, {"kind": "feed", "name": feed})

        self.push_screen(Confirm(f"{action.upper()} feed {feed}?"), done)

    @work(thread=True, group="post")
    def _post(self, action: str, body: dict[str, Any]) -> None:
        try:
            r = self.client.post(action, body)
            msg = f"{action}: {'ok ' + json.dumps(r.get('changed'))[:80] if r.get('ok') else r.get('error')}"
        except Exception as e:  # noqa: BLE001 - shown, not raised
            msg = f"{action} failed: {type(e).__name__}: {e}"
        self.message = msg
        self.call_from_thread(self._status, msg)
        self.call_from_thread(self.action_refresh)


def monitor_main(args: Any) -> int:
    """The handler of ``cns monitor`` (options declared in :mod:`cns.cli`)."""
    from cns.ops.errors import BadRequest

    url = args.url
    if not url.startswith(("http://", "https://")):
        raise BadRequest(f"--url must be an http(s) URL, got {url!r}", "url")
    interval = float(getattr(args, "interval", 1.0) or 1.0)
    if not 0.05 <= interval <= 3600:
        raise BadRequest(f"--interval must be in [0.05, 3600] s, got {interval}", "interval")
    MonitorApp(HttpClient(url, getattr(args, "token", None)), interval=interval).run()
    return 0
