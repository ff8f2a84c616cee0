"""Exceptions raised by the venue's Python API (kernels never raise: bad orders become EXEC_REJECTED)."""

from __future__ import annotations

from cns.errors import CNSError


class VenueError(CNSError):
    """Base class of every venue error."""


class VenueConfigError(VenueError, ValueError):
    """A venue/simulator configuration value is out of range (the message names the field)."""


class OrderBatchError(VenueError, TypeError):
    """An order batch is not a 1-D ORDER_DTYPE array."""


class ReservedOwnerError(VenueError, ValueError):
    """An external order uses an owner id reserved for the simulator's own traders."""


class SimClockError(VenueError, ValueError):
    """Simulated time asked to run backwards, or a quote view asked for a time not simulated yet."""


__all__ = ["OrderBatchError", "ReservedOwnerError", "SimClockError", "VenueConfigError", "VenueError"]
