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
  gap is filled. A ResendRequest or Logout that arrives too high is acted on at once (a ResendRequest after
  the header checks, and only once: when the gap before it is filled its number is just consumed).
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

This module is the state machine; the rest of the session is in :mod:`cns.fix.session_config`
(:class:`FixSessionConfig`, :class:`Backoff`), :mod:`cns.fix.session_events` (the events and requests
above), :mod:`cns.fix.session_data` (the machine's data), :mod:`cns.fix.session_inbound` (framing, parsing
and header checks), :mod:`cns.fix.session_send` (numbering, persisting and writing outbound messages,
heartbeats), :mod:`cns.fix.session_resend` (sequence gaps both ways), :mod:`cns.fix.session_sequenced` (the
frames of a logged-on session, handled in sequence order) and :mod:`cns.fix.session_api` (the client
functions). Every public name is importable from here.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

from cns.fix import session_inbound as inbound
from cns.fix import session_resend as gaps
from cns.fix import session_send as outbound
from cns.fix import spec as S
from cns.fix.codec import FixMessage, Garbled
from cns.fix.errors import (
    FixConfigError,
    FixEncodeError,
    FixError,
    FixNotActive,
    FixSessionError,
    FixStoreError,
)
from cns.fix.session_api import inject, logout, reconnect, send_message, send_orders, session_status
from cns.fix.session_config import ROLES as ROLES
from cns.fix.session_config import Backoff, FixSessionConfig
from cns.fix.session_data import COUNTERS as COUNTERS
from cns.fix.session_data import (
    SessionData,
    attach_link,
    consume_inbound,
    detach_link,
    new_session_data,
    status_of,
)
from cns.fix.session_events import (
    Attach,
    FixInbound,
    FixRejectReceived,
    FixSend,
    FixSessionDown,
    FixSessionStatus,
    FixSessionUp,
    deliver,
)
from cns.fix.session_sequenced import SequencedInbound
from cns.fix.store import SessionStore
from cns.fix.transport import Closed, Connected, ConnectFailed, Rx, open_connection, running_loop
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


class _Tick:
    __repr__ = lambda self: "_TICK"  # noqa: E731


_TICK = _Tick()

_SEND_ERRORS = (FixEncodeError, FixStoreError)  # answered to send_message's caller
_ORDER_ERRORS = (FixEncodeError, FixConfigError, FixStoreError)  # answered to send_orders' caller


