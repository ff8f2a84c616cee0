"""OTP behaviours on top of :mod:`cns.runtime`: :class:`GenServer`, :class:`GenStatem`, :class:`Supervisor`,
:class:`Application`, ``sysapi`` (sys-style introspection) and ``logger`` (structured reports).

Example::

    from cns.runtime import Node
    from cns.otp import GenServer, Supervisor, SupFlags, ChildSpec, cast, which_children

    class Counter(GenServer):
        def init(self, start=0):
            self.n = start
        def handle_call(self, request, from_):
            return self.n                  # the reply
        def handle_cast(self, k):
            self.n += k

    node = Node()
    sup = Supervisor.start_link(node, SupFlags("one_for_one", intensity=3, period=5.0),
                                [ChildSpec("counter", lambda n: Counter.start_link(n, 0, name="counter"))])
    cast(node, "counter", 5)
    assert node.call("counter", "get") == 5

Worker pools (``cns.otp.pool``): ``start_pool`` from plain Python, or ``pool_child_spec`` for a pool that is
one child of a supervisor (restarted by it; its failure escalates like any child's).

Hot code loading (``cns.otp.hotload``) uses ``node.processes(Behaviour)`` and ``node.run_in(pid, fn)``; a
behaviour's version is its ``vsn`` class attribute and ``code_change(old_vsn, state_dict, extra)`` returns
the new state dict.
"""

from . import gen_statem, logger, sysapi
from .application import (
    Application,
    ApplicationError,
    get_application,
    get_env,
    node_stopped,
    on_node_stop,
    which_applications,
)
from .gen_server import IGNORE, NOREPLY, Cast, GenServer, call, cast, stop
from .gen_statem import (
    BadAction,
    BadCallbackMode,
    BadReturn,
    Call,
    CancelTimeout,
    EventTimeout,
    GenericTimeout,
    GenStatem,
    GenStatemError,
    Hibernate,
    KeepState,
    NextEvent,
    NextState,
    Postpone,
    RepeatState,
    Reply,
    StateTimeout,
    StopMachine,
    UndefStateFunction,
    UpdateTimeout,
    reply,
)
from .hotload import HotLoadError, HotLoadWarning, UpgradeReport, reload_module, upgrade
from .pool import Pool, PoolStats, PoolWorker, pool_child_spec, start_pool, start_pool_link
from .supervisor import (
    RESTARTING,
    ChildInfo,
    ChildSpec,
    InvalidChildSpec,
    Supervisor,
    SupervisorError,
    SupFlags,
    count_children,
    delete_child,
    get_childspec,
    restart_child,
    start_child,
    terminate_child,
    wait_exit,
    which_children,
)
from .sysapi import SysError, SysRequest

__all__ = [
    "Application",
    "ApplicationError",
    "BadAction",
    "BadCallbackMode",
    "BadReturn",
    "Call",
    "CancelTimeout",
    "EventTimeout",
    "GenStatem",
    "GenStatemError",
    "GenericTimeout",
    "Hibernate",
    "KeepState",
    "NextEvent",
    "NextState",
    "Postpone",
    "RESTARTING",
    "RepeatState",
    "Reply",
    "StateTimeout",
    "StopMachine",
    "SysError",
    "SysRequest",
    "UndefStateFunction",
    "UpdateTimeout",
    "gen_statem",
    "get_application",
    "get_childspec",
    "get_env",
    "logger",
    "node_stopped",
    "on_node_stop",
    "reply",
    "sysapi",
    "wait_exit",
    "which_applications",
    "IGNORE",
    "NOREPLY",
    "Cast",
    "ChildInfo",
    "ChildSpec",
    "GenServer",
    "InvalidChildSpec",
    "SupFlags",
    "Supervisor",
    "SupervisorError",
    "call",
    "cast",
    "count_children",
    "delete_child",
    "restart_child",
    "start_child",
    "stop",
    "terminate_child",
    "which_children",
    "HotLoadError",
    "HotLoadWarning",
    "Pool",
    "PoolStats",
    "PoolWorker",
    "UpgradeReport",
    "pool_child_spec",
    "reload_module",
    "start_pool",
    "start_pool_link",
    "upgrade",
]
