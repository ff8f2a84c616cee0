"""Emitting side of runtime telemetry: counters and gauges through a tiny event API.

Emission sites are written ``if telemetry.enabled: telemetry.emit(...)`` so that with no handler attached the
cost is one module-attribute read. Handlers are called synchronously as ``handler(event, value, tags)``.

Events emitted by the runtime (value; tags):

- ``"spawn"`` (1; ``{"pid": int}``)
- ``"exit"`` (1; ``{"pid": int, "reason": str}``) -- ``reason`` is the reason's text, an exception's class name
- ``"messages"`` (messages handled in one batch; ``{"pid": int}``)
- ``"messages_out"`` (messages a process sent -- ``send``, ``cast``, ``acall`` requests -- during one scheduler
  turn, or during its synchronous ``init``; ``{"pid": int}``, ``-1`` for sends from plain Python, emitted one
  by one). While telemetry is off the node's plain ``send`` runs; attaching the first handler swaps in a
  counting ``send`` (so a ``node.send`` bound *before* ``attach`` is not counted).
- ``"mailbox_depth"`` (mailbox depth when a batch is taken; ``{"pid": int}``) -- aggregate as a high-water mark
- ``"dropped"`` (1; ``{"pid": int}``) -- a bounded ``drop_newest`` mailbox discarded a message
- ``"lost"`` (messages; ``{"pid": int, "cause": str}``) -- messages the node lost: cause ``"exit"`` = left in
  the mailbox or unhandled batch of process ``pid`` when it exited (one emission per exit); ``"dead"`` = a
  send or timer message to the dead process ``pid`` (``-1`` for an unknown name). Totals in ``Node.info()``.
- ``"restart"`` (1; ``{"supervisor": int, "child": str}``) -- emitted by :class:`cns.otp.Supervisor`
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Handler", "attach", "detach", "emit", "enabled"]

Handler = Callable[[str, float, "dict[str, Any] | None"], None]

enabled: bool = False
_handlers: dict[str, list[Handler]] = {}
_catch_all: list[Handler] = []
_on_toggle: list[Callable[[], None]] = []  # runtime hooks run when ``enabled`` changes (the node's send swap)


def _set_enabled(flag: bool) -> None:
    global enabled
    if flag != enabled:
        enabled = flag
        for hook in _on_toggle:
            hook()


def attach(event: str, handler: Handler) -> None:
    """Call ``handler(event, value, tags)`` for every emission of ``event`` (``"*"`` for all events)."""
    (_catch_all if event == "*" else _handlers.setdefault(event, [])).append(handler)
    _set_enabled(True)


def detach(event: str, handler: Handler) -> None:
    """Remove a handler attached with :func:`attach`; unknown handlers are ignored."""
    lst = _catch_all if event == "*" else _handlers.get(event, [])
    if handler in lst:
        lst.remove(handler)
    _set_enabled(bool(_catch_all) or any(_handlers.values()))


def emit(event: str, value: float = 1, tags: dict[str, Any] | None = None) -> None:
    """Deliver one measurement to the handlers of ``event``; guard call sites with ``if telemetry.enabled``."""
    for h in _handlers.get(event, ()):
        h(event, value, tags)
    for h in _catch_all:
        h(event, value, tags)
