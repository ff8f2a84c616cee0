"""The feeds package's error tree.

Bad *input from a peer* (a malformed frame, a bad record) is quarantined, never raised; these errors are
for bad API use and refused configuration (a bad :class:`~cns.feeds.handler.FeedConfig`, a server asked to
replay an empty file, a handler started outside an asyncio loop).
"""

from __future__ import annotations

from cns.errors import CNSError

__all__ = ["FeedConfigError", "FeedError"]


class FeedError(CNSError):
    """Base of every error raised by :mod:`cns.feeds`."""


class FeedConfigError(FeedError):
    """A feed server or handler was configured with an invalid value (names the field and the rule)."""
