"""Hot code loading: replace the code of a running behaviour in every live process, between two messages.

:func:`upgrade` swaps every live process whose actor is *exactly* an instance of ``old`` to class ``new``.
:func:`reload_module` re-imports a module and upgrades every live process of every class it defines.

Per process (inside the process, at a safe point — :meth:`cns.runtime.Node.run_in` runs at its place in
the mailbox: after the messages already queued, before any sent later, never while a handler is parked):

1. ``state = dict(actor.__dict__)`` — the instance attributes (as :class:`cns.otp.GenServer` documents);
2. ``actor.__class__ = new`` — the object, its pid, links, monitors and mailbox stay the same;
3. ``actor.__dict__ = actor.code_change(old_vsn, state, extra)`` — the *new* code's ``code_change``,
   with ``old_vsn`` the old class's ``vsn`` attribute (None if it has none);
4. the runtime re-binds the handler, so the next message — including every message queued during the
   swap — is handled by the new code. No message is dropped or handled twice.

If ``code_change`` raises or returns something other than a dict, or the classes' memory layouts differ
(different ``__slots__``), the process is restored to the old class and state and keeps running; the
failure is listed in :attr:`UpgradeReport.failed`. Processes that exit before their turn are counted in
``gone``. Call from plain Python (not from inside a handler).
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from cns.runtime import ActorError, Node, NoProc, Pid

__all__ = ["HotLoadError", "UpgradeReport", "reload_module", "upgrade"]


class HotLoadError(ActorError):
    """Invalid use of hot code loading (bad class pair, module not imported, ...)."""


@dataclass(frozen=True, slots=True)
class UpgradeReport:
    """What one :func:`upgrade` did. ``elapsed_ns`` is the wall time of the whole upgrade."""

    behaviour: str
    old_vsn: Any
    new_vsn: Any
    upgraded: tuple[Pid, ...]
    failed: tuple[tuple[Pid, str], ...]
    gone: int
    elapsed_ns: int

    @property
    def ok(self) -> bool:
        """True when no live process failed to upgrade."""
        return not self.failed


class _Swap:
    """The function run inside each process (a class so the report can tell 'already new' from 'swapped')."""

    __slots__ = ("extra", "new", "old", "old_vsn")

    def __init__(self, old: type, new: type, extra: Any) -> None:
        self.old = old
        self.new = new
        self.extra = extra
        self.old_vsn = getattr(old, "vsn", None)

    def __call__(self, actor: Any) -> bool:
        if type(actor) is not self.old:
            return False  # replaced meanwhile (another upgrade): nothing to do
        saved = dict(actor.__dict__)
        try:
            actor.__class__ = self.new
        except TypeError as e:
            raise HotLoadError(
                f"cannot swap {self.old.__qualname__} -> {self.new.__qualname__}: {e} (keep __slots__ identical)"
            ) from e
        try:
            change = getattr(actor, "code_change", None)
            state = change(self.old_vsn, dict(saved), self.extra) if change is not None else dict(saved)
            if not isinstance(state, dict):
                raise HotLoadError(
                    f"{self.new.__qualname__}.code_change returned {type(state).__name__}, expected the state dict"
                )
            actor.__dict__.clear()
            actor.__dict__.update(state)
        except BaseException:
            actor.__class__ = self.old
            actor.__dict__.clear()
            actor.__dict__.update(saved)
            raise
        return True


def upgrade(node: Node, old: type, new: type, *, extra: Any = None, timeout: float = 5.0) -> UpgradeReport:
    """Swap every live process running exactly class ``old`` to class ``new`` (see the module doc).

    ``extra`` is passed to ``code_change``; ``timeout`` (s) bounds the wait for each process's safe point.
    Raises :class:`HotLoadError` for a bad class pair or a call from inside a handler.
    """
    if not isinstance(old, type) or not isinstance(new, type):
        raise HotLoadError(f"upgrade(old, new) takes two classes, got {old!r}, {new!r}")
    if node.current is not None:
        raise HotLoadError(f"upgrade from inside {node.current!r}: call it from plain Python")
    t0 = time.perf_counter_ns()
    swap = _Swap(old, new, extra)
    upgraded: list[Pid] = []
    failed: list[tuple[Pid, str]] = []
    gone = 0
    for pid in node.processes(old):
        if type(pid.actor) is not old:
            continue  # a subclass of old: its own class is not being replaced
        try:
            if node.run_in(pid, swap, timeout):
                upgraded.append(pid)
        except NoProc:
            gone += 1
        except Exception as e:  # noqa: BLE001 - reported per process; the process keeps the old code
            failed.append((pid, f"{type(e).__name__}: {e}"))
    return UpgradeReport(
        behaviour=f"{old.__module__}.{old.__qualname__}",
        old_vsn=swap.old_vsn,
        new_vsn=getattr(new, "vsn", None),
        upgraded=tuple(upgraded),
        failed=tuple(failed),
        gone=gone,
        elapsed_ns=time.perf_counter_ns() - t0,
    )


def reload_module(node: Node, module: ModuleType | str, *, extra: Any = None,
                  timeout: float = 5.0) -> list[UpgradeReport]:
    """Re-import ``module`` (``importlib.reload``) and upgrade the live processes of each class it defines
    to the class of the same name in the new code. Classes without live processes are skipped; a class
    removed from the new code raises :class:`HotLoadError` (after the reload) if it still has processes.
    """
    if isinstance(module, str):
        mod = sys.modules.get(module)
        if mod is None:
            raise HotLoadError(f"reload_module: module {module!r} is not imported")
    else:
        mod = module
    name = mod.__name__
    old_classes = {k: v for k, v in vars(mod).items() if isinstance(v, type) and v.__module__ == name}
    live = {k: c for k, c in old_classes.items() if any(type(p.actor) is c for p in node.processes(c))}
    importlib.invalidate_caches()
    new_mod = importlib.reload(mod)
    missing = [k for k in live if not isinstance(getattr(new_mod, k, None), type)]
    if missing:
        raise HotLoadError(f"reload_module({name!r}): new code lacks {missing}, which still have live processes")
    return [upgrade(node, c, getattr(new_mod, k), extra=extra, timeout=timeout) for k, c in live.items()]
