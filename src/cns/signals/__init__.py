"""cns.signals: record dtypes, dictionaries, clocks, the schema registry, string lookup tables and rings."""

from cns.signals.clock import ClockCosts, clock_costs, cycles_per_ns, monotonic_ns, read_cycles

__all__ = [
    "ClockCosts",
    "clock_costs",
    "cycles_per_ns",
    "monotonic_ns",
    "read_cycles",
]
