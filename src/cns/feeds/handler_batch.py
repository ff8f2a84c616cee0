"""Micro-batching and delivery of a feed handler: the released pieces wait in a :class:`PendingBatch`;
:func:`deliver_pieces` merges them into NEWS_DTYPE records in sequence order (one shared headline blob),
scores sentiment, cuts them into :class:`~cns.feeds.handler_types.FeedBatch` objects of at most
``batch_max`` records and hands each to the consumer (:func:`deliver`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from cns.feeds.handler_types import FeedBatch, FeedConfig, FeedStats
from cns.feeds.sequencer import Piece
from cns.news.batch import NewsBatch
from cns.runtime import Node, Pid
from cns.signals.dictionary import Dictionary

__all__ = ["PendingBatch", "concat_records", "cut_batches", "deliver", "deliver_pieces", "merge_pieces"]

Dictionaries = tuple[Dictionary, Dictionary, Dictionary]


class PendingBatch:
    """Pieces released in sequence order and not delivered yet; ``records`` counts their records."""

    __slots__ = ("pieces", "records")

    def __init__(self) -> None:
        self.pieces: list[Piece] = []
        self.records = 0

    def __bool__(self) -> bool:
        return bool(self.pieces)

    def add(self, pieces: list[Piece]) -> None:
        """Append the pieces that hold records (a piece whose records were all quarantined has none)."""
        for p in pieces:
            if len(p.records):
                self.pieces.append(p)
                self.records += len(p.records)

    def take(self) -> list[Piece]:
        """The pending pieces, in order; the batch is empty afterwards."""
        pend = self.pieces
        self.pieces = []
        self.records = 0
        return pend


def deliver_pieces(
    node: Node, consumer: Any, stats: FeedStats, cfg: FeedConfig, targets: Dictionaries, pieces: list[Piece]
) -> None:
    """Merge ``pieces`` (not empty), score their headlines if ``cfg.sentiment``, and deliver them as batches
    of at most ``cfg.batch_max`` records, counting each in ``stats`` before it is handed over."""
    records, blob, seqs = merge_pieces(pieces)
    if cfg.sentiment:
        from cns.news.sentiment import score_records

        score_records(records, blob)
    first = pieces[0]
    for batch in cut_batches(
        cfg.name, records, blob, seqs, targets, cfg.batch_max, first.recv_ns, first.sent_ns
    ):
        stats.events_delivered += len(batch)
        stats.batches_delivered += 1
        deliver(node, consumer, batch)


def merge_pieces(pieces: list[Piece]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(records, blob, seqs)`` of the pieces in order: one blob, each record's ``headline_off`` moved by
    the length of the blobs before its own. A single piece is returned as it is (no copy)."""
    if len(pieces) == 1:
        p = pieces[0]
        return p.records, p.blob, p.seqs
    records = concat_records([p.records for p in pieces])
    seqs = np.concatenate([p.seqs for p in pieces])
    blob = np.concatenate([p.blob for p in pieces])
    a, base = 0, 0
    offs = records["headline_off"]
    for p in pieces:
        n = len(p.records)
        if base:
            offs[a : a + n] += np.uint64(base)
        a += n
        base += len(p.blob)
    return records, blob, seqs


def concat_records(parts: list[np.ndarray]) -> np.ndarray:
    """``np.concatenate`` of same-dtype structured arrays as byte copies (NumPy copies structured arrays
    field by field, several times slower)."""
    dt = parts[0].dtype
    out = np.empty(sum(len(p) for p in parts), dt)
    ob = out.view(np.uint8)
    a, isz = 0, dt.itemsize
    for p in parts:
        n = len(p) * isz
        ob[a : a + n] = np.ascontiguousarray(p).view(np.uint8)
        a += n
    return out


def cut_batches(
    feed: str,
    records: np.ndarray,
    blob: np.ndarray,
    seqs: np.ndarray,
    targets: Dictionaries,
    batch_max: int,
    recv_ns: int,
    sent_ns: int,
) -> Iterator[FeedBatch]:
    """The records as :class:`FeedBatch` objects of at most ``batch_max`` records (all sharing ``blob``),
    made one at a time as the caller iterates."""
    src, tick, dsrc = targets
    n = len(records)
    if n <= batch_max:
        yield FeedBatch(feed, NewsBatch(records, blob, src, tick, dsrc), seqs, recv_ns, sent_ns)
        return
    for a in range(0, n, batch_max):
        part = records[a : a + batch_max]
        yield FeedBatch(
            feed, NewsBatch(part, blob, src, tick, dsrc), seqs[a : a + batch_max], recv_ns, sent_ns
        )


def deliver(node: Node, sink: Any, item: Any) -> None:
    """Hand ``item`` to ``sink``: called if it is a callable, else sent to it (a pid or registered name)."""
    if callable(sink) and not isinstance(sink, Pid):
        sink(item)
    else:
        node.send(sink, item)
