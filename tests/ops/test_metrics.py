"""The metrics endpoint: the exposition of a running serve shard passes ``promtool check metrics`` and carries
every area of the issue; latency histograms folded from stamps are exact; runtime and supervision metrics
follow restarts and exits; families are all in METRIC_NAMES."""

from __future__ import annotations

import asyncio
import subprocess

import numpy as np

from cns.ops.latency import ArrayCursor, HdrSource, ListCursor, StageHistogram
from cns.ops.metrics import RuntimeEvents, RuntimeMetrics, SupervisorReports, build_registry
from cns.ops.monitor import parse_metrics
from cns.ops.pipeline import METRIC_NAMES

from .helpers import http, need_tool, run, shard, until


def test_a_running_shard_exposes_every_area_and_promtool_accepts_the_exposition() -> None:
    promtool = need_tool("promtool", "prometheus")

    async def scenario() -> tuple[str, str]:
        async with shard(n_news=8000, seconds=20.0, speed=2.0, latency_budgets_s={"order": 0.01}) as (
            svc,
            ops,
            _,
        ):
            await until(
                lambda: svc.state.counters["fills"] > 0 and svc.state.counters["events_in"] > 300,
                30.0,
                "fills",
            )
            _, first = await asyncio.to_thread(http, ops.url + "/metrics")
            await asyncio.sleep(0.3)
            _, second = await asyncio.to_thread(http, ops.url + "/metrics")
            return first, second

    first, text = run(scenario())
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    s = parse_metrics(text)

    def v(name: str, **labels: str) -> float:
        return sum(x for lab, x in s.get(name, ()) if all(lab.get(k) == w for k, w in labels.items()))

    assert v("cns_pipeline_events_total") > 300 and v("cns_validator_records_total", verdict="conforms") > 300
    assert v("cns_decisions_total") > 0 and v("cns_orders_sent_total") > 0 and v("cns_fills_total") > 0
    assert v("cns_feed_last_sequence", feed="f1") > 0 and v("cns_feed_connected", feed="f1") == 1
    assert (
        "cns_feed_staleness_seconds" in s and "cns_feed_reconnects_total" in s and "cns_feed_gaps_total" in s
    )
    assert v("cns_risk_checks_total", result="accepted") > 0 and v("cns_risk_kill_switch_engaged") == 0
    assert (
        v("cns_supervisor_child_up", child="ops:desk") == 1
        and v("cns_supervisor_restart_intensity", supervisor="ops:feeds_sup") == 1000
    )
    assert v("cns_runtime_processes") >= 9 and "cns_process_mailbox_depth_max_messages" in s
    assert v("cns_stage_latency_seconds_count", stage="order") > 0
    assert v("cns_stage_latency_seconds_count", stage="ingest") > 0
    assert v("cns_stage_latency_budget_seconds", stage="order") == 0.01
    assert "cns_position_shares" in s and "cns_pnl_realized_usd" in s and "cns_orders" in s
    assert (
        v("cns_journal_attached") == 0 and "cns_journal_fsync_lag_seconds" in s
    )  # placeholder until a journal
    assert v("cns_rules_version") == 1 and v("cns_ops_control_enabled") == 1

    def family(n: str) -> str:
        for suf in ("_bucket", "_sum", "_count"):
            if n.endswith(suf) and n[: -len(suf)] in METRIC_NAMES:
                return n[: -len(suf)]
        return n

    ours = {family(n) for n in s if n.startswith("cns_")}
    assert ours <= METRIC_NAMES, ours - METRIC_NAMES
    # counters only grow between scrapes
    s1 = parse_metrics(first)
    assert sum(x for _, x in s1["cns_pipeline_events_total"]) <= v("cns_pipeline_events_total")


