"""The live pipeline's stage actors: feed batches in, risk-approved orders out. Actors pass batches; the
kernels (validation, corroboration, signal, risk) process the records.

::

    FeedHandler ──FeedBatch──▶ validate ──Validated──▶ corroborate ──Decided──▶ signal ──Candidates──▶ risk
                                                                                         ──Approved──▶ desk

Each stage is a :class:`~cns.otp.GenServer` under the ``rest_for_one`` trading supervisor: a crashed stage
restarts with every stage after it (what they hold derives from its output), never the ones before it. The
stages keep no trading state of their own: the corroborator, signal generator, risk gate, OMS and quotes
belong to the shard's :class:`~cns.serve.state.ServeState`, so a restarted stage resumes where its
predecessor stopped; only the batch in hand when it crashed is lost.

Sends between stages go by registered name through :func:`forward`: a stage that is being restarted (its
name momentarily unregistered) makes the batch count as ``batches_dropped``, never a crash upstream.

Stage rules:

- ``validate``: the compiled SHACL news rules (zero-tick elision, violations counted per batch).
- ``corroborate``: conforming records into the streaming corroborator; every ``flush_s`` the clusters whose
  window closed are flushed (rumor storms decide on time, not on a record). Windows are in *news time*
  (publish stamps): the flush clock is the latest publish stamp seen plus the wall time elapsed since it
  arrived -- the wall clock for a live vendor, the file's clock for a replayed feed at real-time speed.
  Stamps the batch done in the latency probe.
- ``signal``: keeps ``trade``/``contingency`` decisions on tradable instruments (market-wide news maps to
  ``signal.market_proxy``); a decision on an instrument covered by a **paused feed** is *held*, released
  once every feed covering it is live again, dropped (``held_expired``) after ``desk.held_max_age_s``.
  Candidate orders are stamped with the wall clock (TransactTime).
- ``risk``: the pre-trade risk gate on the current quotes (fails closed on stale or missing ones); accepted
  orders are registered with the OMS and go to the desk.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from cns.engine import VERDICT_CONFORMS, VERDICT_ELIDED, VERDICT_VIOLATES
from cns.feeds import FeedBatch
from cns.otp import GenServer
from cns.runtime import Node, NoProc
from cns.serve.state import ServeState
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE, DECISION_DTYPE
from cns.trading.credibility import CredibilityTable
from cns.trading.risk_kernels import RISK_REASON_NAMES

__all__ = [
    "Approved",
    "Candidates",
    "CorroborateStage",
    "Decided",
    "RiskStage",
    "SignalStage",
    "ValidateStage",
    "Validated",
    "forward",
]


class Validated:
    """validate -> corroborate: the feed batch and one verdict per record (uint8 ``VERDICT_*``)."""

    __slots__ = ("batch", "verdict")

    def __init__(self, batch: FeedBatch, verdict: np.ndarray) -> None:
        self.batch, self.verdict = batch, verdict


class Decided:
    """corroborate -> signal: DECISION_DTYPE decisions; ``recv_ns`` the socket-read stamp (monotonic ns) of
    the batch that made them (0 for decisions of a timed flush)."""

    __slots__ = ("decisions", "recv_ns")

    def __init__(self, decisions: np.ndarray, recv_ns: int) -> None:
        self.decisions, self.recv_ns = decisions, recv_ns


class Candidates:
    """signal -> risk: candidate ORDER_DTYPE orders."""

    __slots__ = ("orders", "recv_ns")

    def __init__(self, orders: np.ndarray, recv_ns: int) -> None:
        self.orders, self.recv_ns = orders, recv_ns


class Approved:
    """risk -> desk: orders that passed pre-trade risk (registered with the OMS): send them."""

    __slots__ = ("orders", "recv_ns")

    def __init__(self, orders: np.ndarray, recv_ns: int) -> None:
        self.orders, self.recv_ns = orders, recv_ns


_TICKER = DECISION_DTYPE.names.index("ticker")  # type: ignore[union-attr]
_ACTION = DECISION_DTYPE.names.index("action")  # type: ignore[union-attr]


class _Tick:
    __slots__ = ()


_TICK = _Tick()


def forward(node: Node, name: str, msg: Any, state: ServeState) -> bool:
    """Send ``msg`` to the process registered as ``name``; False (and ``batches_dropped`` + 1) when no
    process has that name right now (it is being restarted)."""
    try:
        node.send(name, msg)
        state.flow_sent[name] += 1
        return True
    except NoProc:
        state.counters["batches_dropped"] += 1
        return False


class FeedForwarder:
    """The feed handlers' consumer: a callable run inside the handler that sends each :class:`FeedBatch` to
    the validate stage (:func:`forward`: never raises for a missing stage) and counts it."""

    __slots__ = ("node", "state", "name")

    def __init__(self, node: Node, state: ServeState) -> None:
        self.node, self.state, self.name = node, state, state.names.validate

    def __call__(self, batch: FeedBatch) -> None:
        c = self.state.counters
        c["events_in"] += len(batch)
        c["batches_in"] += 1
        j = self.state.extra.get("journal")
        if j is not None:
            st = self.state.feed_stats.get(batch.feed)
            j.news(batch, int(batch.seqs[-1]) if len(batch.seqs) else (st.last_seq if st else 0))
        forward(self.node, self.name, batch, self.state)


class ValidateStage(GenServer):
    """The compiled news rules over each :class:`FeedBatch` (see the module doc)."""

    def init(self, state: ServeState) -> None:
        self.state = state
        self.validator = state.extra["validator"]
        self.downstream = state.names.corroborate
        self.handled, self.me = state.flow_handled, state.names.validate
        self.code = np.empty(4096, np.uint16)  # scratch: violated constraint per record (not kept)
        self.handler = np.empty(4096, np.uint8)  # scratch: handler kind per record (not kept)
        self.counts = (state.counters, ("validated", "violations", "elided"))
        assert (VERDICT_CONFORMS, VERDICT_VIOLATES, VERDICT_ELIDED) == (0, 1, 2)

    def handle_info(self, msg: Any) -> None:
        if msg.__class__ is not FeedBatch:
            return
        self.handled[self.me] += 1
        recs = msg.news.records
        n = len(recs)
        if n > len(self.code):
            self.code = np.empty(2 * n, np.uint16)
            self.handler = np.empty(2 * n, np.uint8)
        verdict = np.empty(n, np.uint8)  # travels with the batch: a fresh array
        self.validator.process(recs, verdict, self.code, self.handler)
        c, keys = self.counts
        if n == 1:
            c[keys[verdict.item(0)]] += 1
        else:
            for k, v in zip(keys, np.bincount(verdict, minlength=3).tolist(), strict=False):
                c[k] += v
        forward(self.node, self.downstream, Validated(msg, verdict), self.state)


class CorroborateStage(GenServer):
    """Streaming corroboration of the conforming records; timed flush of closed windows."""

    def init(self, state: ServeState, flush_s: float = 0.01) -> None:
        self.state = state
        self.corroborator = state.pipeline.corroborator
        self.downstream = state.names.signal
        self.handled, self.me = state.flow_handled, state.names.corroborate
        self.news_clock: tuple[int, int] = state.extra.get("news_clock", (0, 0))
        self.last: tuple[np.ndarray, int] | None = None  # the latest batch and its wall arrival (news clock)
        self.n_sources = len(state.dictionaries[0])
        self.probe = state.probe
        self.counters = state.counters
        self.timer = self.node.send_interval(flush_s, self.pid, _TICK)

    def terminate(self, reason: Any) -> None:
        self.node.cancel_timer(self.timer)

    def _credibility(self) -> None:
        """Rebuild the credibility table when a feed interned a new source (the dictionary grew)."""
        sources = self.state.dictionaries[0]
        if len(sources) != self.n_sources:
            self.n_sources = len(sources)
            if len(sources) > len(self.corroborator.credibility.scores):
                cfg = self.state.config.trading.credibility
                self.corroborator.set_credibility(CredibilityTable.for_dictionary(sources, cfg))

    def _advance_clock(self) -> None:
        """Move the news clock to the latest publish stamp seen (off the per-batch path: on the tick)."""
        last, self.last = self.last, None
        if last is not None and len(last[0]):
            top = int(last[0]["publish_ns"].max())
            if top > self.news_clock[0]:
                self.news_clock = self.state.extra["news_clock"] = (top, last[1])

    def handle_info(self, msg: Any) -> None:
        cls = msg.__class__
        if cls is Validated:
            self.handled[self.me] += 1
            b = msg.batch
            recs = b.news.records
            self._credibility()
            decisions = self.corroborator.process(recs, mask=np.equal(msg.verdict, VERDICT_CONFORMS))
            seqs = b.seqs
            n = len(seqs)
            if n:
                self.probe.batch_done(seqs.item(0), seqs.item(n - 1), b.recv_ns, time.monotonic_ns())
            self.last = (recs, time.time_ns())
            if len(decisions):
                self.counters["decisions"] += len(decisions)
                forward(self.node, self.downstream, Decided(decisions, b.recv_ns), self.state)
        elif cls is _Tick:
            self._advance_clock()
            if not self.news_clock[0]:
                return
            pub, wall = self.news_clock
            closed = self.corroborator.flush(pub + (time.time_ns() - wall))
            if len(closed):
                self.state.counters["decisions"] += len(closed)
                forward(self.node, self.downstream, Decided(closed, 0), self.state)


class SignalStage(GenServer):
    """Decisions -> candidate orders, holding the decisions of paused feeds' instruments."""

    def init(self, state: ServeState, tick_s: float = 0.02) -> None:
        self.state = state
        pipe = state.pipeline
        self.signal = pipe.signal
        self.proxy = int(pipe.signal.proxy)
        self.n = len(state.tradable)
        self.downstream = state.names.risk
        self.handled, self.me = state.flow_handled, state.names.signal
        # (held at, monotonic ns; decisions; recv_ns): shard state, so a restarted stage (or a recovery,
        # from the journal's held/unheld entries) finds them again
        self.held: deque[tuple[int, np.ndarray, int]] = state.extra.setdefault("held", deque())
        self.journal = state.extra.get("journal")
        self.max_age_ns = int(state.config.desk.held_max_age_s * 1e9)
        self.feeds = tuple(state.feed_stats.values())
        self.timer = self.node.send_interval(tick_s, self.pid, _TICK)

    def terminate(self, reason: Any) -> None:
        self.node.cancel_timer(self.timer)

    def any_paused(self) -> bool:
        """True if any feed is paused."""
        for st in self.feeds:
            if st.paused:
                return True
        return False

    def handle_info(self, msg: Any) -> None:
        cls = msg.__class__
        if cls is Decided:
            self.handled[self.me] += 1
            d = self._tradable(msg.decisions)
            if len(d):
                paused = self.state.paused_mask() if self.any_paused() else None
                if paused is not None:
                    held = paused[self._instrument(d)]
                    if held.any():
                        self.held.append((time.monotonic_ns(), d[held], msg.recv_ns))
                        if self.journal is not None:
                            self.journal.held(d[held])
                        self.state.counters["decisions_held"] += int(held.sum())
                        d = d[~held]
                if len(d):
                    self._orders(d, msg.recv_ns)
        elif cls is _Tick and self.held:
            self._release()

    def _instrument(self, d: np.ndarray) -> np.ndarray:
        t = d["ticker"].astype(np.int64)
        t[t == 0] = self.proxy
        return t

    def _tradable(self, d: np.ndarray) -> np.ndarray:
        if len(d) == 1:  # the common live case: scalars, no array temporaries
            row = d.item(0)
            t = row[_TICKER] or self.proxy
            if row[_ACTION] in (ACTION_TRADE, ACTION_CONTINGENCY) and t < self.n and self.state.tradable[t]:
                return d
            if row[_ACTION] in (ACTION_TRADE, ACTION_CONTINGENCY):
                self.state.counters["decisions_untradable"] += 1
            return d[:0]
        act = d["action"]
        d = d[(act == ACTION_TRADE) | (act == ACTION_CONTINGENCY)]
        if not len(d):
            return d
        t = self._instrument(d)
        ok = t < self.n
        ok[ok] = self.state.tradable[t[ok]]
        if not ok.all():
            self.state.counters["decisions_untradable"] += int(np.count_nonzero(~ok))
            d = d[ok]
        return d

    def _release(self) -> None:
        """Release held decisions whose instruments are live again; drop those held too long."""
        now = time.monotonic_ns()
        paused = self.state.paused_mask()
        keep: list[tuple[int, np.ndarray, int]] = []
        c = self.state.counters
        j = self.journal
        held = self.held
        while held:
            at, d, recv = held.popleft()
            if now - at > self.max_age_ns or self.state.stopping:
                c["held_expired"] += len(d)
                if j is not None:
                    j.held(d, released=True)
                continue
            still = paused[self._instrument(d)] if paused is not None else np.zeros(len(d), np.bool_)
            go = d[~still]
            if len(go):
                c["held_released"] += len(go)
                if j is not None:
                    j.held(go, released=True)
                self._orders(go, recv)
            if still.any():
                keep.append((at, d[still], recv))
        held.extend(keep)  # the same deque: it is the shard's

    def _orders(self, d: np.ndarray, recv_ns: int) -> None:
        if self.state.stopping:
            return
        cand = self.signal.orders(d, self.state.quotes.mid)
        if len(cand):
            cand["ts_ns"] = time.time_ns()
            self.state.counters["candidates"] += len(cand)
            forward(self.node, self.downstream, Candidates(cand, recv_ns), self.state)


