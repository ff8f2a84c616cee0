"""The engines of ``cns bench backtest``, one per fresh process: CNS, hftbacktest and NautilusTrader replay the
same L3 stream with the same strategy and report what they did and how long the replay loop took.

``python -m cns.bench.backtest_peers ENGINE STREAM PARAMS_JSON`` runs one engine (``cns``, ``hftbacktest`` or
``nautilus``) on ``STREAM`` (a ``.npy`` of :data:`cns.market.lobster.LOBSTER_MSG_DTYPE` rows of types 1-4:
add, partial cancel, delete, visible execution; prices in LOBSTER units, one book tick = 100 units = USD 0.01)
and prints one JSON object: ``events``, ``wall_ns`` and ``cpu_ns`` of the replay loop only (data conversion to the
engine's own format is timed apart as ``prepare_ns``), the strategy's ``orders``, ``fills`` (as the engine
counts them), ``quoted`` (events after which both sides were quoted) and ``version``; or ``{"unavailable":
reason}`` when the engine cannot be imported.

The strategy (params ``num``, ``den``, ``cooldown_ns``, ``qty``, ``max_pos``) is the rule described in
:mod:`cns.bench.backtest_kernels`, written once per engine in the engine's own idiom: a Numba kernel over the
CNS book state, an ``@njit`` loop over hftbacktest's ``wait_next_feed`` / ``depth`` (its compiled path), a
NautilusTrader ``Strategy`` reading the cached L3 book in ``on_order_book_deltas``. Each engine warms up on a
prefix of the stream first (Numba compilation or cache load) outside the timing.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from cns.errors import CNSError

TICK_UNITS = 100  # LOBSTER price units per book tick (USD 0.01)
TICK_USD = 0.01
WARM_EVENTS = 20_000


class BacktestStreamError(CNSError):
    """The stream file is unreadable or not LOBSTER message rows (says which file)."""


DEFAULT_PARAMS: dict[str, int] = {
    "num": 3,
    "den": 1,
    "cooldown_ns": 5_000_000_000,
    "qty": 100,
    "max_pos": 500,
}


def load_stream(path: str) -> np.ndarray:
    """The ``.npy`` stream written by :func:`cns.bench.backtest.run` (LOBSTER_MSG_DTYPE rows, 1-D); raises
    :class:`BacktestStreamError` for an unreadable file or any other array."""
    from cns.market.lobster import LOBSTER_MSG_DTYPE

    try:
        msgs = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise BacktestStreamError(f"{path}: cannot read the stream ({type(e).__name__}: {e})") from e
    if not isinstance(msgs, np.ndarray) or msgs.dtype != LOBSTER_MSG_DTYPE or msgs.ndim != 1:
        raise BacktestStreamError(f"{path}: not a 1-D array of LOBSTER message rows")
    return msgs


def remaining_after(msgs: np.ndarray) -> np.ndarray:
    """Shares left on each row's order after the row (add: its size; partial cancel / execution: what remains;
    delete: 0), vectorised per order id (rows of one id keep their order)."""
    n = msgs.shape[0]
    ty, oid, sz = msgs["type"], msgs["order_id"], msgs["size"]
    change = np.where(ty == 1, sz, np.where(ty == 3, 0, -sz))
    order = np.lexsort((np.arange(n), oid))
    c = np.cumsum(change[order])
    so = oid[order]
    start = np.ones(n, bool)
    start[1:] = so[1:] != so[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    rem = np.empty(n, np.int64)
    rem[order] = c - (c[first] - change[order][first])
    rem[ty == 3] = 0
    return np.maximum(rem, 0)  # an id never added (a malformed feed) counts as gone


def _timed(fn: Callable[[], Any]) -> tuple[Any, int, int]:
    c0, t0 = time.process_time_ns(), time.perf_counter_ns()
    r = fn()
    return r, time.perf_counter_ns() - t0, time.process_time_ns() - c0


# ---- CNS ---------------------------------------------------------------------------------------------------


def run_cns(msgs: np.ndarray, params: dict[str, int]) -> dict[str, Any]:
    """CNS's sparse L3 book + the strategy kernel (:func:`cns.bench.backtest_kernels.replay_with_strategy`).
    ``params["prefix"]`` (optional): also report the orders sent over the first that many events (the warm-up
    run), to check a peer that replays only a prefix."""
    import cns
    from cns.bench import backtest_kernels as BK
    from cns.market.lobster import lobster_passive_ops
    from cns.venue import l3book_query as Q
    from cns.venue import l3book_store as L
    from cns.venue.l3book_dtypes import EXEC_FIELDS, MAX_ORDERS, OP_FIELDS

    t0 = time.perf_counter_ns()
    ops = lobster_passive_ops(msgs)
    ops["price"] //= TICK_UNITS
    m = ops.view(np.int64).reshape(-1, OP_FIELDS)
    prepare = time.perf_counter_ns() - t0
    p = np.array(
        [params["num"], params["den"], params["cooldown_ns"], params["qty"], params["max_pos"]], np.int64
    )
    out = np.zeros((64, EXEC_FIELDS), np.int64)

    def replay(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = L.allocate(4096, 16, True)
        acc = np.zeros(BK.N_ACC, np.int64)
        acc[BK.A_LAST_TS] = -(1 << 62)
        i = 0
        while True:
            i, status = BK.replay_with_strategy(S, rows, i, out, p, acc)
            if status == L.ST_DONE:
                return S, acc
            if status == BK.BAD_SHAPE:
                raise BacktestStreamError("replay kernel: an argument array is too small")
            cap = int(S[L.H_CAP])
            new_cap = min(2 * cap, MAX_ORDERS)
            new = L.allocate(new_cap, 16, new_cap < MAX_ORDERS)
            Q.grow_into(S, new)
            S = new

    _, prefix_acc = replay(m[: params.get("prefix", WARM_EVENTS)])  # also the warm-up
    (S, acc), wall, cpu = _timed(lambda: replay(m))
    return {
        "prefix_events": int(min(m.shape[0], params.get("prefix", WARM_EVENTS))),
        "prefix_orders": int(prefix_acc[BK.A_ORDERS]),
        "engine": "cns",
        "version": getattr(cns, "__version__", "?"),
        "events": int(m.shape[0]),
        "wall_ns": wall,
        "cpu_ns": cpu,
        "prepare_ns": prepare,
        "orders": int(acc[BK.A_ORDERS]),
        "fills": int(acc[BK.A_FILLS]),
        "position": int(acc[BK.A_POS]),
        "quoted": int(acc[BK.A_QUOTED]),
        "loop_events": int(acc[BK.A_UPDATES]),
        "resting_end": int(S[L.H_NORD] + S[L.H_NORD + 1]),
        "book_check": int(Q.check_invariants(S)),
    }


# ---- hftbacktest -------------------------------------------------------------------------------------------


_HBT_IOC = (
    3  # hftbacktest.IOC / hftbacktest.LIMIT (2.4.4), literal so the kernel compiles without importing it
)
_HBT_LIMIT = 0
# not cache=True: hftbacktest's jitclass holds ctypes pointers, which Numba cannot cache (compiled per process,
# during the warm-up run)


@njit
def _hbt_loop(hbt: Any, params: np.ndarray, acc: np.ndarray) -> int:  # pragma: no cover - compiled
    num, den, cooldown, qty, max_pos = params[0], params[1], params[2], params[3], params[4]
    pos = 0
    last = -(1 << 62)
    events = 0
    quoted = 0
    orders = 0
    while hbt.wait_next_feed(False, 1 << 62) == 2:
        events += 1
        d = hbt.depth(0)
        bt = d.best_bid_tick
        at = d.best_ask_tick
        bq = d.bid_qty_at_tick(bt)
        aq = d.ask_qty_at_tick(at)
        if bq > 0 and aq > 0:
            quoted += 1
            ts = hbt.current_timestamp
            if ts - last >= cooldown:
                if bq * den >= num * aq and pos + qty <= max_pos:
                    orders += 1
                    hbt.submit_buy_order(0, orders, at * d.tick_size, qty, _HBT_IOC, _HBT_LIMIT, False)
                    pos += qty
                    last = ts
                elif aq * den >= num * bq and pos - qty >= -max_pos:
                    orders += 1
                    hbt.submit_sell_order(0, orders, bt * d.tick_size, qty, _HBT_IOC, _HBT_LIMIT, False)
                    pos -= qty
                    last = ts
                if orders > 0 and orders % 256 == 0:
                    hbt.clear_inactive_orders(0)
    acc[0] = events
    acc[1] = quoted
    acc[2] = orders
    acc[3] = pos
    return 0


def _hbt_events(msgs: np.ndarray) -> np.ndarray:
    """Stream rows -> hftbacktest L3 events seen by both its local and exchange books (add / modify / cancel;
    a partial cancel or execution is a modify to the remaining size, a full one a cancel)."""
    from hftbacktest import (
        ADD_ORDER_EVENT,
        BUY_EVENT,
        CANCEL_ORDER_EVENT,
        EXCH_EVENT,
        LOCAL_EVENT,
        MODIFY_ORDER_EVENT,
        SELL_EVENT,
        event_dtype,
    )

    rem = remaining_after(msgs)
    ty = msgs["type"]
    kind = np.where(ty == 1, ADD_ORDER_EVENT, np.where(rem > 0, MODIFY_ORDER_EVENT, CANCEL_ORDER_EVENT))
    ev = np.zeros(msgs.shape[0], event_dtype)
    ev["ev"] = (LOCAL_EVENT | EXCH_EVENT) | kind | np.where(msgs["direction"] == 1, BUY_EVENT, SELL_EVENT)
    ev["exch_ts"] = msgs["time_ns"]
    ev["local_ts"] = msgs["time_ns"]
    ev["px"] = msgs["price"] / 10_000
    ev["qty"] = rem
    ev["order_id"] = msgs["order_id"]
    return ev


def run_hftbacktest(msgs: np.ndarray, params: dict[str, int], depth: str = "hashmap") -> dict[str, Any]:
    """hftbacktest's L3 FIFO backtest (``depth``: ``hashmap`` or ``roivector`` market depth), zero latency,
    no-partial-fill exchange, no fees; the strategy is an ``@njit`` loop over ``wait_next_feed``."""
    import hftbacktest as hb

    t0 = time.perf_counter_ns()
    ev = _hbt_events(msgs)
    prepare = time.perf_counter_ns() - t0
    hi = float(msgs["price"].max()) / 10_000 * 2 + 1
    cls = hb.HashMapMarketDepthBacktest if depth == "hashmap" else hb.ROIVectorMarketDepthBacktest
    p = np.array(
        [params["num"], params["den"], params["cooldown_ns"], params["qty"], params["max_pos"]], np.int64
    )

    def make(data: np.ndarray) -> Any:
        asset = (
            hb.BacktestAsset()
            .data([data])
            .linear_asset(1.0)
            .constant_order_latency(0, 0)
            .l3_fifo_queue_model()
            .no_partial_fill_exchange()
            .trading_value_fee_model(0.0, 0.0)
            .tick_size(TICK_USD)
            .lot_size(1.0)
            .roi_lb(0.0)
            .roi_ub(hi)
            .last_trades_capacity(0)
        )
        return cls([asset])

    warm = make(ev[:WARM_EVENTS])
    _hbt_loop(warm, p, np.zeros(4, np.int64))
    warm.close()
    bt = make(ev)
    acc = np.zeros(4, np.int64)
    _, wall, cpu = _timed(lambda: _hbt_loop(bt, p, acc))
    sv = bt.state_values(0)
    res = {
        "engine": f"hftbacktest-{depth}",
        "version": getattr(hb, "__version__", "?"),
        "events": int(ev.shape[0]),
        "loop_events": int(acc[0]),
        "wall_ns": wall,
        "cpu_ns": cpu,
        "prepare_ns": prepare,
        "orders": int(acc[2]),
        "fills": int(sv.num_trades),
        "position": float(bt.position(0)),
        "quoted": int(acc[1]),
    }
    bt.close()
    return res


# ---- NautilusTrader ----------------------------------------------------------------------------------------


def run_nautilus(msgs: np.ndarray, params: dict[str, int]) -> dict[str, Any]:
    """NautilusTrader's BacktestEngine with an L3 (MBO) venue book fed ``OrderBookDelta`` records (one per stream
    row), a margin account, and a ``Strategy`` that reads the managed L3 book in ``on_order_book_deltas`` and
    sends IOC limit orders at the touch. The deltas of one timestamp arrive as one ``OrderBookDeltas``
    (``F_LAST`` on the last, the data engine's ``buffer_deltas``). ``fills`` counts orders with at least one fill
    (``fill_events``: every partial fill)."""
    import nautilus_trader
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import DataEngineConfig, LoggingConfig, StrategyConfig
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.data import BookOrder, OrderBookDelta
    from nautilus_trader.model.enums import (
        AccountType,
        BookAction,
        BookType,
        OmsType,
        OrderSide,
        RecordFlag,
        TimeInForce,
    )
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.trading.strategy import Strategy

    instrument = TestInstrumentProvider.equity(symbol="CNSX", venue="XNAS")
    iid = instrument.id

    t0 = time.perf_counter_ns()
    deltas = []
    rem = remaining_after(msgs).tolist()
    last_flag = int(RecordFlag.F_LAST)
    add, upd, dele = BookAction.ADD, BookAction.UPDATE, BookAction.DELETE
    buy, sell = OrderSide.BUY, OrderSide.SELL
    base_ts = 1_700_000_000_000_000_000
    times = msgs["time_ns"]
    last_of_ts = np.append(times[1:] != times[:-1], True).tolist()
    for k, (t, ty, oid, _, px, d, _) in enumerate(msgs.tolist()):
        q = rem[k]
        action = add if ty == 1 else (upd if q > 0 else dele)
        order = BookOrder(buy if d == 1 else sell, Price(px / 10_000, 2), Quantity(q, 0), oid)
        ts = base_ts + t
        deltas.append(OrderBookDelta(iid, action, order, last_flag if last_of_ts[k] else 0, k, ts, ts))
    prepare = time.perf_counter_ns() - t0

    class Cfg(StrategyConfig, frozen=True):
        num: int = 3
        den: int = 1
        cooldown_ns: int = 0
        qty: int = 100
        max_pos: int = 500

    class ImbalanceStrategy(Strategy):  # type: ignore[misc]  # (Cython class, untyped for mypy)
        def __init__(self, config: Cfg) -> None:
            super().__init__(config)
            self.pos = 0
            self.last = -(1 << 62)
            self.events = 0
            self.quoted = 0
            self.orders = 0
            self.fills = 0
            self.filled: set[Any] = set()
            self.qty = Quantity(config.qty, 0)

        def on_start(self) -> None:
            self.subscribe_order_book_deltas(iid, BookType.L3_MBO)

        def on_order_book_deltas(self, deltas: Any) -> None:
            self.events += 1
            book = self.cache.order_book(iid)
            bp, ap = book.best_bid_price(), book.best_ask_price()
            if bp is None or ap is None:
                return
            # level totals (best_*_size of an L3 book is the first order's size)
            bq = book.get_quantity_for_price(bp, OrderSide.SELL)
            aq = book.get_quantity_for_price(ap, OrderSide.BUY)
            self.quoted += 1
            c = self.config
            ts = deltas.ts_event
            if ts - self.last < c.cooldown_ns:
                return
            if bq * c.den >= c.num * aq and self.pos + c.qty <= c.max_pos:
                side, px, self.pos = OrderSide.BUY, ap, self.pos + c.qty
            elif aq * c.den >= c.num * bq and self.pos - c.qty >= -c.max_pos:
                side, px, self.pos = OrderSide.SELL, bp, self.pos - c.qty
            else:
                return
            self.last = ts
            self.orders += 1
            o = self.order_factory.limit(iid, side, self.qty, px, time_in_force=TimeInForce.IOC)
            self.submit_order(o)

        def on_order_filled(self, event: Any) -> None:
            self.fills += 1
            self.filled.add(event.client_order_id)

    def make(data: list[Any]) -> tuple[Any, Any]:
        engine = BacktestEngine(
            BacktestEngineConfig(
                logging=LoggingConfig(bypass_logging=True),
                data_engine=DataEngineConfig(buffer_deltas=True),  # one OrderBookDeltas per F_LAST
            )
        )
        engine.add_venue(
            Venue("XNAS"),
            oms_type=OmsType.NETTING,
            account_type=AccountType.MARGIN,
            starting_balances=[Money(10**9, USD)],
            base_currency=USD,
            book_type=BookType.L3_MBO,
        )
        engine.add_instrument(instrument)
        engine.add_data(data)
        strat = ImbalanceStrategy(
            Cfg(
                num=params["num"],
                den=params["den"],
                cooldown_ns=params["cooldown_ns"],
                qty=params["qty"],
                max_pos=params["max_pos"],
            )
        )
        engine.add_strategy(strat)
        return engine, strat

    warm, _ = make(deltas[:WARM_EVENTS])
    warm.run()
    warm.dispose()
    engine, strat = make(deltas)
    _, wall, cpu = _timed(engine.run)
    res = {
        "engine": "nautilus",
        "version": getattr(nautilus_trader, "__version__", "?"),
        "events": len(deltas),
        "loop_events": strat.events,
        "wall_ns": wall,
        "cpu_ns": cpu,
        "prepare_ns": prepare,
        "orders": strat.orders,
        "fills": len(strat.filled),
        "fill_events": strat.fills,
        "position": strat.pos,
        "quoted": strat.quoted,
    }
    engine.dispose()
    return res


RUNNERS: dict[str, Callable[[np.ndarray, dict[str, int]], dict[str, Any]]] = {
    "cns": run_cns,
    "hftbacktest": run_hftbacktest,
    "hftbacktest-roivector": lambda m, p: run_hftbacktest(m, p, "roivector"),
    "nautilus": run_nautilus,
}
IMPORTS = {
    "hftbacktest": "hftbacktest",
    "hftbacktest-roivector": "hftbacktest",
    "nautilus": "nautilus_trader",
}


def main(argv: list[str] | None = None) -> int:
    """Subprocess entry: ``ENGINE STREAM PARAMS_JSON [MAX_EVENTS]``; prints one JSON line, exit code 0 (an
    unavailable engine is a result, not an error)."""
    args = sys.argv[1:] if argv is None else argv
    name, path, params = args[0], args[1], {**DEFAULT_PARAMS, **json.loads(args[2])}
    if name not in RUNNERS:
        print(json.dumps({"engine": name, "unavailable": f"unknown engine {name!r}"}))
        return 0
    msgs = load_stream(path)
    if len(args) > 3 and int(args[3]) > 0:
        msgs = msgs[: int(args[3])]
    if name in IMPORTS:
        try:
            __import__(IMPORTS[name])
        except Exception as e:  # noqa: BLE001 - any import failure means: peer not available
            print(json.dumps({"engine": name, "unavailable": f"{type(e).__name__}: {e}"}))
            return 0
    print(json.dumps(RUNNERS[name](msgs, params)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
