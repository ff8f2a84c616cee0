"""State owned by one shard's supervision tree, not by its processes.

Everything a restarted process must find again -- the trading book (OMS, positions, risk state), the feeds'
sequence counters, the quotes, the counters and the latency stamps -- lives in one :class:`ServeState`
built before the tree starts and handed to every child spec (as :class:`cns.feeds.FeedStats` is to a feed
handler). A process that crashes loses only the batch it was handling; its successor resumes on the same
state. One shard = one :class:`ServeState` = one tree (and, later, one journal).

All of it is touched from the node's one thread only: no locks.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cns.feeds import FeedStats
from cns.fix.orders import SymbolTable
from cns.serve.config import ServeConfig
from cns.serve.errors import ServeConfigError
from cns.signals.dictionary import Dictionary
from cns.signals.universe import default_instruments, source_dictionary, ticker_dictionary
from cns.trading.credibility import CredibilityTable
from cns.trading.pipeline import TradingPipeline

__all__ = ["COUNTERS", "LatencyProbe", "Names", "Quotes", "ServeState", "build_state"]

#: the service's counters, in report order (all cumulative since start)
COUNTERS = (
    "events_in",
    "batches_in",
    "batches_dropped",
    "validated",
    "violations",
    "elided",
    "decisions",
    "decisions_untradable",
    "decisions_held",
    "held_released",
    "held_expired",
    "candidates",
    "risk_rejected",
    "orders_sent",
    "orders_refused",
    "exit_orders",
    "cancels_sent",
    "fills",
    "filled_qty",
    "exec_reports",
    "exec_unmapped",
    "mass_cancels",
    "md_records",
    "md_connects",
    "reconcile_cancels",
    "reconcile_rejected",
    "runaway_trips",
    "runaway_mass_cancels",
)


@dataclass(frozen=True, slots=True)
class Names:
    """Registered process names of one shard (prefixed by the shard id, so shards can share a node later)."""

    shard: str

    @property
    def top(self) -> str:
        """The shard's top supervisor: ``<shard>:serve``."""
        return f"{self.shard}:serve"

    @property
    def fix_sup(self) -> str:
        """The shard's FIX sessions' supervisor: ``<shard>:fix_sup``."""
        return f"{self.shard}:fix_sup"

    @property
    def trading_sup(self) -> str:
        """The shard's trading supervisor: ``<shard>:trading_sup``."""
        return f"{self.shard}:trading_sup"

    @property
    def feeds_sup(self) -> str:
        """The shard's feeds' supervisor: ``<shard>:feeds_sup``."""
        return f"{self.shard}:feeds_sup"

    @property
    def market_data(self) -> str:
        """The shard's market-data client: ``<shard>:market_data``."""
        return f"{self.shard}:market_data"

    @property
    def validate(self) -> str:
        """The shard's validation stage: ``<shard>:validate``."""
        return f"{self.shard}:validate"

    @property
    def corroborate(self) -> str:
        """The shard's corroboration stage: ``<shard>:corroborate``."""
        return f"{self.shard}:corroborate"

    @property
    def signal(self) -> str:
        """The shard's signal stage: ``<shard>:signal``."""
        return f"{self.shard}:signal"

    @property
    def risk(self) -> str:
        """The shard's risk stage: ``<shard>:risk``."""
        return f"{self.shard}:risk"

    @property
    def snapshots(self) -> str:
        """The shard's snapshotter: ``<shard>:snapshots``."""
        return f"{self.shard}:snapshots"

    @property
    def desk(self) -> str:
        """The shard's desk: ``<shard>:desk``."""
        return f"{self.shard}:desk"


