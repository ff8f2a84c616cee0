"""Error tree of :mod:`cns.signals`: ``SignalsError`` is the root; messages say which schema/field/ring."""

from __future__ import annotations

from cns.errors import CNSError

__all__ = ["SignalsError", "SchemaError", "RingError"]


class SignalsError(CNSError):
    """Root of every error raised by :mod:`cns.signals`."""


class SchemaError(SignalsError):
    """A schema binding is inconsistent with its dtype, or a property/class/dtype is not registered."""


class RingError(SignalsError):
    """A ring was used with the wrong dtype, a bad capacity, or a shared block that is not a ring."""
