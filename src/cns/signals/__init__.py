"""cns.signals: record dtypes, dictionaries, clocks, the schema registry, per-entry tables and rings."""

from cns.signals.clock import ClockCosts, clock_costs, cycles_per_ns, monotonic_ns, read_cycles
from cns.signals.errors import RingError, SchemaError, SignalsError
from cns.signals.lut import build_lut, extend_lut, string_check
from cns.signals.ring import SharedRing, SpscRing
from cns.signals.schema import (
    CNS,
    REGISTRY,
    ClassBinding,
    FieldBinding,
    RecordSchema,
    SchemaRegistry,
    default_news_inputs,
    news_schema,
)

__all__ = [
    "CNS",
    "REGISTRY",
    "ClassBinding",
    "ClockCosts",
    "FieldBinding",
    "RecordSchema",
    "RingError",
    "SchemaError",
    "SchemaRegistry",
    "SharedRing",
    "SignalsError",
    "SpscRing",
    "build_lut",
    "clock_costs",
    "cycles_per_ns",
    "default_news_inputs",
    "extend_lut",
    "monotonic_ns",
    "news_schema",
    "read_cycles",
    "string_check",
]
