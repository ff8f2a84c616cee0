"""Running a function on the node's thread from an operations thread (HTTP handler, reload worker).

A :class:`~cns.runtime.Node` is single-threaded: its processes and the state they own (the trading book, the
risk gate, the feeds' counters) are touched from one thread only. The control API and the reloader run in
their own threads, so every action that changes or reads state consistently is *submitted* to the node's
thread through an executor and waited for:

- :class:`LoopExecutor`: the node runs under asyncio (``await node.run_async()``, as ``cns serve``): the
  function is scheduled with ``loop.call_soon_threadsafe`` and runs between two scheduler bursts, when no
  handler is running, so it may call ``node.run_in`` / ``node.call`` (which run the scheduler nested until
  the answer: fine for the pipeline stages, whose handlers never park).
- :class:`PumpExecutor`: the node is driven by a synchronous loop (``cns run``, a test's flood loop): the
  function is queued and run by the driver's next :meth:`PumpExecutor.pump` (between two batches).
- :class:`InlineExecutor`: runs the function at once in the calling thread (single-threaded tests only).

Contract of :meth:`Executor.call`: returns ``fn()``'s value or raises its exception; :class:`ActionFailed`
when it did not run within ``timeout`` seconds (it may still run later: actions must be idempotent or
checked, which the control actions are). Never call it from the node's own thread with a Loop or Pump
executor (it would wait for itself): :meth:`Executor.call` detects that and runs ``fn`` inline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from cns.ops.errors import ActionFailed

__all__ = ["Executor", "InlineExecutor", "LoopExecutor", "PumpExecutor"]

T = TypeVar("T")


class Executor(Protocol):
    """Runs a function on the node's thread (see the module doc)."""

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``fn`` on the node's thread and return its result (its exception is re-raised); raises ActionFailed
        if it did not run within ``timeout`` s."""


def _wait(fut: concurrent.futures.Future[T], timeout: float, what: str) -> T:
    try:
        return fut.result(timeout)
    except concurrent.futures.TimeoutError:
        fut.cancel()
        raise ActionFailed(f"{what}: the node's thread did not run the action within {timeout:g} s") from None


class InlineExecutor:
    """Runs ``fn`` at once in the calling thread (for single-threaded use and tests)."""

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``fn`` now in the calling thread; ``timeout`` is ignored."""
        return fn()


class LoopExecutor:
    """Runs ``fn`` in ``loop``'s thread (the asyncio loop that runs the node). ``loop`` defaults to the running
    loop, so construct it from inside the loop (e.g. in ``run_service``'s ``started`` hook)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop if loop is not None else asyncio.get_running_loop()
        self._thread_id: int | None = None
        self.loop.call_soon_threadsafe(self._note_thread)

    def _note_thread(self) -> None:
        self._thread_id = threading.get_ident()

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``fn`` on the loop's thread (at once when already on it); raises ActionFailed if the loop is closed
        or ``fn`` did not run within ``timeout`` s; ``fn``'s exception is re-raised.
        """
        if threading.get_ident() == self._thread_id:
            return fn()
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
                fut.set_exception(e)

        if self.loop.is_closed():
            raise ActionFailed("the node's event loop is closed")
        self.loop.call_soon_threadsafe(run)
        return _wait(fut, timeout, getattr(fn, "__name__", "action"))


class PumpExecutor:
    """Queues ``fn`` for the driver loop, which runs every queued function in :meth:`pump` (call it between two
    batches, from the node's thread). ``pump`` costs one ``queue.Queue.empty()`` check when nothing is queued."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._thread_id: int | None = None

    def pump(self) -> int:
        """Run every queued function (in the calling thread: the node's); returns how many ran."""
        self._thread_id = threading.get_ident()
        n = 0
        while not self._q.empty():
            fn, fut = self._q.get_nowait()
            n += 1
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
                fut.set_exception(e)
        return n

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Queue ``fn`` for the node's thread to pump (at once when already on it); raises ActionFailed if it did
        not run within ``timeout`` s; ``fn``'s exception is re-raised.
        """
        if threading.get_ident() == self._thread_id:
            return fn()
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._q.put((fn, fut))
        return _wait(fut, timeout, getattr(fn, "__name__", "action"))
