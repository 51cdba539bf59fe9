"""Market data in: python-binance kline websockets with REST warm-up, reconnect and backfill.

>>> from cryptoflow.marketdata import BinanceEndpoints, KlineSource
>>> source = KlineSource(["ETHUSDT"], "5m", endpoints=BinanceEndpoints("http://127.0.0.1:9010",
...                      "ws://127.0.0.1:9010/"))
"""

from cryptoflow.marketdata._events import candle_event, indicator_values
from cryptoflow.marketdata._source import KlineEvent, KlineSource, SourceOptions
from cryptoflow.marketdata._urls import (
    BinanceEndpoints,
    binance_classes,
    is_restricted_location,
    open_client,
)

__all__ = [
    "BinanceEndpoints",
    "KlineEvent",
    "KlineSource",
    "SourceOptions",
    "binance_classes",
    "candle_event",
    "indicator_values",
    "is_restricted_location",
    "open_client",
]
