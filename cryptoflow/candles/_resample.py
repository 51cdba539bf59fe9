"""Resampling candles to a coarser interval, aligned and aggregated as Binance does."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryptoflow.candles._model import WEEK_OFFSET_MS, interval_ms
from cryptoflow.errors import DataError

_SUMS = ("volume", "quote_volume", "trades", "taker_buy_base_volume", "taker_buy_quote_volume")


def resample_candles(candles: pd.DataFrame, interval: str, *, drop_partial: bool = True) -> pd.DataFrame:
    """Aggregate candles (e.g. 1m or 5m) into ``interval`` candles (e.g. 1h) as Binance builds them.

    Buckets are aligned to the epoch in UTC (weeks to Monday 00:00), open is the first open, high the
    highest high, low the lowest low, close the last close, volumes and trade counts are summed (NaN if any
    part is NaN), ``close_time`` is ``bucket + interval - 1``.

    A bucket with missing source candles inside the data (an exchange halt) is kept, as Binance keeps it.
    With ``drop_partial`` (default) the first and last buckets are dropped when the data starts or ends
    inside them: their candle on Binance covers trading the data does not have.

    >>> hourly = resample_candles(load_candles("ETHUSDT_5m_2025-08.csv"), "1h")  # doctest: +SKIP
    """
    source = candles.attrs.get("interval")
    target = interval_ms(interval)
    times = candles.index.asi8 // 1_000_000 if isinstance(candles.index, pd.DatetimeIndex) else None
    if times is None:
        raise DataError("resample_candles needs a frame indexed by open_time, as load_candles returns")
    if source is None:
        raise DataError(
            "resample_candles needs attrs['interval'] (the source interval), as load_candles sets"
        )
    step = interval_ms(source)
    if target % step != 0 or target < step:
        raise DataError(
            f"cannot resample {source} candles to {interval}: {interval} is not a multiple of {source}"
        )
    if len(candles) and not (np.diff(times) > 0).all():
        raise DataError("resample_candles needs candles in ascending open-time order without duplicates")
    offset = WEEK_OFFSET_MS if interval.endswith("w") else 0
    buckets = (times - offset) // target * target + offset
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]]) if len(buckets) else np.array([], int)
    ends = np.r_[starts[1:], len(buckets)]
    data: dict[str, np.ndarray] = {
        "open": candles["open"].to_numpy()[starts],
        "high": np.maximum.reduceat(candles["high"].to_numpy(), starts) if len(starts) else np.array([]),
        "low": np.minimum.reduceat(candles["low"].to_numpy(), starts) if len(starts) else np.array([]),
        "close": candles["close"].to_numpy()[ends - 1],
    }
    for col in _SUMS:
        if col in candles.columns:
            values = candles[col].to_numpy(dtype="float64")
            data[col] = np.add.reduceat(values, starts) if len(starts) else np.array([])
    bucket_open = buckets[starts]
    data["close_time"] = bucket_open + target - 1
    if "is_filled" in candles.columns:
        data["is_filled"] = np.logical_and.reduceat(candles["is_filled"].to_numpy(bool), starts)
    keep = np.ones(len(starts), dtype=bool)
    if drop_partial and len(starts):
        keep[0] = bool(times[0] == bucket_open[0])
        keep[-1] = bool(keep[-1] and times[-1] == bucket_open[-1] + target - step)
    order = ["open", "high", "low", "close", "volume", "close_time", *(c for c in _SUMS[1:] if c in data)]
    if "is_filled" in data:
        order.append("is_filled")
    index = pd.DatetimeIndex(pd.to_datetime(bucket_open[keep], unit="ms", utc=True), name="open_time")
    result = pd.DataFrame({col: data[col][keep] for col in order if col in data}, index=index)
    result.attrs.update(candles.attrs)
    result.attrs["interval"] = interval
    return result
