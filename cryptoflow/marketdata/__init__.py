"""Market data in: python-binance kline websockets with REST warm-up, reconnect and backfill."""

from cryptoflow.marketdata._urls import BinanceEndpoints, binance_classes

__all__ = ["BinanceEndpoints", "binance_classes"]
