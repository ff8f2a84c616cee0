"""``--market PATH``: the user's quotes or trades (CSV or Parquet) as the opening state of the simulated market.

Columns: ``ticker`` and either ``price`` or ``bid`` + ``ask`` (USD); an optional ``ts_ns`` orders the rows.
The first observation per ticker becomes that instrument's opening mid; the simulator's background flow then
evolves prices from there (recorded quotes are not replayed tick by tick — the note in the report says so).
Tickers absent from the file keep the default opening prices.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cns.replay.errors import MarketDataError
from cns.signals.dictionary import Dictionary
from cns.signals.universe import InstrumentInfo, default_instruments


def _read_table(path: Path):  # -> pandas.DataFrame
    import pandas as pd

    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return pd.read_csv(path)
    raise MarketDataError(f"--market {path}: expected a .csv or .parquet file")


def load_market_instruments(path: str | Path, tickers: Dictionary) -> tuple[tuple[InstrumentInfo, ...], str]:
    """Default instruments with opening prices taken from ``path``; returns them and a note for the report."""
    p = Path(path)
    if not p.exists():
        raise MarketDataError(f"--market {p}: no such file")
    df = _read_table(p)
    if "ticker" not in df.columns:
        raise MarketDataError(f"--market {p}: missing column 'ticker' (have {list(df.columns)})")
    if "price" in df.columns:
        px = df["price"].to_numpy(np.float64)
    elif {"bid", "ask"} <= set(df.columns):
        px = 0.5 * (df["bid"].to_numpy(np.float64) + df["ask"].to_numpy(np.float64))
    else:
        raise MarketDataError(f"--market {p}: need a 'price' column or 'bid' and 'ask' columns")
    if "ts_ns" in df.columns:
        order = np.argsort(df["ts_ns"].to_numpy(np.int64), kind="stable")
        df, px = df.iloc[order], px[order]
    first: dict[str, float] = {}
    for t, v in zip(df["ticker"].astype(str).tolist(), px.tolist(), strict=True):
        if t not in first and np.isfinite(v) and v > 0:
            first[t] = float(v)
    base = default_instruments(max(len(tickers) - 1, 1)) if len(tickers) > 1 else default_instruments()
    out = tuple(InstrumentInfo(i.ticker, first.get(i.ticker, i.price), i.is_index) for i in base)
    used = sum(1 for i in base if i.ticker in first)
    note = (
        f"--market {p.name}: opening mids of {used} of {len(out)} instruments from the file; the simulated "
        "flow evolves prices from there (quotes are not replayed tick by tick)."
    )
    return out, note
