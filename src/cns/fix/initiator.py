"""The FIX initiator: a :class:`~cns.fix.session.FixSession` in the ``"initiator"`` role connects itself.

In state ``disconnected`` the session opens a TCP connection to ``config.host:config.port`` (an asyncio task,
bounded by ``connect_timeout_s``), sends its Logon and waits in ``logon_sent``. A refused or failed connect,
a dropped connection, a Logon refusal or a Logout from the counterparty schedules the next attempt after a
:class:`~cns.fix.session.Backoff` delay (``reconnect_base_s * 2**attempt`` capped at ``reconnect_max_s``,
with ``reconnect_jitter``; the first attempt is immediate; a successful Logon resets it). After our own
:func:`~cns.fix.session.logout` it stays down until :func:`~cns.fix.session.reconnect`. Sequence numbers
continue across reconnects and (with a file store) across process restarts.

Inside a supervision tree::

    from cns.fix import FixSessionConfig, SymbolTable, initiator_child_spec, send_orders
    from cns.otp import ChildSpec, Supervisor, SupFlags

    cfg = FixSessionConfig.from_env("venue1", port=9878, heartbeat_s=30, store_dir="var/fix",
                                    symbols=SymbolTable(["", "AAPL", "MSFT"]))
    sup = Supervisor.start_link(node, SupFlags("one_for_one", intensity=5, period=10.0),
                                [initiator_child_spec(cfg, app="oms")])
    ...                                            # node runs under asyncio: await node.run_async()
    first_seq, n = send_orders(node, "fix:venue1", approved_orders)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cns.fix.errors import FixConfigError
from cns.fix.session import Backoff, FixSession, FixSessionConfig, fix_session_child_spec
from cns.fix.store import SessionStore
from cns.otp.supervisor import ChildSpec
from cns.runtime import Node, Pid

__all__ = ["Backoff", "initiator_child_spec", "start_initiator"]


def _check(config: FixSessionConfig) -> None:
    if not isinstance(config, FixSessionConfig) or config.role != "initiator":
        raise FixConfigError("an initiator needs a FixSessionConfig with role='initiator'")


def start_initiator(
    node: Node,
    config: FixSessionConfig,
    app: Any = None,
    *,
    store: SessionStore | Callable[[], SessionStore] | None = None,
    link: bool = True,
) -> Pid:
    """Start an initiator session (registered as ``fix:<name>``); it connects at once."""
    _check(config)
    return FixSession.start_session(node, config, app, store=store, link=link)


def initiator_child_spec(
    config: FixSessionConfig,
    app: Any = None,
    *,
    store: SessionStore | Callable[[], SessionStore] | None = None,
    restart: str = "permanent",
) -> ChildSpec:
    """Supervisor child of an initiator session (id and registered name ``fix:<name>``)."""
    _check(config)
    return fix_session_child_spec(config, app, store=store, restart=restart)
