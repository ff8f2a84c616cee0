"""Wiring a desk to recorded days: load ``--book``/``--lobster`` files, put them on the desk's timeline and
plug a :class:`~cns.market.recorded.RecordedExchange` into :class:`cns.replay.desk.DeskConfig` through its
``exchange`` factory (:mod:`cns.market.venue_api`).

The news the desk trades is placed on the same timeline by the generator (or the user's file) as for the
simulated market; each recorded day is moved so that its first message is at the desk's ``start_ns``
(``align=True``) and trades as the ticker it is mapped to. Decisions about tickers without a recorded book
make orders the venue rejects (``REJECT_INSTRUMENT``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cns.market.exchange import SimConfig
from cns.market.lobster import L3CsvColumns, LobsterImportError
from cns.market.recorded import RecordedConfig, RecordedExchange
from cns.market.recorded_data import RecordedBook, load_l3_csv_book, load_lobster_book
from cns.signals.universe import InstrumentInfo

if TYPE_CHECKING:
    from cns.market.venue_api import ExchangeFactory
    from cns.replay.desk import DeskConfig, DeskResult
    from cns.replay.latency import DecisionLatency, LatencyModel

__all__ = [
    "desk_with_books",
    "load_recorded",
    "recorded_desk_config",
    "recorded_exchange_factory",
    "run_recorded",
]


def load_recorded(
    spec: str,
    *,
    tick_size: float | None = None,
    columns: L3CsvColumns | None = None,
    time_unit: str = "ns",
) -> RecordedBook:
    """Load a ``--book`` argument: ``MESSAGE.csv[,ORDERBOOK.csv]``. A file without a header whose rows have
    LOBSTER's six numeric columns is a LOBSTER message file (with its orderbook file if given); a file with a
    header is a generic L3 CSV (``tick_size`` USD per price tick required, ``columns``/``time_unit`` as
    :func:`~cns.market.lobster.read_l3_csv`). Raises :class:`~cns.market.lobster.LobsterImportError` for a
    missing/unreadable file or a generic CSV without ``tick_size``."""
    parts = [p for p in spec.split(",") if p]
    if not 1 <= len(parts) <= 2:
        raise LobsterImportError(f"--book {spec!r}: expected PATH.csv or MESSAGE.csv,ORDERBOOK.csv")
    first = Path(parts[0])
    try:
        with first.open(encoding="utf-8", errors="replace") as f:
            head = f.readline().strip()
    except OSError as e:
        raise LobsterImportError(f"cannot read {first}: {e}") from None
    cells = head.split(",")
    lobster = len(cells) == 6 and all(c.strip().lstrip("-").replace(".", "", 1).isdigit() for c in cells)
    if lobster or len(parts) == 2:
        return load_lobster_book(first, parts[1] if len(parts) == 2 else None)
    if tick_size is None:
        raise LobsterImportError(f"{first} is a generic L3 CSV (it has a header): give its tick size (USD)")
    return load_l3_csv_book(first, tick_size=tick_size, columns=columns, time_unit=time_unit)


def recorded_exchange_factory(
    books: Mapping[int, RecordedBook], n_instruments: int, *, snapshot_ns: int = 1_000_000_000
) -> ExchangeFactory:
    """A ``DeskConfig.exchange`` factory: each pass gets a fresh :class:`RecordedExchange` over ``books``
    (ticker code -> day, already on the desk's timeline) with the pass's start, latencies, fees and STP."""

    def build(sim: SimConfig) -> RecordedExchange:
        cfg = RecordedConfig(
            start_ns=sim.start_ns,
            entry_latency_ns=sim.entry_latency_ns,
            md_latency_ns=sim.md_latency_ns,
            snapshot_ns=snapshot_ns,
            fees=sim.fees,
            stp=sim.stp,
        )
        return RecordedExchange(books, n_instruments, cfg)

    return build


def recorded_desk_config(
    desk: DeskConfig,
    books: Sequence[RecordedBook],
    *,
    tickers: Sequence[str] | None = None,
    align: bool = True,
) -> tuple[DeskConfig, list[str]]:
    """``desk`` trading ``books`` instead of the simulated market, and notes for the report.

    ``tickers[k]``: the desk ticker ``books[k]`` trades as (default: the book's name); a ticker the desk's
    dictionary does not hold raises :class:`~cns.market.lobster.LobsterImportError`. ``align``: move each day
    so its first message is at ``desk.start_ns`` (else its own times are used: the news must then be placed
    on the recorded day's timeline). The instruments' opening prices become the books' opening mids."""
    names = list(tickers) if tickers is not None else [b.name for b in books]
    if len(names) != len(books):
        raise LobsterImportError(f"{len(books)} recorded books but {len(names)} tickers")
    by_code: dict[int, RecordedBook] = {}
    instruments = list(desk.instruments)
    notes: list[str] = []
    for name, day in zip(names, books, strict=True):
        if name not in desk.tickers:
            raise LobsterImportError(
                f"recorded book {day.source or day.name}: ticker {name!r} is not in the universe"
            )
        code = desk.tickers.code(name)
        if not 1 <= code <= len(instruments):
            raise LobsterImportError(f"ticker {name!r} has code {code}, outside the desk's instruments")
        if code in by_code:
            raise LobsterImportError(f"two recorded books trade as {name!r}")
        if align and day.ops.shape[0]:
            day = day.shifted(desk.start_ns - day.first_ns)
        by_code[code] = day
        px = day.opening_price_usd()
        if np.isfinite(px) and px > 0:
            instruments[code - 1] = InstrumentInfo(name, float(px), instruments[code - 1].is_index)
        notes.append(
            f"recorded market: {name} <- {day.source or day.name} ({day.ops.shape[0]} ops, "
            f"{day.seed.shape[0]} seed orders, {day.trades.shape[0]} recorded executions, "
            f"{len(day.quarantined)} rows quarantined, {day.seed_conflicts} seed conflicts)"
        )
    factory = recorded_exchange_factory(by_code, len(instruments))
    cfg = dataclasses.replace(desk, instruments=tuple(instruments), exchange=factory)
    return cfg, notes


def desk_with_books(
    desk: DeskConfig,
    specs: Sequence[str],
    *,
    tickers: Sequence[str] | None = None,
    tick_size: float | None = None,
) -> tuple[DeskConfig, list[str]]:
    """The replay driver's one call for ``cns run --book SPEC [--book SPEC ...]``: load each ``--book``
    argument (:func:`load_recorded`) and return :func:`recorded_desk_config` of them, with a note per book
    and one per quarantined row (the first 20). Errors are :class:`~cns.market.lobster.LobsterImportError`
    (a :class:`~cns.errors.CNSError`, one line and exit 2 in ``cns``)."""
    books = [load_recorded(s, tick_size=tick_size) for s in specs]
    cfg, notes = recorded_desk_config(desk, books, tickers=tickers)
    for b in books:
        for q in b.quarantined[:20]:
            notes.append(f"recorded market: {b.source} line {q.line} quarantined: {q.reason}")
        if len(b.quarantined) > 20:
            notes.append(f"recorded market: {b.source}: {len(b.quarantined) - 20} more rows quarantined")
    return cfg, notes


def run_recorded(
    desk: DeskConfig,
    books: Sequence[RecordedBook],
    decisions: np.ndarray,
    *,
    tickers: Sequence[str] | None = None,
    latency: LatencyModel | DecisionLatency | int | None = None,
) -> tuple[DeskResult, dict[str, Any]]:
    """One desk pass over ``decisions`` (DECISION_DTYPE) against ``books`` (see
    :func:`recorded_desk_config`); returns the desk's result and, per instrument, the trades the book
    produced next to the recorded ones (:meth:`RecordedExchange.trade_comparison`) plus the venue's
    counters."""
    from cns.replay.desk import TradingDesk

    cfg, notes = recorded_desk_config(desk, books, tickers=tickers)
    d = TradingDesk(cfg, latency)
    d.on_decisions(decisions)
    result = d.finish()
    sim = d.sim
    assert isinstance(sim, RecordedExchange)
    return result, {"trades": sim.trade_comparison(), "venue": sim.stats(), "notes": notes}
