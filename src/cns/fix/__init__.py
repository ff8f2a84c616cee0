"""FIX 4.4 for CNS: a codec, a session layer on :class:`~cns.otp.gen_statem.GenStatem`, an initiator, an
acceptor and a file session store (see ``docs/fix.md``).

- :mod:`cns.fix.codec` -- framing, parsing with validation, encoding (:class:`FixCodec`).
- :mod:`cns.fix.orders` -- the hot path: ORDER_DTYPE records -> NewOrderSingle/OrderCancelRequest bytes in a
  preallocated buffer (:class:`OrderEncoder`), ExecutionReports -> EXEC_DTYPE (:class:`ExecReportDecoder`).
- :mod:`cns.fix.session` -- :class:`FixSession` (logon, heartbeats, resend, gap fill, reject, logout).
- :mod:`cns.fix.initiator` / :mod:`cns.fix.acceptor` -- connecting and listening.
- :mod:`cns.fix.store` -- :class:`SessionStore`, :class:`FileSessionStore`, :class:`MemorySessionStore`.
"""

from cns.fix.acceptor import FixAcceptor, acceptor_child_spec
from cns.fix.codec import FixCodec, FixFrameReader, FixMessage, Garbled, Problem, redact
from cns.fix.errors import (
    FixConfigError,
    FixEncodeError,
    FixError,
    FixNotActive,
    FixSessionError,
    FixStoreError,
)
from cns.fix.initiator import initiator_child_spec, start_initiator
from cns.fix.orders import ExecReportDecoder, OrderEncoder, SymbolTable
from cns.fix.session import (
    Backoff,
    FixInbound,
    FixRejectReceived,
    FixSend,
    FixSession,
    FixSessionConfig,
    FixSessionDown,
    FixSessionStatus,
    FixSessionUp,
    fix_session_child_spec,
    inject,
    logout,
    reconnect,
    send_message,
    send_orders,
    session_status,
)
from cns.fix.store import FileSessionStore, MemorySessionStore, SessionStore
from cns.fix.transport import loop_call

__all__ = [
    "Backoff",
    "ExecReportDecoder",
    "FileSessionStore",
    "FixAcceptor",
    "FixCodec",
    "FixConfigError",
    "FixEncodeError",
    "FixError",
    "FixFrameReader",
    "FixInbound",
    "FixMessage",
    "FixNotActive",
    "FixRejectReceived",
    "FixSend",
    "FixSession",
    "FixSessionConfig",
    "FixSessionDown",
    "FixSessionError",
    "FixSessionStatus",
    "FixSessionUp",
    "FixStoreError",
    "Garbled",
    "MemorySessionStore",
    "OrderEncoder",
    "Problem",
    "SessionStore",
    "SymbolTable",
    "acceptor_child_spec",
    "fix_session_child_spec",
    "initiator_child_spec",
    "inject",
    "logout",
    "loop_call",
    "reconnect",
    "redact",
    "send_message",
    "send_orders",
    "session_status",
    "start_initiator",
]
