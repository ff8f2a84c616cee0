"""The FIX package's error tree.

Bad *input from a counterparty* (a garbled frame, a message with a missing tag, a NaN price) never raises:
the session answers it the FIX way (ignores a garbled frame, sends a session-level Reject ``35=3``, or logs
out). These errors are for bad API use, refused configuration, unusable stores and refused outbound records.
Messages never contain credentials (CompIDs, passwords).
"""

from __future__ import annotations

from cns.errors import CNSError

__all__ = [
    "FixConfigError",
    "FixEncodeError",
    "FixError",
    "FixNotActive",
    "FixSessionError",
    "FixStoreError",
]


class FixError(CNSError):
    """Base of every error raised by :mod:`cns.fix`."""


class FixConfigError(FixError, ValueError):
    """A session/acceptor/initiator option is out of range or missing (the message names the field)."""


class FixEncodeError(FixError, ValueError):
    """An outbound record or field cannot be encoded (non-finite price, qty <= 0, unknown instrument, a value
    holding the SOH delimiter, ...). Nothing was sent and no sequence number was consumed."""


class FixStoreError(FixError, OSError):
    """The session store cannot be read or written (corrupt seq file, I/O error, store already open)."""


class FixSessionError(FixError):
    """A session request was refused (unknown request, session stopping, ...)."""


class FixNotActive(FixSessionError):
    """An application message was offered while the session is not logged on; nothing was sent or stored."""
