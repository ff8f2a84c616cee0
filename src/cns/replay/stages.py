"""The replay's pipeline stages as supervised GenServers: actors pass batches, kernels process records.

::

    Supervisor (rest_for_one)
      ├── ParseStage        wire records → NEWS_DTYPE batch, headline sentiment     (cns.news kernels)
      ├── ValidateStage     zero-tick ingress + compiled rules/news.ttl            (cns.engine / cns.rules)
      ├── CorroborateStage  credibility, agreement of independent sources → decisions (cns.trading.corroborate)
      └── DeskStage         collects decisions for the trading desk                  (cns.replay.desk)

``rest_for_one``: a crashed stage restarts together with every stage after it, as downstream state derives
from upstream output. Each stage writes per-record latency (ns, in-kernel, sampled: -1 = not sampled) into the
shared :class:`StageLatencies` arrays at the batch's global offset, and its batch wall time into ``batch_ns``.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

import numpy as np

from cns.engine import VERDICT_CONFORMS, NewsValidator
from cns.news.batch import Reject
from cns.news.binary import BinaryLayout, parse_binary_chunk, rejects_from_status
from cns.news.sentiment import LexiconTable, score_records
from cns.otp import GenServer
from cns.replay.data import release_chunk
from cns.replay.desk import DeskConfig, DeskResult, TradingDesk
from cns.replay.latency import LatencyModel
from cns.signals.dtypes import NEWS_DTYPE, NewsHeader, empty_news_header
from cns.trading.corroborate import Corroborator
from cns.trading.corroborate_kernels import DECISION_DTYPE

INGEST_STAGES = ("parse", "validate", "corroborate")


@dataclass(slots=True)
class StageLatencies:
    """Per-event latency of the ingest stages (int64 ns, in-kernel stamps; -1 = not stamped), kept for the
    sampled events only: entry ``k`` of ``parse``/``validate``/``corroborate`` belongs to the event at position
    ``k * every`` of the parsed stream, so memory is ``3 * 8 / every`` bytes per event, not per-event arrays.

    The stages stamp a *window* (one wire chunk): :meth:`open` starts it at the parsed-stream position of the
    chunk, :meth:`requests` hands each stage its request slice (0 = stamp, -1 = don't, as the kernels take
    them), :meth:`close` (called by the next :meth:`open` and at the end of the ingest) keeps the window's
    sampled entries. ``final`` = entries kept so far. ``batch_ns[stage]`` accumulates batch wall time."""

    parse: np.ndarray
    validate: np.ndarray
    corroborate: np.ndarray
    every: int = 1
    batch_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INGEST_STAGES, 0))
    final: int = 0
    _lo: int = 0
    _good: int = -1  # records parsed in the open window (-1: no window open)
    _win: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def sampled(cls, n: int, every: int) -> StageLatencies:
        """Room for ``n`` records stamping every ``every``-th in all three stages (:func:`sample_mask`).

        Raises :class:`ValueError` if ``every < 1``.
        """
        if every < 1:
            raise ValueError(f"sample_every = {every} must be >= 1")
        m = -(-max(n, 0) // every)
        return cls(np.full(m, -1, np.int64), np.full(m, -1, np.int64), np.full(m, -1, np.int64), every)

    def open(self, lo: int, count: int) -> None:
        """Start the window of ``count`` records at parsed-stream position ``lo`` (closing the previous one)."""
        self.close()
        first = -lo % self.every  # first sampled position of the window, relative to lo
        req = np.full(count, -1, np.int64)
        req[first :: self.every] = 0
        self._win = {s: req if s == "parse" else req.copy() for s in INGEST_STAGES}
        self._lo, self._good = lo, 0

    def parsed(self, n: int) -> None:
        """The parse stage wrote ``n`` records in the open window (only those are kept by :meth:`close`)."""
        self._good = n

    def requests(self, stage: str, offset: int, n: int) -> np.ndarray:
        """The ``lat_ns`` slice of ``stage`` for records ``offset .. offset+n`` of the parsed stream (a view of
        the open window); an empty array when no window covers them (nothing is stamped)."""
        w = self._win.get(stage)
        a = offset - self._lo
        if w is None or a < 0 or a + n > len(w):
            return np.full(n, -1, np.int64)
        return w[a : a + n]

    def close(self) -> None:
        """Keep the sampled entries of the open window's parsed records; idempotent."""
        if self._good < 0:
            return
        first = -self._lo % self.every
        k0 = -(-self._lo // self.every)
        for s in INGEST_STAGES:
            got = self._win[s][first : self._good : self.every]
            dst = getattr(self, s)
            m = min(len(got), len(dst) - k0)
            if m > 0:
                dst[k0 : k0 + m] = got[:m]
        self.final = max(self.final, k0 + max(0, -(-(self._good - first) // self.every)))
        self._good = -1
        self._win = {}


@dataclass(frozen=True, slots=True)
class WireChunk:
    """Records ``start .. start+count`` of the wire image to parse."""

    start: int
    count: int


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A parsed batch: ``records`` (NEWS_DTYPE) and its position ``offset`` in the parsed stream."""

    offset: int
    records: np.ndarray
    header: NewsHeader | None = None  # the header columns the parse kernel wrote (validator fast path)


@dataclass(frozen=True, slots=True)
class ValidatedBatch:
    offset: int
    records: np.ndarray
    verdict: np.ndarray  # uint8, VERDICT_*
    code: np.ndarray  # uint16 violated constraint


class ParseStage(GenServer):
    """Parses wire chunks of a ``.cnsb`` image and scores headline sentiment; casts :class:`ParsedBatch`."""

    def init(
        self,
        raw: np.ndarray,
        layout: BinaryLayout,
        lexicon: LexiconTable,
        lat: StageLatencies,
        downstream: str,
        quarantine: list[Reject],
    ) -> None:
        self.raw, self.layout, self.lexicon, self.lat = raw, layout, lexicon, lat
        self.downstream = downstream
        self.quarantine = quarantine  # Reject entries of corrupt wire records (index, reason, bytes)
        self.blob = raw[layout.blob_offset : layout.blob_offset + layout.blob_len]
        self.parsed = 0

    def handle_cast(self, chunk: WireChunk) -> None:
        t0 = time.perf_counter_ns()
        out = np.empty(chunk.count, NEWS_DTYPE)
        status = np.zeros(chunk.count, np.uint8)
        header = empty_news_header(chunk.count)
        lo = self.parsed
        self.lat.open(lo, chunk.count)
        n = parse_binary_chunk(
            self.raw,
            self.layout,
            chunk.start,
            chunk.count,
            out,
            status,
            lat_ns=self.lat.requests("parse", lo, chunk.count),
            header=header,
        )
        self.lat.parsed(n)
        records = out[:n]
        score_records(records, self.blob, self.lexicon)
        if n < chunk.count:
            self.quarantine.extend(rejects_from_status(self.raw, self.layout, chunk.start, status))
        if n:
            lens = records["headline_off"].astype(np.int64) + records["headline_len"]
            blob_pages = (int(records["headline_off"].min()), int(lens.max()))
        else:
            blob_pages = (0, 0)
        release_chunk(self.raw, self.layout, chunk.start, chunk.count, blob_pages)
        self.parsed += n
        self.lat.batch_ns["parse"] += time.perf_counter_ns() - t0
        self.cast(self.downstream, ParsedBatch(lo, records, header[:n]))


class ValidateStage(GenServer):
    """Zero-tick ingress and the compiled news rules; casts :class:`ValidatedBatch`."""

    def init(
        self, validator: NewsValidator, lat: StageLatencies, downstream: str, totals: dict[str, int]
    ) -> None:
        self.validator, self.lat, self.downstream, self.totals = validator, lat, downstream, totals
        self.codes: dict[int, int] = {}

    def handle_cast(self, b: ParsedBatch) -> None:
        t0 = time.perf_counter_ns()
        n = len(b.records)
        verdict = np.empty(n, np.uint8)
        code = np.empty(n, np.uint16)
        header = b.header if b.header is not None and self.validator.takes_header else None
        st = self.validator.process(
            b.records, verdict, code, lat_ns=self.lat.requests("validate", b.offset, n), header=header
        )
        self.totals["events"] += st.signals
        self.totals["zero_tick"] += st.elided
        self.totals["validated"] += st.signals - st.elided - st.violations
        self.totals["ingress_cycles"] += st.ingress_cycles
        self.totals["dispatch_cycles"] += st.dispatch_cycles
        bad = np.bincount(code[verdict == 1])
        for c in np.flatnonzero(bad):
            self.codes[int(c)] = self.codes.get(int(c), 0) + int(bad[c])
        self.lat.batch_ns["validate"] += time.perf_counter_ns() - t0
        self.cast(self.downstream, ValidatedBatch(b.offset, b.records, verdict, code))

    def handle_call(self, request: str, from_: object) -> dict[str, int]:
        """``"codes"``: violations so far by constraint (``shape / path: component``)."""
        out: dict[str, int] = {}
        for c, k in self.codes.items():
            info = self.validator.explain(c)
            label = f"{_local(info.shape)} / {_local(info.path or '')}: {_local(info.component)}"
            out[label] = out.get(label, 0) + k
        return out


def _local(iri: str) -> str:
    """The local name of an IRI (after the last ``#`` or ``/``)."""
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


class CorroborateStage(GenServer):
    """Credibility and corroboration over conforming records; casts decision batches (sorted by time)."""

    def init(self, corroborator: Corroborator, lat: StageLatencies, downstream: str) -> None:
        self.corroborator, self.lat, self.downstream = corroborator, lat, downstream

    def handle_cast(self, b: ValidatedBatch) -> None:
        t0 = time.perf_counter_ns()
        n = len(b.records)
        live = b.verdict == VERDICT_CONFORMS
        decisions = self.corroborator.process(
            b.records, mask=live, lat_ns=self.lat.requests("corroborate", b.offset, n)
        )
        if n:
            closed = self.corroborator.flush(int(b.records["receive_ns"][-1]))
            if len(closed):
                decisions = np.concatenate((decisions, closed))
                decisions = decisions[np.argsort(decisions["ts_ns"], kind="stable")]
        self.lat.batch_ns["corroborate"] += time.perf_counter_ns() - t0
        if len(decisions):
            self.cast(self.downstream, decisions)

    def handle_call(self, request: str, from_: object) -> int:
        """``"flush"``: close every open cluster (end of stream), cast their decisions; returns how many."""
        closed = self.corroborator.flush(None)
        if len(closed):
            self.cast(self.downstream, closed)
        return len(closed)


@dataclass(frozen=True, slots=True)
class TradePass:
    """Request to the desk: trade the collected decisions once at the simulated ``latency`` (a
    :class:`~cns.replay.latency.LatencyModel`; an int is a constant decision latency in ns on the config's
    model — see :class:`~cns.replay.desk.TradingDesk`)."""

    latency: LatencyModel | int


@dataclass(frozen=True, slots=True)
class KeepUntil:
    """Request to the desk: keep only the decisions stamped at or before ``ts_ns`` (ns since epoch)."""

    ts_ns: int


class DeskStage(GenServer):
    """Collects the decision stream; on :class:`TradePass` it runs a :class:`TradingDesk` over all of it in
    simulated time (a fresh venue and book each pass, so passes at different latencies see the same market)."""

    def init(self, config: DeskConfig) -> None:
        self.config = config
        self.batches: list[np.ndarray] = []
        self.decisions = np.zeros(0, DECISION_DTYPE)  # every decision so far, sorted by time (stable)

    def handle_cast(self, decisions: np.ndarray) -> None:
        self.batches.append(decisions)

    def collected(self) -> np.ndarray:
        """The decision stream so far, sorted by ``ts_ns`` (stable: ties keep arrival order); the batches are
        merged into it once, so two passes share one copy."""
        if self.batches:
            merged = np.concatenate([self.decisions, *self.batches])
            self.batches = []
            self.decisions = np.empty(0, DECISION_DTYPE)
            self.decisions = merged[np.argsort(merged["ts_ns"], kind="stable")]
        return self.decisions

    def handle_call(self, request: TradePass | KeepUntil | str, from_: object) -> DeskResult | np.ndarray:
        """:class:`TradePass`: one pass of a fresh desk over the decisions; :class:`KeepUntil`: drop the
        decisions stamped after it (returns those kept); ``"decisions"``: the stream itself."""
        decisions = self.collected()
        if isinstance(request, KeepUntil):
            self.decisions = decisions[decisions["ts_ns"] <= request.ts_ns]
            return self.decisions
        if isinstance(request, str):
            return decisions
        desk = TradingDesk(self.config, request.latency)
        desk.on_decisions(decisions)
        result = desk.finish()
        del desk
        gc.collect()  # the pass's venue and book are cyclic garbage: free them before the next pass
        return result
