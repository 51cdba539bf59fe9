"""An independent plain-pandas re-implementation of the original 2023 backtest scripts (the oracle).

Nothing here computes with cryptoflow (only the location of the shared files comes from it): indicators
use the seed formulas written out directly, and the loop follows the issue's description of the original
scripts line by line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cryptoflow.candles import shared_data_dir

DATA = shared_data_dir()
ETH_1H = DATA / "ETHUSDT_1h_2021-04_2023-12.csv"
ETH_5M = DATA / "ETHUSDT_5m_2025-04_2025-06.csv"


def read_plain_csv(path: Path, time_column: str) -> pd.DataFrame:
    """The two simple layouts (``date,...`` naive UTC and ``timestamp,...`` with +00:00)."""
    frame = pd.read_csv(path)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame[time_column], utc=True), name="open_time")
    return frame[["open", "high", "low", "close", "volume"]].astype(float)


def seed_indicators(candles: pd.DataFrame) -> pd.DataFrame:
    close, high, low, open_ = candles["close"], candles["high"], candles["low"], candles["open"]
    delta = close.diff()
    gain = delta.clip(lower=0)
    loss = -delta.clip(upper=0)
    rs = gain.rolling(14).mean() / loss.rolling(14).mean()
    rsi = 100 - 100 / (1 + rs)
    ema_fast = close.ewm(span=12, min_periods=11).mean()
    ema_slow = close.ewm(span=26, min_periods=25).mean()
    macd = ema_fast - ema_slow
    signal = macd.ewm(span=9, min_periods=8).mean()
    typical = (high + low + close) / 3
    mean = typical.rolling(20).mean()
    mad = typical.rolling(20).apply(lambda w: np.abs(w - w.mean()).mean(), raw=True)
    cci = (typical - mean) / (0.015 * mad)
    prev_open, prev_close = open_.shift(1), close.shift(1)
    bullish = (close > open_) & (prev_close < prev_open) & (prev_close >= open_) & (prev_open <= close)
    bearish = (close < open_) & (prev_close > prev_open) & (prev_close <= open_) & (prev_open >= close)
    engulfing = pd.Series(np.where(bullish, 1.0, np.where(bearish, -1.0, 0.0)), index=candles.index)
    return pd.DataFrame(
        {
            "rsi": rsi,
            "macd": macd,
            "macd_signal": signal,
            "macd_hist": macd - signal,
            "cci": cci,
            "is_bull": (close >= open_).astype(float),
            "engulfing": engulfing,
        }
    )


def original_loop(candles: pd.DataFrame, strategy: str) -> list[tuple]:
    """The original scripts' loop; returns (side, entry_time, entry_price, exit_time, exit_price)."""
    ind = seed_indicators(candles)
    trades: list[tuple] = []
    position = None
    rows = zip(
        candles.index,
        candles["open"],
        candles["close"],
        ind["rsi"],
        ind["macd"],
        ind["macd_signal"],
        ind["cci"],
        strict=True,
    )
    prev = None
    for time, open_, close, rsi, macd, signal, cci in rows:
        if position is not None:
            side, entry_time, entry = position
            exit_now = False
            if side == "long":
                if close <= entry * (1 - 0.015):
                    exit_now = True
                elif close >= entry * (1 + 0.03):
                    exit_now = True
            else:
                if close >= entry * (1 + 0.015):
                    exit_now = True
                elif close <= entry * (1 - 0.03):
                    exit_now = True
            if exit_now:
                trades.append((side, entry_time, entry, time, close))
                position = None
        else:
            if strategy == "basic":
                if macd > signal and rsi < 30 and cci > -100:
                    position = ("long", time, close)
                elif macd < signal and rsi > 70 and cci < 100:
                    position = ("short", time, close)
            else:
                bull = bear = False
                if prev is not None:
                    prev_open, prev_close = prev
                    bull = (
                        close > open_
                        and prev_close < prev_open
                        and prev_close >= open_
                        and prev_open <= close
                    )
                    bear = (
                        close < open_
                        and prev_close > prev_open
                        and prev_close <= open_
                        and prev_open >= close
                    )
                if bull and rsi < 25:
                    position = ("long", time, close)
                elif bear and rsi > 70:
                    position = ("short", time, close)
        prev = (open_, close)
    return trades
