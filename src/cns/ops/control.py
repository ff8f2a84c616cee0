"""The operations HTTP server: the Prometheus endpoint and the control API on one port (stdlib ``http.server``
in a daemon thread).

Routes (JSON in and out; bodies at most 64 KiB)::

    GET  /metrics                 Prometheus text exposition (no token: bind it to loopback, the default)
    GET  /healthz                 "ok"
    GET  /control/state           what the monitor shows: kill switch, limits, feeds, strategies, rules
                                  version, supervision tree, positions, P&L, risk rejects
    POST /control/kill_switch     {"on": true|false}
    POST /control/pause           {"kind": "feed"|"strategy", "name": "..."}
    POST /control/resume          {"kind": "feed"|"strategy", "name": "..."}
    POST /control/limit           {"key": "risk.max_order_qty", "value": 5000}
    POST /control/credibility     {"sources": {"reuters.com": 90}}
    POST /control/reload_rules    {"path": "rules/news.ttl"}   (path optional: the current rules file again)
    POST /control/upgrade         {"module": "cns.serve.stages"}

Authentication: every ``/control/`` route needs ``Authorization: Bearer <token>`` (or ``X-CNS-Token``),
compared with :func:`hmac.compare_digest`; the token comes from the caller (``token=``) or the environment
variable ``CNS_OPS_TOKEN`` and is never logged, echoed or kept in a ``repr``. Without a token the control
routes are open **only** on a loopback address; :class:`OpsServer` refuses to start on any other address
without one (:class:`~cns.ops.errors.UnsafeBind`).

Answers: ``200 {"ok": true, "action": ..., "changed": {...}}`` with what changed (old and new values);
errors ``{"ok": false, "error": "...", "key": "..."}`` with the status of the :class:`~cns.ops.errors.OpsError`
(400 bad value -- ``key`` names it --, 401 token, 404 unknown target, 409 refused now, 500 failed inside the
pipeline, old state kept). Every accepted control request (``POST``), successful or not, is passed to the
``journal`` callback as ``{"action", "request", "ok", "changed" | "error", "at_ns", "client"}`` after it was
applied (the durability layer's journal plugs in here); a journal that raises makes the answer carry
``"journal_error"`` but does not undo the action.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from cns.ops.errors import AuthError, BadRequest, NotFound, OpsError, UnsafeBind
from cns.ops.metrics import counter, gauge

__all__ = ["TOKEN_ENV", "ControlBackend", "OpsServer", "is_loopback"]

TOKEN_ENV = "CNS_OPS_TOKEN"
MAX_BODY = 64 << 10
_log = logging.getLogger("cns.ops")


class ControlBackend(Protocol):
    """What the control API drives (``cns.ops.backend.ServeBackend`` for a serve shard). Each method runs in
    the HTTP thread, marshals its work onto the node's thread, and returns what changed; refusals raise an
    :class:`~cns.ops.errors.OpsError`."""

    def state(self) -> dict[str, Any]:
        """A JSON-able snapshot of the shard: feeds, strategies, rules version, supervision tree, positions
        (shares), P&L (USD), risk rejects and order counts."""

    def kill_switch(self, on: bool) -> dict[str, Any]:
        """Engage (``on``: no new orders) or release the risk kill switch; returns ``{"kill_switch": {old, new}}``."""

    def pause(self, kind: str, name: str) -> dict[str, Any]:
        """Suspend the feed or strategy ``name`` (``kind`` ``"feed"``/``"strategy"``); idempotent. Raises NotFound
        for an unknown name, ActionFailed if it is not running."""

    def resume(self, kind: str, name: str) -> dict[str, Any]:
        """Resume what :meth:`pause` suspended; idempotent. Raises NotFound for an unknown name."""

    def set_limit(self, key: str, value: Any) -> dict[str, Any]:
        """Set one risk limit ``key`` (a RiskConfig field, in its own units) to ``value``; raises BadRequest naming
        the key for an unknown key or an invalid value."""

    def set_credibility(self, sources: Mapping[str, Any]) -> dict[str, Any]:
        """Merge per-source credibility scores (domain -> 0..100) into both stages atomically; raises NotFound
        when not enabled, BadRequest for a bad score, Conflict while another update runs."""

    def reload_rules(self, path: str | None) -> dict[str, Any]:
        """Swap in the news rules at ``path`` (None: re-read the current file); raises NotFound when not enabled,
        Conflict while another reload runs, ReloadError when the new rules fail (the old ones stay)."""

    def upgrade(self, module: str) -> dict[str, Any]:
        """Hot-reload ``module`` and upgrade its running behaviours; raises BadRequest / NotFound / ReloadError."""


Journal = Callable[[dict[str, Any]], Any]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any loopback IPv4/IPv6 address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _str(body: Mapping[str, Any], key: str) -> str:
    v = body.get(key)
    if not isinstance(v, str) or not v:
        raise BadRequest(f"'{key}' must be a non-empty string", key)
    return v


def _dispatch(backend: ControlBackend, action: str, body: dict[str, Any]) -> dict[str, Any]:
    if action == "kill_switch":
        on = body.get("on")
        if not isinstance(on, bool):
            raise BadRequest("'on' must be true or false", "on")
        return backend.kill_switch(on)
    if action in ("pause", "resume"):
        kind = _str(body, "kind")
        if kind not in ("feed", "strategy"):
            raise BadRequest(f"'kind' must be 'feed' or 'strategy', got {kind!r}", "kind")
        name = _str(body, "name")
        return backend.pause(kind, name) if action == "pause" else backend.resume(kind, name)
    if action == "limit":
        if "value" not in body:
            raise BadRequest("'value' is required", "value")
        return backend.set_limit(_str(body, "key"), body["value"])
    if action == "credibility":
        src = body.get("sources")
        if not isinstance(src, dict) or not src:
            raise BadRequest("'sources' must be a non-empty object of domain: score", "sources")
        return backend.set_credibility(src)
    if action == "reload_rules":
        path = body.get("path")
        if path is not None and (not isinstance(path, str) or not path):
            raise BadRequest("'path' must be a non-empty string when given", "path")
        return backend.reload_rules(path)
    if action == "upgrade":
        return backend.upgrade(_str(body, "module"))
    raise NotFound(f"unknown control action {action!r}")


class OpsServer:
    """The metrics endpoint (``registry``) and, with a ``backend``, the control API, on ``host:port``
    (``port`` 0: chosen by the OS; read :attr:`port`). ``token``: the control token (default
    ``$CNS_OPS_TOKEN``; empty = none). ``journal``: called with every control action's record. Refuses a
    non-loopback ``host`` when the control API is on and there is no token (:class:`UnsafeBind`).

    Start with :meth:`start` (returns self), stop with :meth:`close` (idempotent). The server thread and its
    per-request threads are daemons: a process exiting never waits for them."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        backend: ControlBackend | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        journal: Journal | None = None,
    ) -> None:
        tok = token if token is not None else os.environ.get(TOKEN_ENV, "")
        self._token = tok.encode() if tok else None
        if backend is not None and self._token is None and not is_loopback(host):
            raise UnsafeBind(
                f"refusing to serve the control API on non-loopback address {host!r} without a token "
                f"(set {TOKEN_ENV} or pass token=)"
            )
        self.registry = registry
        self.backend = backend
        self.journal = journal
        self.host = host
        self.actions: Counter[tuple[str, str]] = Counter()
        self._httpd = ThreadingHTTPServer((host, port), _handler_class(self))
        self._httpd.daemon_threads = True
        self.port: int = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"OpsServer(http://{self.host}:{self.port}, control={'on' if self.backend else 'off'}, "
            f"token={'set' if self._token else 'none'})"
        )

    @property
    def url(self) -> str:
        """The server's base URL, ``http://host:port`` (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> OpsServer:
        """Start serving in a daemon thread (idempotent); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.2},
                name=f"cns-ops:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving (waits up to 5 s for the thread) and close the socket; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5.0)
        self._httpd.server_close()

    def __enter__(self) -> OpsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def authorized(self, headers: Any) -> bool:
        """True when the request carries the token (or no token is configured: loopback only, see above)."""
        if self._token is None:
            return True
        got = headers.get("Authorization", "")
        if got.startswith("Bearer "):
            got = got[len("Bearer ") :]
        else:
            got = headers.get("X-CNS-Token", "")
        return hmac.compare_digest(got.strip().encode(), self._token)

    def control(self, action: str, body: dict[str, Any], client: str) -> dict[str, Any]:
        """Run one control action (already authenticated); journal it; return the answer body."""
        assert self.backend is not None
        rec: dict[str, Any] = {"action": action, "request": body, "at_ns": time.time_ns(), "client": client}
        try:
            changed = _dispatch(self.backend, action, body)
        except OpsError as e:
            rec.update(ok=False, error=str(e))
            self.actions[(action, "error")] += 1
            self._journal(rec)
            raise
        rec.update(ok=True, changed=changed)
        self.actions[(action, "ok")] += 1
        out: dict[str, Any] = {"ok": True, "action": action, "changed": changed}
        err = self._journal(rec)
        if err:
            out["journal_error"] = err
        return out

    def _journal(self, rec: dict[str, Any]) -> str | None:
        if self.journal is None:
            return None
        try:
            self.journal(rec)
        except Exception as e:  # noqa: BLE001 - reported in the answer, the action stands
            _log.warning("ops journal callback failed: %s", type(e).__name__)
            return f"{type(e).__name__}: {e}"
        return None

    def metrics(self) -> Iterator[Metric]:
        """``cns_ops_actions_total{action,result}``: control actions answered (a part for the collector)."""
        c = counter(
            "cns_ops_actions_total", "Control API actions, by action and result", ["action", "result"]
        )
        for (a, r), v in dict(self.actions).items():
            c.add_metric([a, r], v)
        yield c
        g = gauge("cns_ops_control_enabled", "1 when the control API is served")
        g.add_metric([], 1.0 if self.backend is not None else 0.0)
        yield g


