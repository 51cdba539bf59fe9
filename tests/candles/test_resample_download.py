"""Resampling, the resumable download (against a stand-in python-binance client), samples and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cryptoflow.binance import download_candles
from cryptoflow.candles import load_candles, resample_candles, sample_path
from cryptoflow.cli import main
from cryptoflow.errors import DataError, ExchangeRejection, TemporaryError


def test_samples_load_and_are_small() -> None:
    five = load_candles(sample_path("5m"))
    hourly = load_candles(sample_path("1h"))
    assert five.attrs == {"symbol": "ETHUSDT", "interval": "5m"} and len(five) == 6048
    assert hourly.attrs == {"symbol": "ETHUSDT", "interval": "1h"} and len(hourly) == 2135
    assert sum(path.stat().st_size for path in sample_path().parent.glob("*.gz")) <= 1_000_000


def test_resample_matches_a_pandas_reference_and_composes() -> None:
    five = load_candles(sample_path("5m"))
    hourly = resample_candles(five, "1h")
    assert hourly.attrs["interval"] == "1h"
    assert len(hourly) == 6048 // 12
    reference = five.resample("1h").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum", "trades": "sum"}
    )
    pd.testing.assert_frame_equal(hourly[reference.columns], reference, check_freq=False, rtol=1e-12)
    assert (hourly["close_time"].to_numpy() == hourly.index.asi8 // 1_000_000 + 3_599_999).all()
    via_15m = resample_candles(resample_candles(five, "15m"), "1h")
    pd.testing.assert_frame_equal(via_15m, hourly, rtol=1e-12)


def test_resample_drops_partial_edges_and_keeps_halts() -> None:
    five = load_candles(sample_path("5m")).iloc[3:-2]  # starts at 00:15, ends at 23:45
    hourly = resample_candles(five, "1h")
    assert hourly.index[0] == pd.Timestamp("2025-08-20T01:00:00Z")
    assert hourly.index[-1] == pd.Timestamp("2025-09-09T22:00:00Z")
    assert len(resample_candles(five, "1h", drop_partial=False)) == len(hourly) + 2
    daily = resample_candles(load_candles(sample_path("1h")), "1d")
    halt_day = daily.loc["2023-03-24"]
    assert halt_day.name == pd.Timestamp("2023-03-24T00:00:00Z")  # 23 hourly candles still make the day
    with pytest.raises(DataError, match="cannot resample 1h candles to 90m"):
        resample_candles(load_candles(sample_path("1h")), "90m")


class FakeKlines:
    """Serves python-binance style kline rows from a candle frame, ``limit`` at a time."""

    def __init__(self, candles: pd.DataFrame, fail_first: int = 0, status: int = 429) -> None:
        self.candles = candles
        self.calls: list[dict[str, Any]] = []
        self.fail_first = fail_first
        self.status = status

    def get_klines(self, **params: Any) -> list[list[Any]]:
        from binance.exceptions import BinanceAPIException

        self.calls.append(params)
        if self.fail_first:
            self.fail_first -= 1
            raise BinanceAPIException(
                None, self.status, json.dumps({"code": -1003, "msg": "Too many requests"})
            )
        times = self.candles.index.asi8 // 1_000_000
        chosen = self.candles[(times >= params["startTime"]) & (times <= params["endTime"])].iloc[
            : params["limit"]
        ]
        return [
            [int(t // 1_000_000), str(r.open), str(r.high), str(r.low), str(r.close), str(r.volume),
             int(r.close_time), str(r.quote_volume), int(r.trades), str(r.taker_buy_base_volume),
             str(r.taker_buy_quote_volume), "0"]
            for t, r in zip(chosen.index.asi8, chosen.itertuples(), strict=True)
        ]  # fmt: skip

    futures_klines = get_klines


def test_download_pages_resumes_and_is_idempotent(tmp_path: Path) -> None:
    source = load_candles(sample_path("5m")).iloc[:2500]
    start = int(source.index.asi8[0] // 1_000_000)
    middle = int(source.index.asi8[1200] // 1_000_000)
    end = int(source.index.asi8[-1] // 1_000_000) + 300_000
    out = tmp_path / "ETHUSDT_5m.csv"
    client = FakeKlines(source)
    sleeps: list[float] = []
    first = download_candles("ETHUSDT", "5m", start, middle, out, client=client, sleep=sleeps.append)
    assert first.written == 1200 and first.requests == 2 and first.resumed_from is None
    second = download_candles("ETHUSDT", "5m", start, end, out, client=client, sleep=sleeps.append)
    assert second.resumed_from == middle - 300_000
    assert second.written == 1300
    again = download_candles("ETHUSDT", "5m", start, end, out, client=client, sleep=sleeps.append)
    assert again.written == 0
    loaded = load_candles(out)
    pd.testing.assert_frame_equal(loaded, source, check_freq=False)
    assert all(call["limit"] == 1000 for call in client.calls)
    assert sleeps and all(0 < pause <= 0.25 for pause in sleeps)  # rate limit between pages


def test_download_skips_the_open_candle(tmp_path: Path) -> None:
    source = load_candles(sample_path("5m")).iloc[:10]
    start = int(source.index.asi8[0] // 1_000_000)
    now = int(source["close_time"].iloc[7])  # candle 7 is still open
    result = download_candles(
        "ETHUSDT", "5m", start, start + 10 * 300_000, tmp_path / "out.csv", client=FakeKlines(source),
        now_ms=lambda: now, sleep=lambda _: None,
    )  # fmt: skip
    assert result.written == 7


def test_download_retries_rate_limits_then_gives_up(tmp_path: Path) -> None:
    source = load_candles(sample_path("5m")).iloc[:10]
    start = int(source.index.asi8[0] // 1_000_000)
    sleeps: list[float] = []
    client = FakeKlines(source, fail_first=2)
    result = download_candles("ETHUSDT", "5m", start, start + 3_000_000, tmp_path / "a.csv", client=client,
                              sleep=sleeps.append)  # fmt: skip
    assert result.written == 10
    assert sleeps[:2] == [1.0, 2.0]
    with pytest.raises(TemporaryError, match="Binance klines unavailable after 2 attempts: HTTP 429"):
        client = FakeKlines(source, fail_first=5)
        download_candles("ETHUSDT", "5m", start, start + 3_000_000, tmp_path / "b.csv", client=client,
                         max_retries=1, sleep=lambda _: None)  # fmt: skip
    with pytest.raises(ExchangeRejection, match="code -1003: Too many requests"):
        client = FakeKlines(source, fail_first=1, status=400)
        download_candles("ETHUSDT", "5m", start, start + 3_000_000, tmp_path / "c.csv", client=client,
                         sleep=lambda _: None)  # fmt: skip


def test_cli_data_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["data", "check", str(sample_path("1h")), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 2135 and summary["gaps"] == 1 and summary["symbol"] == "ETHUSDT"
    assert main(["data", "check", str(sample_path("1h")), "--on-gap", "fail"]) == 1
    assert "1 1h candle(s) missing between 2023-03-24T12:00:00Z" in capsys.readouterr().err
    out = tmp_path / "daily.csv"
    assert main(["data", "resample", str(sample_path("1h")), "--to", "1d", "--out", str(out)]) == 0
    daily = load_candles(out, symbol="ETHUSDT")
    assert daily.attrs["interval"] == "1d" and len(daily) == 89
    assert np.isclose(daily["volume"].sum(), load_candles(sample_path("1h"))["volume"].sum())


def test_multi_symbol_samples_cover_the_same_minutes_without_gaps() -> None:
    from cryptoflow.candles import sample_symbols

    assert sample_symbols("5m") == ["ETHUSDT", "BTCUSDT", "SOLUSDT"]
    frames = {symbol: load_candles(sample_path("5m", symbol)) for symbol in sample_symbols("5m")}
    assert {symbol: frame.attrs["symbol"] for symbol, frame in frames.items()} == {s: s for s in frames}
    assert len(frames["BTCUSDT"]) == len(frames["SOLUSDT"]) == 4032
    assert frames["BTCUSDT"].index.equals(frames["ETHUSDT"].index[:4032])
    assert frames["SOLUSDT"].index.equals(frames["BTCUSDT"].index)
    with pytest.raises(DataError, match="no shipped sample for XRPUSDT 5m: samples exist for ETHUSDT 5m"):
        sample_path("5m", "XRPUSDT")
