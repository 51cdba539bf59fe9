"""Brokers: where live decisions become orders (paper by default, Binance USD-M futures testnet or live).

>>> from cryptoflow.brokers import PaperBroker, TradingConfig
>>> broker = PaperBroker(TradingConfig(cash=1000), Path("state/paper.json"))  # doctest: +SKIP
"""

from cryptoflow.brokers._base import Broker, ClosedTrade, Position, StateFile, TradingConfig, client_order_id
from cryptoflow.brokers._binance import BinanceFuturesBroker
from cryptoflow.brokers._paper import PaperBroker
from cryptoflow.brokers._rounding import SymbolFilters

__all__ = [
    "BinanceFuturesBroker",
    "Broker",
    "ClosedTrade",
    "PaperBroker",
    "Position",
    "StateFile",
    "SymbolFilters",
    "TradingConfig",
    "client_order_id",
]
