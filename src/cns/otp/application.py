"""Applications: a named supervision tree with its environment and a start type, as OTP's ``application``.

::

    from cns.otp import Application, ChildSpec, SupFlags

    app = Application("desk", (SupFlags("one_for_one", 3, 5.0), [ChildSpec("oms", (Oms, ()))]),
                      env={"venue": "sim"}, type="permanent")
    app.start(node)                  # the top supervisor, under an application master process
    app.get_env("venue")             # "sim" (get_env(node, "desk", "venue") from anywhere)
    app.stop()                       # orderly: the top supervisor gets `shutdown`, the tree stops in order

The top of the tree is ``(SupFlags, [ChildSpec, ...])`` (a :class:`~cns.otp.Supervisor` is started), a
:class:`~cns.otp.ChildSpec`, or a callable ``start(node) -> pid`` that starts and links one process.

Per node, an *application controller* (a plain registry, no process) keeps the applications in start order.
Each running application has an *application master* process (unlinked, trapping exits) that starts the top
supervisor linked to itself, as OTP's ``application_master``. Rules (OTP ``application:start/2`` docs):

- ``start`` fails with :class:`ApplicationError` (``reason``: the top's start failure; OTP's
  ``{error, Reason}``) when the tree cannot start -- after the children already started were shut down --,
  when the application already runs on that node (``"already_started"``) or the node was stopped.
- ``stop`` (OTP ``application:stop/1``): the master sends the top supervisor ``shutdown`` and waits for it
  (no timeout, as OTP); reported as exited ``"stopped"``. It never affects other applications, whatever the
  type.
- When the top supervisor exits on its own (e.g. restart intensity reached: reason ``shutdown``), the
  application is *terminated* with that reason and reported (logger, level notice,
  ``{"label": ("application_controller", "exit"), "application", "exited", "type"}``). Then by type:
  ``temporary`` -- nothing more; ``transient`` -- the node is stopped unless the reason is ``normal``;
  ``permanent`` -- the node is stopped.

**"Node stopped"** here means: (1) every other running application is stopped as by ``stop``, in reverse
start order; (2) every process still alive on the node is killed (``kill``); (3) ``node.stop()`` is called,
so a ``node.run()``/``run_async()`` loop (``cns serve``) returns; (4) :func:`node_stopped` returns the reason
``("application_terminated", name, reason)`` and the callbacks registered with :func:`on_node_stop` run
(a callback that raises is logged and skipped); (5) no application can start on that node any more. The
host Python process is not exited: that is its owner's decision (``cns serve`` exits non-zero). OTP halts
the whole VM instead (the application controller exits, so does the kernel, ``init`` halts) without running
the other applications' shutdown; CNS stops them in order first because the Python process outlives the
node and an orderly stop lets, e.g., an order manager cancel its orders.

OTP features not reproduced: application resource files and dependencies (``applications``), included
applications, ``prep_stop``/``stop`` callbacks (wrap the top supervisor's ``terminate`` instead), start
phases, distributed applications, group leaders (OTP also kills the processes whose group leader is the
master; CNS cannot tell them apart and leaves processes outside the tree alone, except on node stop).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..runtime.errors import ActorError, BadArg, InitFailed, NotInProcess
from ..runtime.node import Node, current_node
from ..runtime.process import KILL, NORMAL, SHUTDOWN, Exit, Pid, Stop
from . import logger as _log
from .gen_server import GenServer
from .gen_server import stop as _gs_stop
from .supervisor import ChildSpec, Supervisor, SupFlags, wait_exit

__all__ = [
    "APP_TYPES",
    "Application",
    "ApplicationError",
    "get_application",
    "get_env",
    "node_stopped",
    "on_node_stop",
    "which_applications",
]

APP_TYPES = ("permanent", "transient", "temporary")
_stdlog = logging.getLogger("cns.otp")


class ApplicationError(ActorError):
    """An application request failed; ``reason`` is OTP's error term (``"already_started"``,
    ``"not_started"``, ``"node_stopped"``, or the top supervisor's start failure reason)."""

    def __init__(self, message: str, reason: Any = None) -> None:
        super().__init__(message)
        self.reason = reason


class _Controller:
    """Per-node registry of applications (OTP's application_controller, without a process)."""

    def __init__(self) -> None:
        self.apps: dict[str, Application] = {}  # running applications, in start order
        self.halted: Any = None  # the node-stop reason
        self.halting = False
        self.callbacks: list[Callable[[Any], None]] = []


_controllers: weakref.WeakKeyDictionary[Node, _Controller] = weakref.WeakKeyDictionary()


def _controller(node: Node) -> _Controller:
    c = _controllers.get(node)
    if c is None:
        c = _controllers[node] = _Controller()
    return c


