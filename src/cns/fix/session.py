"""The FIX 4.4 session layer as a :class:`~cns.otp.gen_statem.GenStatem`.

States::

    disconnected --connect (initiator) / attach (acceptor)--> logon_sent (initiator) | logon_wait (acceptor)
    logon_* --Logon exchanged--> active --logout()--> logout_sent --Logout / timeout--> disconnected
    any connected state --socket closed, fatal error, Logout from the peer--> disconnected

Socket I/O runs in asyncio (:mod:`cns.fix.transport`); every byte read arrives here as a message, is framed
(:class:`~cns.fix.codec.FixFrameReader`) and each frame becomes an inserted ``"internal"`` event, handled in
the state current at that point (a Logon followed by an ExecutionReport in one read is handled as
``logon_sent`` then ``active``).

Session rules (FIX 4.4 volume 2, as QuickFIX applies them):

- **Garbled** frames (bad BodyLength/CheckSum, junk) are ignored and counted; the sequence number is not
  consumed.
- A framed message with a **problem** (a required tag missing, a bad value such as ``44=NaN``, an unknown
  MsgType, a repeated tag) gets a session-level **Reject** ``35=3`` with RefSeqNum (45), RefTagID (371),
  RefMsgType (372), SessionRejectReason (373) and Text (58); its sequence number is consumed; the session
  continues. A missing/invalid MsgSeqNum or a wrong BeginString logs out instead.
- **MsgSeqNum too high** -> ResendRequest ``7=<expected> 16=0`` (once while a resend is outstanding); the
  early messages are queued (at most ``max_queued_messages``, else Logout) and handled in order once the
  gap is filled. A ResendRequest or Logout that arrives too high is acted on at once.
- **MsgSeqNum too low** without PossDupFlag=Y -> Logout ("MsgSeqNum too low, expecting N but received M")
  and disconnect; with PossDupFlag=Y it is ignored (a duplicate).
- **ResendRequest** received -> stored application messages are sent again with their MsgSeqNum,
  PossDupFlag=Y, OrigSendingTime=their SendingTime and a new SendingTime; session messages, and application
  messages older than ``resend_max_age_s`` (if set: stale orders are not replayed), are replaced by
  SequenceReset-GapFill ``123=Y 36=<next>`` messages.
- **SequenceReset**: GapFill moves the expected number forward (never back: Reject reason 5); Reset mode
  sets it regardless of MsgSeqNum.
- **Heartbeats**: a Heartbeat after ``HeartBtInt`` s without output; a TestRequest after ``1.5 x HeartBtInt``
  s without input, then a disconnect if ``HeartBtInt`` more seconds pass without input; TestRequest is
  answered with a Heartbeat carrying its TestReqID.
- **SendingTime accuracy**: a message (not PossDup) whose SendingTime is more than ``max_latency_s`` away
  from our clock gets Reject reason 10, then Logout (QuickFIX's CheckLatency).
- **CompIDs**: an inbound 49/56 that is not our counterparty/us gets Reject reason 9, then Logout.
- Sequence numbers and outbound application messages persist in the :class:`~cns.fix.store.SessionStore`
  before any byte is written; a restarted session continues the numbering (no reset unless configured).

Application side: events go to ``app`` (a pid or registered name: sent; a callable: called inside the
session; an exception there crashes the session, for its supervisor): :class:`FixSessionUp`,
:class:`FixSessionDown`, :class:`FixInbound` (every application message in sequence, PossDup ones
included: ``event.msg.poss_dup``), :class:`FixRejectReceived`. Outbound: :func:`send_orders` (ORDER_DTYPE
records through the template encoder), :func:`send_message` (any application message), or the cast
:class:`FixSend` from another process. They are refused with :class:`~cns.fix.errors.FixNotActive`
unless the session is ``active`` -- nothing is queued for later (a stale order must not go out after a
reconnect).

Credentials (CompIDs, Username/Password) are never logged: logs name the session by ``config.name`` and
messages are logged through :func:`~cns.fix.codec.redact`.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cns.fix import spec as S
from cns.fix.codec import (
    DEFAULT_MAX_MESSAGE_BYTES,
    FixCodec,
    FixFrameReader,
    FixMessage,
    Garbled,
    Problem,
    parse_utc_timestamp,
    utc_timestamp,
)
from cns.fix.errors import (
    FixConfigError,
    FixEncodeError,
    FixError,
    FixNotActive,
    FixSessionError,
    FixStoreError,
)
from cns.fix.orders import OrderEncoder, SymbolTable
from cns.fix.store import FileSessionStore, MemorySessionStore, SessionStore
from cns.fix.transport import Closed, Connected, ConnectFailed, FixLink, Rx, open_connection, running_loop
from cns.otp.gen_statem import (
    Call,
    GenStatem,
    KeepState,
    NextEvent,
    NextState,
    RepeatState,
    Reply,
    StateTimeout,
)
from cns.otp.supervisor import ChildSpec
from cns.runtime import Node, Pid

__all__ = [
    "Attach",
    "FixInbound",
    "FixRejectReceived",
    "FixSend",
    "FixSession",
    "FixSessionConfig",
    "FixSessionDown",
    "FixSessionStatus",
    "FixSessionUp",
    "Backoff",
    "fix_session_child_spec",
    "inject",
    "logout",
    "reconnect",
    "send_message",
    "send_orders",
    "session_status",
]

log = logging.getLogger("cns.fix")

ROLES = ("initiator", "acceptor")


# ----------------------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class FixSessionConfig:
    """One FIX session. Times in seconds.

    ``name``: the session's label in logs, file names and process names (``[A-Za-z0-9_.-]``); never a
    credential. ``sender_comp_id`` / ``target_comp_id``: our CompID and the counterparty's, as *we* send
    them (hidden from ``repr``). ``role``: ``"initiator"`` (connects to ``host:port``, reconnects with
    :class:`Backoff` between ``reconnect_base_s`` and ``reconnect_max_s``) or ``"acceptor"`` (a
    :class:`~cns.fix.acceptor.FixAcceptor` hands it connections). ``heartbeat_s``: HeartBtInt (an
    initiator proposes it; an acceptor adopts the initiator's). ``username``/``password``: sent in the
    Logon (553/554) by an initiator; checked by an acceptor when ``password`` is set. ``reset_on_logon``:
    ResetSeqNumFlag=Y on our Logon (both numbers back to 1). ``store_dir``: a :class:`FileSessionStore`
    there (None: in memory); ``store_fsync``: see :mod:`cns.fix.store`. ``symbols``: instrument code ->
    Symbol, needed by :func:`send_orders`. ``max_latency_s``: SendingTime tolerance (None: unchecked).
    ``resend_max_age_s``: application messages older than this are gap-filled, not resent (None: resend
    all). ``max_queued_messages``: early (too-high) messages held while a gap is filled.
    ``persist_when_down``: a :class:`FixSend` while not logged on is numbered and stored without being
    written, so the counterparty gets it by resend after its next Logon (a venue's reports; QuickFIX's
    ``sendToTarget`` does the same); otherwise it is dropped and counted. Orders (:func:`send_orders`)
    are always refused while down.

    Use :meth:`from_env` to take the CompIDs and password from the environment.
    """

    name: str
    sender_comp_id: str = field(repr=False)
    target_comp_id: str = field(repr=False)
    role: str = "initiator"
    host: str = "127.0.0.1"
    port: int = 0
    heartbeat_s: int = 30
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    reset_on_logon: bool = False
    logon_timeout_s: float = 10.0
    logout_timeout_s: float = 2.0
    connect_timeout_s: float = 5.0
    reconnect_base_s: float = 0.25
    reconnect_max_s: float = 30.0
    reconnect_jitter: float = 0.3
    seed: int | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    store_dir: str | None = None
    store_fsync: bool = True
    symbols: SymbolTable | None = field(default=None, repr=False)
    max_latency_s: float | None = 120.0
    resend_max_age_s: float | None = None
    max_queued_messages: int = 10_000
    persist_when_down: bool = False

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> FixConfigError:
            return FixConfigError(f"FixSessionConfig.{name}: {rule}")

        import re

        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.name):
            raise bad("name", "1..64 characters of [A-Za-z0-9_.-]")
        for n in ("sender_comp_id", "target_comp_id"):
            v = getattr(self, n)
            if not isinstance(v, str) or not v or not v.isprintable() or "=" in v or len(v) > 64:
                raise bad(
                    n, "1..64 printable characters without '=' (set it in the config or the environment)"
                )
        if self.role not in ROLES:
            raise bad("role", f"one of {ROLES}")
        if self.role == "initiator" and not (isinstance(self.port, int) and 0 < self.port < 65536):
            raise bad("port", "the acceptor's port, 1..65535")
        if (
            isinstance(self.heartbeat_s, bool)
            or not isinstance(self.heartbeat_s, int)
            or not 0 <= self.heartbeat_s <= S.MAX_HEART_BT_INT
        ):
            raise bad("heartbeat_s", f"an int in 0..{S.MAX_HEART_BT_INT}")
        for n in (
            "logon_timeout_s",
            "logout_timeout_s",
            "connect_timeout_s",
            "reconnect_base_s",
            "reconnect_max_s",
        ):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 3600:
                raise bad(n, "seconds in (0, 3600]")
        if not 0 <= self.reconnect_jitter <= 1:
            raise bad("reconnect_jitter", "in [0, 1]")
        for n in ("max_latency_s", "resend_max_age_s"):
            v = getattr(self, n)
            if v is not None and (
                isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf
            ):
                raise bad(n, "None or finite seconds > 0")
        if not isinstance(self.max_queued_messages, int) or self.max_queued_messages < 1:
            raise bad("max_queued_messages", "an int >= 1")
        if self.symbols is not None and not isinstance(self.symbols, SymbolTable):
            raise bad("symbols", "a cns.fix.orders.SymbolTable")
        for n in ("username", "password"):
            v = getattr(self, n)
            if v is not None and (not isinstance(v, str) or "\x01" in v or not v):
                raise bad(n, "a non-empty string without SOH")

    @classmethod
    def from_env(cls, name: str, prefix: str = "CNS_FIX_", **kw: Any) -> FixSessionConfig:
        """A config whose ``sender_comp_id``, ``target_comp_id``, ``username`` and ``password`` come from the
        environment variables ``<prefix>SENDER_COMP_ID``, ``..TARGET_COMP_ID``, ``..USERNAME``,
        ``..PASSWORD`` unless given in ``kw``. A missing CompID raises :class:`FixConfigError` naming the
        variable (never its value)."""
        for key in ("sender_comp_id", "target_comp_id", "username", "password"):
            if kw.get(key) is None:
                v = os.environ.get(prefix + key.upper())
                if v is None and key in ("sender_comp_id", "target_comp_id"):
                    raise FixConfigError(f"{prefix + key.upper()} is not set")
                kw[key] = v
        return cls(name=name, **kw)

    def __repr__(self) -> str:
        return f"FixSessionConfig(name={self.name!r}, role={self.role!r}, <credentials hidden>)"


class Backoff:
    """Reconnect delays: ``min(max_s, base_s * 2**attempt)`` scaled by a random factor in ``[1 - jitter, 1]``
    (``random.Random(seed)``: reproducible); :meth:`reset` after a successful Logon."""

    __slots__ = ("attempt", "base_s", "jitter", "max_s", "rng")

    def __init__(self, base_s: float, max_s: float, jitter: float = 0.3, seed: int | None = None) -> None:
        self.base_s, self.max_s, self.jitter = base_s, max_s, jitter
        self.rng = random.Random(seed)
        self.attempt = 0

    def next_delay(self) -> float:
        d = min(self.max_s, self.base_s * 2.0 ** min(self.attempt, 62))
        self.attempt += 1
        return d * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempt = 0


# ----------------------------------------------------------------------------------------- events and requests
@dataclass(frozen=True, slots=True)
class FixSessionUp:
    """The session is logged on (``resumed``: the sequence numbers continued from the store)."""

    session: str
    next_sender_seq: int
    next_target_seq: int


@dataclass(frozen=True, slots=True)
class FixSessionDown:
    session: str
    reason: str


@dataclass(frozen=True, slots=True)
class FixInbound:
    """An application message received in sequence (``msg.poss_dup`` for a resent one)."""

    session: str
    msg: FixMessage


@dataclass(frozen=True, slots=True)
class FixRejectReceived:
    """The counterparty rejected our message ``ref_seq`` (Reject 35=3 or BusinessMessageReject 35=j)."""

    session: str
    ref_seq: int
    reason: int
    ref_tag: int
    text: str


@dataclass(frozen=True, slots=True)
class FixSend:
    """Cast from another process: send an application message (errors are logged and counted)."""

    msg_type: str
    fields: tuple[tuple[int, Any], ...]


class Attach:
    """From the acceptor: a connection whose first frame named this session; ``early`` are its bytes so far."""

    __slots__ = ("link", "early")

    def __init__(self, link: FixLink, early: bytes) -> None:
        self.link = link
        self.early = early


@dataclass
class FixSessionStatus:
    """A snapshot of :func:`session_status`."""

    name: str
    state: str
    role: str
    connected: bool
    next_sender_seq: int
    next_target_seq: int
    heartbeat_s: int
    counters: dict[str, int]


class _Tick:
    __repr__ = lambda self: "_TICK"  # noqa: E731


_TICK = _Tick()

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


# ----------------------------------------------------------------------------------------- the machine
class FixSession(GenStatem[str, SessionData]):
    """One FIX 4.4 session (see the module doc). Start with :meth:`start_session` or, under a supervisor,
    :func:`fix_session_child_spec`. The node must run under asyncio (``Node.run_async``)."""

    state_enter = True

    @classmethod
    def start_session(
        cls,
        node: Node,
        config: FixSessionConfig,
        app: Any = None,
        *,
        store: SessionStore | Callable[[], SessionStore] | None = None,
        name: str | None = None,
        link: bool = True,
    ) -> Pid:
        """Start a session process (registered as ``name``, default ``"fix:<config.name>"``). ``store``: a
        store, a factory of one (called at every (re)start), or None for ``config.store_dir``."""
        pid = cls.start(node, config, app, store, name=name or f"fix:{config.name}", link=link)
        assert pid is not None
        return pid

    # ------------------------------------------------------------------ init / terminate
    def init(
        self,
        cfg: FixSessionConfig,
        app: Any = None,
        store: SessionStore | Callable[[], SessionStore] | None = None,
    ) -> Any:
        if not isinstance(cfg, FixSessionConfig):
            raise FixConfigError("FixSession needs a FixSessionConfig")
        if store is None:
            st: SessionStore = (
                FileSessionStore(cfg.store_dir, cfg.name, fsync=cfg.store_fsync)
                if cfg.store_dir is not None
                else MemorySessionStore()
            )
        elif callable(store) and not isinstance(store, SessionStore):
            st = store()
        else:
            st = store
        codec = FixCodec(cfg.sender_comp_id, cfg.target_comp_id, max_message_bytes=cfg.max_message_bytes)
        enc = OrderEncoder(codec, cfg.symbols) if cfg.symbols is not None else None
        d = SessionData(
            cfg=cfg,
            app=app,
            store=st,
            codec=codec,
            encoder=enc,
            backoff=Backoff(cfg.reconnect_base_s, cfg.reconnect_max_s, cfg.reconnect_jitter, cfg.seed),
            our_id=cfg.sender_comp_id.encode(),
            their_id=cfg.target_comp_id.encode(),
            hb=cfg.heartbeat_s,
        )
        self.trap_exit()  # a supervisor's shutdown runs terminate: Logout is not sent, the socket is closed
        period = min(1.0, max(0.02, cfg.heartbeat_s / 5.0)) if cfg.heartbeat_s else 1.0
        d.tick = self.node.send_interval(period, self.pid, _TICK)
        return "disconnected", d

    def terminate(self, reason: Any, state: str, data: SessionData) -> None:
        if data is None:
            return
        if data.tick is not None:
            self.node.cancel_timer(data.tick)
        if data.link is not None:
            data.link.close()
            data.link = None
        try:
            data.store.close()
        except FixError:  # pragma: no cover
            pass

    # ------------------------------------------------------------------ helpers: output
    def _fx_emit(self, d: SessionData, event: Any) -> None:
        app = d.app
        if app is None:
            return
        if callable(app) and not isinstance(app, (Pid, str)):
            app(event)
        else:
            try:
                self.node.send(app, event)
            except Exception:  # noqa: BLE001 - an unregistered app name: drop, counted
                d.counters["send_errors"] += 1

    def _fx_write(self, d: SessionData, data: bytes | memoryview) -> None:
        if d.link is not None and d.link.write(data):
            d.last_tx = time.monotonic_ns()

    def _fx_send_admin(self, d: SessionData, msg_type: str, body: Iterable[tuple[int, Any]] = ()) -> int:
        """Send a session message: it consumes a sequence number (persisted) but is not journaled (a resend
        gap-fills it)."""
        seq = d.store.next_sender_seq
        raw = d.codec.encode(msg_type, seq, body)
        d.store.set_next_sender_seq(seq + 1)
        self._fx_write(d, raw)
        d.counters["messages_out"] += 1
        return seq

    def _fx_send_app(self, d: SessionData, msg_type: str, body: Iterable[tuple[int, Any]]) -> int:
        seq = d.store.next_sender_seq
        raw = d.codec.encode(msg_type, seq, body)  # FixEncodeError: nothing stored or sent
        d.store.save(seq, raw)
        if d.drop_outbound > 0:
            d.drop_outbound -= 1  # fault injection: persisted, never written
        else:
            self._fx_write(d, raw)
        d.counters["messages_out"] += 1
        return seq

    def _fx_send_while_down(self, d: SessionData, m: FixSend) -> None:
        if not d.cfg.persist_when_down:
            d.counters["send_errors"] += 1
            log.warning("fix %s: FixSend %s dropped: session not active", d.cfg.name, m.msg_type)
            return
        try:
            seq = d.store.next_sender_seq
            d.store.save(seq, d.codec.encode(m.msg_type, seq, m.fields))
            d.counters["messages_out"] += 1
        except (FixEncodeError, FixStoreError) as e:
            d.counters["send_errors"] += 1
            log.warning("fix %s: FixSend %s refused: %s", d.cfg.name, m.msg_type, e)

    def _fx_send_orders(self, d: SessionData, orders: np.ndarray) -> tuple[int, int]:
        if d.encoder is None:
            raise FixConfigError("send_orders needs FixSessionConfig.symbols")
        seq0 = d.store.next_sender_seq
        n = int(orders.shape[0]) if isinstance(orders, np.ndarray) and orders.ndim == 1 else -1
        data, ends = d.encoder.encode(orders, seq0)
        if n == 0:
            return seq0, 0
        ends = ends[:n]
        d.store.save(seq0, data, ends)
        if d.drop_outbound > 0:
            k = min(d.drop_outbound, n)
            d.drop_outbound -= k
            if k < n:
                self._fx_write(d, data[int(ends[k - 1]) :])
        else:
            self._fx_write(d, data)
        d.counters["messages_out"] += n
        return seq0, n

    def _fx_reject(self, d: SessionData, msg: FixMessage, p: Problem) -> None:
        body: list[tuple[int, Any]] = [(S.REF_SEQ_NUM, msg.seq)]
        if p.ref_tag:
            body.append((S.REF_TAG_ID, p.ref_tag))
        if msg.msg_type and msg.msg_type.isalnum() and len(msg.msg_type) <= 2:
            body.append((S.REF_MSG_TYPE, msg.msg_type))
        body += [(S.SESSION_REJECT_REASON, p.reason), (S.TEXT, p.text)]
        self._fx_send_admin(d, S.REJECT, body)
        d.counters["rejects_sent"] += 1
        log.warning(
            "fix %s: rejected inbound seq %d: reason %d tag %d: %s",
            d.cfg.name,
            msg.seq,
            p.reason,
            p.ref_tag,
            p.text,
        )

    def _fx_logon_body(self, d: SessionData, reset: bool) -> list[tuple[int, Any]]:
        body: list[tuple[int, Any]] = [(S.ENCRYPT_METHOD, 0), (S.HEART_BT_INT, d.hb)]
        if reset:
            body.append((S.RESET_SEQ_NUM_FLAG, True))
        if d.cfg.role == "initiator":
            if d.cfg.username:
                body.append((S.USERNAME, d.cfg.username))
            if d.cfg.password:
                body.append((S.PASSWORD, d.cfg.password))
        return body

    # ------------------------------------------------------------------ helpers: connection
    def _fx_disconnect(self, d: SessionData, reason: str, *, abort: bool = False) -> NextState:
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
        d.counters["disconnects"] += 1
        d.store.checkpoint()
        if d.up:
            d.up = False
            self._fx_emit(d, FixSessionDown(d.cfg.name, reason))
        log.info("fix %s: disconnected: %s", d.cfg.name, reason)
        return NextState("disconnected", d)

    def _fx_logout_and_disconnect(self, d: SessionData, text: str) -> NextState:
        try:
            self._fx_send_admin(d, S.LOGOUT, [(S.TEXT, text)])
        except FixError:  # pragma: no cover - a store failure: disconnect anyway
            pass
        return self._fx_disconnect(d, text)

    def _fx_connect(self, d: SessionData) -> None:
        loop = running_loop("a FIX initiator")
        d.gen += 1
        loop.create_task(
            open_connection(self.node, self.pid, d.gen, d.cfg.host, d.cfg.port, d.cfg.connect_timeout_s)
        )

    def _fx_frames(self, d: SessionData, data: bytes) -> Any:
        """Frame ``data``; each item becomes an inserted event handled in order."""
        if d.reader is None:
            return None
        d.reader.feed(data)
        items = d.reader.frames()
        if not items:
            return None
        return [NextEvent("internal", it) for it in items]

    def _fx_common(self, et: Any, content: Any, state: str, d: SessionData) -> Any:
        """Events every state handles the same way."""
        cls = content.__class__
        if et == "info":
            if cls is Rx:
                if content.gen != d.gen:
                    return None
                if d.link is not None:
                    d.link.consumed()
                acts = self._fx_frames(d, content.data)
                return KeepState(actions=acts) if acts else None
            if cls is Closed:
                if content.gen != d.gen or state == "disconnected":
                    return None
                d.link = None
                return self._fx_disconnect(d, content.reason)
            if cls is _Tick:
                return self._fx_tick(state, d)
            if cls is Attach:
                old = d.link
                if old is None or old.closed or old.transport is None or old.transport.is_closing():
                    # the old connection is gone, its Closed not handled yet: take the new one
                    self._fx_disconnect(d, "connection lost")
                    return NextState("disconnected", d, NextEvent("info", content))
                # a second connection for a connected session: refuse it (the first one stays)
                log.warning("fix %s: refused a second connection", d.cfg.name)
                content.link.abort()
                return None
            if cls in (Connected, ConnectFailed):
                if cls is Connected:
                    content.link.abort()  # a stale connect: not ours any more
                return None
        if cls is FixSend and et in ("info", "cast"):
            self._fx_send_while_down(d, content)
            return None
        if et == "internal" and cls is Garbled:
            d.counters["garbled"] += 1
            log.warning("fix %s: ignored garbled input: %s", d.cfg.name, content)
            return None
        if et.__class__ is Call:
            return self._fx_call_common(et.from_, content, state, d)
        return None

    def _fx_call_common(self, frm: Any, req: Any, state: str, d: SessionData) -> Any:
        if req == "status":
            return KeepState(actions=Reply(frm, self._fx_status(state, d)))
        if req == "reconnect":
            d.want_connect = True
            if state == "disconnected" and d.cfg.role == "initiator":
                return RepeatState(actions=Reply(frm, "ok"))
            return KeepState(actions=Reply(frm, "ok"))
        if isinstance(req, tuple) and req and req[0] == "inject":
            return KeepState(actions=Reply(frm, self._fx_inject(req[1], req[2], state, d)))
        if req == "logout":
            d.want_connect = False
            return KeepState(actions=Reply(frm, "not_logged_on"))
        if isinstance(req, tuple) and req and req[0] in ("orders", "send"):
            return KeepState(actions=Reply(frm, FixNotActive(f"session {d.cfg.name} is {state}, not active")))
        return KeepState(actions=Reply(frm, FixSessionError(f"unknown request {req!r}")))

    def _fx_inject(self, what: str, arg: Any, state: str, d: SessionData) -> Any:
        """Fault injection for tests (documented in docs/fix.md)."""
        if what == "drop_next_outbound":
            d.drop_outbound += int(arg)
        elif what == "skip_outbound_seq":
            d.store.set_next_sender_seq(d.store.next_sender_seq + int(arg))
        elif what == "send_raw":
            self._fx_write(d, bytes(arg))
        elif what == "disconnect":
            if d.link is not None:
                d.link.abort()  # the Closed event does the rest
        else:
            return FixSessionError(f"unknown injection {what!r}")
        return "ok"

    def _fx_status(self, state: str, d: SessionData) -> FixSessionStatus:
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

    def _fx_tick(self, state: str, d: SessionData) -> Any:
        if state not in ("active", "logout_sent") or d.hb <= 0:
            return None
        now = time.monotonic_ns()
        hb_ns = d.hb * 1_000_000_000
        if now - d.last_tx >= hb_ns:
            self._fx_send_admin(d, S.HEARTBEAT)
        if d.test_req is None:
            # the peer heartbeats every HeartBtInt: half an interval of slack before probing it
            if now - d.last_rx >= hb_ns * 1.5:
                d.test_req_n += 1
                d.test_req = b"TEST%d" % d.test_req_n
                d.test_req_sent = now
                self._fx_send_admin(d, S.TEST_REQUEST, [(S.TEST_REQ_ID, d.test_req)])
                d.counters["test_requests_sent"] += 1
        elif now - d.test_req_sent >= hb_ns:
            return self._fx_disconnect(d, "counterparty silent (TestRequest unanswered)", abort=True)
        return None

    # ------------------------------------------------------------------ inbound checks
    def _fx_header_ok(self, d: SessionData, msg: FixMessage) -> Any:
        """None if the header is acceptable, else the transition (Reject + Logout + disconnect)."""
        if msg.get(S.SENDER_COMP_ID) != d.their_id or msg.get(S.TARGET_COMP_ID) != d.our_id:
            self._fx_reject(d, msg, Problem(S.R_COMP_ID, S.SENDER_COMP_ID, "CompID problem"))
            return self._fx_logout_and_disconnect(d, "CompID problem")
        if d.cfg.max_latency_s is not None and not msg.poss_dup:
            try:
                sent = parse_utc_timestamp(msg.get(S.SENDING_TIME) or b"")
            except ValueError:
                return None  # reported by the format check
            if abs(time.time_ns() - sent) > d.cfg.max_latency_s * 1e9:
                self._fx_reject(
                    d, msg, Problem(S.R_SENDING_TIME, S.SENDING_TIME, "SendingTime accuracy problem")
                )
                return self._fx_logout_and_disconnect(d, "SendingTime accuracy problem")
        return None

    def _fx_parse(self, d: SessionData, frame: bytes) -> FixMessage:
        d.last_rx = time.monotonic_ns()
        d.test_req = None  # any framed input proves the counterparty alive
        d.counters["messages_in"] += 1
        return d.codec.parse(frame)

    def _fx_advance(self, d: SessionData, seq: int) -> None:
        d.store.set_next_target_seq(seq + 1)

    # ------------------------------------------------------------------ states
    def disconnected(self, et: Any, content: Any, d: SessionData) -> Any:
        if et == "enter":
            if d.cfg.role == "initiator" and d.want_connect:
                delay = 0.0 if d.first_attempt else d.backoff.next_delay()
                d.first_attempt = False
                return KeepState(actions=StateTimeout(delay, "connect"))
            return None
        if et == "state_timeout" and content == "connect":
            self._fx_connect(d)
            return None
        cls = content.__class__
        if et == "info":
            if cls is Connected:
                if content.gen != d.gen or not d.want_connect:
                    content.link.abort()
                    return None
                d.link = content.link
                d.reader = FixFrameReader(d.cfg.max_message_bytes)
                d.last_rx = d.last_tx = time.monotonic_ns()
                reset = d.cfg.reset_on_logon
                if reset:
                    d.store.reset()
                self._fx_send_admin(d, S.LOGON, self._fx_logon_body(d, reset))
                return NextState("logon_sent", d)
            if cls is ConnectFailed:
                if content.gen != d.gen:
                    return None
                d.counters["connect_failures"] += 1
                log.info("fix %s: %s", d.cfg.name, content.reason)
                return RepeatState() if d.want_connect else None
            if cls is Attach and d.cfg.role == "acceptor":
                d.link = content.link  # the acceptor already pointed it at us
                d.gen = d.link.gen
                d.reader = FixFrameReader(d.cfg.max_message_bytes)
                d.last_rx = d.last_tx = time.monotonic_ns()
                acts = self._fx_frames(d, content.early)
                return NextState("logon_wait", d, acts or ())
        return self._fx_common(et, content, "disconnected", d)

    def logon_sent(self, et: Any, content: Any, d: SessionData) -> Any:
        """Initiator: our Logon is out, waiting for the counterparty's."""
        if et == "enter":
            return KeepState(actions=StateTimeout(d.cfg.logon_timeout_s, "logon_timeout"))
        if et == "state_timeout":
            return self._fx_disconnect(d, "no Logon response", abort=True)
        if et == "internal" and content.__class__ is bytes:
            msg = self._fx_parse(d, content)
            if msg.msg_type == S.LOGOUT:
                return self._fx_disconnect(d, f"Logon refused: {msg.get_str(S.TEXT)[:200]}")
            if msg.msg_type != S.LOGON or msg.problem is not None:
                return self._fx_disconnect(d, "first message is not a valid Logon", abort=True)
            return self._fx_on_logon(d, msg, respond=False)
        return self._fx_common(et, content, "logon_sent", d)

    def logon_wait(self, et: Any, content: Any, d: SessionData) -> Any:
        """Acceptor: connected, waiting for the initiator's Logon."""
        if et == "enter":
            return KeepState(actions=StateTimeout(d.cfg.logon_timeout_s, "logon_timeout"))
        if et == "state_timeout":
            return self._fx_disconnect(d, "no Logon", abort=True)
        if et == "internal" and content.__class__ is bytes:
            msg = self._fx_parse(d, content)
            if msg.msg_type != S.LOGON or (msg.problem is not None and msg.problem.fatal):
                return self._fx_disconnect(d, "first message is not a Logon", abort=True)
            if msg.problem is not None:
                self._fx_reject(d, msg, msg.problem)
                return self._fx_logout_and_disconnect(d, "invalid Logon")
            pw = d.cfg.password
            if pw is not None and not hmac.compare_digest((msg.get(S.PASSWORD) or b""), pw.encode()):
                return self._fx_logout_and_disconnect(d, "invalid credentials")
            d.hb = msg.get_int(S.HEART_BT_INT)
            return self._fx_on_logon(d, msg, respond=True)
        return self._fx_common(et, content, "logon_wait", d)

    def _fx_on_logon(self, d: SessionData, msg: FixMessage, respond: bool) -> Any:
        bad = self._fx_header_ok(d, msg)
        if bad is not None:
            return bad
        reset = msg.flag(S.RESET_SEQ_NUM_FLAG)
        if reset and respond:
            d.store.reset()  # the initiator restarts both numbers at 1; its Logon is seq 1
        expected = d.store.next_target_seq
        if msg.seq < expected and not reset:
            return self._fx_logout_and_disconnect(
                d, f"MsgSeqNum too low, expecting {expected} but received {msg.seq}"
            )
        if respond:
            self._fx_send_admin(d, S.LOGON, self._fx_logon_body(d, reset))
        gap = msg.seq > expected and not reset
        if not gap:
            self._fx_advance(d, msg.seq)
        d.store.checkpoint()
        d.up = True
        d.backoff.reset()
        d.counters["logons"] += 1
        log.info(
            "fix %s: logged on (next out %d, next in %d)",
            d.cfg.name,
            d.store.next_sender_seq,
            d.store.next_target_seq,
        )
        self._fx_emit(d, FixSessionUp(d.cfg.name, d.store.next_sender_seq, d.store.next_target_seq))
        if gap:
            # the Logon itself is handled; the messages before it must be resent, the Logon's number is
            # then consumed again by the counterparty's gap fill / resend
            self._fx_send_resend_request(d, expected, msg.seq)
        return NextState("active", d)

    def active(self, et: Any, content: Any, d: SessionData) -> Any:
        if et == "enter":
            return None
        if et == "internal" and content.__class__ is bytes:
            return self._fx_on_frame(d, content, "active")
        if et.__class__ is Call:
            req = content
            frm = et.from_
            if isinstance(req, tuple) and req:
                if req[0] == "orders":
                    try:
                        r: Any = self._fx_send_orders(d, req[1])
                    except (FixEncodeError, FixConfigError, FixStoreError) as e:
                        r = e
                    return KeepState(actions=Reply(frm, r))
                if req[0] == "send":
                    try:
                        r = self._fx_send_app(d, req[1], req[2])
                    except (FixEncodeError, FixStoreError) as e:
                        r = e
                    return KeepState(actions=Reply(frm, r))
            if req == "logout":
                d.want_connect = False
                d.closing = frm
                self._fx_send_admin(d, S.LOGOUT)
                return NextState("logout_sent", d)
        if content.__class__ is FixSend and et in ("info", "cast"):
            try:
                self._fx_send_app(d, content.msg_type, content.fields)
            except (FixEncodeError, FixStoreError) as e:
                d.counters["send_errors"] += 1
                log.warning("fix %s: FixSend %s refused: %s", d.cfg.name, content.msg_type, e)
            return None
        return self._fx_common(et, content, "active", d)

    def logout_sent(self, et: Any, content: Any, d: SessionData) -> Any:
        if et == "enter":
            return KeepState(actions=StateTimeout(d.cfg.logout_timeout_s, "logout_timeout"))
        if et == "state_timeout":
            r = self._fx_disconnect(d, "Logout not confirmed")
            return self._fx_answer_closing(d, r, "timeout")
        if et == "internal" and content.__class__ is bytes:
            return self._fx_on_frame(d, content, "logout_sent")
        return self._fx_common(et, content, "logout_sent", d)

    def _fx_answer_closing(self, d: SessionData, r: Any, value: str) -> Any:
        if d.closing is not None:
            frm, d.closing = d.closing, None
            self.reply(frm, value)
        return r

    # ------------------------------------------------------------------ sequenced processing
    def _fx_on_frame(self, d: SessionData, frame: bytes, state: str) -> Any:
        msg = self._fx_parse(d, frame)
        p = msg.problem
        if p is not None and p.fatal:
            return self._fx_logout_and_disconnect(d, p.text)
        mt = msg.msg_type
        if mt == S.SEQUENCE_RESET and p is None and not msg.flag(S.GAP_FILL_FLAG):
            return self._fx_sequence_reset(d, msg)
        expected = d.store.next_target_seq
        if msg.seq > expected:
            if p is None and mt == S.RESEND_REQUEST:
                self._fx_resend(d, msg)
            if p is None and mt == S.LOGOUT:
                return self._fx_process(d, msg, state)
            if len(d.queue) >= d.cfg.max_queued_messages:
                return self._fx_logout_and_disconnect(d, "too many messages queued behind a sequence gap")
            d.queue[msg.seq] = msg
            if not d.resend_pending:
                self._fx_send_resend_request(d, expected, msg.seq - 1)
            else:  # covered by the outstanding request (EndSeqNo 0 = infinity)
                d.resend_until = max(d.resend_until, msg.seq - 1)
            return None
        if msg.seq < expected:
            if msg.poss_dup:
                d.counters["duplicates_ignored"] += 1
                return None
            return self._fx_logout_and_disconnect(
                d, f"MsgSeqNum too low, expecting {expected} but received {msg.seq}"
            )
        r = self._fx_process(d, msg, state)
        if r is not None:
            return r
        return self._fx_drain(d, state)

    def _fx_drain(self, d: SessionData, state: str) -> Any:
        q = d.queue
        while q:
            expected = d.store.next_target_seq
            for s in [s for s in q if s < expected]:
                del q[s]  # covered by a gap fill or already seen
            m = q.pop(expected, None)
            if m is None:
                break
            r = self._fx_process(d, m, state)
            if r is not None:
                return r
        if d.resend_pending and not q and d.store.next_target_seq > d.resend_until:
            d.resend_pending = False
        return None

    def _fx_send_resend_request(self, d: SessionData, begin: int, until: int) -> None:
        d.resend_pending = True
        d.resend_until = until
        d.counters["resend_requests_sent"] += 1
        self._fx_send_admin(d, S.RESEND_REQUEST, [(S.BEGIN_SEQ_NO, begin), (S.END_SEQ_NO, 0)])
        log.info("fix %s: sequence gap, ResendRequest from %d", d.cfg.name, begin)

    def _fx_sequence_reset(self, d: SessionData, msg: FixMessage) -> Any:
        new = msg.get_int(S.NEW_SEQ_NO)
        expected = d.store.next_target_seq
        if new < expected:
            self._fx_reject(
                d, msg, Problem(S.R_VALUE_INCORRECT, S.NEW_SEQ_NO, "NewSeqNo would move the sequence back")
            )
            return None
        d.store.set_next_target_seq(new)
        d.counters["gap_fills_received"] += 1
        return self._fx_drain(d, "active")

    def _fx_process(self, d: SessionData, msg: FixMessage, state: str) -> Any:
        """Handle an in-sequence message (``msg.seq`` is the expected number, or a too-high Logout)."""
        p = msg.problem
        if p is not None:
            self._fx_advance(d, msg.seq)
            self._fx_reject(d, msg, p)
            return None
        bad = self._fx_header_ok(d, msg)
        if bad is not None:
            return bad
        mt = msg.msg_type
        if mt == S.SEQUENCE_RESET:  # GapFill (a Reset was handled before the sequence checks)
            new = msg.get_int(S.NEW_SEQ_NO)
            if new <= msg.seq:
                self._fx_advance(d, msg.seq)
                self._fx_reject(
                    d, msg, Problem(S.R_VALUE_INCORRECT, S.NEW_SEQ_NO, "NewSeqNo must exceed MsgSeqNum")
                )
                return None
            d.store.set_next_target_seq(new)
            d.counters["gap_fills_received"] += 1
            return None
        if mt == S.LOGOUT:
            if msg.seq == d.store.next_target_seq:  # a too-high Logout leaves the gap to the next session
                self._fx_advance(d, msg.seq)
            if state == "logout_sent":
                return self._fx_answer_closing(d, self._fx_disconnect(d, "logged out"), "logged_out")
            d.want_connect = d.cfg.role == "initiator"  # an initiator tries again later (as QuickFIX)
            self._fx_send_admin(d, S.LOGOUT)
            return self._fx_disconnect(d, f"Logout by the counterparty: {msg.get_str(S.TEXT)[:200]}")
        self._fx_advance(d, msg.seq)
        if mt in S.APP_TYPES:
            if mt == S.BUSINESS_MESSAGE_REJECT:
                self._fx_emit(
                    d,
                    FixRejectReceived(
                        d.cfg.name,
                        msg.get_int(S.REF_SEQ_NUM),
                        msg.get_int(S.BUSINESS_REJECT_REASON),
                        0,
                        msg.get_str(S.TEXT),
                    ),
                )
            self._fx_emit(d, FixInbound(d.cfg.name, msg))
        elif mt == S.HEARTBEAT:
            pass
        elif mt == S.TEST_REQUEST:
            self._fx_send_admin(d, S.HEARTBEAT, [(S.TEST_REQ_ID, msg.get(S.TEST_REQ_ID))])
        elif mt == S.RESEND_REQUEST:
            self._fx_resend(d, msg)
        elif mt == S.REJECT:
            d.counters["rejects_received"] += 1
            log.warning(
                "fix %s: counterparty rejected our seq %d (reason %s): %s",
                d.cfg.name,
                msg.get_int(S.REF_SEQ_NUM),
                msg.get_str(S.SESSION_REJECT_REASON, "?"),
                msg.get_str(S.TEXT)[:200],
            )
            self._fx_emit(
                d,
                FixRejectReceived(
                    d.cfg.name,
                    msg.get_int(S.REF_SEQ_NUM),
                    msg.get_int(S.SESSION_REJECT_REASON, -1),
                    msg.get_int(S.REF_TAG_ID),
                    msg.get_str(S.TEXT),
                ),
            )
        elif mt == S.LOGON:
            return self._fx_logout_and_disconnect(d, "Logon received on an active session")
        return None

    def _fx_resend(self, d: SessionData, msg: FixMessage) -> None:
        """Answer a ResendRequest: stored application messages again (PossDupFlag=Y), gaps as GapFills."""
        d.counters["resend_requests_received"] += 1
        begin = msg.get_int(S.BEGIN_SEQ_NO)
        end = msg.get_int(S.END_SEQ_NO)
        last = d.store.next_sender_seq - 1
        if end == 0 or end > last:
            end = last
        if begin < 1 or begin > end:
            return
        now_ns = time.time_ns()
        max_age = d.cfg.resend_max_age_s
        gap_from = begin
        out: list[bytes] = []
        for seq, raw in d.store.get(begin, end):
            m = d.codec.parse(raw)
            orig = m.get(S.SENDING_TIME) or utc_timestamp(now_ns)
            stale = False
            if max_age is not None:
                try:
                    stale = now_ns - parse_utc_timestamp(orig) > max_age * 1e9
                except ValueError:
                    stale = True
            if m.msg_type in S.ADMIN_TYPES or stale:
                continue
            if gap_from < seq:
                out.append(self._fx_gap_fill(d, gap_from, seq))
            out.append(self._fx_poss_dup(d, m, orig, now_ns))
            d.counters["messages_resent"] += 1
            gap_from = seq + 1
        if gap_from <= end:
            out.append(self._fx_gap_fill(d, gap_from, end + 1))
        if out:
            self._fx_write(d, b"".join(out))

    def _fx_gap_fill(self, d: SessionData, seq: int, new: int) -> bytes:
        d.counters["gap_fills_sent"] += 1
        ts = utc_timestamp(time.time_ns())
        return d.codec.encode(
            S.SEQUENCE_RESET, seq, [(S.GAP_FILL_FLAG, True), (S.NEW_SEQ_NO, new)], poss_dup_orig=ts
        )

    def _fx_poss_dup(self, d: SessionData, m: FixMessage, orig: bytes, now_ns: int) -> bytes:
        skip = {S.SENDING_TIME, S.POSS_DUP_FLAG, S.ORIG_SENDING_TIME}
        hdr = [
            (S.SENDER_COMP_ID, d.our_id),
            (S.TARGET_COMP_ID, d.their_id),
            (S.MSG_SEQ_NUM, b"%d" % m.seq),
            (S.POSS_DUP_FLAG, b"Y"),
            (S.ORIG_SENDING_TIME, orig),
            (S.SENDING_TIME, utc_timestamp(now_ns)),
        ]
        body = [
            (t, v)
            for t, v in m.fields
            if t not in skip and t not in (S.SENDER_COMP_ID, S.TARGET_COMP_ID, S.MSG_SEQ_NUM)
        ]
        return d.codec.reframe(hdr + body, m.msg_type)


# ----------------------------------------------------------------------------------------- client API
def _check(r: Any) -> Any:
    if isinstance(r, BaseException):
        raise r
    return r


def send_orders(node: Node, session: Pid | str, orders: np.ndarray, timeout: float = 5.0) -> tuple[int, int]:
    """Send ORDER_DTYPE records (new orders, cancels) through the session's template encoder; returns
    ``(first MsgSeqNum, count)`` once they are persisted and written. Raises :class:`FixNotActive` (not
    logged on: nothing sent), :class:`FixEncodeError` (a bad record: nothing sent). Plain Python; inside an
    async handler use ``await node.acall(session, ("orders", orders))`` and check for an exception."""
    return _check(node.call(session, ("orders", orders), timeout))  # type: ignore[no-any-return]


def send_message(
    node: Node, session: Pid | str, msg_type: str, fields: Iterable[tuple[int, Any]], timeout: float = 5.0
) -> int:
    """Send one application message (``fields``: body ``(tag, value)`` pairs in order); returns its MsgSeqNum."""
    return _check(node.call(session, ("send", msg_type, tuple(fields)), timeout))  # type: ignore[no-any-return]


def session_status(node: Node, session: Pid | str, timeout: float = 5.0) -> FixSessionStatus:
    return _check(node.call(session, "status", timeout))  # type: ignore[no-any-return]


def logout(node: Node, session: Pid | str, timeout: float = 5.0) -> str:
    """Log out (no reconnect afterwards until :func:`reconnect`); ``"logged_out"``, ``"timeout"`` or
    ``"not_logged_on"``. Needs the node running under asyncio to get the counterparty's answer: from asyncio
    code use ``await loop_call(node, session, "logout")``."""
    return _check(node.call(session, "logout", timeout))  # type: ignore[no-any-return]


def reconnect(node: Node, session: Pid | str, timeout: float = 5.0) -> str:
    """Allow an initiator to connect again after :func:`logout`."""
    return _check(node.call(session, "reconnect", timeout))  # type: ignore[no-any-return]


def inject(node: Node, session: Pid | str, what: str, arg: Any = None, timeout: float = 5.0) -> Any:
    """Fault injection for tests: ``drop_next_outbound`` (n app messages stored but not written: the
    counterparty sees a gap), ``skip_outbound_seq`` (n sequence numbers skipped, never stored: gap-filled on
    resend), ``send_raw`` (bytes written as they are), ``disconnect`` (drop the TCP connection)."""
    return _check(node.call(session, ("inject", what, arg), timeout))


def fix_session_child_spec(
    config: FixSessionConfig,
    app: Any = None,
    *,
    store: SessionStore | Callable[[], SessionStore] | None = None,
    restart: str = "permanent",
) -> ChildSpec:
    """A supervisor child (id ``"fix:<name>"``, registered under the same name) running one session. With a
    file store, a restarted session continues the sequence numbers."""

    def start(node: Node) -> Pid:
        return FixSession.start_session(node, config, app, store=store, link=True)

    return ChildSpec(f"fix:{config.name}", start, restart=restart, shutdown=2.0)