def _attempt(errors: tuple[type[Exception], ...], fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, or the exception of ``errors`` it raised (the caller gets it as the answer)."""
    try:
        return fn(*args)
    except errors as e:
        return e


# ----------------------------------------------------------------------------------------- the machine
class FixSession(SequencedInbound, GenStatem[str, SessionData]):
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
        d = new_session_data(cfg, app, store)
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
        with contextlib.suppress(FixError):
            data.store.close()

    # ------------------------------------------------------------------ application and connection
    def _fx_emit(self, d: SessionData, event: Any) -> None:
        if not deliver(self.node, d.app, event):
            d.counters["send_errors"] += 1

    def _fx_disconnect(self, d: SessionData, reason: str, *, abort: bool = False) -> NextState:
        detach_link(d, abort)
        d.counters["disconnects"] += 1
        d.store.checkpoint()
        if d.up:
            d.up = False
            self._fx_emit(d, FixSessionDown(d.cfg.name, reason))
        log.info("fix %s: disconnected: %s", d.cfg.name, reason)
        return NextState("disconnected", d)

    def _fx_logout_and_disconnect(self, d: SessionData, text: str) -> NextState:
        with contextlib.suppress(FixError):  # a store failure: disconnect anyway
            outbound.send_admin(d, S.LOGOUT, [(S.TEXT, text)])
        return self._fx_disconnect(d, text)

    def _fx_connect(self, d: SessionData) -> None:
        loop = running_loop("a FIX initiator")
        d.gen += 1
        loop.create_task(
            open_connection(self.node, self.pid, d.gen, d.cfg.host, d.cfg.port, d.cfg.connect_timeout_s)
        )

    def _fx_frames(self, d: SessionData, data: bytes) -> Any:
        """Frame ``data``; each item becomes an inserted event handled in order (None: no frame yet)."""
        return [NextEvent("internal", it) for it in inbound.read_frames(d, data)] or None

    # ------------------------------------------------------------------ events every state handles
    def _fx_common(self, et: Any, content: Any, state: str, d: SessionData) -> Any:
        """Events every state handles the same way."""
        cls = content.__class__
        if cls is FixSend and et in ("info", "cast"):
            outbound.send_cast(d, content, active=False)
            return None
        if et == "info":
            return self._fx_info(content, state, d)
        if et == "internal" and cls is Garbled:
            d.counters["garbled"] += 1
            log.warning("fix %s: ignored garbled input: %s", d.cfg.name, content)
            return None
        if et.__class__ is Call:
            return self._fx_call_common(et.from_, content, state, d)
        return None

    def _fx_info(self, msg: Any, state: str, d: SessionData) -> Any:
        """Socket events and the heartbeat tick."""
        cls = msg.__class__
        if cls is Rx:
            return self._fx_rx(msg, d)
        if cls is Closed:
            if msg.gen != d.gen or state == "disconnected":
                return None
            d.link = None
            return self._fx_disconnect(d, msg.reason)
        if cls is _Tick:
            return self._fx_tick(state, d)
        if cls is Attach:
            return self._fx_attach_again(msg, d)
        if cls is Connected:
            msg.link.abort()  # a stale connect: not ours any more
        return None  # also a stale ConnectFailed

    def _fx_rx(self, rx: Rx, d: SessionData) -> Any:
        if rx.gen != d.gen:
            return None
        if d.link is not None:
            d.link.consumed()
        acts = self._fx_frames(d, rx.data)
        return KeepState(actions=acts) if acts else None

    def _fx_attach_again(self, att: Attach, d: SessionData) -> Any:
        """A connection from the acceptor while this session has one."""
        old = d.link
        if old is None or old.closed or old.transport is None or old.transport.is_closing():
            # the old connection is gone, its Closed not handled yet: take the new one
            self._fx_disconnect(d, "connection lost")
            return NextState("disconnected", d, NextEvent("info", att))
        # a second connection for a connected session: refuse it (the first one stays)
        log.warning("fix %s: refused a second connection", d.cfg.name)
        att.link.abort()
        return None

    def _fx_call_common(self, frm: Any, req: Any, state: str, d: SessionData) -> Any:
        if req == "status":
            return KeepState(actions=Reply(frm, status_of(d, state)))
        if req == "reconnect":
            d.want_connect = True
            if state == "disconnected" and d.cfg.role == "initiator":
                return RepeatState(actions=Reply(frm, "ok"))
            return KeepState(actions=Reply(frm, "ok"))
        if isinstance(req, tuple) and req and req[0] == "inject":
            return KeepState(actions=Reply(frm, outbound.inject_fault(d, req[1], req[2])))
        if req == "logout":
            d.want_connect = False
            return KeepState(actions=Reply(frm, "not_logged_on"))
        if isinstance(req, tuple) and req and req[0] in ("orders", "send"):
            return KeepState(actions=Reply(frm, FixNotActive(f"session {d.cfg.name} is {state}, not active")))
        return KeepState(actions=Reply(frm, FixSessionError(f"unknown request {req!r}")))

    def _fx_tick(self, state: str, d: SessionData) -> Any:
        if state not in ("active", "logout_sent") or d.hb <= 0:
            return None
        if outbound.keep_alive(d):
            return self._fx_disconnect(d, "counterparty silent (TestRequest unanswered)", abort=True)
        return None

    # ------------------------------------------------------------------ states
    def disconnected(self, et: Any, content: Any, d: SessionData) -> Any:
        """State ``disconnected``: an initiator connects (first at once, then after the Backoff delay in s); an
        acceptor waits for an Attach from the acceptor.
        """
        if et == "enter":
            if d.cfg.role == "initiator" and d.want_connect:
                delay = 0.0 if d.first_attempt else d.backoff.next_delay()
                d.first_attempt = False
                return KeepState(actions=StateTimeout(delay, "connect"))
            return None
        if et == "state_timeout" and content == "connect":
            self._fx_connect(d)
            return None
        if et == "info":
            cls = content.__class__
            if cls is Connected:
                return self._fx_connected(content, d)
            if cls is ConnectFailed:
                return self._fx_connect_failed(content, d)
            if cls is Attach and d.cfg.role == "acceptor":
                return self._fx_attached(content, d)
        return self._fx_common(et, content, "disconnected", d)

    def _fx_connected(self, c: Connected, d: SessionData) -> Any:
        """Initiator: our connection is up: send the Logon."""
        if c.gen != d.gen or not d.want_connect:
            c.link.abort()
            return None
        attach_link(d, c.link)
        reset = d.cfg.reset_on_logon
        if reset:
            d.store.reset()
        outbound.send_admin(d, S.LOGON, outbound.logon_body(d, reset))
        return NextState("logon_sent", d)

    def _fx_connect_failed(self, c: ConnectFailed, d: SessionData) -> Any:
        if c.gen != d.gen:
            return None
        d.counters["connect_failures"] += 1
        log.info("fix %s: %s", d.cfg.name, c.reason)
        return RepeatState() if d.want_connect else None

    def _fx_attached(self, att: Attach, d: SessionData) -> Any:
        """Acceptor: a connection whose Logon names us (the acceptor already pointed it at us)."""
        attach_link(d, att.link)
        d.gen = att.link.gen
        acts = self._fx_frames(d, att.early)
        return NextState("logon_wait", d, acts or ())

    def logon_sent(self, et: Any, content: Any, d: SessionData) -> Any:
        """Initiator: our Logon is out, waiting for the counterparty's."""
        if et == "enter":
            return KeepState(actions=StateTimeout(d.cfg.logon_timeout_s, "logon_timeout"))
        if et == "state_timeout":
            return self._fx_disconnect(d, "no Logon response", abort=True)
        if et == "internal" and content.__class__ is bytes:
            msg = inbound.parse_frame(d, content)
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
            msg = inbound.parse_frame(d, content)
            if msg.msg_type != S.LOGON or (msg.problem is not None and msg.problem.fatal):
                return self._fx_disconnect(d, "first message is not a Logon", abort=True)
            if msg.problem is not None:
                outbound.send_reject(d, msg, msg.problem)
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
            return self._fx_logout_and_disconnect(d, inbound.too_low(expected, msg.seq))
        if respond:
            outbound.send_admin(d, S.LOGON, outbound.logon_body(d, reset))
        gap = msg.seq > expected and not reset
        if not gap:
            consume_inbound(d, msg.seq)
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
            gaps.request_resend(d, expected, msg.seq)
        return NextState("active", d)

    def active(self, et: Any, content: Any, d: SessionData) -> Any:
        """State ``active`` (logged on): inbound frames are sequenced and delivered, calls and FixSend casts are
        sent; everything else goes through the common handling.
        """
        if et == "enter":
            return None
        if et == "internal" and content.__class__ is bytes:
            return self._fx_on_frame(d, content, "active")
        if et.__class__ is Call:
            r = self._fx_call_active(et.from_, content, d)
            if r is not None:
                return r
        if content.__class__ is FixSend and et in ("info", "cast"):
            outbound.send_cast(d, content, active=True)
            return None
        return self._fx_common(et, content, "active", d)

    def _fx_call_active(self, frm: Any, req: Any, d: SessionData) -> Any:
        """The calls only an active session answers: send orders, send a message, log out."""
        if isinstance(req, tuple) and req:
            if req[0] == "orders":
                return KeepState(
                    actions=Reply(frm, _attempt(_ORDER_ERRORS, outbound.send_order_batch, d, req[1]))
                )
            if req[0] == "send":
                return KeepState(
                    actions=Reply(frm, _attempt(_SEND_ERRORS, outbound.send_app, d, req[1], req[2]))
                )
        if req == "logout":
            d.want_connect = False
            d.closing = frm
            outbound.send_admin(d, S.LOGOUT)
            return NextState("logout_sent", d)
        return None

    def logout_sent(self, et: Any, content: Any, d: SessionData) -> Any:
        """State ``logout_sent``: wait ``logout_timeout_s`` (s) for the counterparty's Logout, then disconnect."""
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
