"""The venue gateway's error tree: refused configuration and bad API use. A counterparty's bad order never
raises: it gets an ExecutionReport ``39=8`` (rejected), an OrderCancelReject ``35=9`` or a session Reject."""

from __future__ import annotations

from cns.errors import CNSError

__all__ = ["GatewayConfigError", "GatewayError"]


class GatewayError(CNSError):
    """Base of every error raised by :mod:`cns.gateway`."""


class GatewayConfigError(GatewayError, ValueError):
    """A venue config value is missing or out of range (the message names the key, never a credential)."""
