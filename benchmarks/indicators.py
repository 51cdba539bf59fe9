"""Indicator speed: our streaming and batch engines against talipp, TA-Lib, ta and the 2023 approach.

    python -m benchmarks.indicators [--json OUT] [--quick]

Prints one JSON object (and writes it to OUT). Every figure is measured in the same run on this machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._generate import generate_candles
from benchmarks._output import emit_json
from cryptoflow.candles import Candle
from cryptoflow.indicators import StreamingIndicators, cci, compute_arrays, resolve_params


def _best(function: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` runs, in seconds (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_streaming(candles: pd.DataFrame, repeat: int) -> float:
    rows = [
        Candle("SYNTHUSDT", "1m", 0, 0, o, h, low, c, v)
        for o, h, low, c, v in candles[["open", "high", "low", "close", "volume"]].itertuples(index=False)
    ]

    def run() -> None:
        engine = StreamingIndicators("ta")
        update = engine.update
        for candle in rows:
            update(candle)

    return _best(run, repeat) / len(rows) * 1e6


def bench_talipp(candles: pd.DataFrame, repeat: int) -> float:
    from talipp.indicators import CCI, MACD, RSI
    from talipp.ohlcv import OHLCV

    bars = [
        OHLCV(o, h, low, c, v)
        for o, h, low, c, v in candles[["open", "high", "low", "close", "volume"]].itertuples(index=False)
    ]

    def run() -> None:
        rsi, macd, cci = RSI(14), MACD(12, 26, 9), CCI(20)
        for bar in bars:
            rsi.add(bar.close)
            macd.add(bar.close)
            cci.add(bar)

    return _best(run, repeat) / len(bars) * 1e6


def _seed_indicators(df: pd.DataFrame) -> pd.DataFrame:
    """The original live scripts: every indicator recomputed with pandas over the last 50 candles."""
    close = df["Close"]
    delta = close.diff()
    gain = delta.mask(delta < 0, 0)
    loss = -delta.mask(delta > 0, 0)
    df["RSI"] = 100 - (100 / (1 + gain.rolling(window=14).mean() / loss.rolling(window=14).mean()))
    macd = close.ewm(span=12, min_periods=11).mean() - close.ewm(span=26, min_periods=25).mean()
    df["MACD"] = macd
    df["MACD_Signal"] = macd.ewm(span=9, min_periods=8).mean()
    tp = (df["High"] + df["Low"] + close) / 3
    md = tp.rolling(window=20).apply(lambda x: np.fabs(x - x.mean()).mean(), raw=True)
    df["CCI"] = (tp - tp.rolling(window=20).mean()) / (0.015 * md)
    df["IsBull"] = (close >= df["Open"]).astype(int)
    engulfing = [-1] * len(df)
    for i in range(1, len(df)):
        c, o = df["Close"].iloc[i], df["Open"].iloc[i]
        pc, po = df["Close"].iloc[i - 1], df["Open"].iloc[i - 1]
        if c > o and pc < po and pc >= o and po <= c:
            engulfing[i] = 1
        elif c < o and pc > po and pc <= o and po >= c:
            engulfing[i] = 0
    df["IsBullishEngulfing"] = engulfing
    return df


def bench_seed_recompute(candles: pd.DataFrame, repeat: int) -> float:
    frame = (
        candles[["open", "high", "low", "close", "volume"]]
        .rename(columns=str.capitalize)
        .reset_index(drop=True)
    )
    window, updates = frame.iloc[:50].copy(), frame.iloc[50:]

    def run() -> None:
        df = window.copy()
        for i in range(len(updates)):
            df = pd.concat([df.iloc[1:], updates.iloc[i : i + 1]], ignore_index=True)
            df = _seed_indicators(df)

    return _best(run, repeat) / len(updates) * 1e6


def bench_batch(candles: pd.DataFrame, repeat: int) -> dict[str, float]:
    arrays = [np.ascontiguousarray(candles[col].to_numpy()) for col in ("open", "high", "low", "close")]
    params = resolve_params("ta")
    start = time.perf_counter()
    compute_arrays(*(a[:100] for a in arrays), params)  # JIT compile (or load from numba's cache)
    jit_s = time.perf_counter() - start
    seed_params = resolve_params("seed")
    compute_arrays(*(a[:100] for a in arrays), seed_params)
    return {
        "batch_1m_s": _best(lambda: compute_arrays(*arrays, params), repeat),
        "batch_seed_1m_s": _best(lambda: compute_arrays(*arrays, seed_params), repeat),
        "our_cci_1m_s": _best(lambda: cci(arrays[1], arrays[2], arrays[3], 20, 0.015), repeat),
        "batch_jit_first_call_s": jit_s,
    }


def bench_talib(candles: pd.DataFrame, repeat: int) -> dict[str, float]:
    import talib

    o, h, low, c = (np.ascontiguousarray(candles[col].to_numpy()) for col in ("open", "high", "low", "close"))

    def run() -> None:
        talib.RSI(c, 14)
        talib.MACD(c, 12, 26, 9)
        talib.CCI(h, low, c, 20)
        talib.CDLENGULFING(o, h, low, c)
        np.where(c >= o, 1, 0)

    return {"talib_1m_s": _best(run, repeat)}


def bench_ta(candles: pd.DataFrame, cci_slice: int) -> dict[str, Any]:
    import ta

    close = candles["close"]

    def run() -> None:
        ta.momentum.RSIIndicator(close).rsi()
        macd = ta.trend.MACD(close)
        macd.macd(), macd.macd_signal(), macd.macd_diff()
        (close >= candles["open"]).astype(int)

    rest_s = _best(run, 1)
    part = candles.iloc[:cci_slice]
    start = time.perf_counter()
    ta.trend.CCIIndicator(part["high"], part["low"], part["close"]).cci()
    cci_s = (time.perf_counter() - start) * len(candles) / len(part)
    return {"ta_1m_s": rest_s + cci_s, "ta_cci_1m_s": cci_s, "ta_cci_measured_rows": len(part)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the JSON to this file")
    parser.add_argument(
        "--quick", action="store_true", help="smaller inputs (a smoke run, not a measurement)"
    )
    args = parser.parse_args(argv)
    batch_rows = 100_000 if args.quick else 1_000_000
    stream_rows = 20_000 if args.quick else 200_000
    talipp_rows = 5_000 if args.quick else 50_000
    seed_rows = 250 if args.quick else 2_050
    cci_slice = 10_000 if args.quick else 50_000
    repeat = 1 if args.quick else 3

    candles = generate_candles(batch_rows, seed=42)
    result: dict[str, Any] = {
        "streaming_us_per_candle": bench_streaming(candles.iloc[:stream_rows], repeat),
        "talipp_us_per_candle": bench_talipp(candles.iloc[:talipp_rows], repeat),
        "seed_recompute_us_per_candle": bench_seed_recompute(candles.iloc[:seed_rows], 1),
    }
    result.update(bench_batch(candles, repeat))
    result.update(bench_talib(candles, repeat))
    result.update(bench_ta(candles, cci_slice))
    result["ratios"] = {
        "talipp_over_streaming": result["talipp_us_per_candle"] / result["streaming_us_per_candle"],
        "seed_recompute_over_streaming": result["seed_recompute_us_per_candle"]
        / result["streaming_us_per_candle"],
        "batch_over_talib": result["batch_1m_s"] / result["talib_1m_s"],
        "ta_over_batch": result["ta_1m_s"] / result["batch_1m_s"],
        "ta_cci_over_our_cci": result["ta_cci_1m_s"] / result["our_cci_1m_s"],
    }
    result["targets_met"] = {
        "streaming_le_10us": result["streaming_us_per_candle"] <= 10,
        "streaming_3x_talipp": result["ratios"]["talipp_over_streaming"] >= 3,
        "batch_within_2x_talib": result["ratios"]["batch_over_talib"] <= 2,
        "cci_100x_ta": result["ratios"]["ta_cci_over_our_cci"] >= 100,
    }
    result["notes"] = {
        "input": (
            f"generate_candles(seed=42): geometric random walk of 1m candles; batch over {batch_rows:,}, "
            f"streaming over {stream_rows:,}, talipp over {talipp_rows:,} candles; seed recompute over "
            f"{seed_rows - 50:,} updates of a 50-row frame"
        ),
        "indicators": (
            "RSI 14, MACD 12/26/9, CCI 20 everywhere; ours, TA-Lib and ta also compute the bull/bear flag "
            "(TA-Lib: CDLENGULFING for engulfing; ta has none); talipp: RSI, MACD, CCI only"
        ),
        "streaming": "StreamingIndicators('ta').update(Candle): every indicator for one closed candle",
        "ta_cci": (
            f"ta's CCI (rolling.apply with a Python function) measured on {cci_slice:,} rows and scaled "
            "linearly to the batch size; included in ta_1m_s"
        ),
        "timing": (
            f"best of {repeat} run(s), wall clock; batch_jit_first_call_s (numba compile or cache load) "
            "is excluded from batch_1m_s"
        ),
        "quick": bool(args.quick),
        "machine": (
            f"{platform.machine()} cpus={os.cpu_count()} python={sys.version.split()[0]} "
            f"numpy={np.__version__} pandas={pd.__version__}"
        ),
    }
    emit_json(result, args.json)
    return result


if __name__ == "__main__":
    main()
