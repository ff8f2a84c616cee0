"""cns.trading: configuration, signal generation, pre-trade risk, order management and portfolio.

The corroboration stage that feeds the signal lives in :mod:`cns.trading.corroborate` (with the credibility
table in :mod:`cns.trading.credibility`); its decision dtype and action codes are re-exported here.
"""

from cns.trading.config import (
    RISK_CHECKS,
    CorroborationConfig,
    CredibilityConfig,
    RiskConfig,
    SignalConfig,
    TradingConfig,
    config_from_dict,
    load_config,
)
from cns.trading.corroborate_kernels import (
    ACTION_ALERT,
    ACTION_CONTINGENCY,
    ACTION_IGNORE,
    ACTION_MONITOR,
    ACTION_NAMES,
    ACTION_TRADE,
    DECISION_DTYPE,
)
from cns.trading.errors import ConfigError, StateError, TradingError, UnknownConfigKeyError
from cns.trading.oms import OrderManager
from cns.trading.oms_kernels import ORDER_STATE_DTYPE, ORDER_STATE_NAMES
from cns.trading.pipeline import StepResult, TradingPipeline
from cns.trading.portfolio import PNL_POINT_DTYPE, Portfolio
from cns.trading.risk import RiskGate
from cns.trading.risk_kernels import RISK_REASON_NAMES
from cns.trading.signal import SignalGenerator

__all__ = [
    "ACTION_ALERT",
    "ACTION_CONTINGENCY",
    "ACTION_IGNORE",
    "ACTION_MONITOR",
    "ACTION_NAMES",
    "ACTION_TRADE",
    "DECISION_DTYPE",
    "ORDER_STATE_DTYPE",
    "ORDER_STATE_NAMES",
    "PNL_POINT_DTYPE",
    "RISK_CHECKS",
    "RISK_REASON_NAMES",
    "ConfigError",
    "CorroborationConfig",
    "CredibilityConfig",
    "OrderManager",
    "Portfolio",
    "RiskConfig",
    "RiskGate",
    "SignalConfig",
    "SignalGenerator",
    "StateError",
    "StepResult",
    "TradingConfig",
    "TradingError",
    "TradingPipeline",
    "UnknownConfigKeyError",
    "config_from_dict",
    "load_config",
]
