"""Encode cost of the order-entry hot path: ``python -m cns.fix.bench [--n N] [--batch B] [--json PATH]``.

Measures, with ``time.perf_counter_ns`` around each call (its own cost, ~30-60 ns, is included) and
:func:`cns.telemetry.stats.summarize` (p50/p99/p999 in ns):

- ``single``: :meth:`OrderEncoder.encode` of one ORDER_DTYPE record -- the whole public call (checks, one
  Numba kernel call, BodyLength/CheckSum, the result view): what the session pays per order sent alone;
- ``batch_per_msg``: the same call for ``batch`` records, divided by ``batch`` (one kernel call);
- ``generic``: :meth:`FixCodec.encode` of the same NewOrderSingle from Python values, for comparison.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from cns.fix.codec import FixCodec
from cns.fix.orders import OrderEncoder, SymbolTable
from cns.telemetry.stats import summarize
from cns.venue.dtypes import ORDER_DTYPE, ORDER_IOC, ORDER_LIMIT

__all__ = ["bench_encode"]


def _orders(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    o = np.zeros(n, ORDER_DTYPE)
    o["order_id"] = np.arange(1, n + 1) + 10**12
    o["instrument"] = rng.integers(1, 5, n)
    o["side"] = rng.choice(np.array([1, -1], np.int8), n)
    o["type"] = rng.choice(np.array([ORDER_LIMIT, ORDER_IOC], np.uint8), n)
    o["qty"] = rng.integers(1, 5000, n)
    o["price"] = np.round(rng.uniform(10, 500, n), 2)
    o["ts_ns"] = time.time_ns()
    return o


def bench_encode(n: int = 100_000, batch: int = 64, seed: int = 1) -> dict[str, Any]:
    """Time ``n`` order encodes (single, per message in batches of ``batch``, and the generic codec); returns
    ``{"single", "batch_per_msg", "generic"}`` latency summaries in ns plus ``batch`` and ``message_bytes``.
    """
    codec = FixCodec("CNSTRADER01", "VENUE01")
    syms = SymbolTable(["", "AAPL", "MSFT", "NVDA", "AMZN"])
    enc = OrderEncoder(codec, syms, capacity=max(batch, 1))
    orders = _orders(n, seed)
    ones = [orders[i : i + 1] for i in range(n)]  # views made up front: not part of the measurement
    now = time.time_ns()
    for k in range(min(n, 1000)):  # warm-up (kernel load, caches)
        enc.encode(ones[k], k + 1, now)
    single = np.empty(n, np.int64)
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        enc.encode(ones[i], i + 1, now)
        single[i] = clock() - t0
    nb = max(1, n // batch)
    per = np.empty(nb, np.float64)
    for j in range(nb):
        chunk = orders[j * batch : (j + 1) * batch]
        t0 = clock()
        enc.encode(chunk, j * batch + 1, now)
        per[j] = (clock() - t0) / batch
    m = min(n, 20_000)
    generic = np.empty(m, np.int64)
    for i in range(m):
        o = orders[i]
        t0 = clock()
        codec.encode(
            "D",
            i + 1,
            (
                (11, int(o["order_id"])),
                (55, "AAPL"),
                (54, 1 if o["side"] > 0 else 2),
                (60, b"20240101-00:00:00.000"),
                (38, int(o["qty"])),
                (40, 2),
                (44, float(o["price"])),
                (59, 0),
            ),
            sending_ns=now,
        )
        generic[i] = clock() - t0
    return {
        "single": summarize(single),
        "batch_per_msg": summarize(per),
        "generic": summarize(generic),
        "batch": batch,
        "message_bytes": len(enc.encode(ones[0], 1, now)[0]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cns.fix.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--json", metavar="PATH")
    a = ap.parse_args(argv)
    r = bench_encode(a.n, a.batch)
    for k in ("single", "batch_per_msg", "generic"):
        s = r[k]
        print(
            f"{k:14s} p50 {s['p50']:8.0f} ns  p99 {s['p99']:8.0f} ns  p999 {s['p999']:8.0f} ns  "
            f"mean {s['mean']:8.0f} ns  (n={s['count']})"
        )
    print(f"message size {r['message_bytes']} bytes, batch {r['batch']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
