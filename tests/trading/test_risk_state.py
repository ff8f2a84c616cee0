"""The risk gate's arrays travel as one :class:`RiskState`: the gate shares the books' arrays, every way into the
kernel (the bundle, the spread form, the former flat form) checks the same, and the bundle-taking kernels are
compiled without reference counting."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import cns.replay.desk_fused as fused
from cns.trading import risk_kernels as K
from cns.trading.errors import StateError
from cns.venue.dtypes import ORDER_CANCEL, ORDER_MARKET
from tests.trading.test_risk import AAPL, MSFT, NOW, TSLA, Desk


def _batch(d: Desk) -> np.ndarray:
    """Accepted, collar, duplicate, cool-down, market, cancel and unknown-instrument orders."""
    return np.concatenate(
        [
            d.order(qty=100, news_id=7),
            d.order(price=150.0),
            d.order(qty=100, ts=NOW + 1, news_id=8),  # same side/qty/price as the first: duplicate
            d.order(instr=MSFT, qty=5, ts=NOW + 2, news_id=7),  # headline 7 again: cool-down
            d.order(instr=TSLA, side=-1, qty=3, ts=NOW + 3, type_=ORDER_MARKET),
            d.order(type_=ORDER_CANCEL),
            d.order(instr=60_000, ts=NOW + 4),
        ]
    )


def test_the_gate_shares_the_books_arrays_and_snapshots_its_own():
    d = Desk()
    a = d.gate.arrays
    assert isinstance(a, K.RiskState)
    assert (
        a.position is d.portfolio.position and a.open_buy is d.oms.open_buy and a.open_sell is d.oms.open_sell
    )
    assert d.gate.counts is a.counts and d.gate._p is a.p and d.gate._scal is a.scal
    keys = ["exposure", "gross", "scal", "ring", "last_side", "last_qty", "last_px", "last_ts", "cd_keys"]
    assert list(d.gate.state()) == [*keys, "cd_ts", "counts"]  # the snapshot format is unchanged


def test_bundle_and_spread_calls_check_and_book_alike():
    ds = [Desk(), Desk()]
    batches = [_batch(d) for d in ds]
    out = []
    for k, (d, b) in enumerate(zip(ds, batches, strict=True)):
        a = d.gate.arrays
        r = np.zeros(len(b), np.uint8)
        if k == 0:
            n = K.check_orders(b, d.mid, d.mid_ts, np.int64(NOW), 0.0, a, r)
        else:
            n = K.check_spread(b, d.mid, d.mid_ts, np.int64(NOW), 0.0, r, None, 0.0, 0.0, *a)
        out.append((n, r))
    names = [K.RISK_REASON_NAMES[x] for x in out[0][1]]
    assert names == ["accepted", "collar", "duplicate", "cooldown", "accepted", "accepted", "restricted"]
    for n, r in out[1:]:
        assert n == out[0][0] and r.tolist() == out[0][1].tolist()
    for f in K.RiskState._fields:
        for d in ds[1:]:
            assert np.array_equal(getattr(d.gate.arrays, f), getattr(ds[0].gate.arrays, f)), f
    assert ds[0].oms.open_buy[AAPL] == 100 and ds[0].oms.open_sell[TSLA] == 3


def test_gate_check_and_refresh_go_through_the_bundle():
    d, ref = Desk(), Desk()
    accepted, reasons = d.gate.check(_batch(d), d.mid, d.mid_ts, NOW)
    r = np.zeros(len(reasons), np.uint8)
    K.check_orders(_batch(ref), ref.mid, ref.mid_ts, np.int64(NOW), 0.0, ref.gate.arrays, r)
    assert reasons.tolist() == r.tolist() and len(accepted) == 3
    d.mid[AAPL] = 110.0
    d.gate.refresh(d.mid)
    assert d.gate.arrays.exposure[AAPL] == pytest.approx(100 * 110.0)
    assert d.gate.gross_exposure == pytest.approx(float(d.gate.arrays.exposure.sum()))


def test_a_new_rate_ring_replaces_the_bundles():
    d = Desk(max_orders_per_window=10)
    d.gate._ring = np.full(2, -(1 << 62), np.int64)  # what cns.ops.reload does for a shorter window
    assert d.gate.arrays.ring is d.gate._ring and len(d.gate._ring) == 2
    orders = [d.order(instr=i, qty=1, ts=NOW + i) for i in (AAPL, MSFT, TSLA)]
    assert d.check(*orders) == ["accepted", "accepted", "rate"]
    for bad in (np.zeros(0, np.int64), np.zeros(3, np.float64), np.zeros((2, 2), np.int64), [1, 2]):
        with pytest.raises(StateError, match="rate ring"):
            d.gate._ring = bad
    assert len(d.gate.arrays.ring) == 2
    d.gate.restore(Desk(max_orders_per_window=2).gate.state())  # same shapes: accepted


@pytest.mark.parametrize("kernel", ["check_orders", "refresh_exposure", "check_spread", "mark_exposure"])
def test_bundle_kernels_are_compiled_without_reference_counting(kernel):
    # a named tuple member access otherwise costs an incref/decref pair per access (see cns.rules.term_table)
    assert getattr(K, kernel).targetoptions.get("_nrt") is False


def _cns_imports(path: Path, src: Path) -> set[Path]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "cns":
            base = src.joinpath(*node.module.split("."))
            cands = [base.with_suffix(".py")] + [base / f"{a.name}.py" for a in node.names]
            found |= {c.resolve() for c in cands if c.exists()}
    return found


def test_desk_fused_follows_every_module_its_kernels_compile_in():
    # a compiled module freezes the globals it imports (constants, inlined helpers): every cns module a
    # compiled module imports must be followed; only modules that compile code themselves import further
    deps = {p.resolve() for p in fused._DEPS}
    src = Path(fused.__file__).resolve().parents[2]
    here = Path(fused.__file__).resolve()
    todo, seen = [here], {here}
    while todo:
        for g in _cns_imports(todo.pop(), src) - seen:
            if g.name != "kernel_deps.py":
                seen.add(g)
                if "njit" in g.read_text():
                    todo.append(g)
    missing = sorted(str(p.relative_to(src)) for p in seen - deps - {here})
    assert not missing, f"desk_fused._DEPS misses {missing}"
