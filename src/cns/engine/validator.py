"""The BitActor engine for record batches: load compiled rules, bind per-code tables, run the tick loop.

``NewsValidator.load('rules/news.ttl')`` compiles the shapes once (or loads the cached artifact), binds the
dictionaries and per-source tables (per-entry lookup tables + the hoisted ingress table) and then
``process(batch, out_verdict, out_code, header=hdr)`` validates a whole batch in one kernel call and returns
the batch's :class:`TickStats`. ``hdr`` is the batch's :class:`~cns.signals.dtypes.NewsHeader` (a 2-byte tag
and the 4-byte source per record, written by the parse stage: ``NewsBatch.header``,
``parse_binary_chunk(..., header=)``): ingress then reads it instead of the records, and only live records are
touched. Without it the kernel derives the same values from the records (same results). Dictionaries only grow: when one has grown since the last bind, the
tables are rebuilt before the batch (once per distinct new string).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from numba import typeof

from cns.engine.errors import EngineError
from cns.resources import shipped_rules
from cns.rules.codegen import Artifact, compile_shapes_file
from cns.rules.codegen_tickloop import BSTRIDE, CHUNK, N_HSTATS, N_STATS
from cns.rules.record import ConstraintInfo, eval_value
from cns.signals.clock import stamp_calibration
from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import NewsHeader, empty_news_header, news_header
from cns.signals.lut import extend_lut
from cns.signals.schema import NODE_LINKED, RecordSchema, default_news_inputs

__all__ = ["TickStats", "HandlerStats", "NewsValidator", "default_news_inputs"]

DEFAULT_SHAPES = shipped_rules("news.ttl")  # the shipped shapes, package data (cns.resources)
PREFETCH_DISTANCE = (
    48  # dispatch prefetches the live record this many places ahead (~DRAM latency, loaded box)
)


@dataclass(frozen=True, slots=True)
class HandlerStats:
    """Sampled cost of one kind's handler: mean cycles per sampled call and samples over budget."""

    kind: int
    name: str
    samples: int
    mean_cycles: float
    over_budget: int
    constant: bool


@dataclass(frozen=True, slots=True)
class TickStats:
    """Tick accounting of one ``process`` call (or cumulative). Cycles are cycle-counter cycles.

    ``ingress_cycles`` covers every signal: ``elision_cycles`` (the header scan every record pays — deriving
    the header tags from the records when no header columns were given, the zero-tick test, the outputs of
    elided records, the list of the others) plus the hoisted checks of the non-elided; ``dispatch_cycles``
    the handlers of the processed ones. An elided signal costs the elision scan only:
    ``elided_cycles_per_signal = elision_cycles / signals``.
    """

    signals: int
    processed: int
    elided: int
    rejected_at_ingress: int
    violations: int
    ingress_cycles: int
    dispatch_cycles: int
    sampled: int
    budget_violations: int
    budget_cycles: int
    cycles_per_ns: float
    handler_table: np.ndarray | None = None  # copy of the per-kind [cycles, samples, over budget] counters
    handler_names: tuple[str, ...] = ()
    constant_handlers: frozenset[int] = frozenset()
    elision_cycles: int = 0

    @property
    def handlers(self) -> tuple[HandlerStats, ...]:
        """Per-kind sampled handler cost (built on access; the hot path only copies the counters)."""
        if self.handler_table is None:
            return ()
        out = []
        for k, (cyc, cnt, over) in enumerate(self.handler_table.tolist()):
            name = self.handler_names[k] if k < len(self.handler_names) else "other"
            out.append(
                HandlerStats(k, name, cnt, cyc / cnt if cnt else 0.0, over, k in self.constant_handlers)
            )
        return tuple(out)

    @property
    def zero_tick_ratio(self) -> float:
        """Share of signals elided by the zero-tick test (``elided / signals``); 0.0 with no signals."""
        return self.elided / self.signals if self.signals else 0.0

    @property
    def cycles_per_signal(self) -> float:
        """Mean ingress plus dispatch cost per signal, in CPU cycles; 0.0 with no signals."""
        return (self.ingress_cycles + self.dispatch_cycles) / self.signals if self.signals else 0.0

    @property
    def elided_cycles_per_signal(self) -> float:
        """Cycles of the elision scan per signal: all an elided signal costs."""
        return self.elision_cycles / self.signals if self.signals else 0.0

    @property
    def ingress_cycles_per_signal(self) -> float:
        """Mean ingress cost per signal (elision scan included), in CPU cycles; 0.0 with no signals."""
        return self.ingress_cycles / self.signals if self.signals else 0.0

    @property
    def processed_cycles_per_signal(self) -> float:
        """The elision scan's share plus, per processed record, the rest of ingress and the handlers."""
        if not self.processed:
            return 0.0
        rest = self.ingress_cycles - self.elision_cycles + self.dispatch_cycles
        return self.elided_cycles_per_signal + rest / self.processed

    def ns(self, cycles: float) -> float:
        """Convert cycles to ns with the calibrated rate."""
        return cycles / self.cycles_per_ns


