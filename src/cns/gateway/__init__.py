"""The venue gateway (``cns venue serve``): the simulator's order books behind a FIX 4.4 acceptor.

Orders arrive as FIX (``cns.fix`` sessions), match on the wall clock in :class:`VenueGateway`, and go back
as ExecutionReports; :class:`MarketDataPublisher` streams top of book over a documented binary TCP protocol
(docs/gateway.md) and a seeded :class:`MarketMaker` provides liquidity. It is how users paper-trade and how
CI tests the live path end to end.
"""

from .config import InstrumentSpec, MarketMakerConfig, SessionSpec, VenueConfig, load_venue_config
from .errors import GatewayConfigError, GatewayError
from .gateway import MarketMakerQuotes, VenueGateway
from .market_maker import MarketMaker, market_maker_child_spec
from .marketdata import MarketDataClient, MarketDataPublisher, MdUpdate, decode_frames

__all__ = [
    "GatewayConfigError",
    "GatewayError",
    "InstrumentSpec",
    "MarketDataClient",
    "MarketDataPublisher",
    "MarketMaker",
    "MarketMakerConfig",
    "MarketMakerQuotes",
    "MdUpdate",
    "SessionSpec",
    "VenueConfig",
    "VenueGateway",
    "decode_frames",
    "load_venue_config",
    "market_maker_child_spec",
]
