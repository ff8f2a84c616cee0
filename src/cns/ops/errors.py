"""Errors of the operations layer (metrics endpoint, control API, monitor, hot reload).

Every deliberate refusal is an :class:`OpsError` (a :class:`~cns.errors.CNSError`), so ``cns`` prints one
line and exits 2. The control API maps them to HTTP statuses through :attr:`OpsError.status`: 400 for a bad
request (the message names the key), 401 for a missing or wrong token, 404 for an unknown target, 409 for an
action the current state refuses, 500 for an action that failed inside the pipeline.
"""

from __future__ import annotations

from cns.errors import CNSError

__all__ = [
    "ActionFailed",
    "AuthError",
    "BadRequest",
    "Conflict",
    "NotFound",
    "OpsError",
    "ReloadError",
    "UnsafeBind",
]


class OpsError(CNSError):
    """Root of the operations layer's deliberate errors. ``status``: the HTTP status the control API answers."""

    status = 500


class BadRequest(OpsError):
    """A control request is malformed or a value is out of range; ``key`` names the offending key."""

    status = 400

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class AuthError(OpsError):
    """The request carries no token or a wrong one (the token is never echoed or logged)."""

    status = 401


class NotFound(OpsError):
    """Unknown action, feed, strategy, process or module."""

    status = 404


class Conflict(OpsError):
    """The action is refused in the current state (e.g. a reload already running)."""

    status = 409


class ActionFailed(OpsError):
    """The action was accepted but failed inside the pipeline (the old state is kept; the reason is named)."""

    status = 500


class ReloadError(ActionFailed):
    """A hot reload failed (rules that do not compile, a swap that timed out): the old version keeps running."""


class UnsafeBind(OpsError):
    """The control API was asked to listen on a non-loopback address without a token."""

    status = 400
