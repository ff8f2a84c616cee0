"""The control API: token auth (401 without or with a wrong token, never echoed), accepted actions answered with
what changed and journaled, bad limits refused (400 naming the key), no non-loopback bind without a token; and
the actions on a running serve shard (kill switch, feed pause/resume, limits, strategy pause, state)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from cns.ops import OpsServer, UnsafeBind
from cns.ops.errors import BadRequest, NotFound
from cns.ops.reload import checked_risk_config

from .helpers import TOKEN, http, run, shard, until


class FakeBackend:
    """Records calls; limits checked with the real RiskConfig ranges."""

    def __init__(self) -> None:
        from cns.trading.config import RiskConfig

        self.risk = RiskConfig()
        self.calls: list[tuple[str, Any]] = []
        self.kill = False

    def state(self) -> dict[str, Any]:
        return {"kill_switch": self.kill}

    def kill_switch(self, on: bool) -> dict[str, Any]:
        old, self.kill = self.kill, on
        return {"kill_switch": {"old": old, "new": on}}

    def pause(self, kind: str, name: str) -> dict[str, Any]:
        if name != "f1":
            raise NotFound(f"unknown feed {name!r}")
        return {kind: name, "paused": {"old": False, "new": True}}

    def resume(self, kind: str, name: str) -> dict[str, Any]:
        return {kind: name, "paused": {"old": True, "new": False}}

    def set_limit(self, key: str, value: Any) -> dict[str, Any]:
        new = checked_risk_config(self.risk, key, value)
        old, self.risk = self.risk, new
        f = key.split(".")[-1]
        return {"limits": {f: {"old": getattr(old, f), "new": getattr(new, f)}}}

    def set_credibility(self, sources: Any) -> dict[str, Any]:
        raise BadRequest("no", "credibility.sources")

    def reload_rules(self, path: str | None) -> dict[str, Any]:
        return {"rules_version": {"old": 1, "new": 2}}

    def upgrade(self, module: str) -> dict[str, Any]:
        return {"module": module}


@pytest.fixture()
def server() -> Any:
    journal: list[dict[str, Any]] = []
    srv = OpsServer(None, FakeBackend(), token=TOKEN, journal=journal.append).start()
    srv.journal_records = journal  # type: ignore[attr-defined]
    yield srv
    srv.close()


def test_unauthenticated_and_wrong_token_requests_are_refused_with_401(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cns.ops")
    for token in (None, "wrong", TOKEN + "x", ""):
        status, body = http(server.url + "/control/kill_switch", {"on": True}, token=token)
        assert status == 401 and body["ok"] is False
        status, _ = http(server.url + "/control/state", token=token)
        assert status == 401
    assert server.backend.kill is False and server.journal_records == []  # nothing ran, nothing journaled
    assert TOKEN not in caplog.text and TOKEN not in repr(server)


def test_authenticated_actions_answer_what_changed_and_are_journaled(server: Any) -> None:
    status, body = http(server.url + "/control/kill_switch", {"on": True}, token=TOKEN)
    assert status == 200 and body == {
        "ok": True,
        "action": "kill_switch",
        "changed": {"kill_switch": {"old": False, "new": True}},
    }
    status, body = http(server.url + "/control/state", token=TOKEN)
    assert status == 200 and body["state"] == {"kill_switch": True}
    status, body = http(
        server.url + "/control/limit", {"key": "risk.max_order_qty", "value": 500}, token=TOKEN
    )
    assert status == 200 and body["changed"]["limits"]["max_order_qty"] == {"old": 10_000, "new": 500}
    rec = server.journal_records
    assert [r["action"] for r in rec] == ["kill_switch", "limit"] and all(r["ok"] for r in rec)
    assert rec[1]["request"] == {"key": "risk.max_order_qty", "value": 500} and rec[1]["at_ns"] > 0
    assert rec[0]["changed"] == {"kill_switch": {"old": False, "new": True}}
    # the X-CNS-Token header works too
    import json
    import urllib.request

    req = urllib.request.Request(
        server.url + "/control/pause",
        data=json.dumps({"kind": "feed", "name": "f1"}).encode(),
        method="POST",
        headers={"X-CNS-Token": TOKEN},
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200


def test_a_bad_limit_is_refused_with_400_naming_the_key(server: Any) -> None:
    for key, value, named in (
        ("risk.max_order_qty", -5, "risk.max_order_qty"),
        ("risk.collar_bps", float("inf"), "risk.collar_bps"),
        ("max_position", "lots", "risk.max_position"),
        ("risk.no_such_limit", 1, "risk.no_such_limit"),
        ("risk.disabled_checks", ["nope"], "risk.disabled_checks"),
    ):
        status, body = http(server.url + "/control/limit", {"key": key, "value": value}, token=TOKEN)
        assert status == 400, (key, body)
        assert body["key"] == named and named in body["error"]
    assert server.backend.risk.max_order_qty == 10_000  # unchanged
    assert [r["ok"] for r in server.journal_records] == [False] * 5  # refusals journaled too
    status, body = http(server.url + "/control/limit", {"key": "risk.max_order_qty"}, token=TOKEN)
    assert status == 400 and body["key"] == "value"
    status, body = http(server.url + "/control/kill_switch", {"on": "yes"}, token=TOKEN)
    assert status == 400 and body["key"] == "on"
    status, body = http(server.url + "/control/pause", {"kind": "feed", "name": "nope"}, token=TOKEN)
    assert status == 404
    status, body = http(server.url + "/control/nope", {}, token=TOKEN)
    assert status == 404


def test_a_non_loopback_control_api_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CNS_OPS_TOKEN", raising=False)
    with pytest.raises(UnsafeBind, match="without a token"):
        OpsServer(None, FakeBackend(), host="0.0.0.0", port=0)
    srv = OpsServer(None, FakeBackend(), host="127.0.0.1", port=0).start()  # loopback, no token: open
    try:
        assert http(srv.url + "/control/kill_switch", {"on": True})[0] == 200
    finally:
        srv.close()
    monkeypatch.setenv("CNS_OPS_TOKEN", "from-env")
    srv = OpsServer(None, FakeBackend(), port=0).start()
    try:
        assert http(srv.url + "/control/kill_switch", {"on": True})[0] == 401
        assert http(srv.url + "/control/kill_switch", {"on": True}, token="from-env")[0] == 200
    finally:
        srv.close()


def test_control_actions_on_a_running_shard() -> None:
    async def scenario() -> None:
        async with shard(n_news=20_000, seconds=40.0, speed=1.0) as (svc, ops, _):
            st = svc.state
            url = ops.url

            async def post(action: str, body: dict[str, Any], token: str | None = TOKEN) -> tuple[int, Any]:
                return await asyncio.to_thread(http, f"{url}/control/{action}", body, token)

            await until(lambda: st.counters["orders_sent"] > 0, 30.0, "orders")
            assert (await post("kill_switch", {"on": True}, None))[0] == 401
            assert not st.pipeline.risk.kill_switch_engaged
            status, body = await post("kill_switch", {"on": True})
            assert status == 200 and body["changed"]["kill_switch"] == {"old": False, "new": True}
            assert st.pipeline.risk.kill_switch_engaged
            rejected = st.pipeline.risk.counts[1]
            cands = st.counters["candidates"]
            await until(lambda: st.counters["candidates"] > cands, 20.0, "a candidate after the kill")
            await until(lambda: st.pipeline.risk.counts[1] > rejected, 5.0, "a kill-switch reject")
            _, m = await asyncio.to_thread(http, url + "/metrics")
            assert "cns_risk_kill_switch_engaged 1.0" in m
            assert (await post("kill_switch", {"on": False}))[1]["changed"]["kill_switch"]["new"] is False
            assert not st.pipeline.risk.kill_switch_engaged
            # limits: a valid change lands in the gate, a bad one is refused naming the key
            status, body = await post("limit", {"key": "risk.max_orders_per_window", "value": 7})
            assert status == 200 and body["changed"]["limits"]["max_orders_per_window"] == {
                "old": 200,
                "new": 7,
            }
            assert st.pipeline.risk.config.max_orders_per_window == 7 and len(st.pipeline.risk._ring) == 7
            status, body = await post("limit", {"key": "risk.max_position", "value": 0})
            assert status == 400 and body["key"] == "risk.max_position"
            assert st.pipeline.risk.config.max_position == 50_000
            # pause a feed: its handler reads nothing, decisions on its instruments are held; resume drains it
            status, body = await post("pause", {"kind": "feed", "name": "f1"})
            assert status == 200 and body["changed"]["paused"]["new"] is True
            assert st.feed_stats["f1"].paused
            await asyncio.sleep(0.2)
            n = st.counters["events_in"]
            await asyncio.sleep(0.6)
            assert st.counters["events_in"] == n
            _, state = await asyncio.to_thread(http, url + "/control/state", None, TOKEN)
            assert state["state"]["feeds"]["f1"]["operator_paused"] is True
            assert (await post("resume", {"kind": "feed", "name": "f1"}))[0] == 200
            await until(lambda: st.counters["events_in"] > n, 10.0, "news after the resume")
            await until(lambda: not st.feed_stats["f1"].paused, 10.0, "the feed live again")
            # pause the strategy stage: decisions queue (nothing lost), resume acts on them
            assert (await post("pause", {"kind": "strategy", "name": "signal"}))[0] == 200
            c = st.counters["candidates"]
            await asyncio.sleep(0.5)
            assert st.counters["candidates"] == c
            assert (await post("resume", {"kind": "strategy", "name": "signal"}))[0] == 200
            assert (await post("pause", {"kind": "strategy", "name": "nope"}))[0] == 404
            _, state = await asyncio.to_thread(http, url + "/control/state", None, TOKEN)
            tree = state["state"]["tree"]
            assert tree["name"] == "ops:serve" and {c["id"] for c in tree["children"]} == {
                "ops:trading_sup",
                "ops:feeds_sup",
            }
            assert state["state"]["limits"]["max_orders_per_window"] == 7
            _, m = await asyncio.to_thread(http, url + "/metrics")
            assert 'cns_ops_actions_total{action="limit",result="error"} 1.0' in m

    run(scenario(), 120.0)