class _TickStatsBuilder:
    """Same slots as :class:`TickStats`, not frozen: filled with plain attribute stores, then handed out as a
    ``TickStats`` (``__class__`` swap; the layouts are identical). A frozen dataclass sets each field through
    ``object.__setattr__``, ~1 µs per ``process`` call for 15 fields; this is ~0.2 µs."""

    __slots__ = TickStats.__slots__  # type: ignore[attr-defined]

    def __init__(self, *vals: Any) -> None:
        (
            self.signals,
            self.processed,
            self.elided,
            self.rejected_at_ingress,
            self.violations,
            self.ingress_cycles,
            self.dispatch_cycles,
            self.sampled,
            self.budget_violations,
            self.budget_cycles,
            self.cycles_per_ns,
            self.handler_table,
            self.handler_names,
            self.constant_handlers,
            self.elision_cycles,
        ) = vals


assert _TickStatsBuilder.__slots__ == tuple(f.name for f in fields(TickStats))


def _tick_stats(*vals: Any) -> TickStats:
    """``TickStats(*vals)`` (positional, every field), built without the frozen ``__setattr__`` path."""
    t = _TickStatsBuilder(*vals)
    t.__class__ = TickStats  # type: ignore[assignment]
    return t  # type: ignore[return-value]


def _value_pred(op: str, param: Any) -> Callable[[str], bool]:
    return lambda s: eval_value(op, param, [s])


def _entry_point(dispatcher: Any, *args: Any) -> Callable[..., int]:
    """The compiled entry point for ``args``' types: skips the dispatcher's per-call type resolution, which is
    most of a single-record call's cost. Falls back to the dispatcher if Numba's internals differ."""
    dispatcher(*args)
    try:
        sig = tuple(typeof(a) for a in args)
        return dispatcher.overloads[sig].entry_point  # type: ignore[no-any-return]
    except (KeyError, AttributeError):  # pragma: no cover - numba internals
        return dispatcher  # type: ignore[no-any-return]


