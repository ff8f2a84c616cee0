"""The root of every exception CNS raises on purpose.

Each package has its own root deriving from :class:`CNSError` (``ActorError`` for the runtime and OTP
behaviours, ``RuleError``, ``NewsError``, ``TradingError``, ``VenueError``, ...), so callers can catch
everything CNS refuses with one ``except CNSError`` and one package's refusals with its own root. A bug
(an exception that is not a ``CNSError``) is never caught by that clause.
"""

from __future__ import annotations

__all__ = ["CNSError"]


class CNSError(Exception):
    """Base class of every deliberate CNS error: invalid input, invalid API use, refused configuration."""
