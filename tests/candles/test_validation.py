"""Validation rules and policies on small hand-made files: exact error text, exact repairs."""

from __future__ import annotations

import gzip
import logging
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cryptoflow.candles import Candle, bucket_start, interval_ms, load_candles, read_candles
from cryptoflow.errors import DataError

HEADER = "timestamp,open,high,low,close,volume\n"
ROWS = [
    "2025-01-01 00:00:00,10,11,9,10.5,1",
    "2025-01-01 00:05:00,10.5,12,10,11,2",
    "2025-01-01 00:10:00,11,11.5,10.5,11.2,3",
    "2025-01-01 00:15:00,11.2,11.4,11,11.1,4",
]


def write(tmp_path: Path, rows: list[str], name: str = "ETHUSDT_5m_test.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def error_of(path: Path, **options: object) -> str:
    with pytest.raises(DataError) as caught:
        load_candles(path, **options)  # type: ignore[arg-type]
    return str(caught.value)


def test_clean_file(tmp_path: Path) -> None:
    candles = load_candles(write(tmp_path, ROWS))
    assert candles.attrs == {"symbol": "ETHUSDT", "interval": "5m"}
    assert candles["close"].tolist() == [10.5, 11, 11.2, 11.1]
    assert list(candles.columns) == ["open", "high", "low", "close", "volume", "close_time"]


def test_duplicate_open_time_fails_by_default(tmp_path: Path) -> None:
    path = write(tmp_path, [*ROWS[:2], "2025-01-01 00:05:00,10.6,12,10,11.5,5", *ROWS[2:]])
    assert error_of(path) == (
        f"{path}: line 4: open time 2025-01-01T00:05:00Z duplicates line 3 (rule: one candle per open time; "
        "1 duplicate(s) in the file; dedupe=True / --dedupe keeps the last row of each)"
    )


def test_dedupe_keeps_the_last_row_and_reports(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, [*ROWS[:2], "2025-01-01 00:05:00,10.6,12,10,11.5,5", *ROWS[2:]])
    with caplog.at_level(logging.WARNING, logger="cryptoflow.candles"):
        candles = load_candles(path, dedupe=True)
    assert len(candles) == 4
    assert candles.loc["2025-01-01 00:05:00+00:00", "close"] == 11.5
    note = "dropped 1 duplicate open time(s), kept the last row of each (first: 2025-01-01T00:05:00Z)"
    assert caplog.messages == [f"{path}: {note}"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cryptoflow.candles"):
        _, report = read_candles(path, dedupe=True)
    assert report.changes() == [note]
    assert caplog.messages == []  # read_candles leaves presenting the report to its caller
    assert report.rows_read == 5 and report.rows == 4


def test_nan_price_fails(tmp_path: Path) -> None:
    path = write(tmp_path, [ROWS[0], "2025-01-01 00:05:00,10.5,12,,11,2", *ROWS[2:]])
    assert error_of(path) == (
        f"{path}: line 3: low is NaN (rule: no missing prices or volumes); "
        "open=10.5, high=12.0, low=nan, close=11.0, volume=2.0"
    )


def test_high_below_body_fails(tmp_path: Path) -> None:
    path = write(tmp_path, [*ROWS[:3], "2025-01-01 00:15:00,11.2,11.15,11,11.1,4"])
    assert error_of(path) == (
        f"{path}: line 5: high is below max(open, close) (rule: high >= max(open, close)); "
        "open=11.2, high=11.15, low=11.0, close=11.1, volume=4.0"
    )


def test_low_above_body_fails_and_counts_the_rest(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [ROWS[0], "2025-01-01 00:05:00,10.5,12,10.8,11,2", "2025-01-01 00:10:00,11,11.5,0,11.2,3", ROWS[3]],
    )
    assert error_of(path) == (
        f"{path}: line 3: low is above min(open, close) (rule: low <= min(open, close)); "
        "open=10.5, high=12.0, low=10.8, close=11.0, volume=2.0 "
        "(1 more invalid row(s); on_invalid='drop' drops them)"
    )


def test_on_invalid_drop_reports_what_it_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, [ROWS[0], "2025-01-01 00:05:00,10.5,12,10.8,11,2", *ROWS[2:]])
    with caplog.at_level(logging.WARNING, logger="cryptoflow.candles"):
        candles = load_candles(path, on_invalid="drop")
    assert len(candles) == 3
    assert caplog.messages[0] == f"{path}: dropped 1 invalid row(s): line 3: low is above min(open, close)"
    assert caplog.messages[1].startswith(f"{path}: 1 gap(s) in the 5m grid, 1 candle(s) missing")


def test_non_positive_price_fails(tmp_path: Path) -> None:
    path = write(tmp_path, [ROWS[0], "2025-01-01 00:05:00,-1,12,-2,11,2"])
    assert error_of(path).startswith(f"{path}: line 3: open is not positive (rule: prices > 0); ")


def test_not_a_number(tmp_path: Path) -> None:
    path = write(tmp_path, [ROWS[0], "2025-01-01 00:05:00,10.5,12,ten,11,2"])
    assert error_of(path) == f"{path}: line 3: low 'ten' is not a number (rule: numeric low)"


def test_bad_time(tmp_path: Path) -> None:
    path = write(tmp_path, [ROWS[0], "yesterday,10.5,12,10,11,2"])
    assert error_of(path) == (
        f"{path}: line 3: open_time 'yesterday' is not a date/time (rule: ISO-8601 date/time or epoch number)"
    )


def test_out_of_order_is_sorted_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, [ROWS[2], ROWS[0], ROWS[3], ROWS[1]])
    with caplog.at_level(logging.WARNING, logger="cryptoflow.candles"):
        candles = load_candles(path)
    assert candles["close"].tolist() == [10.5, 11, 11.2, 11.1]
    assert caplog.messages == [f"{path}: input was not in ascending time order: sorted"]