class NewsValidator:
    """Compiled record validator for one shapes file and record schema (default: news over NEWS_DTYPE)."""

    def __init__(self, artifact: Artifact, *, sample_every: int = 64, budget_cycles: int = 8) -> None:
        if sample_every < 1:
            raise EngineError(f"sample_every must be >= 1, got {sample_every}")
        self.artifact = artifact
        self.schema: RecordSchema = artifact.schema
        self.sample_every = sample_every
        self.budget_cycles = budget_cycles
        cal = stamp_calibration()  # the one calibration every stage's stamps use (cns.signals.clock)
        self.cycles_per_ns = 1.0 / cal.ns_per_cycle
        self._overhead = round(cal.overhead_cycles)
        meta = artifact.meta
        self._hmap = meta["handlers"]
        self._constraints = {c["code"]: ConstraintInfo(**c) for c in meta["constraints"]}
        self._kind_names = next(
            (b.names for b in self.schema.properties.values() if b.field == self.schema.kind_field), ()
        )
        self._constant = frozenset(self._hmap["constant"])
        self._luts = np.zeros(1, dtype=np.uint16)
        self._lut_parts: list[np.ndarray] = []
        self._lut_off = np.zeros(2, dtype=np.int64)
        self._params = np.array([sample_every, budget_cycles, 0, PREFETCH_DISTANCE], dtype=np.int64)
        self._params[2] = self._overhead
        self._static = np.zeros((1, 1), dtype=np.uint16)
        self._linked_report = np.zeros(0, dtype=np.uint16)
        self._dicts: Mapping[str, Dictionary] = {}
        self._tables: Mapping[str, np.ndarray] = {}
        self._sizes: list[int] = []
        self._sized: list[Any] = []
        nk = self._hmap["n_kind_rows"]
        nrow = nk * int(artifact.module.NCOMBO)  # buckets: kind row x guard-flag combination
        self._buckets = np.zeros(nrow * BSTRIDE, dtype=np.int64)  # per bucket: live record | prefetch span
        self._counts = np.zeros(2 * nrow, dtype=np.int64)  # live per bucket, two chunks in flight
        self._key = np.zeros(
            CHUNK, dtype=np.uint16
        )  # per record of a chunk: kind row, or n_kind_rows if elided
        self._live_ix = np.zeros(CHUNK, dtype=np.int32)  # the non-elided of a chunk
        self._ring = np.zeros(2 * CHUNK, dtype=np.int64)  # live records in dispatch order (power of two)
        self._scratch_header = empty_news_header(CHUNK)  # derived from the records when none is given
        self._no_header = empty_news_header(0)
        self._no_handler = np.zeros(0, dtype=np.uint8)
        self._hstats = np.zeros((self._hmap["n_kind_rows"], N_HSTATS), dtype=np.int64)  # the kernel zeroes it
        self._stats_buf = np.zeros(N_STATS, dtype=np.int64)  # the kernel writes every entry
        self._one = np.zeros(1, dtype=self.schema.dtype)
        self._one_fn: Callable[..., int] | None = None
        self._one_dtype: np.dtype | None = None
        self._no_stamps = np.zeros(0, dtype=np.int64)
        self.load_seconds = 0.0
        self.was_cached = False

    # -- construction ----------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | Path = DEFAULT_SHAPES,
        *,
        schema: str = "news",
        cache_dir: str | Path | None = None,
        dictionaries: Mapping[str, Dictionary] | None = None,
        tables: Mapping[str, np.ndarray] | None = None,
        sample_every: int = 64,
        budget_cycles: int = 8,
    ) -> NewsValidator:
        """Compile (or load cached) rules for ``path`` and bind inputs (default: :func:`default_news_inputs`).

        ``load_seconds`` on the result is the measured wall time of this call including the first kernel
        run (JIT compile on a cold cache, cache load otherwise); ``was_cached`` says which.
        """
        t0 = time.perf_counter_ns()
        art, cached = compile_shapes_file(path, cache_dir, schema=schema)
        v = cls(art, sample_every=sample_every, budget_cycles=budget_cycles)
        if dictionaries is None or tables is None:
            d0, t_ = default_news_inputs()
            dictionaries = dictionaries if dictionaries is not None else d0
            tables = tables if tables is not None else t_
        v.bind(dictionaries, tables)
        v.warm_up()
        v.load_seconds = (time.perf_counter_ns() - t0) / 1e9
        v.was_cached = cached
        return v

    def bind(self, dictionaries: Mapping[str, Dictionary], tables: Mapping[str, np.ndarray]) -> None:
        """Bind dictionaries and per-code tables; builds every per-entry table and the ingress table."""
        for d in self.schema.dictionaries:
            if d not in dictionaries:
                raise EngineError(
                    f"schema {self.schema.name!r} needs dictionary {d!r}; got {sorted(dictionaries)}"
                )
        for t in self.schema.tables:
            if t not in tables:
                raise EngineError(f"schema {self.schema.name!r} needs table {t!r}; got {sorted(tables)}")
        self._dicts, self._tables = dictionaries, tables
        self._sized = [dictionaries[d] for d in self.schema.dictionaries] + [
            tables[t] for t in self.schema.tables
        ]
        self._lut_parts = []  # new dictionaries: nothing to extend
        self._rebuild()
        self._one_fn = None

    def _size_key(self) -> list[int]:
        return [len(x) for x in self._sized]

    def _rebuild(self) -> None:
        meta = self.artifact.meta
        old = self._lut_parts or [np.zeros(0, dtype=np.uint16)] * len(meta["luts"])
        luts = [
            self._build_lut(spec["source"], spec["checks"], prev)
            for spec, prev in zip(meta["luts"], old, strict=True)
        ]
        self._lut_parts = luts
        self._lut_off = np.zeros(2 * max(1, len(luts)), dtype=np.int64)
        pos = 0
        for i, lt in enumerate(luts):
            self._lut_off[2 * i], self._lut_off[2 * i + 1] = pos, len(lt)
            pos += len(lt)
        self._luts = np.concatenate(luts) if luts else np.zeros(1, dtype=np.uint16)
        n_links = len(self._link_dictionary())
        report = np.zeros(n_links, dtype=np.uint16)
        for spec in meta["linked_roots"]:
            lut = self._build_lut("linked", spec["checks"])
            report = np.where(report == 0, lut, report)
        self._linked_report = report
        tab = np.zeros((self._hmap["n_kind_rows"], n_links + 1), dtype=np.uint16)
        self.artifact.module.fill_static(tab, self._luts, self._lut_off)
        self._static = tab
        self._sizes = self._size_key()

    def _link_dictionary(self) -> Dictionary:
        for b in self.schema.properties.values():
            if b.node == NODE_LINKED and b.kind == "string":
                return self._dicts[b.dictionary]  # type: ignore[index]
        return Dictionary()

    def _build_lut(self, source: str, checks: list[list], prev: np.ndarray | None = None) -> np.ndarray:
        """One per-entry table; dictionary tables only evaluate entries added since ``prev``."""
        kind, _, name = source.partition(":")
        preds = [(int(code), _value_pred(op, param)) for code, op, param in checks]
        if kind == "enum":
            b = next(b for b in self.schema.properties.values() if b.field == name)
            lut = np.zeros(len(b.names) + 1, dtype=np.uint16)
            for i, s in enumerate([*b.names, "<out-of-range>"]):
                if i == 0 and b.absent == "zero":
                    continue
                lut[i] = next((code for code, ok in preds if not ok(s)), 0)
            return lut
        if kind == "dict":
            return extend_lut(
                prev if prev is not None else np.zeros(0, np.uint16), self._dicts[name].strings(), preds
            )
        return self._build_linked(checks)

    def _build_linked(self, checks: list[list]) -> np.ndarray:
        d = self._link_dictionary()
        props = [b for b in self.schema.properties.values() if b.node == NODE_LINKED]
        classes = [c for c in self.schema.classes.values() if c.node == NODE_LINKED]
        lut = np.zeros(len(d), dtype=np.uint16)
        for code in range(1, len(d)):
            values: dict[str, list] = {}
            for b in props:
                if b.kind == "string":
                    values[b.property] = [d.string(code)]
                else:
                    t = self._tables[b.table]  # type: ignore[index]
                    values[b.property] = [int(t[code])] if code < len(t) and int(t[code]) >= 0 else []
            types = {
                c.cls
                for c in classes
                if c.registered_table is None
                or (
                    code < len(self._tables[c.registered_table])
                    and int(self._tables[c.registered_table][code]) >= 0
                )
            }
            for vcode, op, param in checks:
                if op == "class":
                    ok = param in types
                elif op == "conforms_if" and param[0] not in types:
                    ok = True
                else:
                    value_checks = param[1] if op == "conforms_if" else param
                    ok = all(
                        (p in types) if o == "class" else eval_value(o, pa, values.get(p, []))
                        for p, o, pa in value_checks
                    )
                if not ok:
                    lut[code] = vcode
                    break
        return lut

    def warm_up(self) -> None:
        """Run both kernels once on a one-record batch (JIT compile or cache load happens here)."""
        self.validate_one(self._one, 0)
        v, c = np.zeros(1, np.uint8), np.zeros(1, np.uint16)
        self.process(self._one, v, c)

    # -- hot path --------------------------------------------------------------------------------------------
    @property
    def takes_header(self) -> bool:
        """True when :meth:`process` accepts ``header=`` (a :class:`~cns.signals.dtypes.NewsHeader`): the schema's
        ingress tag is the one the parse stage writes. Otherwise the kernel always derives it from the records."""
        return bool(self._hmap.get("header_column"))

    def make_header(self, batch: np.ndarray, out: NewsHeader | None = None) -> NewsHeader:
        """The header columns of ``batch`` (:func:`cns.signals.dtypes.news_header`); the parse stage writes the
        same columns as a by-product (``NewsBatch.header``)."""
        if not self.takes_header:
            raise EngineError(f"schema {self.schema.name!r} has no header columns")
        return news_header(batch, out)

    def process(
        self,
        batch: np.ndarray,
        out_verdict: np.ndarray,
        out_code: np.ndarray,
        out_handler: np.ndarray | None = None,
        lat_ns: np.ndarray | None = None,
        *,
        header: NewsHeader | None = None,
    ) -> TickStats:
        """Validate ``batch``: per record ``out_verdict`` (uint8: 0 conforms, 1 violates, 2 elided),
        ``out_code`` (uint16 violated constraint, see :meth:`explain`), optional ``out_handler`` (uint8 kind
        of the handler, 254 rejected at ingress, 255 elided). Returns this batch's :class:`TickStats`.

        ``header`` (optional, a :class:`~cns.signals.dtypes.NewsHeader` with at least ``len(batch)`` entries;
        see :attr:`takes_header`): the batch's header columns as the parse stage wrote them (``NewsBatch.header``;
        they must equal :meth:`make_header` of the records — the engine trusts them). With them, elision reads a
        2-byte tag per record, the hoisted checks the 4-byte source of the non-elided, and a record is touched
        only when it is live; without, the kernel derives both from the records chunk by chunk (same results,
        the records are read).

        ``lat_ns`` (int64, optional): per-event latency. Pre-fill ``0`` for the records to time and ``-1`` for
        the others; each timed record gets its in-kernel validation time in ns (a timed run of its ingress step
        plus, when live, its handler; cycle counter minus read overhead). Timed records replace the
        every-``sample_every`` handler sampling of the tick accounting for this call."""
        n = len(batch)
        if batch.dtype != self.schema.dtype or batch.ndim != 1:
            raise EngineError(
                f"process: batch must be a 1-D array of the {self.schema.name!r} schema's dtype"
            )
        if n >= 2**31:
            raise EngineError(f"process: {n} records in one batch; at most 2**31 - 1")
        for name, arr, dt in (("out_verdict", out_verdict, np.uint8), ("out_code", out_code, np.uint16)):
            if arr.dtype != dt or arr.ndim != 1 or len(arr) < n:
                raise EngineError(f"process: {name} must be 1-D {np.dtype(dt)} with at least {n} entries")
        if out_handler is None:
            handler = self._no_handler
        elif out_handler.dtype != np.uint8 or out_handler.ndim != 1 or len(out_handler) < n:
            raise EngineError(f"process: out_handler must be 1-D uint8 with at least {n} entries")
        else:
            handler = out_handler if n else self._no_handler  # the kernel writes [0, n) (non-empty = wanted)
        if lat_ns is None:
            stamps = self._no_stamps
        elif lat_ns.dtype != np.int64 or lat_ns.ndim != 1 or len(lat_ns) < n:
            raise EngineError(f"process: lat_ns must be 1-D int64 with at least {n} entries")
        else:
            stamps = lat_ns[:n]
        if header is None:
            hdr = self._no_header
        else:
            if not self.takes_header:
                raise EngineError(f"process: schema {self.schema.name!r} takes no header columns")
            if not isinstance(header, NewsHeader) or not header.valid_for(n):
                raise EngineError(
                    f"process: header must be a NewsHeader of C-contiguous 1-D uint16 tag and uint32 source "
                    f"columns with at least {n} entries"
                )
            hdr = header
        if self._size_key() != self._sizes:
            self._rebuild()
            self._one_fn = None
        stats = self._stats_buf
        self.artifact.module.tick(
            batch,
            hdr.tag,
            hdr.source,
            out_verdict,
            out_code,
            handler,
            stamps,
            self._buckets,
            self._counts,
            self._key,
            self._live_ix,
            self._ring,
            self._scratch_header.tag,
            self._scratch_header.source,
            self._static,
            self._luts,
            self._lut_off,
            self._params,
            self._hstats,
            stats,
        )
        if lat_ns is not None:
            timed = stamps >= 0
            stamps[timed] = np.rint(stamps[timed] / self.cycles_per_ns).astype(np.int64)
        return self._stats(stats)

    def validate_one(self, batch: np.ndarray, index: int = 0) -> tuple[int, int]:
        """Validate the single record ``batch[index]`` from Python, no copy; returns ``(verdict, code)``.

        For one event at a time (call overhead ~0.2 µs); no tick accounting, no sampling. ``batch`` must be a
        C-contiguous 1-D array of the schema's dtype (checked only on the first call and on a type change).
        """
        fn = self._one_fn
        if fn is None or batch.dtype is not self._one_dtype:
            if batch.dtype != self.schema.dtype or batch.ndim != 1 or not batch.flags.c_contiguous:
                raise EngineError(
                    f"validate_one: batch must be a C-contiguous 1-D {self.schema.name!r} array"
                )
            if not 0 <= index < len(batch):
                raise EngineError(f"validate_one: index {index} outside the batch of {len(batch)}")
            fn = self._one_fn = _entry_point(
                self.artifact.module.one, batch, index, self._static, self._luts, self._lut_off
            )
            self._one_dtype = batch.dtype
        x = fn(batch, index, self._static, self._luts, self._lut_off)
        return x >> 16, x & 0xFFFF

    # -- reporting -------------------------------------------------------------------------------------------
    def _stats(self, s: np.ndarray) -> TickStats:
        ing, disp, n, proc, el, rej, viol, samp, over, elision = s.tolist()
        return _tick_stats(
            n,
            proc,
            el,
            rej,
            viol,
            ing,
            disp,
            samp,
            over,
            self.budget_cycles,
            self.cycles_per_ns,
            self._hstats.copy(),
            self._kind_names,
            self._constant,
            elision,
        )

    def explain(self, code: int) -> ConstraintInfo:
        """What violation ``code`` means; raises :class:`EngineError` for an unknown code."""
        if code not in self._constraints:
            raise EngineError(
                f"unknown violation code {code} (codes 1..{len(self._constraints)}, 65535 = unbound)"
            )
        return self._constraints[code]

    def linked_violations(self) -> dict[int, ConstraintInfo]:
        """Per linked entry (e.g. source code) that violates its own shapes (``cns:SourceShape``)."""
        return {int(c): self._constraints[int(v)] for c, v in enumerate(self._linked_report) if v}

    @property
    def notes(self) -> list[str]:
        """What the compiler folded, hoisted or eliminated."""
        return list(self.artifact.meta["notes"])
