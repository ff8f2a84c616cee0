"""Hot reload under load: news rules, risk limits and credibility tables swapped into a running pipeline.

The rule for all three: the expensive part (compiling rules, binding lookup tables, building a risk
parameter vector) runs **off** the node's thread, in the caller's thread (the control API's, or a
:class:`threading.Thread`) -- or, with ``mode="subprocess"``, the rules compile in a child process that
fills the kernel cache and the caller's thread only loads the artifact --; then the new object is
swapped in **at a safe point**: ``node.run_in(stage, fn)`` runs ``fn`` inside the stage process between two
messages, in mailbox order (every batch already queued is handled by the old version, every later one by the
new one; none is skipped or handled twice). The stage is held only while ``fn`` runs (an attribute
assignment and a log append: microseconds; the maximum is :attr:`RulesReloader.max_pause_s`).

**Rules** (:class:`RulesReloader`): a changed rules TTL is compiled to a fresh :class:`~cns.engine.NewsValidator`
(by ``build(path)``); a file that fails to compile or bind raises :class:`~cns.ops.errors.ReloadError`
naming why, and the old rules keep running. After a swap the version is known per record through the
:class:`VersionLog`: the stage's validated-record count at the swap starts the new version's range
(``cns.serve``'s ``Validated`` message carries no version field, so the log is the stamp); a stage with a
``rules_version`` attribute gets it set at the same point (stamped on its output).

**Risk limits** (:func:`swap_risk_config`): a new :class:`~cns.trading.config.RiskConfig` (checked against
``RANGES``: a bad value is refused naming the key) replaces the gate's parameter vector, enabled checks and,
when ``max_orders_per_window`` changes, the rate ring (newest stamps kept), in one step inside the risk stage.

**Credibility** (:class:`CredibilityUpdate`): the validator's per-source table and the corroborator's table
change together: the validate stage is suspended (its input queues), the corroborate stage swaps its table
after the batches already validated under the old table (its ``run_in`` marker queues behind them), the
validate stage swaps its validator, and is resumed: no batch sees one table in one stage and the other in
the next.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client.core import Metric

from cns.ops.errors import BadRequest, Conflict, ReloadError
from cns.ops.executor import Executor, InlineExecutor
from cns.ops.metrics import counter, gauge

__all__ = [
    "CredibilityUpdate",
    "RulesReloader",
    "ValidatorSlot",
    "VersionLog",
    "checked_risk_config",
    "swap_risk_config",
]


class VersionLog:
    """Which rules version validated which records: ``(first record, version)`` entries, append-only, both
    strictly increasing. Record indices count the records the stage validated since it started (0-based)."""

    def __init__(self, version: int = 1) -> None:
        self._lock = threading.Lock()
        self.starts: list[int] = [0]
        self.versions: list[int] = [version]

    def append(self, first_record: int, version: int) -> None:
        """Record that ``version`` validates from record ``first_record`` on; raises ValueError unless both
        increase (a same-record entry replaces the previous version).
        """
        with self._lock:
            if version <= self.versions[-1] or first_record < self.starts[-1]:
                raise ValueError(
                    f"VersionLog: ({first_record}, {version}) after ({self.starts[-1]}, "
                    f"{self.versions[-1]}): not monotonic"
                )
            if first_record == self.starts[-1]:  # no record under the previous version: replace it
                self.versions[-1] = version
            else:
                self.starts.append(first_record)
                self.versions.append(version)

    @property
    def current(self) -> int:
        """The latest version."""
        return self.versions[-1]

    def version_of(self, record: int) -> int:
        """The version that validated record ``record`` (0-based index in the stage's stream)."""
        with self._lock:
            return self.versions[bisect.bisect_right(self.starts, record) - 1]

    def ranges(self) -> list[tuple[int, int | None, int]]:
        """``(first, end or None for open, version)`` per range, in order."""
        with self._lock:
            ends: list[int | None] = [*self.starts[1:], None]
            return list(zip(self.starts, ends, self.versions, strict=True))


@dataclass(frozen=True, slots=True)
class ValidatorSlot:
    """Where a stage keeps its validator: process ``process`` (pid or registered name), actor attribute
    ``attr``; ``records(actor)`` gives the records that stage validated so far (read at the safe point);
    ``on_swap(validator)`` runs at the same point (e.g. to store it where a restarted stage finds it)."""

    process: Any
    records: Callable[[Any], int]
    attr: str = "validator"
    on_swap: Callable[[Any], None] | None = None


@dataclass(frozen=True, slots=True)
class RulesVersion:
    """One rules version: ``version`` (1 = the rules the pipeline started with), the file and its sha256,
    compile wall time (s, off the node's thread), the stage hold (s, inside the stage) and the first record."""

    version: int
    path: str
    sha256: str
    compile_s: float = 0.0
    pause_s: float = 0.0
    first_record: int = 0


def _sha(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


class RulesReloader:
    """Compile-then-swap reloads of one validator stage (see the module doc).

    ``node``: the stage's node; ``slot``: where the validator lives; ``build(path)``: a fresh, bound and
    warmed validator for a rules file (raises on bad rules); ``path``: the rules running now;
    ``executor``: runs the swap on the node's thread (default inline: the caller *is* that thread's owner);
    ``mode``: ``"thread"`` (compile in the calling thread) or ``"subprocess"`` (compile in a child process
    filling the kernel cache first; ``cache_dir`` as ``NewsValidator.load``'s). One reload at a time: a
    second concurrent one is refused (:class:`Conflict`)."""

    def __init__(
        self,
        node: Any,
        slot: ValidatorSlot,
        build: Callable[[str], Any],
        *,
        path: str,
        executor: Executor | None = None,
        mode: str = "thread",
        cache_dir: str | None = None,
        log: VersionLog | None = None,
        swap_timeout_s: float = 10.0,
    ) -> None:
        if mode not in ("thread", "subprocess"):
            raise BadRequest(f"reload mode must be 'thread' or 'subprocess', got {mode!r}", "mode")
        self.node, self.slot, self.build = node, slot, build
        self.executor: Executor = executor if executor is not None else InlineExecutor()
        self.mode, self.cache_dir = mode, cache_dir
        self.log = log if log is not None else VersionLog(1)
        self.swap_timeout_s = swap_timeout_s
        self.history: list[RulesVersion] = [RulesVersion(self.log.current, str(path), _sha(str(path)))]
        self.results: Counter[str] = Counter()
        self.max_pause_s = 0.0
        self.last_error = ""
        self._busy = threading.Lock()

    @property
    def version(self) -> int:
        """The rules version running now (1 = started with)."""
        return self.log.current

    @property
    def path(self) -> str:
        """The rules file of the version running now."""
        return self.history[-1].path

    def compile(self, path: str) -> Any:
        """A validator for ``path`` (off the node's thread); :class:`ReloadError` naming why it failed."""
        if not Path(path).is_file():
            raise ReloadError(f"rules file {path!r} not found")
        if self.mode == "subprocess":
            code = (
                "import sys; from cns.rules.codegen import compile_shapes_file; "
                "compile_shapes_file(sys.argv[1], sys.argv[2] or None)"
            )
            r = subprocess.run(
                [sys.executable, "-c", code, path, self.cache_dir or ""],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if r.returncode != 0:
                tail = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
                raise ReloadError(f"rules {path!r} do not compile: {tail[:500]}")
        try:
            return self.build(path)
        except Exception as e:  # noqa: BLE001 - any failure to compile/bind keeps the old rules
            raise ReloadError(f"rules {path!r} do not compile: {type(e).__name__}: {str(e)[:500]}") from None

    def swap(self, validator: Any, path: str, compile_s: float = 0.0) -> RulesVersion:
        """Put ``validator`` into the stage at a safe point (inside the stage, between two messages)."""
        version = self.log.current + 1
        slot, log = self.slot, self.log
        held: list[float] = []

        def at_safe_point(actor: Any) -> int:
            t0 = time.perf_counter()
            setattr(actor, slot.attr, validator)
            if hasattr(actor, "rules_version"):
                actor.rules_version = version
            first = int(slot.records(actor))
            log.append(first, version)
            if slot.on_swap is not None:
                slot.on_swap(validator)
            held.append(time.perf_counter() - t0)
            return first

        node = self.node
        try:
            first = self.executor.call(
                lambda: node.run_in(slot.process, at_safe_point, self.swap_timeout_s),
                self.swap_timeout_s + 1.0,
            )
        except ReloadError:
            raise
        except Exception as e:  # noqa: BLE001 - NoProc, CallTimeout, ActionFailed: the old rules stay
            raise ReloadError(f"swap into {slot.process!r} failed: {type(e).__name__}: {e}") from None
        pause = held[0] if held else 0.0
        self.max_pause_s = max(self.max_pause_s, pause)
        rv = RulesVersion(version, str(path), _sha(str(path)), compile_s, pause, first)
        self.history.append(rv)
        return rv

    def reload(self, path: str | None = None) -> dict[str, Any]:
        """Compile ``path`` (default: the current file again) and swap it in; returns what changed. Refused
        while another reload runs (:class:`Conflict`); a failure (:class:`ReloadError`) keeps the old rules."""
        if not self._busy.acquire(blocking=False):
            raise Conflict("a rules reload is already running")
        try:
            p = str(path or self.path)
            t0 = time.perf_counter()
            try:
                v = self.compile(p)
                compile_s = time.perf_counter() - t0
                rv = self.swap(v, p, compile_s)
            except ReloadError as e:
                self.results["failed"] += 1
                self.last_error = str(e)
                raise
            self.results["ok"] += 1
            prev = self.history[-2]
            return {
                "rules_version": {"old": prev.version, "new": rv.version},
                "path": {"old": prev.path, "new": rv.path},
                "sha256": {"old": prev.sha256, "new": rv.sha256},
                "first_record": rv.first_record,
                "compile_s": rv.compile_s,
                "pause_s": rv.pause_s,
            }
        finally:
            self._busy.release()

    def describe(self) -> dict[str, Any]:
        """The running version, the last failure, and the version log's last ranges."""
        return {
            "version": self.version,
            "path": self.path,
            "sha256": self.history[-1].sha256,
            "reloads": dict(self.results),
            "last_error": self.last_error,
            "max_pause_s": self.max_pause_s,
            "ranges": self.log.ranges()[-10:],
        }

    def metrics(self) -> Iterator[Metric]:
        """``cns_rules_version``, ``cns_rules_reloads_total{result}`` and the longest swap pause (s)."""
        g = gauge("cns_rules_version", "Version of the news rules running (1 = started with)")
        g.add_metric([], self.version)
        yield g
        c = counter("cns_rules_reloads_total", "Rules reloads, by result", ["result"])
        for r in ("ok", "failed"):
            c.add_metric([r], self.results[r])
        yield c
        g = gauge("cns_rules_reload_pause_max_seconds", "Longest a stage was held by a rules swap")
        g.add_metric([], self.max_pause_s)
        yield g


# ------------------------------------------------------------------------------------------ risk limits
_RISK_NOT_HOT = ("restricted",)


def checked_risk_config(current: Any, key: str, value: Any) -> Any:
    """``current`` (a RiskConfig) with ``key`` (``risk.<field>`` or ``<field>``) set to ``value``, checked
    against ``RANGES``; :class:`BadRequest` naming the key otherwise."""
    from cns.trading.config import RANGES
    from cns.trading.errors import ConfigError

    field = key[len("risk.") :] if key.startswith("risk.") else key
    full = f"risk.{field}"
    names = {f.name for f in dataclasses.fields(current)}
    if field not in names:
        raise BadRequest(
            f"unknown risk limit {full!r} (known: {', '.join(sorted(RANGES['risk']))}, disabled_checks)", full
        )
    if field in _RISK_NOT_HOT:
        raise BadRequest(f"{full!r} cannot be changed while running", full)
    try:
        return dataclasses.replace(current, **{field: value})
    except ConfigError as e:
        raise BadRequest(str(e), full) from None
    except TypeError as e:
        raise BadRequest(f"config key {full!r}: {e}", full) from None


def swap_risk_config(gate: Any, new: Any) -> dict[str, Any]:
    """Install RiskConfig ``new`` into RiskGate ``gate`` in one step (call it at a safe point: inside the risk
    stage, or between turns on the node's thread). Returns ``{field: {"old", "new"}}`` of what changed."""
    from cns.trading.risk import _NEVER, risk_params
    from cns.trading.risk_kernels import RISK_REASON_NAMES, RS_RING_HEAD

    old = gate.config
    changed = {
        f.name: {"old": getattr(old, f.name), "new": getattr(new, f.name)}
        for f in dataclasses.fields(new)
        if getattr(old, f.name) != getattr(new, f.name)
    }
    params = risk_params(new)
    enabled = np.ones(len(RISK_REASON_NAMES), dtype=np.uint8)
    for name in new.disabled_checks:
        enabled[RISK_REASON_NAMES.index(name)] = 0
    ring = gate._ring
    if len(ring) != new.max_orders_per_window:
        head = int(gate._scal[RS_RING_HEAD])
        chrono = np.concatenate([ring[head:], ring[:head]])  # oldest .. newest
        m = new.max_orders_per_window
        fresh = np.full(m, _NEVER, dtype=np.int64)
        keep = chrono[-m:]
        fresh[m - len(keep) :] = keep
        gate._ring = fresh
        gate._scal[RS_RING_HEAD] = 0  # the oldest stamp is at 0: the next order overwrites it
    gate._p[:] = params
    gate._enabled[:] = enabled
    gate.config = new
    return changed


# ------------------------------------------------------------------------------------------ credibility
class CredibilityUpdate:
    """Change per-source credibility scores in both stages that use them, atomically (see the module doc).

    ``validate``/``corroborate``: the two stage processes; ``validator_attr``: the validate stage's attribute;
    ``corroborator(actor)``: the corroborate stage's Corroborator; ``sources``: the source dictionary;
    ``rebind(validator, cred_config)``: a new validator with the same rules bound to the table of
    ``cred_config`` (off the node's thread); ``on_swap(validator, cred_config)``: runs inside the validate
    stage at the swap (store them where restarted stages find them)."""

    def __init__(
        self,
        node: Any,
        executor: Executor,
        *,
        validate: Any,
        corroborate: Any,
        corroborator: Callable[[Any], Any],
        sources: Any,
        config: Any,
        rebind: Callable[[Any, Any], Any],
        current_validator: Callable[[], Any],
        validator_attr: str = "validator",
        on_swap: Callable[[Any, Any], None] | None = None,
    ) -> None:
        self.node, self.executor = node, executor
        self.validate, self.corroborate = validate, corroborate
        self.corroborator, self.sources, self.config = corroborator, sources, config
        self.rebind, self.current_validator = rebind, current_validator
        self.attr, self.on_swap = validator_attr, on_swap
        self.version = 1
        self._busy = threading.Lock()

    def checked(self, scores: Mapping[str, Any]) -> Any:
        """The current CredibilityConfig with ``scores`` (domain -> 0..100) merged in; :class:`BadRequest`
        naming ``credibility.sources.<domain>`` for a bad score."""
        from cns.trading.errors import ConfigError

        merged = dict(self.config.sources)
        for d, s in scores.items():
            if not isinstance(d, str) or not d:
                raise BadRequest(
                    "credibility source domains must be non-empty strings", "credibility.sources"
                )
            merged[d] = s
        try:
            return dataclasses.replace(self.config, sources=tuple(merged.items()))
        except ConfigError as e:
            key = next(
                (f"credibility.sources.{d}" for d in scores if f"credibility.sources.{d}" in str(e)),
                "credibility.sources",
            )
            raise BadRequest(str(e), key) from None

    def apply(self, scores: Mapping[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
        """Check, build off-thread, then swap both stages (see the class doc); returns what changed."""
        from cns.otp import sysapi
        from cns.trading.credibility import CredibilityTable

        if not self._busy.acquire(blocking=False):
            raise Conflict("a credibility update is already running")
        try:
            new_cfg = self.checked(scores)
            old_scores = dict(self.config.sources)
            try:
                validator = self.rebind(self.current_validator(), new_cfg)
                table = CredibilityTable.for_dictionary(self.sources, new_cfg)
            except Exception as e:  # noqa: BLE001 - the old tables stay
                raise ReloadError(f"credibility tables could not be built: {type(e).__name__}: {e}") from None
            node, attr = self.node, self.attr
            held: list[float] = []

            def corr(actor: Any) -> None:
                t0 = time.perf_counter()
                self.corroborator(actor).set_credibility(table)
                held.append(time.perf_counter() - t0)

            def val(actor: Any) -> None:
                t0 = time.perf_counter()
                setattr(actor, attr, validator)
                if self.on_swap is not None:
                    self.on_swap(validator, new_cfg)
                held.append(time.perf_counter() - t0)

            def swap_all() -> float:
                t0 = time.perf_counter()
                sysapi.suspend(node, self.validate, timeout_s)
                try:
                    node.run_in(self.corroborate, corr, timeout_s)
                    node.run_in(self.validate, val, timeout_s)
                finally:
                    sysapi.resume(node, self.validate, timeout_s)
                return time.perf_counter() - t0

            try:
                held_validate_s = self.executor.call(swap_all, 3 * timeout_s + 1.0)
            except Exception as e:  # noqa: BLE001
                raise ReloadError(f"credibility swap failed: {type(e).__name__}: {e}") from None
            self.config = new_cfg
            self.version += 1
            changed = {d: {"old": old_scores.get(d), "new": float(dict(new_cfg.sources)[d])} for d in scores}
            return {
                "sources": changed,
                "credibility_version": self.version,
                "validate_held_s": held_validate_s,
                "pause_s": max(held, default=0.0),
            }
        finally:
            self._busy.release()