def test_off_grid_time_fails(tmp_path: Path) -> None:
    path = write(tmp_path, [*ROWS[:2], "2025-01-01 00:12:00,11,11.5,10.5,11.2,3"])
    assert error_of(path) == (
        f"{path}: line 4: open time 2025-01-01T00:12:00Z is not on the 5m grid "
        "(rule: 5m candles open at multiples of 5m since the epoch, in UTC)"
    )


def test_given_interval_must_match_the_rows(tmp_path: Path) -> None:
    path = write(tmp_path, ROWS, name="candles.csv")
    assert error_of(path, symbol="ETHUSDT", interval="1h") == (
        f"{path}: interval '1h' was given but consecutive candles are mostly 5m apart"
    )
    assert load_candles(path, symbol="ethusdt").attrs == {"symbol": "ETHUSDT", "interval": "5m"}


def test_symbol_must_be_known(tmp_path: Path) -> None:
    path = write(tmp_path, ROWS, name="candles.csv")
    assert error_of(path) == (
        f"{path}: cannot tell the symbol: the file has no symbol column and its name has no symbol such as "
        "ETHUSDT; pass symbol='ETHUSDT' (CLI: --symbol)"
    )


def test_file_name_interval_conflicting_with_rows(tmp_path: Path) -> None:
    path = write(tmp_path, ROWS, name="ETHUSDT_1h.csv")
    assert error_of(path) == (
        f"{path}: the file name says 1h but consecutive candles are mostly 5m apart; "
        "pass interval= (CLI: --interval) to confirm"
    )


def test_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path, ["2025-01-01 00:00:00,10,11"], header="date,open,high\n")
    assert error_of(path) == (
        f"{path}: no column for low, close, volume (columns found: open_time, open, high); "
        "expected a Binance kline layout or open_time/timestamp/date,open,high,low,close,volume"
    )


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT_5m.csv"
    path.write_text("")
    assert error_of(path) == f"{path}: the file is empty"
    assert error_of(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: no such file"


def _archive_rows(start_ms: int, count: int, unit: int = 1) -> list[str]:
    rows = []
    for i in range(count):
        t = start_ms + i * 300_000
        price = 100 + i
        rows.append(
            f"{t * unit},{price},{price + 2},{price - 1},{price + 1},5.5,{(t + 299_999) * unit},"
            f"555.5,{10 + i},2.5,252.5,0"
        )
    return rows


def test_binance_archive_zip_without_header_in_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT-5m-2025-01.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ETHUSDT-5m-2025-01.csv", "\n".join(_archive_rows(1735689600000, 6, 1000)) + "\n")
    candles = load_candles(path)
    assert candles.attrs == {"symbol": "ETHUSDT", "interval": "5m"}
    assert candles.index[0] == pd.Timestamp("2025-01-01T00:00:00Z")
    assert candles["close_time"].iloc[0] == 1735689899999
    assert candles["trades"].tolist() == [10, 11, 12, 13, 14, 15]
    assert candles["quote_volume"].iloc[0] == 555.5


def test_headered_kline_csv_gz_in_milliseconds(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-5m-2025-01.csv.gz"
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    header += "taker_buy_quote_volume,ignore\n"
    with gzip.open(path, "wt") as out:
        out.write(header + "\n".join(_archive_rows(1735689600000, 3)) + "\n")
    candles = load_candles(path)
    assert candles.attrs == {"symbol": "BTCUSDT", "interval": "5m"}
    assert candles["taker_buy_base_volume"].tolist() == [2.5, 2.5, 2.5]


def test_parquet_round_trip(tmp_path: Path) -> None:
    candles = load_candles(write(tmp_path, ROWS))
    path = tmp_path / "ETHUSDT_5m.parquet"
    candles.to_parquet(path)
    again = load_candles(path)
    pd.testing.assert_frame_equal(again, candles)


def test_interval_ms_and_alignment() -> None:
    assert interval_ms("5m") == 300_000
    assert interval_ms("1h") == 3_600_000
    assert interval_ms("1w") == 604_800_000
    with pytest.raises(DataError, match="unknown candle interval '1M'"):
        interval_ms("1M")
    monday = int(pd.Timestamp("2025-01-06T00:00:00Z").timestamp() * 1000)
    assert bucket_start(monday + 3 * 86_400_000, "1w") == monday
    assert bucket_start(1735689600000 + 299_999, "5m") == 1735689600000


def test_candle_from_rest_and_websocket() -> None:
    row = [
        1735689600000,
        "100.0",
        "102.0",
        "99.0",
        "101.0",
        "5.5",
        1735689899999,
        "555.5",
        10,
        "2.5",
        "252.5",
        "0",
    ]
    rest = Candle.from_kline(row, "ETHUSDT", "5m")
    ws = Candle.from_ws(
        {"t": 1735689600000, "T": 1735689899999, "s": "ETHUSDT", "i": "5m", "o": "100.0", "c": "101.0",
         "h": "102.0", "l": "99.0", "v": "5.5", "n": 10, "x": False, "q": "555.5", "V": "2.5", "Q": "252.5"}
    )  # fmt: skip
    assert rest.to_dict() == {**ws.to_dict(), "is_closed": True}
    assert ws.is_closed is False and rest.trades == 10 and rest.close == 101.0
