"""Indicator speed: our streaming and batch engines against TA-Lib (arrays and stream handles), ferro-ta,
talipp, ta and the 2023 approach.

    python -m benchmarks.indicators [--json OUT] [--quick]

Prints one JSON object (and writes it to OUT). Every figure is measured in the same run on this machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
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


_Rows = list[tuple[float, float, float, float]]
# Candles every streaming engine is opened (warmed) on before the timed ones: TA-Lib's handles refuse to open
# on less history than their lookback (MACD 12/26/9 needs 34 candles).
_WARM = 100


def _stream_rows(candles: pd.DataFrame) -> _Rows:
    return list(candles[["open", "high", "low", "close"]].itertuples(index=False, name=None))


def _ours(rows: _Rows, peek: bool) -> Callable[[], Any]:
    """StreamingIndicators('ta') over Candle objects: ``update`` each candle, or ``peek`` at each (the state
    stays as it was after the warm-up, as for the ticks of an open candle)."""
    candles = [Candle("SYNTHUSDT", "1m", 0, 0, o, h, low, c, 1.0) for o, h, low, c in rows]

    def run() -> Any:
        engine = StreamingIndicators("ta")
        for candle in candles[:_WARM]:
            engine.update(candle)
        step = engine.peek if peek else engine.update
        for candle in candles[_WARM:]:
            values = step(candle)
        return values

    return run


def _talib_stream(rows: _Rows, peek: bool, engulfing: bool) -> Callable[[], Any]:
    """TA-Lib's ``talib.stream`` handles, opened on the warm-up candles, then one call per indicator."""
    from talib import stream

    opens, highs, lows, closes = (np.array(column) for column in zip(*rows[:_WARM], strict=True))
    rest = rows[_WARM:]

    def run() -> Any:
        rsi, macd = stream.RSI(closes, 14), stream.MACD(closes, 12, 26, 9)
        cci, pattern = stream.CCI(highs, lows, closes, 20), stream.CDLENGULFING(opens, highs, lows, closes)
        step = "peek" if peek else "update"
        rsi_step, macd_step, cci_step = getattr(rsi, step), getattr(macd, step), getattr(cci, step)
        pattern_step = getattr(pattern, step)
        if engulfing:
            for o, h, low, c in rest:
                values = (
                    rsi_step(c),
                    macd_step(c),
                    cci_step(h, low, c),
                    pattern_step(o, h, low, c),
                    1 if c >= o else 0,
                )
        else:
            for _o, h, low, c in rest:
                values = (rsi_step(c), macd_step(c), cci_step(h, low, c))
        return values

    return run


def _ferro_ta(
    rows: list[tuple[float, float, float, float]], peek: bool, engulfing: bool
) -> Callable[[], Any]:
    """ferro-ta's streaming classes (Rust), one ``update`` per indicator (``closed=False`` to peek)."""
    from ferro_ta.data.streaming import StreamingCci, StreamingCdlengulfing, StreamingMACD, StreamingRSI

    def run() -> Any:
        rsi, macd, cci, pattern = (
            StreamingRSI(14),
            StreamingMACD(12, 26, 9),
            StreamingCci(20),
            StreamingCdlengulfing(),
        )
        for o, h, low, c in rows[:_WARM]:
            rsi.update(c), macd.update(c), cci.update(h, low, c), pattern.update(o, h, low, c)
        closed = not peek
        if engulfing:
            for o, h, low, c in rows[_WARM:]:
                values = (
                    rsi.update(c, closed=closed),
                    macd.update(c, closed=closed),
                    cci.update(h, low, c, closed=closed),
                    pattern.update(o, h, low, c, closed=closed),
                    1 if c >= o else 0,
                )
        else:
            for _o, h, low, c in rows[_WARM:]:
                values = (
                    rsi.update(c, closed=closed),
                    macd.update(c, closed=closed),
                    cci.update(h, low, c, closed=closed),
                )
        return values

    return run


