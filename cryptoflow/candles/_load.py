"""``load_candles``: read any supported candle file, infer symbol and interval, validate, index by time."""

from __future__ import annotations

import logging
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from cryptoflow.candles._columns import CANDLE_COLUMNS, normalise_symbol
from cryptoflow.candles._loaders import names_from_file, read_raw
from cryptoflow.candles._model import interval_ms, interval_name
from cryptoflow.candles._validate import (
    GapPolicy,
    InvalidPolicy,
    LoadReport,
    check_grid,
    check_rows,
    finish_extras,
    order_and_dedupe,
)
from cryptoflow.errors import DataError

log = logging.getLogger("cryptoflow.candles")

_GAP_POLICIES = ("warn", "fail", "fill")
_INVALID_POLICIES = ("fail", "drop")


def _content_interval(times: np.ndarray) -> int | None:
    steps = np.diff(np.unique(times))
    if len(steps) == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def _resolve_symbol(path: Path, given: str | None, in_file: str | None, in_name: str | None) -> str:
    if given is not None:
        symbol = normalise_symbol(given)
        if in_file is not None and in_file != symbol:
            raise DataError(f"{path}: symbol {given!r} was given but the file's rows are {in_file}")
        return symbol
    if in_file is not None:
        return in_file
    if in_name is not None:
        return in_name
    raise DataError(
        f"{path}: cannot tell the symbol: the file has no symbol column and its name has no symbol such as "
        "ETHUSDT; pass symbol='ETHUSDT' (CLI: --symbol)"
    )


def _resolve_interval(path: Path, given: str | None, in_name: str | None, step: int | None) -> str:
    from_content = interval_name(step) if step is not None else None
    if given is not None:
        interval_ms(given)
        if step is not None and step != interval_ms(given) and step % interval_ms(given) != 0:
            raise DataError(
                f"{path}: interval {given!r} was given but consecutive candles are mostly "
                f"{from_content or f'{step // 1000}s'} apart"
            )
        if step is not None and step != interval_ms(given):
            raise DataError(
                f"{path}: interval {given!r} was given but consecutive candles are mostly "
                f"{from_content or f'{step // 1000}s'} apart: resample instead of relabelling"
            )
        return given
    if in_name is not None:
        if step is not None and step != interval_ms(in_name):
            raise DataError(
                f"{path}: the file name says {in_name} but consecutive candles are mostly "
                f"{from_content or f'{step // 1000}s'} apart; pass interval= (CLI: --interval) to confirm"
            )
        return in_name
    if from_content is not None:
        return from_content
    raise DataError(
        f"{path}: cannot tell the interval: the file name has none (such as _5m_) and the rows "
        + ("are too few" if step is None else f"are {step // 1000}s apart, not a Binance interval")
        + "; pass interval='5m' (CLI: --interval)"
    )


def read_candles(
    path: str | PathLike[str],
    *,
    symbol: str | None = None,
    interval: str | None = None,
    on_gap: GapPolicy = "warn",
    dedupe: bool = False,
    on_invalid: InvalidPolicy = "fail",
) -> tuple[pd.DataFrame, LoadReport]:
    """Like :func:`load_candles`, and also return the :class:`LoadReport` of what was found and changed.

    Unlike :func:`load_candles` it logs nothing: the caller presents the report (``cryptoflow data check``
    prints its notes; logging them too showed every warning twice).
    """
    if on_gap not in _GAP_POLICIES:
        raise DataError(f"on_gap must be one of {', '.join(_GAP_POLICIES)}; got {on_gap!r}")
    if on_invalid not in _INVALID_POLICIES:
        raise DataError(f"on_invalid must be one of {', '.join(_INVALID_POLICIES)}; got {on_invalid!r}")
    path = Path(path)
    raw = read_raw(path)
    name_symbol, name_interval = names_from_file(path)
    resolved_symbol = _resolve_symbol(path, symbol, raw.symbol, name_symbol)
    frame = raw.frame
    report = LoadReport(
        path=str(path), layout=raw.layout, symbol=resolved_symbol, interval="?", rows_read=len(frame)
    )
    frame = check_rows(path, frame, raw.location, on_invalid, report)
    frame = order_and_dedupe(path, frame, raw.location, dedupe, report)
    step = _content_interval(frame["open_time"].to_numpy())
    report.interval = _resolve_interval(path, interval, name_interval, step)
    frame = finish_extras(frame, report.interval, report)
    frame = check_grid(path, frame, raw.location, report.interval, on_gap, report)
    columns = [col for col in CANDLE_COLUMNS if col in frame.columns]
    if "is_filled" in frame.columns:
        columns.append("is_filled")
    index = pd.DatetimeIndex(
        pd.to_datetime(frame["open_time"].to_numpy(), unit="ms", utc=True), name="open_time"
    )
    candles = pd.DataFrame({col: frame[col].to_numpy() for col in columns}, index=index)
    candles.attrs["symbol"] = report.symbol
    candles.attrs["interval"] = report.interval
    report.rows = len(candles)
    if len(candles):
        report.first_open_time = int(frame["open_time"].iloc[0])
        report.last_open_time = int(frame["open_time"].iloc[-1])
    return candles, report


def load_candles(
    path: str | PathLike[str],
    *,
    symbol: str | None = None,
    interval: str | None = None,
    on_gap: GapPolicy = "warn",
    dedupe: bool = False,
    on_invalid: InvalidPolicy = "fail",
) -> pd.DataFrame:
    """Load a candle file and validate it.

    Reads every layout of ``../shared/data`` and Binance's public archive: full Binance kline CSV with or
    without header, ``.zip``/``.gz`` archives, CSVs with a banner line and/or descending order,
    ``timestamp,open,high,low,close,volume`` with or without a timezone suffix (naive times are UTC),
    epoch times in s/ms/µs, and Parquet.

    Parameters:
        path: the file.
        symbol: e.g. ``"ETHUSDT"``; default from a symbol column or the file name.
        interval: e.g. ``"5m"``; default from the file name or the spacing of the open times.
        on_gap: missing candles in the interval grid: ``"warn"`` (log count and first positions, keep the
            candles as they are), ``"fail"`` (raise), ``"fill"`` (insert candles at the previous close with
            zero volume and ``is_filled=True``).
        dedupe: drop duplicate open times, keeping the row that appears last in the file, instead of
            raising.
        on_invalid: rows with NaN, non-positive prices, high < max(open, close) or low > min(open, close):
            ``"fail"`` (raise) or ``"drop"`` (drop them and log which).

    Returns:
        A frame indexed by ``open_time`` (UTC ``DatetimeIndex``), columns ``open, high, low, close, volume``
        (float64), ``close_time`` (int64 epoch ms, derived from the interval where the file has none) and,
        where the file has them, ``quote_volume``, ``trades``, ``taker_buy_base_volume``,
        ``taker_buy_quote_volume`` (float64; NaN where a row left them empty). ``attrs["symbol"]`` and
        ``attrs["interval"]`` are set. Out-of-order input is sorted, with a warning.

    Raises:
        DataError: naming the file, the line (Parquet: row) and the rule broken.

    >>> candles = load_candles("ETHUSDT_5m_2025-08.csv")  # doctest: +SKIP
    >>> candles.attrs["interval"]  # doctest: +SKIP
    '5m'
    """
    candles, report = read_candles(
        path, symbol=symbol, interval=interval, on_gap=on_gap, dedupe=dedupe, on_invalid=on_invalid
    )
    for note in report.changes():
        log.warning("%s: %s", path, note)
    return candles
