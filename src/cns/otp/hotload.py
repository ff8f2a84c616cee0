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

When the old and new classes have the same ``vsn``, :class:`HotLoadWarning` is issued (``warnings.warn``):
``code_change`` cannot tell the versions apart and the report cannot show that anything changed. (Classes
that declare no ``vsn`` at all -- plain actors -- are not versioned and not warned about.)

:func:`reload_module` compiles the module from its *source text*, never from the cached ``.pyc``: CPython
validates a timestamp ``.pyc`` by the source's mtime in whole seconds and its size, so an edit made within
the same second that keeps the size would reload the old code and report success. After a successful
reload the ``.pyc`` is rewritten as a *checked-hash* pyc (PEP 552: validated by the source's hash), so a
later import of the file -- in this process or another -- compares source hashes too (best effort: skipped
under ``sys.dont_write_bytecode`` or when the cache directory is not writable).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import py_compile
import sys
import time
import warnings
from dataclasses import dataclass
from types import CodeType, ModuleType
from typing import Any

from cns.runtime import ActorError, Node, NoProc, Pid

__all__ = ["HotLoadError", "HotLoadWarning", "UpgradeReport", "reload_module", "upgrade"]


class HotLoadError(ActorError):
    """Invalid use of hot code loading (bad class pair, module not imported, new source that does not
    compile, ...)."""


class HotLoadWarning(UserWarning):
    """A hot upgrade that is probably not what was meant: old and new code have the same ``vsn``."""


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
    Raises :class:`HotLoadError` for a bad class pair or a call from inside a handler; warns
    :class:`HotLoadWarning` when ``old`` and ``new`` have the same ``vsn``.
    """
    return _upgrade(node, old, new, extra, timeout, stacklevel=3)


def _same_vsn(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an exotic vsn that cannot be compared is not "the same"
        return False


def _upgrade(node: Node, old: type, new: type, extra: Any, timeout: float, stacklevel: int) -> UpgradeReport:
    if not isinstance(old, type) or not isinstance(new, type):
        raise HotLoadError(f"upgrade(old, new) takes two classes, got {old!r}, {new!r}")
    if node.current is not None:
        raise HotLoadError(f"upgrade from inside {node.current!r}: call it from plain Python")
    t0 = time.perf_counter_ns()
    swap = _Swap(old, new, extra)
    new_vsn = getattr(new, "vsn", None)
    if old is not new and new_vsn is not None and _same_vsn(swap.old_vsn, new_vsn):
        warnings.warn(
            f"upgrade {old.__module__}.{old.__qualname__}: old and new code have the same vsn {new_vsn!r}; "
            "code_change cannot tell them apart (bump vsn)",
            HotLoadWarning,
            stacklevel=stacklevel,
        )
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
        new_vsn=new_vsn,
        upgraded=tuple(upgraded),
        failed=tuple(failed),
        gone=gone,
        elapsed_ns=time.perf_counter_ns() - t0,
    )


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose code is the one compiled from the source text just read (never a ``.pyc``)."""

    def __init__(self, fullname: str, path: str, code: CodeType) -> None:
        super().__init__(fullname, path)
        self._code: CodeType | None = code

    def get_code(self, fullname: str) -> CodeType:
        code, self._code = self._code, None
        if code is None:  # a later reload through this loader (the module keeps it as __loader__)
            source = self.get_data(self.path)
            return self.source_to_code(source, self.path)
        return code


class _OneModuleFinder:
    """A ``sys.meta_path`` finder that answers for one module name only (during one reload)."""

    def __init__(self, name: str, spec: importlib.machinery.ModuleSpec) -> None:
        self.name = name
        self.spec = spec

    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        return self.spec if fullname == self.name else None


def _reload_from_source(mod: ModuleType) -> ModuleType:
    """``importlib.reload(mod)``, but compiled from the current source text when ``mod`` was loaded from a
    source file (see the module doc); other modules (built-in, extension, sourceless) reload as usual."""
    name = mod.__name__
    spec = getattr(mod, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if (
        spec is None
        or not spec.has_location
        or not isinstance(spec.loader, importlib.machinery.SourceFileLoader)
        or not isinstance(origin, str)
    ):
        return importlib.reload(mod)
    try:
        with open(origin, "rb") as f:
            source = f.read()
    except OSError as e:
        raise HotLoadError(f"reload_module({name!r}): cannot read {origin}: {e}") from e
    try:
        code = compile(source, origin, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:  # the running code is untouched
        raise HotLoadError(
            f"reload_module({name!r}): new source does not compile: {type(e).__name__}: {e}"
        ) from e
    new_spec = importlib.util.spec_from_file_location(
        name,
        origin,
        loader=_SourceLoader(name, origin, code),
        submodule_search_locations=spec.submodule_search_locations,
    )
    assert new_spec is not None
    finder = _OneModuleFinder(name, new_spec)
    sys.meta_path.insert(0, finder)
    try:
        new_mod = importlib.reload(mod)
    finally:
        sys.meta_path.remove(finder)
    _refresh_pyc(origin)
    return new_mod


def _refresh_pyc(origin: str) -> None:
    """Rewrite the ``.pyc`` of ``origin`` as a checked-hash pyc (best effort; see the module doc)."""
    if sys.dont_write_bytecode:
        return
    try:
        cfile = importlib.util.cache_from_source(origin)
        py_compile.compile(
            origin, cfile=cfile, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
        )
    except (NotImplementedError, OSError, py_compile.PyCompileError):
        pass  # no cache dir, read-only, or the file changed again meanwhile: imports stay correct


def reload_module(
    node: Node, module: ModuleType | str, *, extra: Any = None, timeout: float = 5.0
) -> list[UpgradeReport]:
    """Re-import ``module`` from its current source text and upgrade the live processes of each class it
    defines to the class of the same name in the new code. Classes without live processes are skipped; a
    class removed from the new code raises :class:`HotLoadError` (after the reload) if it still has
    processes. A new source that does not compile raises :class:`HotLoadError` before anything changes.
    Same ``vsn`` before and after: :class:`HotLoadWarning` (see :func:`upgrade`).
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
    new_mod = _reload_from_source(mod)
    missing = [k for k in live if not isinstance(getattr(new_mod, k, None), type)]
    if missing:
        raise HotLoadError(
            f"reload_module({name!r}): new code lacks {missing}, which still have live processes"
        )
    return [_upgrade(node, c, getattr(new_mod, k), extra, timeout, stacklevel=3) for k, c in live.items()]