class _StopApp:
    """Asks a master to stop its application (sent by the master that stops the node)."""

    __slots__ = ()


def _report_exit(app: Application, reason: Any) -> None:
    if _log.threshold >= _log.NOTICE:
        _log.notice(
            {
                "label": ("application_controller", "exit"),
                "application": app.name,
                "exited": reason,
                "type": app.type,
            },
            domain=("otp",),
        )


class _ApplicationMaster(GenServer):
    """Starts the top of the tree linked to itself; stops it on request; acts on its exit per the type."""

    def init(self, app: Application) -> None:
        self.app = app
        self.trap_exit(True)
        try:
            self.top = app._start_top(self.node)
        except InitFailed as e:  # the tree could not start: fail the master with the tree's reason
            app._failed_pid = getattr(e, "pid", None)
            raise Stop(e.reason) from None
        except Exception as e:  # noqa: BLE001 - the start function itself failed
            raise Stop(e) from None
        if self.top is None:
            raise Stop(("bad_return", "the top start returned no pid"))
        app._top = self.top

    async def handle_info(self, msg: Any) -> None:
        if msg.__class__ is _StopApp:
            raise Stop(SHUTDOWN)  # terminate() stops the tree
        if msg.__class__ is Exit and msg.pid is self.top:
            reason = msg.reason
            app = self.app
            app._terminated(reason)
            ctl = _controller(self.node)
            if not ctl.halting and (
                app.type == "permanent" or (app.type == "transient" and reason != NORMAL)
            ):
                await self._stop_node(ctl, ("application_terminated", app.name, reason))
            raise Stop(reason if reason.__class__ is str or isinstance(reason, tuple) else SHUTDOWN)

    async def terminate(self, reason: Any) -> None:
        top = self.top
        if (
            top is not None and top.is_alive
        ):  # stop requested (application stop, or another one stopping the node)
            node = self.node
            ref = node.monitor(top)
            node.unlink(top)
            node.exit(top, SHUTDOWN)
            await node.wait_down(ref)
            self.app._stopped()

    async def _stop_node(self, ctl: _Controller, reason: Any) -> None:
        """Stop the node: the other applications in reverse start order, then every process left."""
        ctl.halting = True
        node = self.node
        for other in reversed(list(ctl.apps.values())):
            m = other._master
            if other is self.app or m is None or not m.is_alive:
                continue
            ref = node.monitor(m)
            node.send(m, _StopApp())
            await node.wait_down(ref)
        for p in node.processes():
            if p is not self.pid:
                node.exit(p, KILL)
        ctl.halted = reason
        node.stop()
        for cb in list(ctl.callbacks):
            try:
                cb(reason)
            except Exception:  # noqa: BLE001 - one bad callback must not hide the node stop
                _stdlog.exception("on_node_stop callback %r failed", cb)


