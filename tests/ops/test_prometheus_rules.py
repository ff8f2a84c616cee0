"""The alerting rules, the example scrape config and the Grafana dashboard: checked and unit-tested with the real
``promtool`` (Debian package ``prometheus``), and every metric they name is one cns.ops exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from cns.ops.pipeline import METRIC_NAMES

from .helpers import need_tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "cns-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "cns-alerts.test.yml"
CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "cns.json"
_NAME = re.compile(r"\bcns_[a-z0-9_]+")
_HIST = ("_bucket", "_sum", "_count")


def _names_in(expr: str) -> set[str]:
    out = set()
    for n in _NAME.findall(expr):
        for suf in _HIST:
            if n.endswith(suf) and n[: -len(suf)] in METRIC_NAMES:
                n = n[: -len(suf)]
        out.add(n)
    return out


def test_promtool_checks_the_rules_and_the_example_config() -> None:
    promtool = need_tool("promtool", "prometheus")
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 10 rules found" in r.stdout
    r = subprocess.run([promtool, "check", "config", str(CONFIG)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_unit_tests_of_every_alert_pass() -> None:
    promtool = need_tool("promtool", "prometheus")
    r = subprocess.run(
        [promtool, "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=RULE_TESTS.parent,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    defined = set(re.findall(r"- alert: (\w+)", RULES.read_text()))
    assert defined - {"CnsTargetDown"} <= tested and "CnsTargetDown" in tested  # each alert fires in a test


def test_the_rules_name_only_exported_metrics() -> None:
    exprs = re.findall(r"expr: \|?\s*\n?(.*?)\n\s+(?:for|labels):", RULES.read_text(), re.S)
    assert len(exprs) == 10
    for e in exprs:
        unknown = _names_in(e) - METRIC_NAMES
        assert not unknown, f"{e!r} names {unknown}"


def test_every_dashboard_expression_references_an_exported_metric() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 40
    seen: set[str] = set()
    for e in exprs:
        names = _names_in(e)
        assert names, f"dashboard expression {e!r} names no cns metric"
        unknown = names - METRIC_NAMES
        assert not unknown, f"dashboard expression {e!r} names {unknown}, which cns.ops does not export"
        seen |= names
    # the dashboard covers every area of the issue
    for must in (
        "cns_stage_latency_seconds",
        "cns_feed_staleness_seconds",
        "cns_quarantined_total",
        "cns_decisions_by_action_total",
        "cns_risk_checks_total",
        "cns_position_shares",
        "cns_pnl_realized_usd",
        "cns_supervisor_restarts_total",
        "cns_process_mailbox_depth_max_messages",
        "cns_journal_fsync_lag_seconds",
    ):
        assert must in seen, must
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["uid"] == "cns-ops"
