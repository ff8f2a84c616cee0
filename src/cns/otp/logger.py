"""Structured event log in the manner of OTP's ``logger``: levels, report dicts, pluggable handlers.

An event is a :class:`LogEvent`: a level, a *report* (a dict, or a plain message string) and metadata (time,
pid, domain). Handlers are callables of one event, added under an id with a minimum level::

    from cns.otp import logger
    h = logger.ListHandler()
    logger.add_handler("test", h, level="info")       # also receive progress (info) reports
    ...                                               # run a supervision tree
    h.reports(("supervisor", "child_terminated"))     # the SASL-style supervisor reports
    logger.remove_handler("test")

Levels are OTP's, most severe first: ``emergency alert critical error warning notice info debug``. The
*primary* level (default ``notice``, as OTP) filters every event before any handler; each handler filters
again with its own level. So, as in OTP since 21, supervisor *progress* reports (``info``) are dropped
unless both the primary level and a handler's level are ``info`` or lower.

Handlers:

- ``"default"``, installed at import: :class:`StdlibHandler`, one line per event to the stdlib
  :mod:`logging` logger ``cns.otp`` (levels mapped: emergency/alert/critical -> CRITICAL, error -> ERROR,
  warning -> WARNING, notice/info -> INFO, debug -> DEBUG; the report dict is in ``record.report``).
- :class:`ListHandler` keeps the events in a list (for tests).
- any ``callable(event)``. A handler that raises is removed (OTP removes a crashing handler) and the
  failure is logged once to the stdlib logger ``cns.otp``.

Zero cost when nothing listens: emitters guard with ``if logger.threshold >= LEVEL:`` (a module attribute
read and an int compare) before building a report. ``threshold`` is the least severe level number any
handler would accept after the primary filter, or -1 when no handler is attached.

Supervisor reports (emitted by :class:`~cns.otp.supervisor.Supervisor`, domain ``("otp", "sasl")``), as
OTP's ``supervisor.erl`` builds them (``report_progress`` and ``?report_error``):

- progress, level ``info``: ``{"label": ("supervisor", "progress"), "supervisor": <sup>,
  "started": <child info>}``
- errors, level ``error``: ``{"label": ("supervisor", ctx), "supervisor": <sup>, "errorContext": ctx,
  "reason": <reason>, "offender": <child info>}`` with ``ctx`` one of ``start_error``, ``child_terminated``,
  ``shutdown_error``, ``shutdown`` (reason ``reached_max_restart_intensity``).

``<child info>`` is a dict ``{"pid", "id", "start", "restart_type", "significant", "shutdown",
"child_type"}`` (``"nb_children"`` instead of ``"pid"`` when one report covers several dynamic children).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..runtime.errors import BadArg

__all__ = [
    "ALERT",
    "CRITICAL",
    "DEBUG",
    "EMERGENCY",
    "ERROR",
    "INFO",
    "LEVELS",
    "NOTICE",
    "WARNING",
    "Handler",
    "ListHandler",
    "LogEvent",
    "StdlibHandler",
    "add_handler",
    "error",
    "get_handlers",
    "info",
    "log",
    "notice",
    "remove_handler",
    "set_handler_level",
    "format_event",
    "set_primary_level",
    "warning",
]

# OTP's severity order; a larger number is *less* severe (as syslog).
EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG = range(8)
LEVELS: dict[str, int] = {
    "emergency": EMERGENCY,
    "alert": ALERT,
    "critical": CRITICAL,
    "error": ERROR,
    "warning": WARNING,
    "notice": NOTICE,
    "info": INFO,
    "debug": DEBUG,
}
_NAMES = {v: k for k, v in LEVELS.items()}
_ALL = DEBUG  # level "all"
_NONE = -1  # level "none"
_STDLIB = {
    EMERGENCY: logging.CRITICAL,
    ALERT: logging.CRITICAL,
    CRITICAL: logging.CRITICAL,
    ERROR: logging.ERROR,
    WARNING: logging.WARNING,
    NOTICE: logging.INFO,
    INFO: logging.INFO,
    DEBUG: logging.DEBUG,
}

_stdlog = logging.getLogger("cns.otp")


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One log event: ``level`` (name), ``msg`` (a report dict or a string), ``meta`` (time in ns since the
    epoch, ``pid``, ``domain`` and whatever the emitter added)."""

    level: str
    msg: dict[str, Any] | str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> Any:
        """The report's ``label`` (e.g. ``("supervisor", "progress")``), or None for a string message."""
        return self.msg.get("label") if isinstance(self.msg, dict) else None


Handler = Callable[[LogEvent], None]


def _level(level: str | int) -> int:
    if isinstance(level, int) and not isinstance(level, bool) and _NONE <= level <= DEBUG:
        return level
    if level == "all":
        return _ALL
    if level == "none":
        return _NONE
    if isinstance(level, str) and level in LEVELS:
        return LEVELS[level]
    raise BadArg(f"logger level must be one of {list(LEVELS)}, 'all' or 'none', got {level!r}")


_handlers: dict[str, tuple[Handler, int]] = {}
_primary: int = NOTICE
threshold: int = _NONE  # least severe level number some handler accepts; -1: nobody listens


def _recompute() -> None:
    global threshold
    best = max((lv for _, lv in _handlers.values()), default=_NONE)
    threshold = min(best, _primary)