def test_latency_histograms_fold_stamps_exactly_into_second_buckets() -> None:
    rng = np.random.default_rng(1)
    rows: list[tuple[int, int, int]] = []
    lat = rng.integers(0, 20_000_000, 5000)  # ns
    h = StageHistogram("order", ListCursor(rows, 1, 2))
    for i, x in enumerate(lat[:3000]):
        rows.append((i, 1000, 1000 + int(x)))
    h.fold()
    for i, x in enumerate(lat[3000:]):
        rows.append((i, 5, 5 + int(x)))
    buckets, sum_s, count = h.snapshot()
    assert count == 5000 and abs(sum_s - lat.sum() / 1e9) < 1e-9
    for le, c in buckets:
        bound = float("inf") if le == "+Inf" else float(le)
        assert c == np.count_nonzero(lat / 1e9 <= bound + 1e-12), le
    rows.clear()  # an owner reset restarts the cursor
    rows.append((0, 0, 3))
    assert h.snapshot()[2] == 5001
    # flat int64 runs (cns.serve's LatencyProbe: array('q'), 3 ints per order); a partial row waits
    from array import array

    flat = array("q")
    f = StageHistogram("order", ListCursor(flat, 1, 2, 3))
    flat.extend((7, 100, 2_100, 8, 100))
    assert f.snapshot()[2] == 1
    flat.append(5_000_100)
    buckets, sum_s, count = f.snapshot()
    assert count == 2 and abs(sum_s - 0.005002) < 1e-12 and dict(buckets)["0.005"] == 2
    # array stamps: -1 (not sampled) skipped, only entries below done() read
    arr = np.full(100, -1, np.int64)
    arr[::10] = 2_000
    done = [50]
    a = StageHistogram("validate", ArrayCursor(arr, lambda: done[0]))
    assert a.snapshot()[2] == 5
    done[0] = 100
    assert a.snapshot()[2] == 10


def test_hdr_source_reads_a_latency_recorder() -> None:
    from cns.telemetry import LatencyRecorder

    rec = LatencyRecorder("x")
    rec.record_many(np.array([1_000, 2_000, 3_000_000, 40_000_000], np.int64))
    rec.fold()
    h = StageHistogram("x", HdrSource(rec.histogram))
    buckets, sum_s, count = h.snapshot()
    assert count == 4 and abs(sum_s - 0.043003) < 1e-4
    d = dict(buckets)
    assert d["1e-06"] == 1 and d["2.5e-06"] == 2 and d["0.005"] == 3 and d["0.05"] == 4 and d["+Inf"] == 4


def test_runtime_metrics_follow_restarts_and_exits_by_reason() -> None:
    from prometheus_client.exposition import generate_latest

    from cns.otp import ChildSpec, GenServer, Supervisor, SupFlags
    from cns.runtime import Node

    class Crashy(GenServer):
        def handle_info(self, msg: object) -> None:
            if msg == "boom":
                raise ValueError("boom")

    node = Node()
    reports = SupervisorReports().install()
    events = RuntimeEvents().attach()
    try:
        spec = ChildSpec("w", lambda n: Crashy.start_link(n, name="w"))
        Supervisor.start_link(node, SupFlags("one_for_one", intensity=5, period=60.0), [spec], name="top")
        node.run_until_idle()
        reg, col = build_registry(
            {"runtime": RuntimeMetrics(node, events=events, reports=reports)}, process_metrics=False
        )
        for _ in range(3):
            node.send("w", "boom")
            node.run_until_idle()
            generate_latest(reg)  # a scrape between restarts
        node.send("w", "fine")
        node.run_until_idle()
        node.send("w", [1] * 3)
        s = parse_metrics(generate_latest(reg).decode())
    finally:
        events.detach()
        reports.remove()
        node.shutdown()

    def v(name: str, **labels: str) -> float:
        return sum(x for lab, x in s.get(name, ()) if all(lab.get(k) == w for k, w in labels.items()))

    assert v("cns_supervisor_restarts_total", supervisor="top") == 3
    assert v("cns_supervisor_restarts_in_window", supervisor="top") == 3
    assert v("cns_supervisor_restart_intensity", supervisor="top") == 5
    assert v("cns_supervisor_child_exits_total", supervisor="top", child="w", reason="ValueError") == 3
    assert v("cns_runtime_exits_total", reason="ValueError") == 3 and v("cns_runtime_spawns_total") >= 5
    assert v("cns_supervisor_child_up", supervisor="top", child="w") == 1
    assert v("cns_process_messages_in_total", process="w") >= 1
    assert v("cns_process_mailbox_depth_messages", process="w") == 1  # queued, not yet handled
    assert col.errors == {}
