"""Shared pieces of the feed tests: a small generated news file, a loopback server + handler harness and a
content comparison that goes through strings (dictionary codes may differ between the two sides)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cns.feeds import FeedAlert, FeedBatch, FeedConfig, FeedHandler, FeedServer, FeedStats
from cns.news import NewsBatch, read_news, write_binary, write_jsonl
from cns.runtime import Node

N_EVENTS = 600


@pytest.fixture(scope="session")
def news() -> NewsBatch:
    from cns.market.newsgen import generate_news

    return generate_news(N_EVENTS, 2.0, 17).batch


@pytest.fixture(scope="session", autouse=True)
def _warm_kernels(news: NewsBatch) -> None:
    """Load the compiled kernels once, so that no timed test pays a JIT compile or cache load."""
    from cns.feeds.bench import _warm_up

    _warm_up(news)


@pytest.fixture(scope="session")
def news_files(tmp_path_factory: pytest.TempPathFactory, news: NewsBatch) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("feeds")
    paths = {"jsonl": d / "news.jsonl", "binary": d / "news.cnsb"}
    write_jsonl(news, paths["jsonl"])
    write_binary(news, paths["binary"])
    return paths


@dataclass
class Harness:
    """A node with one feed handler whose consumer collects batches and whose alerts are recorded."""

    node: Node
    stats: FeedStats
    batches: list[FeedBatch] = field(default_factory=list)
    alerts: list[FeedAlert] = field(default_factory=list)
    pid: Any = None

    @property
    def received(self) -> int:
        return sum(len(b) for b in self.batches)

    def seqs(self) -> np.ndarray:
        return np.concatenate([b.seqs for b in self.batches]) if self.batches else np.zeros(0, np.uint64)

    def kinds(self) -> list[str]:
        return [a.kind for a in self.alerts]

    async def run_until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.node.run_async(until=cond), timeout)

    async def run_for(self, seconds: float) -> None:
        """Run the node (timers, sockets) for ``seconds``."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        await asyncio.wait_for(self.node.run_async(until=lambda: loop.time() >= end), seconds + 2)

    def stop(self) -> None:
        self.node.shutdown()


def start_handler(port: int, transport: str = "tcp", **cfg: Any) -> Harness:
    node = Node()
    h = Harness(node, FeedStats())
    opts: dict[str, Any] = dict(
        start_seq=1,
        seed=3,
        backoff_base_s=0.02,
        backoff_max_s=0.2,
        stale_after_s=2.0,
        replay_timeout_s=1.0,
        stamp_receive_ns=False,
    )
    opts.update(cfg)
    config = FeedConfig("test", port, transport=transport, **opts)
    h.pid = FeedHandler.start_feed(
        node, config, h.batches.append, stats=h.stats, on_alert=h.alerts.append, link=False
    )
    return h


def port_of(server: FeedServer, transport: str) -> int:
    p = server.port if transport == "tcp" else server.ws_port
    assert p is not None
    return p


def server_for(news: NewsBatch, **kw: Any) -> FeedServer:
    opts: dict[str, Any] = dict(ws_port=0, heartbeat_s=0.05, frame_records=50)
    opts.update(kw)
    return FeedServer(news, **opts)


def concat(batches: list[FeedBatch]) -> NewsBatch:
    """The batches as one NewsBatch (headline offsets rebased)."""
    recs, blobs, base = [], [], 0
    for b in batches:
        r = b.news.records.copy()
        r["headline_off"] += np.uint64(base)
        recs.append(r)
        blobs.append(np.asarray(b.news.headlines))
        base += len(b.news.headlines)
    first = batches[0].news
    return NewsBatch(
        np.concatenate(recs), np.concatenate(blobs), first.sources, first.tickers, first.data_sources
    )


_NUMERIC = (
    "id",
    "publish_ns",
    "receive_ns",
    "event_ns",
    "n_tickers",
    "kind",
    "evidence_type",
    "flags",
    "confidence",
    "eps_actual",
    "eps_expected",
    "move_pct",
    "rate",
    "sentiment",
    "evidence_hash",
)


def assert_same_content(got: NewsBatch, want: NewsBatch, idx: np.ndarray | None = None) -> None:
    """``got`` holds the records ``want[idx]`` (all of them by default), field by field and as strings."""
    w = want.records if idx is None else want.records[idx]
    g = got.records
    assert len(g) == len(w)
    for f in _NUMERIC:
        assert np.array_equal(g[f], w[f], equal_nan=True), f
    for name in ("sources", "data_sources"):
        gs, ws = getattr(got, name).strings(), getattr(want, name).strings()
        col = "source" if name == "sources" else "data_source"
        assert [gs[c] for c in g[col].tolist()] == [ws[c] for c in w[col].tolist()], col
    gt, wt = got.tickers.strings(), want.tickers.strings()
    assert [[gt[c] for c in row] for row in g["tickers"].tolist()] == [
        [wt[c] for c in row] for row in w["tickers"].tolist()
    ]
    gb, wb = got.headlines.tobytes(), want.headlines.tobytes()
    for a, b in zip(
        g[["headline_off", "headline_len"]].tolist(),
        w[["headline_off", "headline_len"]].tolist(),
        strict=True,
    ):
        assert gb[a[0] : a[0] + a[1]] == wb[b[0] : b[0] + b[1]]


def load(path: Path) -> NewsBatch:
    return read_news(path, sentiment=True)
