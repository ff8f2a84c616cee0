"""OTP behaviours on top of :mod:`cns.runtime`: :class:`GenServer` and :class:`Supervisor`.

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

Hot code loading (``cns.otp.hotload``) uses ``node.processes(Behaviour)`` and ``node.run_in(pid, fn)``; a
behaviour's version is its ``vsn`` class attribute and ``code_change(old_vsn, state_dict, extra)`` returns
the new state dict.
"""

from .gen_server import IGNORE, NOREPLY, Cast, GenServer, call, cast, stop
from .supervisor import (
    ChildInfo,
    ChildSpec,
    InvalidChildSpec,
    Supervisor,
    SupervisorError,
    SupFlags,
    count_children,
    delete_child,
    restart_child,
    start_child,
    terminate_child,
    which_children,
)

__all__ = [
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
]