def _handler_class(server: OpsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "cns-ops"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            _log.debug("%s %s", self.address_string(), format % args)  # request line and status only

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if status == HTTPStatus.UNAUTHORIZED:
                self.send_header("WWW-Authenticate", 'Bearer realm="cns-ops"')
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj, default=_json_default).encode() + b"\n")

        def _error(self, e: OpsError) -> None:
            body: dict[str, Any] = {"ok": False, "error": str(e)}
            key = getattr(e, "key", None)
            if key:
                body["key"] = key
            self._json(e.status, body)

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            path = self.path.split("?", 1)[0]
            if path == "/metrics" and server.registry is not None:
                self._send(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b"ok\n", "text/plain")
            elif path == "/control/state" and server.backend is not None:
                if not server.authorized(self.headers):
                    self._error(AuthError("missing or wrong token"))
                    return
                try:
                    self._json(200, {"ok": True, "state": server.backend.state()})
                except OpsError as e:
                    self._error(e)
                except Exception as e:  # noqa: BLE001 - a bug: 500, the server keeps serving
                    _log.exception("control state failed")
                    self._json(500, {"ok": False, "error": f"{type(e).__name__}: {e}"})
            else:
                self._error(NotFound(f"no route GET {path}"))

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            path = self.path.split("?", 1)[0]
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                self.close_connection = True
                self._error(BadRequest(f"body of {n} bytes is above {MAX_BODY}", "body"))
                return
            raw = self.rfile.read(n) if n else b""
            if not path.startswith("/control/") or server.backend is None:
                self._error(NotFound(f"no route POST {path}"))
                return
            if not server.authorized(self.headers):
                self._error(AuthError("missing or wrong token"))
                return
            try:
                body = json.loads(raw or b"{}")
            except (ValueError, UnicodeDecodeError):
                self._error(BadRequest("body is not JSON", "body"))
                return
            if not isinstance(body, dict):
                self._error(BadRequest("body must be a JSON object", "body"))
                return
            try:
                self._json(200, server.control(path[len("/control/") :], body, self.client_address[0]))
            except OpsError as e:
                self._error(e)
            except Exception as e:  # noqa: BLE001 - a bug in an action: 500, the server keeps serving
                _log.exception("control action %s failed", path)
                self._json(500, {"ok": False, "error": f"{type(e).__name__}: {e}"})

        do_HEAD = do_GET

    return Handler


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return repr(o)
