"""A QuickFIX (quickfix-ssl) counterparty in its own process, driven by JSON lines on stdin, reporting JSON
lines on stdout. Used by the interop tests as the independent FIX implementation.

    python qf_peer.py SETTINGS_FILE {acceptor|initiator}

Acceptor application: echoes fills -- a NewOrderSingle gets an ExecutionReport New then a full Fill at its
limit price (100 for a market order); an OrderCancelRequest gets a Canceled report; a cancel/replace gets a
Replaced report; an OrderMassCancelRequest gets an OrderMassCancelReport (all canceled).

Commands (one JSON object per line): ``{"cmd": "send", "type": "D", "fields": [[tag, "value"], ...]}``,
``{"cmd": "skip_seq", "n": 3}``, ``{"cmd": "disconnect"}``, ``{"cmd": "logout"}``, ``{"cmd": "status"}``,
``{"cmd": "stop"}``. Events: ``{"ev": "started"}``, ``{"ev": "logon"}``, ``{"ev": "logout"}``,
``{"ev": "from_app"|"from_admin"|"to_admin"|"to_app", "type": ..., "seq": ..., "msg": "8=..|9=..|..."}``,
``{"ev": "status", ...}``, ``{"ev": "error", "text": ...}``.
"""

from __future__ import annotations

import json
import sys
import threading

import quickfix as fix

_out_lock = threading.Lock()


def emit(**kw: object) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(kw) + "\n")
        sys.stdout.flush()


def text(msg: fix.Message) -> str:
    return msg.toString().replace("\x01", "|")


def mtype(msg: fix.Message) -> str:
    return msg.getHeader().getField(35)


def seqnum(msg: fix.Message) -> int:
    try:
        return int(msg.getHeader().getField(34))
    except Exception:  # noqa: BLE001
        return 0


class Peer(fix.Application):
    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role
        self.sid: fix.SessionID | None = None
        self.exec_id = 0
        self.order_id = 0

    def onCreate(self, sessionID: fix.SessionID) -> None:  # noqa: N802,N803
        self.sid = sessionID

    def onLogon(self, sessionID: fix.SessionID) -> None:  # noqa: N802,N803
        emit(ev="logon")

    def onLogout(self, sessionID: fix.SessionID) -> None:  # noqa: N802,N803
        emit(ev="logout")

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802,N803
        emit(ev="to_admin", type=mtype(message), seq=seqnum(message), msg=text(message))

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802,N803
        emit(ev="from_admin", type=mtype(message), seq=seqnum(message), msg=text(message))

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802,N803
        emit(ev="to_app", type=mtype(message), seq=seqnum(message), msg=text(message))

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802,N803
        t = mtype(message)
        emit(ev="from_app", type=t, seq=seqnum(message), msg=text(message))
        if self.role != "acceptor":
            return
        if t == "D":
            self._report(message, sessionID, "0", "0", 0, 0.0)
            qty = float(message.getField(38))
            px = float(message.getField(44)) if message.isSetField(44) else 100.0
            self._report(message, sessionID, "F", "2", qty, px)
        elif t == "F":
            self._report(message, sessionID, "4", "4", 0, 0.0)
        elif t == "G":
            self._report(message, sessionID, "5", "0", 0, 0.0)
        elif t == "q":
            r = fix.Message()
            r.getHeader().setField(fix.MsgType("r"))
            r.setField(fix.StringField(11, message.getField(11)))
            r.setField(fix.StringField(37, f"MC{self._next_order()}"))
            r.setField(fix.StringField(530, message.getField(530)))
            r.setField(fix.StringField(531, message.getField(530)))
            r.setField(fix.StringField(533, "0"))
            fix.Session.sendToTarget(r, sessionID)

    def _next_order(self) -> int:
        self.order_id += 1
        return self.order_id

    def _report(
        self, req: fix.Message, sid: fix.SessionID, exec_type: str, status: str, qty: float, px: float
    ) -> None:
        self.exec_id += 1
        r = fix.Message()
        r.getHeader().setField(fix.MsgType("8"))
        r.setField(fix.StringField(37, f"QF{self._next_order()}"))
        r.setField(fix.StringField(11, req.getField(11)))
        if req.isSetField(41):
            r.setField(fix.StringField(41, req.getField(41)))
        r.setField(fix.StringField(17, f"E{self.exec_id}"))
        r.setField(fix.StringField(150, exec_type))
        r.setField(fix.StringField(39, status))
        r.setField(fix.StringField(55, req.getField(55)))
        r.setField(fix.StringField(54, req.getField(54)))
        oq = req.getField(38) if req.isSetField(38) else "0"
        r.setField(fix.StringField(38, oq))
        if qty:
            r.setField(fix.StringField(32, f"{qty:g}"))
            r.setField(fix.StringField(31, f"{px:.8g}"))
        r.setField(fix.StringField(151, "0" if status in ("2", "4") else oq))
        r.setField(fix.StringField(14, f"{qty:g}"))
        r.setField(fix.StringField(6, f"{px:.8g}"))
        r.setField(fix.StringField(60, req.getField(60)))
        fix.Session.sendToTarget(r, sid)


def main() -> int:
    settings_path, role = sys.argv[1], sys.argv[2]
    settings = fix.SessionSettings(settings_path)
    app = Peer(role)
    store = fix.FileStoreFactory(settings)
    logs = fix.FileLogFactory(settings)
    try:
        engine = (fix.SocketAcceptor if role == "acceptor" else fix.SocketInitiator)(
            app, store, settings, logs
        )
        engine.start()
    except Exception as e:  # noqa: BLE001
        emit(ev="error", text=f"start failed: {e}")
        return 3
    emit(ev="started")
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                c = json.loads(line)
                cmd = c["cmd"]
                sess = fix.Session.lookupSession(app.sid) if app.sid is not None else None
                if cmd == "stop":
                    break
                if cmd == "send":
                    m = fix.Message()
                    m.getHeader().setField(fix.MsgType(c["type"]))
                    for tag, v in c["fields"]:
                        m.setField(fix.StringField(int(tag), str(v)))
                    ok = fix.Session.sendToTarget(m, app.sid)
                    emit(ev="sent", ok=bool(ok))
                elif cmd == "skip_seq":
                    sess.setNextSenderMsgSeqNum(sess.getExpectedSenderNum() + int(c["n"]))
                    emit(ev="skipped", next=sess.getExpectedSenderNum())
                elif cmd == "disconnect":
                    sess.disconnect()
                    emit(ev="disconnected")
                elif cmd == "logout":
                    sess.logout("bye")
                elif cmd == "status":
                    emit(
                        ev="status",
                        logged_on=bool(sess.isLoggedOn()) if sess else False,
                        next_sender=sess.getExpectedSenderNum() if sess else 0,
                        next_target=sess.getExpectedTargetNum() if sess else 0,
                    )
                else:
                    emit(ev="error", text=f"unknown command {cmd}")
            except Exception as e:  # noqa: BLE001
                emit(ev="error", text=repr(e))
    finally:
        engine.stop()
        emit(ev="stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
