"""The mutable state of one :class:`~cns.fix.session.FixSession` (:class:`SessionData`): built from the
config at (re)start, bound to a connection while there is one."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cns.fix.codec import FixCodec, FixFrameReader, FixMessage
from cns.fix.errors import FixConfigError
from cns.fix.orders import OrderEncoder
from cns.fix.session_config import Backoff, FixSessionConfig
from cns.fix.session_events import FixSessionStatus
from cns.fix.store import FileSessionStore, MemorySessionStore, SessionStore
from cns.fix.transport import FixLink

__all__ = [
    "COUNTERS",
    "SessionData",
    "attach_link",
    "consume_inbound",
    "detach_link",
    "new_session_data",
    "open_store",
    "status_of",
]

COUNTERS = (
    "messages_in",
    "messages_out",
    "garbled",
    "rejects_sent",
    "rejects_received",
    "resend_requests_sent",
    "resend_requests_received",
    "messages_resent",
    "gap_fills_sent",
    "gap_fills_received",
    "logons",
    "disconnects",
    "connect_failures",
    "test_requests_sent",
    "duplicates_ignored",
    "send_errors",
)


@dataclass
class SessionData:
    cfg: FixSessionConfig
    app: Any
    store: SessionStore
    codec: FixCodec
    encoder: OrderEncoder | None
    backoff: Backoff
    our_id: bytes = field(repr=False)
    their_id: bytes = field(repr=False)
    hb: int
    gen: int = 0
    link: FixLink | None = None
    reader: FixFrameReader | None = None
    want_connect: bool = True
    first_attempt: bool = True
    up: bool = False
    last_rx: int = 0
    last_tx: int = 0
    test_req: bytes | None = None
    test_req_sent: int = 0
    test_req_n: int = 0
    resend_pending: bool = False
    resend_until: int = 0  # highest inbound seq known missing while a resend is outstanding
    queue: dict[int, FixMessage] = field(default_factory=dict)
    closing: Any = None  # the From of a logout() call
    drop_outbound: int = 0
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    tick: Any = None


def open_store(
    cfg: FixSessionConfig, store: SessionStore | Callable[[], SessionStore] | None
) -> SessionStore:
    """``store`` itself, the store its factory makes, or (None) the config's file or memory store."""
    if store is None:
        if cfg.store_dir is not None:
            return FileSessionStore(cfg.store_dir, cfg.name, fsync=cfg.store_fsync)
        return MemorySessionStore()
    if callable(store) and not isinstance(store, SessionStore):
        return store()
    return store


def new_session_data(
    cfg: FixSessionConfig, app: Any, store: SessionStore | Callable[[], SessionStore] | None
) -> SessionData:
    """The state of a session (re)starting with ``cfg``: disconnected, numbering from the store."""
    if not isinstance(cfg, FixSessionConfig):
        raise FixConfigError("FixSession needs a FixSessionConfig")
    st = open_store(cfg, store)
    codec = FixCodec(cfg.sender_comp_id, cfg.target_comp_id, max_message_bytes=cfg.max_message_bytes)
    return SessionData(
        cfg=cfg,
        app=app,
        store=st,
        codec=codec,
        encoder=OrderEncoder(codec, cfg.symbols) if cfg.symbols is not None else None,
        backoff=Backoff(cfg.reconnect_base_s, cfg.reconnect_max_s, cfg.reconnect_jitter, cfg.seed),
        our_id=cfg.sender_comp_id.encode(),
        their_id=cfg.target_comp_id.encode(),
        hb=cfg.heartbeat_s,
    )


def attach_link(d: SessionData, link: FixLink) -> None:
    """Bind a new connection: a fresh frame reader, the heartbeat clocks restarted."""
    d.link = link
    d.reader = FixFrameReader(d.cfg.max_message_bytes)
    d.last_rx = d.last_tx = time.monotonic_ns()


def detach_link(d: SessionData, abort: bool) -> None:
    """Drop the connection (``abort``: RST, unsent output discarded; else flushed then closed) and forget
    everything that belonged to it: its late events (a new generation), partial input, the gap queue, an
    outstanding resend or TestRequest."""
    if d.link is not None:
        if abort:
            d.link.abort()
        else:
            d.link.close()
        d.link = None
    d.gen += 1
    d.reader = None
    d.queue.clear()
    d.resend_pending = False
    d.test_req = None


def consume_inbound(d: SessionData, seq: int) -> None:
    """Inbound number ``seq`` is used: the next one expected is ``seq + 1``."""
    d.store.set_next_target_seq(seq + 1)


def status_of(d: SessionData, state: str) -> FixSessionStatus:
    """The snapshot :func:`~cns.fix.session.session_status` answers."""
    return FixSessionStatus(
        d.cfg.name,
        state,
        d.cfg.role,
        d.link is not None,
        d.store.next_sender_seq,
        d.store.next_target_seq,
        d.hb,
        dict(d.counters),
    )
