"""Seeded synthetic candles for benchmarks: a geometric random walk with realistic wicks and volume.

>>> from benchmarks._generate import generate_candles
>>> candles = generate_candles(1_000_000, seed=42)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryptoflow.candles import interval_ms

__all__ = ["generate_candles"]


def generate_candles(
    count: int,
    *,
    seed: int = 42,
    interval: str = "1m",
    start: str = "2024-01-01T00:00:00Z",
    start_price: float = 2000.0,
    volatility: float = 0.001,
    symbol: str = "SYNTHUSDT",
) -> pd.DataFrame:
    """``count`` candles shaped like :func:`cryptoflow.candles.load_candles`'s output, reproducible.

    ``volatility`` is the standard deviation of the log return per candle. Prices are rounded to cents so
    equal opens and closes (doji, equal engulfing edges) occur as on a real exchange.
    """
    rng = np.random.default_rng(seed)
    step = interval_ms(interval)
    close = np.round(start_price * np.exp(np.cumsum(rng.normal(0.0, volatility, count))), 2)
    opens = np.r_[start_price, close[:-1]]
    spread = np.abs(rng.normal(0.0, volatility, (2, count))) * close
    high = np.round(np.maximum(opens, close) + spread[0], 2)
    low = np.round(np.maximum(np.minimum(opens, close) - spread[1], 0.01), 2)
    volume = np.round(rng.lognormal(3.0, 1.0, count), 4)
    open_ms = pd.Timestamp(start).value // 1_000_000 + np.arange(count, dtype="int64") * step
    index = pd.DatetimeIndex(pd.to_datetime(open_ms, unit="ms", utc=True), name="open_time")
    trades = rng.integers(1, 5000, count).astype("float64")
    taker = rng.uniform(0.2, 0.8, count)
    frame = pd.DataFrame(
        {
            "open": opens,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "close_time": open_ms + step - 1,
            "quote_volume": volume * close,
            "trades": trades,
            "taker_buy_base_volume": volume * taker,
            "taker_buy_quote_volume": volume * taker * close,
        },
        index=index,
    )
    frame.attrs["symbol"] = symbol
    frame.attrs["interval"] = interval
    return frame
