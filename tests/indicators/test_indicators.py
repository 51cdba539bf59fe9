"""Indicators: batch == ta library, seed == a pandas reference of the 2023 formulas, streaming == batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ta

from cryptoflow.candles import Candle
from cryptoflow.errors import ConfigurationError, DataError
from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import StreamingIndicators, compute, resolve_params
from cryptoflow.testing.data import SHARED_FILES, candles_of, needs_shared_data

FILES = [pytest.param(path, id=path.name) for path in SHARED_FILES]


def ta_reference(candles: pd.DataFrame) -> pd.DataFrame:
    close = candles["close"]
    macd = ta.trend.MACD(close)
    return pd.DataFrame(
        {
            "rsi": ta.momentum.RSIIndicator(close).rsi(),
            "macd": macd.macd(),
            "macd_signal": macd.macd_signal(),
            "macd_hist": macd.macd_diff(),
            "cci": ta.trend.CCIIndicator(candles["high"], candles["low"], close).cci(),
        }
    )


def seed_reference(candles: pd.DataFrame) -> pd.DataFrame:
    """The 2023 scripts' formulas, written out with pandas."""
    close = candles["close"]
    delta = close.diff()
    gain = delta.mask(delta < 0, 0)
    loss = -delta.mask(delta > 0, 0)
    rsi = 100 - (100 / (1 + gain.rolling(window=14).mean() / loss.rolling(window=14).mean()))
    macd = close.ewm(span=12, min_periods=11).mean() - close.ewm(span=26, min_periods=25).mean()
    signal = macd.ewm(span=9, min_periods=8).mean()
    typical = (candles["high"] + candles["low"] + close) / 3
    cci = (typical - typical.rolling(window=20).mean()) / (
        0.015 * typical.rolling(window=20).apply(lambda x: np.fabs(x - x.mean()).mean(), raw=True)
    )
    is_bull = (close >= candles["open"]).astype(int)
    engulfing = [0]
    opens, closes = candles["open"].to_numpy(), close.to_numpy()
    for i in range(1, len(candles)):
        c, o, pc, po = closes[i], opens[i], closes[i - 1], opens[i - 1]
        if c > o and pc < po and pc >= o and po <= c:
            engulfing.append(1)
        elif c < o and pc > po and pc <= o and po >= c:
            engulfing.append(-1)
        else:
            engulfing.append(0)
    return pd.DataFrame(
        {"rsi": rsi, "macd": macd, "macd_signal": signal, "macd_hist": macd - signal, "cci": cci,
         "is_bull": is_bull, "engulfing": engulfing},
        index=candles.index,
    )  # fmt: skip


def assert_same(actual: pd.Series | np.ndarray, expected: pd.Series | np.ndarray, atol: float = 0.0) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=1e-9,
        atol=atol,
        equal_nan=True,
    )


def stream(candles: pd.DataFrame, preset: str, **params: object) -> pd.DataFrame:
    engine = StreamingIndicators(preset, **params)
    rows = [engine.update(row) for row in candles[["open", "high", "low", "close"]].to_dict("records")]
    return pd.DataFrame(rows, index=candles.index)


@needs_shared_data
@pytest.mark.parametrize("path", FILES)
def test_ta_preset_equals_the_ta_library(path: Path) -> None:
    candles = candles_of(path)
    ours = compute(candles)
    reference = ta_reference(candles)
    for column in ("rsi", "macd", "macd_signal", "macd_hist"):
        assert_same(ours[column], reference[column])
    # CCI crosses zero: a relative tolerance alone is meaningless there (ta sums with pairwise numpy).
    assert_same(ours["cci"], reference["cci"], atol=1e-9)
    assert ours["rsi"].first_valid_index() == candles.index[13]
    assert ours["macd_signal"].first_valid_index() == candles.index[33]


@needs_shared_data
@pytest.mark.parametrize("path", FILES)
def test_seed_preset_equals_the_pandas_reference(path: Path) -> None:
    candles = candles_of(path)
    ours = compute(candles, preset="seed")
    reference = seed_reference(candles)
    for column in INDICATOR_NAMES:
        assert_same(ours[column], reference[column], atol=1e-9 if column == "cci" else 0.0)
    assert ours["rsi"].first_valid_index() == candles.index[14]
    assert ours["macd"].first_valid_index() == candles.index[24]
    assert ours["macd_signal"].first_valid_index() == candles.index[31]


@needs_shared_data
@pytest.mark.parametrize("preset", ["ta", "seed"])
@pytest.mark.parametrize("path", FILES)
def test_streaming_equals_batch_on_real_files(path: Path, preset: str) -> None:
    candles = candles_of(path)
    batch = compute(candles, preset=preset)
    streamed = stream(candles, preset)
    for column in INDICATOR_NAMES:
        assert_same(streamed[column], batch[column])