class Quotes:
    """Reference mids (USD) by ticker code and how fresh they are.

    ``mid`` is updated in place by the market-data client (or holds the configured reference prices when
    there is no stream: ``static``). :meth:`refs` gives the arrays the risk kernel takes: ``mid_ts`` is
    ``now`` for every finite mid while the source is live (static, or a frame/heartbeat within
    ``stale_after_ns``), else the wall time of the last frame -- so the risk gate's reference-age check fails
    closed on a dead stream. Times are wall-clock ns (the orders' clock).
    """

    __slots__ = ("mid", "mid_ts", "last_rx_ns", "static", "stale_after_ns", "connected", "version", "_finite")

    def __init__(self, n: int, *, static: bool, stale_after_s: float = 5.0) -> None:
        self.mid = np.full(n, np.nan)
        self.mid_ts = np.zeros(n, np.int64)
        self._finite = np.zeros(n, np.bool_)
        self.last_rx_ns = 0
        self.static = static
        self.connected = False
        self.version = 0  # bumped when mids (or positions: the desk) change: the risk gate re-marks then
        self.stale_after_ns = int(stale_after_s * 1e9)

    @property
    def live(self) -> bool:
        """True if the mids are current: static, or connected with a frame within ``stale_after_ns``."""
        return self.static or (self.connected and time.time_ns() - self.last_rx_ns <= self.stale_after_ns)

    def refs(self, now_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """``(mid, mid_ts)`` for a risk check at wall time ``now_ns`` (reused buffers: use them at once)."""
        np.isfinite(self.mid, out=self._finite)
        stamp = now_ns if self.live else self.last_rx_ns
        np.multiply(self._finite, stamp, out=self.mid_ts)
        return self.mid, self.mid_ts


class LatencyProbe:
    """Monotonic-ns stamps for latency figures, appended on the hot path (list appends: no NumPy call).

    Per ingest batch (at the end of corroboration): the feed's first and last sequence number, the socket
    read stamp of the batch (``FeedBatch.recv_ns``) and the done stamp. Per order: the news id that caused
    it, the read stamp of the batch that carried that news, and the stamp after its NewOrderSingle bytes were
    written to the FIX socket. Past ``capacity`` entries are counted in ``*_dropped``, not stored.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.capacity = capacity
        # flat int64 arrays (array module: appends without a Python object per stamp for the GC to track)
        self.batches = array("q")  # seq_lo, seq_hi, recv_ns, done_ns per batch
        self.orders = array("q")  # news_id, recv_ns, written_ns per order
        self.batches_dropped = 0
        self.orders_dropped = 0

    def reset(self) -> None:
        """Drop all stamps and zero the dropped counts."""
        del self.batches[:]
        del self.orders[:]
        self.batches_dropped = self.orders_dropped = 0

    def batch_done(self, seq_lo: int, seq_hi: int, recv_ns: int, done_ns: int) -> None:
        """Record one ingest batch (seq range, read and done monotonic ns); counted as dropped when full."""
        if len(self.batches) < 4 * self.capacity:
            self.batches.extend((seq_lo, seq_hi, recv_ns, done_ns))
        else:
            self.batches_dropped += 1

    def orders_written(self, news_ids: list[int], recv_ns: int, written_ns: int) -> None:
        """Record an order per news id (read and written monotonic ns); past ``capacity``: counted as dropped."""
        room = self.capacity - len(self.orders) // 3
        if len(news_ids) > room:
            self.orders_dropped += len(news_ids) - room
            news_ids = news_ids[:room]
        for n in news_ids:
            self.orders.extend((n, recv_ns, written_ns))

    def batch_arrays(self) -> np.ndarray:
        """int64 array (n, 4): seq_lo, seq_hi, recv_ns, done_ns per batch."""
        out: np.ndarray = np.frombuffer(self.batches, np.int64).reshape(-1, 4).copy()
        return out

    def order_arrays(self) -> np.ndarray:
        """int64 array (n, 3): news_id, recv_ns, written_ns per order."""
        out: np.ndarray = np.frombuffer(self.orders, np.int64).reshape(-1, 3).copy()
        return out

    def event_latency_ns(self) -> np.ndarray:
        """Socket read -> ingest done, ns, one value per batch (every record of a batch shares it)."""
        b = self.batch_arrays()
        out: np.ndarray = b[:, 3] - b[:, 2]
        return out

    def order_latency_ns(self) -> np.ndarray:
        """Socket read of the news -> NewOrderSingle written, ns, one value per order."""
        o = self.order_arrays()
        out: np.ndarray = o[:, 2] - o[:, 1]
        return out


@dataclass
class ServeState:
    """One shard's state (see the module doc). Build it with :func:`build_state`."""

    config: ServeConfig
    names: Names
    dictionaries: tuple[Dictionary, Dictionary, Dictionary]
    pipeline: TradingPipeline
    quotes: Quotes
    tradable: np.ndarray  # bool by ticker code
    symbols: SymbolTable  # ticker code <-> FIX Symbol of the tradable instruments
    session_of: np.ndarray  # int by ticker code: index into sessions (-1: none)
    sessions: tuple[str, ...]  # FIX session process names ("fix:<name>")
    feed_stats: dict[str, FeedStats]
    coverage: dict[str, np.ndarray]  # feed name -> bool by ticker code (instruments the feed covers)
    probe: LatencyProbe
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    session_up: dict[str, bool] = field(default_factory=dict)
    started_ns: int = field(default_factory=time.monotonic_ns)
    stopping: bool = False  # set by the graceful stop: no new orders, exits or held releases
    # pipeline messages per stage name: sent to it (forward) and handled by it; sent - handled = in its
    # mailbox or lost with it (cns.serve.chaos counts the latter)
    flow_sent: dict[str, int] = field(default_factory=dict)
    flow_handled: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def paused_mask(self) -> np.ndarray | None:
        """Bool by ticker code: instruments covered by a paused (stale or not yet heard) feed; None if no feed
        is paused (the common case, one attribute read per feed)."""
        mask = None
        for name, st in self.feed_stats.items():
            if st.paused:
                cov = self.coverage[name]
                mask = cov.copy() if mask is None else (mask | cov)
        return mask

    def credibility(self) -> np.ndarray:
        """The validator's per-source credibility table (int16, -1 = source not in the config)."""
        cfg = self.config.trading
        sources = self.dictionaries[0]
        table = CredibilityTable.for_dictionary(sources, cfg.credibility)
        known = {domain for domain, _ in cfg.credibility.sources}
        cred: np.ndarray = np.rint(table.scores).astype(np.int16)
        for code, name in enumerate(sources.strings()):
            if name not in known:
                cred[code] = -1
        return cred


def build_state(config: ServeConfig, *, probe_capacity: int = 1 << 16) -> ServeState:
    """The state of one shard: the canonical dictionaries (plus the configured symbols), the trading
    pipeline sized to them, quotes seeded with the configured reference prices, the symbol table and
    session routing of the tradable instruments, one :class:`FeedStats` and coverage mask per feed.
    :class:`ServeConfigError` if the market proxy of ``[signal]`` is unknown."""
    sources = source_dictionary()
    tickers = ticker_dictionary(default_instruments())
    data_sources = source_dictionary()
    codes = {i.symbol: tickers.intern(i.symbol) for i in config.instruments}
    n = len(tickers) + 1
    try:
        pipeline = TradingPipeline(config.trading, sources, tickers, n_instruments=n)
    except Exception as e:  # a ConfigError naming the key (e.g. signal.market_proxy)
        raise ServeConfigError(str(e)) from None
    quotes = Quotes(
        n,
        static=config.market_data is None,
        stale_after_s=config.market_data.stale_after_s if config.market_data else 5.0,
    )
    tradable = np.zeros(n, np.bool_)
    for inst in config.instruments:
        c = codes[inst.symbol]
        tradable[c] = True
        quotes.mid[c] = inst.price
    symbols = SymbolTable({c: s for s, c in codes.items()})
    route = config.route()
    sessions = tuple(f"fix:{s.name}" for s in config.fix)
    session_of = np.full(n, -1, np.int64)
    for sym, sname in route.items():
        session_of[codes[sym]] = [s.name for s in config.fix].index(sname)
    stats = {f.name: FeedStats(feed=f.name) for f in config.feeds}
    coverage = {}
    for f in config.feeds:
        cov = np.ones(n, np.bool_) if not f.instruments else np.zeros(n, np.bool_)
        for sym in f.instruments:
            cov[codes[sym]] = True
        coverage[f.name] = cov
    names = Names(config.shard)
    stages = (names.validate, names.corroborate, names.signal, names.risk, names.desk)
    return ServeState(
        flow_sent=dict.fromkeys(stages, 0),
        flow_handled=dict.fromkeys(stages, 0),
        config=config,
        names=names,
        dictionaries=(sources, tickers, data_sources),
        pipeline=pipeline,
        quotes=quotes,
        tradable=tradable,
        symbols=symbols,
        session_of=session_of,
        sessions=sessions,
        feed_stats=stats,
        coverage=coverage,
        probe=LatencyProbe(probe_capacity),
        session_up={s: False for s in sessions},
    )