def add_handler(handler_id: str, handler: Handler, level: str | int = "all") -> None:
    """Attach ``handler`` (called with each :class:`LogEvent` at ``level`` or more severe) under
    ``handler_id``. Raises :class:`~cns.runtime.BadArg` if the id is taken or the level unknown."""
    if handler_id in _handlers:
        raise BadArg(f"logger handler {handler_id!r} already exists")
    if not callable(handler):
        raise BadArg(f"logger handler must be callable, got {handler!r}")
    _handlers[handler_id] = (handler, _level(level))
    _recompute()


def remove_handler(handler_id: str) -> None:
    """Detach a handler; an unknown id raises :class:`~cns.runtime.BadArg`."""
    if _handlers.pop(handler_id, None) is None:
        raise BadArg(f"no logger handler {handler_id!r}")
    _recompute()


def set_handler_level(handler_id: str, level: str | int) -> None:
    """Change one handler's minimum level."""
    if handler_id not in _handlers:
        raise BadArg(f"no logger handler {handler_id!r}")
    _handlers[handler_id] = (_handlers[handler_id][0], _level(level))
    _recompute()


def set_primary_level(level: str | int) -> str:
    """Set the primary level (applied before the handlers); returns the previous one's name."""
    global _primary
    old, _primary = _primary, _level(level)
    _recompute()
    return _NAMES.get(old, "none")


def get_handlers() -> dict[str, str]:
    """``{handler_id: level_name}`` of the attached handlers."""
    return {k: _NAMES.get(lv, "none") for k, (_, lv) in _handlers.items()}


def log(level: str | int, msg: dict[str, Any] | str, **meta: Any) -> None:
    """Emit one event to every handler whose level admits it (after the primary level filter).

    Emitting is synchronous, in the caller (usually a process's handler). A handler that raises is removed
    and the failure is logged to the stdlib logger ``cns.otp``; the emitter never sees the exception."""
    lv = _level(level)
    if lv > threshold:
        return
    meta.setdefault("time", time.time_ns())
    ev = LogEvent(_NAMES[lv], msg, meta)
    for hid, (h, hlv) in list(_handlers.items()):
        if lv <= hlv:
            try:
                h(ev)
            except Exception:  # noqa: BLE001 - a crashing handler is removed, as OTP's logger does
                _handlers.pop(hid, None)
                _recompute()
                _stdlog.exception("logger handler %r crashed and was removed", hid)


def error(msg: dict[str, Any] | str, **meta: Any) -> None:
    """:func:`log` at level ``error``."""
    log(ERROR, msg, **meta)


def warning(msg: dict[str, Any] | str, **meta: Any) -> None:
    """:func:`log` at level ``warning``."""
    log(WARNING, msg, **meta)


def notice(msg: dict[str, Any] | str, **meta: Any) -> None:
    """:func:`log` at level ``notice``."""
    log(NOTICE, msg, **meta)


def info(msg: dict[str, Any] | str, **meta: Any) -> None:
    """:func:`log` at level ``info``."""
    log(INFO, msg, **meta)


class ListHandler:
    """A handler that appends every event to ``events`` (for tests)."""

    def __init__(self) -> None:
        self.events: list[LogEvent] = []

    def __call__(self, event: LogEvent) -> None:
        self.events.append(event)

    def reports(self, label: Any = None) -> list[dict[str, Any]]:
        """The report dicts received, optionally only those with ``label``."""
        return [e.msg for e in self.events if isinstance(e.msg, dict) and (label is None or e.label == label)]

    def clear(self) -> None:
        """Drop every event received so far."""
        self.events.clear()


def format_event(event: LogEvent) -> str:
    """One line, as OTP's single-line report format: ``Supervisor: <sup>. Context: child_terminated.
    Reason: 'boom'. Offender: id=a,pid=<1.3>.`` for supervisor reports, ``Supervisor: <sup>. Started:
    id=a,pid=<1.3>.`` for progress reports, ``key=value`` pairs for other reports, the text for strings."""
    m = event.msg
    if not isinstance(m, dict):
        return m
    label = m.get("label")
    if isinstance(label, tuple) and label and label[0] == "supervisor":
        if label == ("supervisor", "progress"):
            return f"Supervisor: {m.get('supervisor')!r}. Started: {_child(m.get('started'))}."
        return (
            f"Supervisor: {m.get('supervisor')!r}. Context: {m.get('errorContext')}. "
            f"Reason: {m.get('reason')!r}. Offender: {_child(m.get('offender'))}."
        )
    return " ".join(f"{k}={v!r}" for k, v in m.items())


def _child(info: Any) -> str:
    if not isinstance(info, dict):
        return repr(info)
    if "nb_children" in info:
        return f"id={info.get('id')!r},nb_children={info['nb_children']}"
    return f"id={info.get('id')!r},pid={info.get('pid')!r}"


class StdlibHandler:
    """Forwards events to a stdlib :mod:`logging` logger (default ``cns.otp``) as one formatted line; the
    event's report dict is attached to the record as ``record.report``."""

    def __init__(self, logger_name: str = "cns.otp") -> None:
        self.logger = logging.getLogger(logger_name)

    def __call__(self, event: LogEvent) -> None:
        lv = _STDLIB[LEVELS[event.level]]
        if self.logger.isEnabledFor(lv):
            self.logger.log(
                lv,
                "%s",
                format_event(event),
                extra={"report": event.msg if isinstance(event.msg, dict) else None},
            )


add_handler("default", StdlibHandler(), "all")
