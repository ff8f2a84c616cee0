"""Stage actors driven synchronously: decisions on instruments of a paused feed are held, released when the
feed is live again, dropped when held too long; untradable decisions never make orders."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from cns.runtime import Node
from cns.serve.config import serve_config_from_dict
from cns.serve.stages import Candidates, Decided, SignalStage
from cns.serve.state import build_state
from cns.signals.dtypes import KIND_EARNINGS
from cns.trading.corroborate_kernels import ACTION_MONITOR, ACTION_TRADE, DECISION_DTYPE

from .helpers import serve_dict


def _setup(held_max_age_s: float = 5.0) -> tuple[Node, Any, list[Any]]:
    state = build_state(serve_config_from_dict(serve_dict(7400, desk={"held_max_age_s": held_max_age_s})))
    node = Node()
    got: list[Any] = []
    node.spawn(got.append, name=state.names.risk)  # stands in for the risk stage
    SignalStage.start(node, state, name=state.names.signal)
    return node, state, got


def _decision(state: Any, ticker: str, action: int = ACTION_TRADE) -> np.ndarray:
    d = np.zeros(1, DECISION_DTYPE)
    d["news_id"] = 42
    d["ts_ns"] = time.time_ns()
    d["ticker"] = state.dictionaries[1].code(ticker)
    d["kind"] = KIND_EARNINGS
    d["action"] = action
    d["direction"] = 1
    d["n_sources"] = 2
    d["size_basis"] = 5.0
    d["sentiment"] = 0.5
    return d


def test_a_paused_feeds_decisions_are_held_and_released_when_it_is_live() -> None:
    node, state, got = _setup()
    assert state.feed_stats["f1"].paused  # a handler starts paused: nothing heard yet
    node.send(state.names.signal, Decided(_decision(state, "AAPL"), 7))
    node.run_until_idle()
    assert state.counters["decisions_held"] == 1 and got == []
    state.feed_stats["f1"].paused = False
    node.run(timeout=0.1)  # the 20 ms tick releases it
    assert state.counters["held_released"] == 1
    assert len(got) == 1 and isinstance(got[0], Candidates) and got[0].recv_ns == 7
    o = got[0].orders
    assert len(o) == 1 and o["instrument"][0] == state.dictionaries[1].code("AAPL") and o["side"][0] == 1


def test_a_held_decision_is_dropped_after_held_max_age() -> None:
    node, state, got = _setup(held_max_age_s=0.0)
    node.send(state.names.signal, Decided(_decision(state, "MSFT"), 1))
    node.run(timeout=0.1)
    assert state.counters["decisions_held"] == 1 and state.counters["held_expired"] == 1
    state.feed_stats["f1"].paused = False
    node.run(timeout=0.05)
    assert got == [] and state.counters["held_released"] == 0


def test_live_feed_trades_at_once_and_untradable_or_non_trade_decisions_make_no_order() -> None:
    node, state, got = _setup()
    state.feed_stats["f1"].paused = False
    for d in (_decision(state, "T0400"), _decision(state, "AAPL", ACTION_MONITOR), _decision(state, "NVDA")):
        node.send(state.names.signal, Decided(d, 1))
    node.run_until_idle()
    assert state.counters["decisions_untradable"] == 1  # T0400 is in the universe, not in [[instruments]]
    assert [int(c.orders["instrument"][0]) for c in got] == [state.dictionaries[1].code("NVDA")]


def test_a_feed_covering_other_instruments_does_not_hold_these() -> None:
    doc = serve_dict(7400)
    doc["feeds"].append({"name": "f2", "port": 7401, "instruments": ["TSLA"]})
    state = build_state(serve_config_from_dict(doc))
    node = Node()
    got: list[Any] = []
    node.spawn(got.append, name=state.names.risk)
    SignalStage.start(node, state, name=state.names.signal)
    state.feed_stats["f1"].paused = False  # f2 (TSLA only) stays paused
    node.send(state.names.signal, Decided(_decision(state, "AAPL"), 1))
    node.send(state.names.signal, Decided(_decision(state, "TSLA"), 1))
    node.run_until_idle()
    assert len(got) == 1 and state.counters["decisions_held"] == 1
