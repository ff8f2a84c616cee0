"""``cns run``'s endpoint (ReplayOptions.metrics_port): the replay ingest's events, verdicts, quarantine and
per-stage in-kernel latency, served while it runs (a fake ingest here: the driver hook only calls this)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from cns.ops.monitor import parse_metrics
from cns.ops.replay import ReplayEndpoint, serve_replay_metrics

from .helpers import http


def test_replay_metrics_serve_the_ingest_while_it_runs() -> None:
    from cns.runtime import Node

    m = 100  # sampled entries (every 10th of 1000 events), as StageLatencies keeps them
    lat = SimpleNamespace(**{s: np.full(m, 3_000, np.int64) for s in ("parse", "validate", "corroborate")})
    for s in ("parse", "validate", "corroborate"):
        getattr(lat, s)[50:] = -1  # windows not closed yet: must not be read
    lat.final = 50  # entries kept so far (500 events)
    ing = SimpleNamespace(
        node=Node(),
        lat=lat,
        totals={"events": 600, "zero_tick": 100, "validated": 450},
        quarantine=[SimpleNamespace(reason="bad_json: line 3"), SimpleNamespace(reason="bad_json: x")],
    )
    ep = serve_replay_metrics(ing, batch=250, port=0, announce=False)
    try:
        assert ReplayEndpoint.last is ep
        status, text = http(f"http://127.0.0.1:{ep.port}/metrics")
        assert status == 200
        s = parse_metrics(text)
        assert s["cns_pipeline_events_total"] == [({}, 600.0)]
        assert ({"verdict": "elided"}, 100.0) in s["cns_validator_records_total"]
        assert s["cns_quarantined_total"] == [({"feed": "replay", "reason": "bad_json"}, 2.0)]
        counts = {lab["stage"]: v for lab, v in s["cns_stage_latency_seconds_count"]}
        assert counts == {
            "parse": 50.0,
            "validate": 50.0,
            "corroborate": 50.0,
        }  # the 50 entries kept: 500 events
        assert "cns_runtime_processes" in s
    finally:
        ep.close()
