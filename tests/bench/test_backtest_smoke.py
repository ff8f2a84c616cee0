"""``cns bench backtest``: one stream for every engine, the same strategy decisions, JSON with a headline."""

import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from cns.bench import backtest
from cns.bench.backtest_peers import BacktestStreamError, load_stream, remaining_after
from cns.market.lobster import lobster_passive_ops
from cns.venue.l3book import L3Book


def test_stream_sessions_end_empty_and_remaining_sizes() -> None:
    s = backtest.make_stream(6_000, seed=3, day_messages=2_000)
    assert s.shape[0] > 4_000 and set(np.unique(s["type"])) <= {1, 2, 3, 4}
    assert np.all(np.diff(s["time_ns"]) >= 0) and np.all(s["price"] % 100 == 0)
    book = L3Book(capacity=1 << 12)
    book.process(lobster_passive_ops(s))
    assert book.n_orders == 0 and book.check() == 0  # every tiled session closes out its orders
    rem = remaining_after(s)
    assert np.all(rem[s["type"] == 3] == 0) and np.all(rem[s["type"] == 1] == s["size"][s["type"] == 1])


def test_bad_stream_and_unknown_engine(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(3))
    with pytest.raises(BacktestStreamError, match="bad.npy"):
        load_stream(str(bad))
    with pytest.raises(BacktestStreamError, match="cannot read"):
        load_stream(str(tmp_path / "missing.npy"))
    good = tmp_path / "s.npy"
    np.save(good, backtest.make_stream(1_000, day_messages=1_000))
    r = backtest._run_engine("no-such-engine", good, {}, 0, 60.0)
    assert "unavailable" in r


def test_replay_figure(tmp_path: Path) -> None:
    doc = {
        "trading": {"events": 10, "fast": {"venue": {"orders": 90}}, "slow": {"venue": {"orders": 80}}},
        "measured": {"wall_s": 2.0},
    }
    p = tmp_path / "report.json"
    p.write_text(json.dumps(doc))
    f = backtest.replay_figure(p)
    assert f["events_plus_book_orders_per_s"] == 50.0 and f["slow_world_book_orders_not_counted"] == 80
    assert "unavailable" in backtest.replay_figure(tmp_path / "none.json")


@pytest.mark.smoke  # ~15 s with warm Numba caches; a cold cache compiles the L3 book kernels first (minutes
@pytest.mark.slow  # on a loaded machine)
def test_bench_backtest_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no out/report.json here: the default-replay figure is "unavailable"
    out = tmp_path / "bench.json"
    args = argparse.Namespace(
        quick=True, json=str(out), runs=1, events=25_000, nautilus_events=8_000, timeout=250.0
    )
    assert backtest.main(args) == 0
    doc = json.loads(out.read_text())
    for key in ("cpu", "stream", "engines", "ratios", "headline", "includes", "default_replay"):
        assert key in doc, key
    cns = doc["engines"]["cns"]
    assert cns["events"] == doc["stream"]["events"] and cns["events_per_s"] > 0
    assert cns["orders"] > 0 and cns["book_check"] == 0
    assert doc["headline"] and "unavailable" in doc["default_replay"]
    missing = []
    for engine, package in backtest.PEER_PACKAGES.items():
        if importlib.util.find_spec(package) is None:
            assert "unavailable" in doc["engines"][engine]
            missing.append(package)
            continue
        assert doc["engines"][engine]["events_per_s"] > 0, doc["engines"][engine]
        assert doc["ratios"][engine]["same_orders"], (engine, doc["engines"][engine], cns)
    if missing:
        pytest.skip(f"peers not installed (pip install 'cns[peers]'): {', '.join(sorted(set(missing)))}")
