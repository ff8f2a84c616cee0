"""Errors of the live service (``cns serve``): every refusal is a :class:`ServeError`, a
:class:`~cns.errors.CNSError`, so the CLI prints one line and exits 2."""

from __future__ import annotations

from cns.errors import CNSError

__all__ = ["PeerUnreachable", "ServeConfigError", "ServeError", "ServeStartError"]


class ServeError(CNSError):
    """Root of the live service's deliberate errors."""


class ServeConfigError(ServeError):
    """The serve configuration is refused: unreadable file, unknown key, bad value, missing credential (the
    message names the key or the environment variable, never a credential's value)."""


class ServeStartError(ServeError):
    """The service could not start: a process of the tree failed its ``init`` (the reason is named)."""


class PeerUnreachable(ServeStartError):
    """A peer (feed server, FIX counterparty, market-data publisher) was not reachable -- or, for FIX, did not
    log on -- within the start-up connect timeout."""
