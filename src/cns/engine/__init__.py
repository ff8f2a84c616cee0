"""cns.engine: the BitActor tick loop over record batches (zero-tick elision, compiled handlers, ticks)."""

from cns.engine.errors import EngineError
from cns.engine.validator import HandlerStats, NewsValidator, TickStats, default_news_inputs
from cns.rules.codegen_tickloop import (
    HANDLER_ELIDED,
    HANDLER_INGRESS,
    VERDICT_CONFORMS,
    VERDICT_ELIDED,
    VERDICT_VIOLATES,
)

__all__ = [
    "EngineError",
    "HANDLER_ELIDED",
    "HANDLER_INGRESS",
    "HandlerStats",
    "NewsValidator",
    "TickStats",
    "VERDICT_CONFORMS",
    "VERDICT_ELIDED",
    "VERDICT_VIOLATES",
    "default_news_inputs",
]