def test_engulfing_rules_with_equal_edges() -> None:
    # prev bear 10 -> 9, then bull 9 -> 10: bodies equal at both edges -> bullish engulfing
    frame = pd.DataFrame(
        {
            "open": [10.0, 9.0, 10.0, 11.0, 10.5, 10.0, 10.0],
            "close": [9.0, 10.0, 9.0, 10.0, 10.6, 10.0, 9.0],
        }
    )
    frame["high"] = frame[["open", "close"]].max(axis=1) + 1
    frame["low"] = frame[["open", "close"]].min(axis=1) - 1
    out = compute(frame)
    # 0: first candle none; 1: bull engulfs bear; 2: bear engulfs bull (9..10 vs 9..10);
    # 3: bear after bear -> none; 4: bull 10.5->10.6 inside previous body -> none; 5: doji -> none;
    # 6: bear 10 -> 9 after doji (prev close not > prev open) -> none
    assert out["engulfing"].tolist() == [0, 1, -1, 0, 0, 0, 0]
    assert out["is_bull"].tolist() == [0, 1, 0, 0, 1, 1, 0]


def test_peek_returns_the_update_value_and_changes_nothing() -> None:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    opens = np.r_[100.0, close[:-1]]
    candles = pd.DataFrame(
        {
            "open": opens,
            "close": close,
            "high": np.maximum(opens, close) * 1.002,
            "low": np.minimum(opens, close) * 0.998,
        }
    )
    for preset in ("ta", "seed"):
        plain = stream(candles, preset)
        engine = StreamingIndicators(preset)
        for i, row in enumerate(candles.to_dict("records")):
            for _ in range(3):  # intrabar ticks of the open candle
                tick = {key: value * (1 + rng.normal(0, 0.003)) for key, value in row.items()}
                tick["high"] = max(tick.values())
                tick["low"] = min(tick.values())
                engine.peek(tick)
            peeked = engine.peek(row)
            updated = engine.update(row)
            assert_same(pd.Series(peeked), pd.Series(updated))
            assert_same(pd.Series(updated), plain.iloc[i])


def test_streaming_accepts_candles_and_bounds_its_memory() -> None:
    engine = StreamingIndicators("seed")
    for i in range(500):
        price = 100.0 + (i % 7)
        engine.update(
            Candle(
                "ETHUSDT",
                "5m",
                i * 300_000,
                i * 300_000 + 299_999,
                price,
                price + 1,
                price - 1,
                price + 0.5,
                1.0,
            )
        )
    assert engine.count == 500
    # O(1) in history: only the windows are kept.
    assert len(engine._gains) == 14 and len(engine._typical) == 20
    with pytest.raises(DataError, match="a candle needs numeric open, high, low and close"):
        engine.update({"open": 1.0, "high": 2.0, "low": 0.5})


def test_parameters_are_validated() -> None:
    assert resolve_params("seed", rsi_period=21).rsi_period == 21
    with pytest.raises(ConfigurationError) as caught:
        compute(pd.DataFrame({"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0]}), rsi_perod=3)
    assert str(caught.value) == (
        "unknown indicator parameter(s) rsi_perod: known are rsi_period, rsi_method, macd_fast, macd_slow, "
        "macd_signal, macd_adjust, cci_period, cci_constant"
    )
    with pytest.raises(ConfigurationError, match="unknown indicator preset 'tv': choose one of ta, seed"):
        StreamingIndicators("tv")
    with pytest.raises(ConfigurationError, match="cci_period must be an integer >= 1; got 0"):
        resolve_params(cci_period=0)


def test_custom_periods_agree_with_ta() -> None:
    rng = np.random.default_rng(3)
    close = pd.Series(50 * np.exp(np.cumsum(rng.normal(0, 0.02, 400))))
    candles = pd.DataFrame({"open": close.shift(1).fillna(50), "close": close})
    candles["high"] = candles[["open", "close"]].max(axis=1) * 1.01
    candles["low"] = candles[["open", "close"]].min(axis=1) * 0.99
    ours = compute(
        candles, rsi_period=7, macd_fast=5, macd_slow=35, macd_signal=4, cci_period=10, cci_constant=0.02
    )
    assert_same(ours["rsi"], ta.momentum.RSIIndicator(close, window=7).rsi())
    macd = ta.trend.MACD(close, window_slow=35, window_fast=5, window_sign=4)
    assert_same(ours["macd_signal"], macd.macd_signal())
    cci = ta.trend.CCIIndicator(candles["high"], candles["low"], close, window=10, constant=0.02).cci()
    assert_same(ours["cci"], cci, atol=1e-9)
    assert_same(stream(candles, "ta", rsi_period=7, macd_fast=5, macd_slow=35, macd_signal=4, cci_period=10,
                       cci_constant=0.02)["cci"], ours["cci"])  # fmt: skip


def test_nan_input_is_refused() -> None:
    frame = pd.DataFrame({"open": [1.0, 2.0], "high": [1.0, np.nan], "low": [1.0, 1.0], "close": [1.0, 1.0]})
    with pytest.raises(DataError, match="indicators: high is NaN at row 1"):
        compute(frame)
