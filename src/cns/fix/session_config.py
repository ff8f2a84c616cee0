"""Configuration of a FIX session (:class:`FixSessionConfig`) and its reconnect delays (:class:`Backoff`).

Re-exported by :mod:`cns.fix.session` and :mod:`cns.fix`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from cns.fix import spec as S
from cns.fix.codec import DEFAULT_MAX_MESSAGE_BYTES
from cns.fix.errors import FixConfigError
from cns.fix.orders import SymbolTable
from cns.otp.backoff import Backoff  # noqa: F401 (re-exported)

__all__ = ["ROLES", "Backoff", "FixSessionConfig"]

ROLES = ("initiator", "acceptor")

_SECONDS = ("logon_timeout_s", "logout_timeout_s", "connect_timeout_s", "reconnect_base_s", "reconnect_max_s")


def _bad(name: str, rule: str) -> FixConfigError:
    return FixConfigError(f"FixSessionConfig.{name}: {rule}")


def _is_number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float))


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
    ResetSeqNumFlag=Y on our Logon (both numbers back to 1). ``store_dir``: a
    :class:`~cns.fix.store.FileSessionStore` there (None: in memory); ``store_fsync``: see
    :mod:`cns.fix.store`. ``symbols``: instrument code -> Symbol, needed by
    :func:`~cns.fix.session.send_orders`. ``max_latency_s``: SendingTime tolerance (None: unchecked).
    ``resend_max_age_s``: application messages older than this are gap-filled, not resent (None: resend
    all). ``max_queued_messages``: early (too-high) messages held while a gap is filled.
    ``persist_when_down``: a :class:`~cns.fix.session.FixSend` while not logged on is numbered and stored
    without being written, so the counterparty gets it by resend after its next Logon (a venue's reports;
    QuickFIX's ``sendToTarget`` does the same); otherwise it is dropped and counted. Orders
    (:func:`~cns.fix.session.send_orders`) are always refused while down.

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
        self._check_identity()
        self._check_connection()
        self._check_limits()

    def _check_identity(self) -> None:
        """Name, CompIDs and role."""
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.name):
            raise _bad("name", "1..64 characters of [A-Za-z0-9_.-]")
        for n in ("sender_comp_id", "target_comp_id"):
            v = getattr(self, n)
            if not isinstance(v, str) or not v or not v.isprintable() or "=" in v or len(v) > 64:
                raise _bad(
                    n, "1..64 printable characters without '=' (set it in the config or the environment)"
                )
        if self.role not in ROLES:
            raise _bad("role", f"one of {ROLES}")

    def _check_connection(self) -> None:
        """Port, HeartBtInt, timeouts and reconnect delays."""
        if self.role == "initiator" and not (isinstance(self.port, int) and 0 < self.port < 65536):
            raise _bad("port", "the acceptor's port, 1..65535")
        if (
            isinstance(self.heartbeat_s, bool)
            or not isinstance(self.heartbeat_s, int)
            or not 0 <= self.heartbeat_s <= S.MAX_HEART_BT_INT
        ):
            raise _bad("heartbeat_s", f"an int in 0..{S.MAX_HEART_BT_INT}")
        for n in _SECONDS:
            v = getattr(self, n)
            if not _is_number(v) or not 0 < v <= 3600:
                raise _bad(n, "seconds in (0, 3600]")
        if not 0 <= self.reconnect_jitter <= 1:
            raise _bad("reconnect_jitter", "in [0, 1]")

    def _check_limits(self) -> None:
        """Latency and resend ages, the gap queue, the symbol table, the credentials."""
        for n in ("max_latency_s", "resend_max_age_s"):
            v = getattr(self, n)
            if v is not None and (not _is_number(v) or not 0 < v < math.inf):
                raise _bad(n, "None or finite seconds > 0")
        if not isinstance(self.max_queued_messages, int) or self.max_queued_messages < 1:
            raise _bad("max_queued_messages", "an int >= 1")
        if self.symbols is not None and not isinstance(self.symbols, SymbolTable):
            raise _bad("symbols", "a cns.fix.orders.SymbolTable")
        for n in ("username", "password"):
            v = getattr(self, n)
            if v is not None and (not isinstance(v, str) or "\x01" in v or not v):
                raise _bad(n, "a non-empty string without SOH")

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
