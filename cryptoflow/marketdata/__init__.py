"""Market data as events: a closed candle with its indicators as a ``candle`` event, indicator values
without NaN. (The Binance kline source is :mod:`cryptoflow.binance`.)

>>> from cryptoflow.marketdata import candle_event
"""

from cryptoflow.marketdata._events import candle_event, indicator_values

__all__ = ["candle_event", "indicator_values"]
