"""The quiet-slice kernel (cns.replay.desk_fused) trades exactly as the desk's Python path, bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cns.replay.desk import DeskResult, TradingDesk
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE
from tests.replay.test_desk import INSTRUMENTS, SEC, START, config, decisions


def many_decisions(n: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    at = np.sort(rng.uniform(0.2, seconds - 0.5, n))
    rows = [
        (
            float(t),
            int(rng.integers(1, len(INSTRUMENTS) + 1)),
            int(rng.choice((-1, 1))),
            ACTION_TRADE if rng.random() < 0.8 else ACTION_CONTINGENCY,
        )
        for t in at
    ]
    d = decisions(*rows)
    d["size_basis"] = rng.uniform(0.5, 8.0, n)
    d["news_id"] = rng.integers(1, n // 3, n)  # repeated headlines: several decisions per news id
    return d


def run(desk: TradingDesk, d: np.ndarray) -> DeskResult:
    half = len(d) // 2
    desk.on_decisions(d[:half])
    desk.on_decisions(d[half:])
    return desk.finish()


def fields(r: DeskResult) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in DeskResult.__dataclass_fields__:
        if name in ("signal_latency_ns", "risk_latency_ns"):  # measured on this host
            continue
        v = getattr(r, name)
        if isinstance(v, np.ndarray):
            v = (
                [np.ascontiguousarray(v[f]).tobytes() for f in v.dtype.names]
                if v.dtype.names
                else v.tobytes()
            )
        out[name] = repr(v)
    return out


@pytest.mark.parametrize(
    ("latency_ns", "slice_ns", "hold_ns"),
    [(300, 1, SEC), (2_000_000, 50_000_000, SEC // 2), (300, 1, 0), (100_000_000, 1, SEC)],
)
def test_the_kernel_trades_as_the_python_path(latency_ns: int, slice_ns: int, hold_ns: int) -> None:
    cfg = dataclasses.replace(
        config(seconds=8.0, hold_ns=hold_ns, max_orders_per_window=5), slice_ns=slice_ns, snapshot_ns=SEC // 4
    )
    d = many_decisions(600, 8.0, seed=slice_ns + hold_ns)
    fused = TradingDesk(cfg, latency_ns)
    assert fused._quiet is not None
    python = TradingDesk(cfg, latency_ns)
    python._quiet = None
    r_fused, r_python = run(fused, d), run(python, d)
    assert r_python.orders > 0 and sum(r_python.risk_rejects.values()) > 0
    assert fields(r_fused) == fields(r_python)
    assert len(r_fused.signal_latency_ns) == len(r_python.signal_latency_ns)
    assert len(r_fused.risk_latency_ns) == len(r_python.risk_latency_ns)
    assert fused.sim.now_ns == python.sim.now_ns >= START + 8 * SEC
