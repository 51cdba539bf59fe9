"""Brokers: where live decisions become orders. The contract and the paper broker live here; the Binance
USD-M futures broker (testnet or live) is :class:`cryptoflow.binance.BinanceFuturesBroker`.

>>> from cryptoflow.brokers import PaperBroker, TradingConfig
>>> broker = PaperBroker(TradingConfig(cash=1000), Path("state/paper.json"))  # doctest: +SKIP
"""

from cryptoflow.brokers._base import (
    Broker,
    BrokerBook,
    ClosedTrade,
    Position,
    StateFile,
    TradingConfig,
    check_sizing,
    client_order_id,
)
from cryptoflow.brokers._paper import PaperBroker, paper_close, paper_open, paper_price

__all__ = [
    "Broker",
    "BrokerBook",
    "ClosedTrade",
    "PaperBroker",
    "Position",
    "StateFile",
    "TradingConfig",
    "check_sizing",
    "client_order_id",
    "paper_close",
    "paper_open",
    "paper_price",
]
