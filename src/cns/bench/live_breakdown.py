"""Where one live event's time goes (:func:`breakdown`) and what a py-spy profile of the service says
(:func:`profile_summary`): the explanatory parts of ``cns bench live`` (:mod:`cns.bench.live`).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["breakdown", "profile_summary"]


def breakdown(pool: Path, config: dict[str, Any], n: int = 2000) -> dict[str, float]:
    """Median CPU cost (ns) of each piece of the path for a one-record batch -- what one event pays when the
    feed delivers it alone (15 200 events/s: one record per frame) -- measured in isolation, and of the whole
    stage chain driven synchronously through the actors (validate -> ... -> desk, in-process venue).
    ``config``: the bench's serve config document (its FIX and order-sink parts are replaced here)."""
    from cns.feeds import FeedBatch
    from cns.feeds.protocol import FrameDecoder, code_maps, decode_binary_records
    from cns.feeds.server import FeedSource
    from cns.fix import FixCodec, OrderEncoder
    from cns.news.batch import NewsBatch
    from cns.news.formats import read_news
    from cns.news.sentiment import score_records
    from cns.runtime import Node
    from cns.serve.config import serve_config_from_dict
    from cns.serve.desk import LiveDesk
    from cns.serve.service import prepare
    from cns.serve.sink import InProcessVenue
    from cns.serve.stages import CorroborateStage, RiskStage, SignalStage, ValidateStage
    from cns.trading.corroborate_kernels import ACTION_TRADE
    from cns.trading.pipeline import TradingPipeline

    doc = config
    doc["serve"]["order_sink"] = "inprocess"
    del doc["fix"]
    st = prepare(serve_config_from_dict(doc))
    news = read_news(str(pool), sentiment=True)
    src = FeedSource(news)
    n = min(n, len(src) // 2)
    raw = [src.data_frame(i, i + 1, feed_id=1) for i in range(n)]
    frames: list[Any] = [FrameDecoder().feed(f)[0] for f in raw]
    strings = (news.sources.strings()[1:], news.tickers.strings()[1:], news.data_sources.strings()[1:])
    maps = code_maps(strings, st.dictionaries)
    recs = [decode_binary_records(f, maps, receive_ns=time.time_ns()) for f in frames]

    def med(f: Any) -> float:
        ts = np.empty(n, np.int64)
        for i in range(n):
            t0 = time.perf_counter_ns()
            f(i)
            ts[i] = time.perf_counter_ns() - t0
        return float(np.median(ts))

    out: dict[str, float] = {}
    out["frame cut (FrameDecoder.feed)"] = med(lambda i: FrameDecoder().feed(raw[i]))
    out["record decode (decode_binary_records)"] = med(
        lambda i: decode_binary_records(frames[i], maps, receive_ns=1)
    )
    out["sentiment (score_records)"] = med(lambda i: score_records(recs[i].records, recs[i].blob))
    v = st.extra["validator"]
    out["validate (NewsValidator.process)"] = med(
        lambda i: v.process(recs[i].records, np.empty(1, np.uint8), np.empty(1, np.uint16))
    )
    fresh = TradingPipeline(
        st.config.trading, st.dictionaries[0], st.dictionaries[1], n_instruments=len(st.tradable)
    )
    mask = np.ones(1, np.bool_)
    out["corroborate (Corroborator.process)"] = med(
        lambda i: fresh.corroborator.process(recs[i].records, mask=mask)
    )
    allr = np.concatenate([r.records for r in recs])
    allr["receive_ns"] = time.time_ns()
    d = TradingPipeline(
        st.config.trading, st.dictionaries[0], st.dictionaries[1], n_instruments=len(st.tradable)
    ).corroborator.process(allr)
    d = d[d["action"] == ACTION_TRADE]
    if len(d):
        one = [d[i % len(d) : i % len(d) + 1] for i in range(n)]
        out["signal (SignalGenerator.orders)"] = med(lambda i: fresh.signal.orders(one[i], st.quotes.mid))
        cands = [fresh.signal.orders(one[i], st.quotes.mid) for i in range(n)]
        now = time.time_ns()
        mid, mid_ts = st.quotes.refs(now)
        out["risk (RiskGate.check)"] = med(lambda i: fresh.risk.check(cands[i], mid, mid_ts, now))
        enc = OrderEncoder(FixCodec("A", "B"), st.symbols)
        out["FIX encode (OrderEncoder.encode)"] = med(lambda i: enc.encode(cands[i], 10 + i))
    node = Node()
    sink = node.spawn(lambda m: None)

    def hop(i: int) -> None:
        node.send(sink, i)
        node.run_until_idle()

    out["actor hop (send + scheduler turn)"] = med(hop)
    names = st.names
    for f in st.feed_stats.values():
        f.paused = False
    ValidateStage.start(node, st, name=names.validate)
    CorroborateStage.start(node, st, name=names.corroborate)
    SignalStage.start(node, st, name=names.signal)
    RiskStage.start(node, st, name=names.risk)
    LiveDesk.start(node, st, lambda nd, s_, dk: InProcessVenue(nd, s_, dk), name=names.desk)
    batches = [FeedBatch("f", NewsBatch(r.records, r.blob, *st.dictionaries), r.seqs, 0, 0) for r in recs]

    def chain(i: int) -> None:
        node.send(names.validate, batches[i])
        node.run_until_idle()

    out["stage chain, 1-record batch (validate..desk, actors)"] = med(chain)
    node.shutdown()
    return {k: round(v, 1) for k, v in out.items()}


def profile_summary(path: Path, top: int = 15) -> dict[str, Any]:
    """Self time by function and by area from py-spy's collapsed stacks (``a;b;c count`` lines)."""
    leaf: Counter[str] = Counter()
    area: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        k = int(n)
        total += k
        frames = stack.split(";")
        f = frames[-1]
        leaf[f] += k
        area[_area(frames)] += k
    return {
        "samples": total,
        "by_area_pct": {a: round(100 * v / total, 1) for a, v in area.most_common()} if total else {},
        "top_self_pct": [[f, round(100 * v / total, 1)] for f, v in leaf.most_common(top)] if total else [],
    }


def _area(frames: list[str]) -> str:
    leaf = frames[-1]
    for key, name in (
        ("select", "idle (event loop wait)"),
        ("dispatcher", "numba dispatch"),
        ("numba", "numba dispatch"),
        ("numpy", "numpy"),
    ):
        if key in leaf:
            return name
    for f in reversed(frames):
        for key, name in (
            ("cns/engine", "validate (engine)"),
            ("cns/trading/corroborate", "corroborate"),
            ("cns/trading/signal", "signal"),
            ("cns/trading/risk", "risk"),
            ("cns/fix", "fix session"),
            ("cns/feeds", "feed handler"),
            ("cns/news", "decode + sentiment"),
            ("cns/serve", "serve stages"),
            ("cns/runtime", "actor runtime"),
            ("asyncio", "asyncio"),
        ):
            if key in f:
                return name
    return "other"