class Application:
    """A named supervision tree with an environment and a start type (see the module doc).

    ``top``: ``(SupFlags, [ChildSpec, ...])``, a :class:`ChildSpec`, or a callable ``start(node) -> pid``
    (the process must be linked to the caller, as ``start_link`` does). ``env``: the application's
    environment (copied). ``type``: ``"temporary"`` (default, as OTP), ``"transient"`` or ``"permanent"``.
    """

    def __init__(
        self,
        name: str,
        top: tuple[SupFlags, Sequence[ChildSpec]] | ChildSpec | Callable[[Node], Pid | None],
        env: Mapping[str, Any] | None = None,
        type: str = "temporary",  # noqa: A002 - OTP's name for it
    ) -> None:
        if not isinstance(name, str) or not name:
            raise BadArg(f"application name must be a non-empty str, got {name!r}")
        if type not in APP_TYPES:
            raise BadArg(f"application type must be one of {APP_TYPES}, got {type!r}")
        if isinstance(top, tuple):
            if len(top) != 2 or not isinstance(top[0], SupFlags):
                raise BadArg(f"application top must be (SupFlags, [ChildSpec, ...]), got {top!r}")
        elif not (isinstance(top, ChildSpec) or callable(top)):
            raise BadArg(f"application top must be (SupFlags, specs), a ChildSpec or a callable, got {top!r}")
        self.name = name
        self.top = top
        self.env: dict[str, Any] = dict(env or {})
        self.type = type
        self.state = "loaded"  # loaded | running | stopped | terminated
        self.exit_reason: Any = None
        self.node: Node | None = None
        self._master: Pid | None = None
        self._top: Pid | None = None
        self._failed_pid: Pid | None = None

    def __repr__(self) -> str:
        return f"Application({self.name!r}, type={self.type!r}, state={self.state!r})"

    # --------------------------------------------------------------- environment
    def get_env(self, key: str, default: Any = None) -> Any:
        """The environment value of ``key``, else ``default`` (OTP ``application:get_env/3``)."""
        return self.env.get(key, default)

    def set_env(self, key: str, value: Any) -> None:
        """Set one environment value (visible at once to every reader)."""
        self.env[key] = value

    # --------------------------------------------------------------- lifecycle
    @property
    def running(self) -> bool:
        """True while the application's top supervisor runs (``state == "running"``)."""
        return self.state == "running"

    @property
    def supervisor(self) -> Pid | None:
        """The top of the tree while the application runs."""
        return self._top if self.running else None

    def _start_top(self, node: Node) -> Pid | None:
        top = self.top
        if isinstance(top, tuple):
            return Supervisor.start_link(node, top[0], list(top[1]))
        if isinstance(top, ChildSpec):
            return top.start_child(node)
        return top(node)

    def start(self, node: Node | None = None) -> Pid:
        """Start the tree on ``node`` (default: the current node); return the top's pid. From plain Python.

        Raises :class:`ApplicationError` if the application runs already, the node was stopped, or the tree
        fails to start (``reason``: the top's failure reason, e.g. ``("shutdown", ("failed_to_start_child",
        id, why))``; the children already started have been shut down when this returns)."""
        node = node if node is not None else current_node()
        if node.current is not None:
            raise NotInProcess("Application.start from inside a handler")
        ctl = _controller(node)
        if ctl.halted is not None:
            raise ApplicationError(
                f"application {self.name!r}: node stopped ({ctl.halted!r})", "node_stopped"
            )
        old = ctl.apps.get(self.name)
        if old is not None and old._master is not None and not old._master.is_alive:
            old._terminated(old._master.exit_reason)  # its master was killed from outside
        if self.name in ctl.apps:
            raise ApplicationError(f"application {self.name!r} already started", "already_started")
        self._failed_pid = None
        try:
            master = _ApplicationMaster.start(node, self)
        except InitFailed as e:
            if self._failed_pid is not None:
                wait_exit(node, self._failed_pid)  # the failed top supervisor shuts its children down
                self._failed_pid = None
            self.state, self.exit_reason = "terminated", e.reason
            _report_exit(self, e.reason)
            raise ApplicationError(
                f"application {self.name!r} failed to start: {e.reason!r}", e.reason
            ) from None
        assert master is not None
        self.node, self._master = node, master
        self.state, self.exit_reason = "running", None
        ctl.apps[self.name] = self
        if _log.threshold >= _log.INFO:
            _log.info(
                {
                    "label": ("application_controller", "progress"),
                    "application": self.name,
                    "started_at": node.node_id,
                },
                domain=("otp",),
            )
        return self._top  # type: ignore[return-value]

    def stop(self, timeout: float | None = None) -> None:
        """Stop the tree in order (the top supervisor gets ``shutdown``; waits, by default without limit).
        From plain Python. Raises :class:`ApplicationError` (``"not_started"``) if it does not run."""
        m = self._master
        if not self.running or m is None or self.node is None:
            raise ApplicationError(f"application {self.name!r} is not started", "not_started")
        if m.is_alive:
            _gs_stop(self.node, m, SHUTDOWN, 1e9 if timeout is None else timeout)
        self._stopped()

    def _stopped(self) -> None:
        if self.state == "running":
            self.state, self.exit_reason = "stopped", "stopped"
            self._forget()
            _report_exit(self, "stopped")

    def _terminated(self, reason: Any) -> None:
        if self.state == "running":
            self.state, self.exit_reason = "terminated", reason
            self._forget()
            _report_exit(self, reason)

    def _forget(self) -> None:
        if self.node is not None:
            ctl = _controller(self.node)
            if ctl.apps.get(self.name) is self:
                del ctl.apps[self.name]


# ------------------------------------------------------------------- per-node queries
def which_applications(node: Node | None = None) -> list[Application]:
    """The running applications of ``node``, in start order."""
    return list(_controller(node if node is not None else current_node()).apps.values())


def get_application(name: str, node: Node | None = None) -> Application | None:
    """The running application ``name`` on ``node``, or None."""
    return _controller(node if node is not None else current_node()).apps.get(name)


def get_env(app: str, key: str, default: Any = None, node: Node | None = None) -> Any:
    """``application:get_env(App, Key)`` with a default: the value from the running application ``app``
    (``default`` when it does not run or has no such key)."""
    a = get_application(app, node)
    return default if a is None else a.get_env(key, default)


def node_stopped(node: Node | None = None) -> Any:
    """The reason ``("application_terminated", name, reason)`` if an application stopped the node, else None."""
    return _controller(node if node is not None else current_node()).halted


def on_node_stop(callback: Callable[[Any], None], node: Node | None = None) -> None:
    """Call ``callback(reason)`` when an application stops the node (inside the scheduler: do not block)."""
    _controller(node if node is not None else current_node()).callbacks.append(callback)
