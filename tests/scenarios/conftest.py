from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from cns.news import read_jsonl
from cns.resources import shipped_scenarios
from cns.signals.universe import default_instruments, source_dictionary, ticker_dictionary
from cns.trading import StepResult, TradingConfig, TradingPipeline, load_config
from tests.scenarios.builders import lines

SCENARIO_DIR = shipped_scenarios()


class Run:
    """A scenario pushed through the real trading stages, with everything they produced."""

    def __init__(self, source: Path | Iterable[str], config: TradingConfig) -> None:
        batch = read_jsonl(source, source_dictionary(), ticker_dictionary())
        assert not batch.rejects, batch.rejects
        self.batch = batch
        self.pipe = TradingPipeline(config, batch.sources, batch.tickers)
        instruments = default_instruments()
        self.mid = np.zeros(len(batch.tickers), dtype=np.float64)
        self.mid[1 : len(instruments) + 1] = [i.price for i in instruments]
        now = int(batch.records["receive_ns"].max())
        self.mid_ts = np.full(len(self.mid), now, dtype=np.int64)
        step = self.pipe.on_news(batch.records, self.mid, self.mid_ts, now)
        close = self.pipe.on_clock(self.mid, self.mid_ts, now, close_all=True)
        self.steps: list[StepResult] = [step, close]
        self.decisions = np.concatenate([s.decisions for s in self.steps])
        self.orders = np.concatenate([s.accepted for s in self.steps])
        self.candidates = np.concatenate([s.candidates for s in self.steps])

    def final_action(self) -> int | None:
        """The last (highest) action decided, or None when no rule fired."""
        return int(self.decisions["action"][-1]) if len(self.decisions) else None

    def ticker(self, code: int) -> str:
        return self.batch.tickers.string(code)


@pytest.fixture(scope="session")
def scenario_config() -> TradingConfig:
    return load_config(SCENARIO_DIR / "config.toml")


@pytest.fixture
def run_file(scenario_config):
    def run(name: str) -> Run:
        return Run(SCENARIO_DIR / f"{name}.jsonl", scenario_config)

    return run


@pytest.fixture
def run_items(scenario_config):
    def run(items: list[dict], config: TradingConfig | None = None) -> Run:
        return Run(lines(items), config or scenario_config)

    return run
