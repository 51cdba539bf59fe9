"""load_candles on every real file in the shared data folder."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from cryptoflow.candles import CANDLE_COLUMNS, load_candles, read_candles
from cryptoflow.errors import DataError
from cryptoflow.testing.data import SHARED_DATA, needs_shared_data

pytestmark = needs_shared_data

# file -> (symbol, interval, rows, first open time, last open time, gaps, missing candles)
EXPECTED = {
    "BNBUSDT_5m_2025-08.csv": ("BNBUSDT", "5m", 9118, "2025-08-19 15:10", "2025-09-21 01:30", 1, 223),
    "BTCUSDT_5m_2025-08.csv": ("BTCUSDT", "5m", 9118, "2025-08-19 15:10", "2025-09-21 01:30", 1, 223),
    "ETHUSDT_5m_2025-08.csv": ("ETHUSDT", "5m", 9118, "2025-08-19 15:10", "2025-09-21 01:30", 1, 223),
    "SOLUSDT_5m_2025-08.csv": ("SOLUSDT", "5m", 9341, "2025-08-19 15:10", "2025-09-21 01:30", 0, 0),
    "XRPUSDT_5m_2025-08.csv": ("XRPUSDT", "5m", 9341, "2025-08-19 15:10", "2025-09-21 01:30", 0, 0),
    "ETHUSDT_1h_2021-04_2023-12.csv": ("ETHUSDT", "1h", 23989, "2021-04-04 20:00", "2023-12-30 20:00", 5, 12),
    "ETHUSDT_1h_2020-08_2022-06_cdd.csv": (
        "ETHUSDT",
        "1h",
        16319,
        "2020-08-02 02:00",
        "2022-06-13 00:00",
        0,
        0,
    ),
    "ETHUSDT_5m_2025-04_2025-06.csv": ("ETHUSDT", "5m", 25920, "2025-04-03 17:05", "2025-07-02 17:00", 0, 0),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_shared_file_loads(name: str) -> None:
    symbol, interval, rows, first, last, gaps, missing = EXPECTED[name]
    candles, report = read_candles(SHARED_DATA / name)
    assert candles.attrs == {"symbol": symbol, "interval": interval}
    assert len(candles) == rows
    assert isinstance(candles.index, pd.DatetimeIndex)
    assert candles.index.name == "open_time"
    assert str(candles.index.tz) == "UTC"
    assert candles.index[0] == pd.Timestamp(first, tz="UTC")
    assert candles.index[-1] == pd.Timestamp(last, tz="UTC")
    assert candles.index.is_monotonic_increasing and candles.index.is_unique
    assert list(candles.columns) == [col for col in CANDLE_COLUMNS if col in candles.columns]
    for col in ("open", "high", "low", "close", "volume"):
        assert candles[col].dtype == np.float64
    assert candles["close_time"].dtype == np.int64
    open_ms = candles.index.asi8 // 1_000_000
    step = {"5m": 300_000, "1h": 3_600_000}[interval]
    assert (candles["close_time"].to_numpy() == open_ms + step - 1).all()
    assert len(report.gaps) == gaps
    assert report.missing_candles == missing


def test_binance_kline_columns_are_kept() -> None:
    candles = load_candles(SHARED_DATA / "ETHUSDT_5m_2025-08.csv")
    first = candles.iloc[0]
    assert first["open"] == 4194.1 and first["close"] == 4186.51 and first["volume"] == 4454.1483
    assert first["quote_volume"] == 18664809.37035
    assert first["trades"] == 28471
    assert first["taker_buy_base_volume"] == 2161.8649
    assert first["taker_buy_quote_volume"] == 9059623.950259
    # The last rows left the trailing columns empty: kept NaN, close time derived.
    assert candles["trades"].isna().sum() == 9
    assert candles["close_time"].iloc[-1] == 1758418499999


def test_cryptodatadownload_banner_descending_and_volume_columns(caplog: pytest.LogCaptureFixture) -> None:
    path = SHARED_DATA / "ETHUSDT_1h_2020-08_2022-06_cdd.csv"
    with caplog.at_level(logging.WARNING, logger="cryptoflow.candles"):
        candles = load_candles(path)
    assert f"{path}: input was not in ascending time order: sorted" in caplog.messages
    last = candles.iloc[-1]  # the file's first data row, 2022-06-13 00:00
    assert (last["open"], last["high"], last["low"], last["close"]) == (1434.35, 1454.14, 1424.40, 1446.17)
    assert last["volume"] == 272227.849  # "Volume ETH"
    assert last["quote_volume"] == 391749775.35710  # "Volume USDT"
    assert last["trades"] == 186642


def test_timezone_suffix_is_utc() -> None:
    candles = load_candles(SHARED_DATA / "ETHUSDT_5m_2025-04_2025-06.csv")
    assert candles.index[0] == pd.Timestamp("2025-04-03T17:05:00Z")
    assert candles.iloc[0]["open"] == 1773.32


def test_gaps_warn_by_default_with_count_and_positions(caplog: pytest.LogCaptureFixture) -> None:
    path = SHARED_DATA / "ETHUSDT_1h_2021-04_2023-12.csv"
    with caplog.at_level(logging.WARNING, logger="cryptoflow.candles"):
        candles = load_candles(path)
    _, report = read_candles(path)
    assert caplog.messages == [
        f"{path}: 5 gap(s) in the 1h grid, 12 candle(s) missing (2 missing after 2021-04-20T01:00:00Z, "
        "3 missing after 2021-04-25T04:00:00Z, 4 missing after 2021-08-13T01:00:00Z, ...): kept as is"
    ]
    # Binance halted trading on 2023-03-24: the file shows it, and the default keeps the candles as they are.
    halt = [gap for gap in report.gaps if str(gap).endswith("2023-03-24T12:00:00Z")]
    assert len(halt) == 1
    assert len(candles) == 23989


def test_gap_fill_inserts_flagged_flat_candles() -> None:
    candles = load_candles(SHARED_DATA / "ETHUSDT_1h_2021-04_2023-12.csv", on_gap="fill")
    assert len(candles) == 23989 + 12
    assert candles["is_filled"].sum() == 12
    assert (candles.index.to_series().diff().dropna() == pd.Timedelta("1h")).all()
    filled = candles[candles["is_filled"]]
    before = candles["close"].shift(1)[candles["is_filled"]]
    first_gap = filled.index[0]
    assert first_gap == pd.Timestamp("2021-04-20T02:00:00Z")
    assert filled.loc[first_gap, "open"] == before.loc[first_gap]
    assert (filled["volume"] == 0).all()
    assert (filled[["open", "high", "low"]].to_numpy() == filled[["close"] * 3].to_numpy()).all()


def test_gap_fail_names_the_first_gap() -> None:
    path = SHARED_DATA / "ETHUSDT_5m_2025-08.csv"
    with pytest.raises(DataError) as caught:
        load_candles(path, on_gap="fail")
    assert str(caught.value) == (
        f"{path}: line 9102: 223 5m candle(s) missing between 2025-09-20T05:25:00Z and 2025-09-21T00:05:00Z "
        "(rule: no gaps, on_gap='fail'; 1 gap(s), 223 candle(s) missing in all)"
    )
