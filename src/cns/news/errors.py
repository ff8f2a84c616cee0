"""The news package's error tree. Bad *input* is quarantined, never raised; these are for bad API use."""

from __future__ import annotations

from cns.errors import CNSError


class NewsError(CNSError):
    """Base of every error raised by :mod:`cns.news`."""


class NewsFormatError(NewsError):
    """A file is not in a format this package reads (unknown extension/magic, unsupported version,
    a header that contradicts the file size). Raised before any record is read."""


class NewsBatchError(NewsError):
    """A :class:`cns.news.NewsBatch` was built or used inconsistently (wrong dtype, blob too short, ...)."""


class NewsConfigError(NewsError, ValueError):
    """A reader/writer setting is out of range (e.g. a :class:`cns.news.batch.TimeWindow` that is empty or
    outside int64); the message names the setting."""
