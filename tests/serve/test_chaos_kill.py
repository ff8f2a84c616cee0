"""``cns chaos`` bounded for CI: a random stage or the feed handler killed every 5 ms for ``CNS_CHAOS_S``
seconds (default 10) under news load; the shard survives, every kill is followed by a restart, and every
pipeline message is accounted for: processed + lost = sent, lost = exactly what was in the victims' mailboxes
(the runtime's own ``lost_on_exit`` grows by the count taken before each kill) + what was sent while a stage
was being restarted."""

from __future__ import annotations

import json
import os

from cns.serve.chaos import run_chaos

from .helpers import run


def test_chaos_kill_every_5_ms_accounts_for_every_message(tmp_path) -> None:
    seconds = float(os.environ.get("CNS_CHAOS_S", "10"))
    r = run(run_chaos(seconds, kill_every_ms=5.0, rate=1000.0, seed=3), seconds + 120.0)
    print(
        "CHAOS", json.dumps({k: r[k] for k in ("kills", "restarts", "messages", "latency_during_chaos_ns")})
    )
    m = r["messages"]
    assert r["service_alive"]
    assert r["kills_total"] > seconds * 50  # a kill every 5 ms, minus the turns in progress and restarts
    assert r["restarts_total"] == r["kills_total"]
    assert m["pending_after_drain"] == 0
    assert m["processed"] + m["lost"] == m["sent"] and m["balanced"]
    assert all(v["balanced"] for v in r["per_stage"].values()), r["per_stage"]
    assert r["runtime_lost_on_exit"] == r["victims_mailboxes_counted"]
    assert m["processed"] > 0 and r["events_in_during_chaos"] > 0
    assert r["latency_during_chaos_ns"]["event_p99"] is not None