class RiskStage(GenServer):
    """Pre-trade risk on the current quotes; approved orders go to the desk."""

    def init(self, state: ServeState) -> None:
        self.state = state
        self.risk = state.pipeline.risk
        self.downstream = state.names.desk
        self.handled, self.me = state.flow_handled, state.names.risk
        self.marked = -1  # quotes.version the exposures were last re-marked at
        self.runaway = int(state.config.desk.runaway_rejects)
        self.window_ns = int(state.config.trading.risk.rate_window_ns)
        self.rate_k = RISK_REASON_NAMES.index("rate")
        self.rate_marks: list[tuple[int, int]] = []  # (time, cumulative rate rejections) within the window
        self.journal = state.extra.get("journal")

    def handle_info(self, msg: Any) -> None:
        if msg.__class__ is not Candidates:
            return
        self.handled[self.me] += 1
        st = self.state
        if st.stopping:
            return
        now = time.time_ns()
        q = st.quotes
        mid, mid_ts = q.refs(now)
        if q.version != self.marked:  # new mids or fills since the last check: re-mark the exposures
            self.marked = q.version
            self.risk.refresh(mid)
        j = self.journal
        before = self.risk.counts.copy() if j is not None else None
        accepted, _reasons = self.risk.check(msg.orders, mid, mid_ts, now)
        if j is not None:
            j.risk_checked(accepted, before, self.risk.counts, int(self.risk.oms.id_counter[0]))
        st.counters["risk_rejected"] += len(msg.orders) - len(accepted)
        if len(accepted):
            forward(self.node, self.downstream, Approved(accepted, msg.recv_ns), st)
        if self.runaway and len(accepted) < len(msg.orders):
            self._runaway_check(now)

    def _runaway_check(self, now: int) -> None:
        """Runaway guard (Knight, 2012): more than ``[desk] runaway_rejects`` throttle rejections within one
        rate window -- a strategy firing in a loop -- trips the kill switch: the desk engages it, journals it
        and mass-cancels (:data:`RUNAWAY`)."""
        n = int(self.risk.counts[self.rate_k])
        marks = self.rate_marks
        marks.append((now, n))
        while marks and marks[0][0] < now - self.window_ns:
            marks.pop(0)
        if n - marks[0][1] >= self.runaway or (len(marks) == 1 and n >= self.runaway):
            st = self.state
            if not st.stopping:
                st.counters["runaway_trips"] += 1
                st.stopping = True
                self.risk.engage_kill_switch(now)
                self.node.send(st.names.desk, RUNAWAY)


class _Runaway:
    """To the desk: the runaway guard tripped -- kill switch, journal, mass cancel."""


RUNAWAY = _Runaway()

_ = DECISION_DTYPE  # the decisions' dtype (documented in cns.trading.corroborate_kernels)