def bench_streaming(candles: pd.DataFrame, rounds: int) -> dict[str, Any]:
    """Ours and the streaming peers over the same candles, interleaved round by round; medians."""
    rows = _stream_rows(candles)
    engines: dict[str, Callable[[], Any]] = {
        "streaming_us_per_candle": _ours(rows, peek=False),
        "streaming_peek_us_per_candle": _ours(rows, peek=True),
        "talib_stream_us_per_candle": _talib_stream(rows, peek=False, engulfing=False),
        "talib_stream_peek_us_per_candle": _talib_stream(rows, peek=True, engulfing=False),
        "talib_stream_with_engulfing_us_per_candle": _talib_stream(rows, peek=False, engulfing=True),
        "ferro_ta_us_per_candle": _ferro_ta(rows, peek=False, engulfing=False),
        "ferro_ta_peek_us_per_candle": _ferro_ta(rows, peek=True, engulfing=False),
        "ferro_ta_with_engulfing_us_per_candle": _ferro_ta(rows, peek=False, engulfing=True),
    }
    last = {name: run() for name, run in engines.items()}  # warm up (and numba's compile or cache load)
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, run in engines.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) / (len(rows) - _WARM) * 1e6)
    result: dict[str, Any] = {name: statistics.median(values) for name, values in times.items()}
    result["streaming_rounds_us_per_candle"] = {
        name: [round(t, 3) for t in values] for name, values in times.items()
    }
    ours, talib, ferro = (
        last["streaming_us_per_candle"],
        last["talib_stream_us_per_candle"],
        last["ferro_ta_us_per_candle"],
    )
    # The same work: after all the candles the peers' values agree with ours (TA-Lib and ferro-ta seed their
    # EMAs with a simple mean, ours like pandas and the ta library, which 200,000 candles later is invisible).
    result["streaming_last_candle_max_abs_diff"] = {
        peer: max(
            abs(values[0] - ours["rsi"]),
            abs(values[1][0] - ours["macd"]),
            abs(values[1][1] - ours["macd_signal"]),
            abs(values[2] - ours["cci"]),
        )
        for peer, values in (("talib_stream", talib), ("ferro_ta", ferro))
    }
    return result


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
    rounds = 2 if args.quick else 7

    load_before = os.getloadavg()
    candles = generate_candles(batch_rows, seed=42)
    result: dict[str, Any] = bench_streaming(candles.iloc[:stream_rows], rounds)
    result["talipp_us_per_candle"] = bench_talipp(candles.iloc[:talipp_rows], repeat)
    result["seed_recompute_us_per_candle"] = bench_seed_recompute(candles.iloc[:seed_rows], 1)
    result.update(bench_batch(candles, repeat))
    result.update(bench_talib(candles, repeat))
    result.update(bench_ta(candles, cci_slice))
    streaming = result["streaming_us_per_candle"]
    result["ratios"] = {
        "talib_stream_over_streaming": result["talib_stream_us_per_candle"] / streaming,
        "talib_stream_with_engulfing_over_streaming": result["talib_stream_with_engulfing_us_per_candle"]
        / streaming,
        "talib_stream_peek_over_streaming_peek": result["talib_stream_peek_us_per_candle"]
        / result["streaming_peek_us_per_candle"],
        "ferro_ta_over_streaming": result["ferro_ta_us_per_candle"] / streaming,
        "ferro_ta_with_engulfing_over_streaming": result["ferro_ta_with_engulfing_us_per_candle"] / streaming,
        "ferro_ta_peek_over_streaming_peek": result["ferro_ta_peek_us_per_candle"]
        / result["streaming_peek_us_per_candle"],
        "talipp_over_streaming": result["talipp_us_per_candle"] / result["streaming_us_per_candle"],
        "seed_recompute_over_streaming": result["seed_recompute_us_per_candle"]
        / result["streaming_us_per_candle"],
        "batch_over_talib": result["batch_1m_s"] / result["talib_1m_s"],
        "ta_over_batch": result["ta_1m_s"] / result["batch_1m_s"],
        "ta_cci_over_our_cci": result["ta_cci_1m_s"] / result["our_cci_1m_s"],
    }
    result["targets_met"] = {
        "streaming_update_le_1_5us": streaming <= 1.5,
        "streaming_peek_le_1_5us": result["streaming_peek_us_per_candle"] <= 1.5,
        "streaming_3x_talipp": result["ratios"]["talipp_over_streaming"] >= 3,
        "batch_within_2x_talib": result["ratios"]["batch_over_talib"] <= 2,
        "cci_100x_ta": result["ratios"]["ta_cci_over_our_cci"] >= 100,
    }
    result["notes"] = {
        "input": (
            f"generate_candles(seed=42): geometric random walk of 1m candles; batch over {batch_rows:,}, "
            f"streaming (ours, TA-Lib's stream handles, ferro-ta) over {stream_rows:,}, talipp over "
            f"{talipp_rows:,} candles; seed recompute over "
            f"{seed_rows - 50:,} updates of a 50-row frame"
        ),
        "indicators": (
            "RSI 14, MACD 12/26/9, CCI 20 everywhere; ours, TA-Lib (arrays) and ta also compute the "
            "bull/bear flag (TA-Lib: CDLENGULFING for engulfing; ta has none); talipp and the talib_stream_/"
            "ferro_ta_ figures without _with_engulfing: RSI, MACD, CCI only"
        ),
        "streaming": (
            "ours: StreamingIndicators('ta').update(Candle) (every indicator, engulfing and bull/bear "
            "included, as a dict) and .peek(Candle) (the same for the open candle, state unchanged); "
            "talib_stream_*: talib.stream.RSI/MACD/CCI handles' update (peek: .peek) on floats, ferro_ta_*: "
            "ferro_ta's StreamingRSI/MACD/Cci.update (peek: closed=False) on floats; *_with_engulfing_* "
            "adds the peer's CDLENGULFING stream and the bull/bear flag, the work ours does"
        ),
        "streaming_timing": (
            f"median of {rounds} interleaved rounds (each engine once per round, in turn), wall clock; "
            "every round of each engine is in streaming_rounds_us_per_candle"
        ),
        "ta_cci": (
            f"ta's CCI (rolling.apply with a Python function) measured on {cci_slice:,} rows and scaled "
            "linearly to the batch size; included in ta_1m_s"
        ),
        "timing": (
            f"batch, TA-Lib arrays, talipp: best of {repeat} run(s), wall clock; batch_jit_first_call_s "
            "(numba compile or cache load) "
            "is excluded from batch_1m_s"
        ),
        "quick": bool(args.quick),
        "load_average_1m": {"before": load_before[0], "after": os.getloadavg()[0]},
        "machine": (
            f"{platform.machine()} cpus={os.cpu_count()} python={sys.version.split()[0]} "
            f"numpy={np.__version__} pandas={pd.__version__}"
        ),
    }
    emit_json(result, args.json)
    return result


if __name__ == "__main__":
    main()
