"""Validation rules and the explicit repair policies of candle loading."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from cryptoflow.candles._columns import EXTRA_COLUMNS, OHLCV, PRICE_COLUMNS
from cryptoflow.candles._model import WEEK_OFFSET_MS, interval_ms
from cryptoflow.errors import DataError

log = logging.getLogger("cryptoflow.candles")

GapPolicy = Literal["warn", "fail", "fill"]
InvalidPolicy = Literal["fail", "drop"]
_SHOWN = 3  # positions listed in gap/duplicate messages


def iso(ms: int) -> str:
    """Epoch ms -> ``2025-08-19T15:10:00Z``."""
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Gap:
    """Missing candles between two consecutive open times (``after`` and ``before``, epoch ms)."""

    after: int
    before: int
    missing: int

    def __str__(self) -> str:
        return f"{self.missing} missing after {iso(self.after)}"


@dataclass
class LoadReport:
    """What loading found and changed: the record the ``--dedupe``/``--on-gap``/``--on-invalid`` policies
    leave behind, and what ``cryptoflow data check`` prints."""

    path: str
    layout: str
    symbol: str
    interval: str
    rows_read: int = 0
    rows: int = 0
    sorted_input: bool = False
    duplicates_dropped: list[int] = field(default_factory=list)
    invalid_dropped: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    filled: int = 0
    missing_extras: int = 0
    first_open_time: int | None = None
    last_open_time: int | None = None

    @property
    def missing_candles(self) -> int:
        """Total candles absent from the interval grid between the first and last open time."""
        return sum(gap.missing for gap in self.gaps)

    def changes(self) -> list[str]:
        """One human sentence per thing the load noticed or changed."""
        notes = []
        if self.sorted_input:
            notes.append("input was not in ascending time order: sorted")
        if self.duplicates_dropped:
            notes.append(
                f"dropped {len(self.duplicates_dropped)} duplicate open time(s), kept the last row of each "
                f"(first: {', '.join(iso(t) for t in self.duplicates_dropped[:_SHOWN])})"
            )
        if self.invalid_dropped:
            notes.append(
                f"dropped {len(self.invalid_dropped)} invalid row(s): "
                + "; ".join(self.invalid_dropped[:_SHOWN])
            )
        if self.gaps:
            where = ", ".join(str(gap) for gap in self.gaps[:_SHOWN])
            verb = (
                f"filled {self.filled} candle(s) (previous close, zero volume, is_filled=True)"
                if self.filled
                else "kept as is"
            )
            notes.append(
                f"{len(self.gaps)} gap(s) in the {self.interval} grid, "
                f"{self.missing_candles} candle(s) missing "
                f"({where}{', ...' if len(self.gaps) > _SHOWN else ''}): {verb}"
            )
        if self.missing_extras:
            notes.append(
                f"{self.missing_extras} row(s) have empty trailing columns: close_time derived from the "
                "interval, quote volume, trades and taker volumes left NaN"
            )
        return notes


def _where(path: Path, location: str, line: int) -> str:
    return f"{path}: {location} {int(line)}"


def check_rows(
    path: Path, frame: pd.DataFrame, location: str, on_invalid: InvalidPolicy, report: LoadReport
) -> pd.DataFrame:
    """Reject (or drop, with ``on_invalid="drop"``) rows with NaN, non-positive or impossible prices."""
    prices = frame[list(PRICE_COLUMNS)].to_numpy()
    volume = frame["volume"].to_numpy()
    opens, highs, lows, closes = prices.T
    problems: list[tuple[np.ndarray, str]] = []
    for col in OHLCV:
        problems.append(
            (np.isnan(frame[col].to_numpy()), f"{col} is NaN (rule: no missing prices or volumes)")
        )
    for col in PRICE_COLUMNS:
        problems.append((frame[col].to_numpy() <= 0, f"{col} is not positive (rule: prices > 0)"))
    problems.append((volume < 0, "volume is negative (rule: volume >= 0)"))
    problems.append(
        (highs < np.maximum(opens, closes), "high is below max(open, close) (rule: high >= max(open, close))")
    )
    problems.append(
        (lows > np.minimum(opens, closes), "low is above min(open, close) (rule: low <= min(open, close))")
    )
    bad = np.zeros(len(frame), dtype=bool)
    reasons: dict[int, str] = {}
    lines = frame["_line"].to_numpy()
    for mask, rule in problems:
        for i in np.flatnonzero(mask & ~bad):
            reasons[int(i)] = rule
        bad |= mask
    if not bad.any():
        return frame
    first = int(np.flatnonzero(bad)[0])
    if on_invalid == "fail":
        row = frame.iloc[first]
        values = ", ".join(f"{col}={float(row[col])}" for col in OHLCV)
        more = int(bad.sum()) - 1
        raise DataError(
            f"{_where(path, location, lines[first])}: {reasons[first]}; {values}"
            + (f" ({more} more invalid row(s); on_invalid='drop' drops them)" if more else "")
        )
    for i in np.flatnonzero(bad):
        report.invalid_dropped.append(f"{location} {int(lines[i])}: {reasons[int(i)].split(' (rule')[0]}")
    return frame.loc[~bad].reset_index(drop=True)


def order_and_dedupe(
    path: Path, frame: pd.DataFrame, location: str, dedupe: bool, report: LoadReport
) -> pd.DataFrame:
    """Sort by open time (stable), then refuse or drop duplicate open times."""
    times = frame["open_time"].to_numpy()
    if len(times) > 1 and not (np.diff(times) >= 0).all():
        report.sorted_input = True
        frame = frame.sort_values(["open_time", "_line"], kind="stable").reset_index(drop=True)
        times = frame["open_time"].to_numpy()
    duplicated = np.zeros(len(times), dtype=bool)
    duplicated[1:] = times[1:] == times[:-1]
    if not duplicated.any():
        return frame
    if not dedupe:
        i = int(np.flatnonzero(duplicated)[0])
        lines = frame["_line"].to_numpy()
        same = lines[times == times[i]]
        raise DataError(
            f"{_where(path, location, lines[i])}: open time {iso(times[i])} duplicates "
            f"{location} {int(min(same))} (rule: one candle per open time; "
            f"{int(duplicated.sum())} duplicate(s) "
            "in the file; dedupe=True / --dedupe keeps the last row of each)"
        )
    # Keep the row that appears last in the file: a re-downloaded candle supersedes the earlier copy.
    frame = frame.sort_values(["open_time", "_line"], kind="stable")
    keep = ~frame["open_time"].duplicated(keep="last").to_numpy()
    report.duplicates_dropped = sorted(set(frame["open_time"].to_numpy()[~keep].tolist()))
    return frame.loc[keep].reset_index(drop=True)


def check_grid(
    path: Path, frame: pd.DataFrame, location: str, interval: str, on_gap: GapPolicy, report: LoadReport
) -> pd.DataFrame:
    """Check the open times sit on the interval grid; report, refuse or fill gaps."""
    step = interval_ms(interval)
    times = frame["open_time"].to_numpy()
    offset = WEEK_OFFSET_MS if interval.endswith("w") else 0
    lines = frame["_line"].to_numpy()
    if step <= 86_400_000 or interval.endswith("w"):
        off_grid = (times - offset) % step != 0
        if off_grid.any():
            i = int(np.flatnonzero(off_grid)[0])
            raise DataError(
                f"{_where(path, location, lines[i])}: open time {iso(times[i])} "
                f"is not on the {interval} grid "
                f"(rule: {interval} candles open at multiples of {interval} since the epoch, in UTC)"
            )
    deltas = np.diff(times)
    uneven = deltas % step != 0
    if uneven.any():
        i = int(np.flatnonzero(uneven)[0]) + 1
        raise DataError(
            f"{_where(path, location, lines[i])}: open time {iso(times[i])} "
            f"is {deltas[i - 1] // 1000}s after "
            f"the previous candle, not a multiple of {interval} (rule: one candle per {interval})"
        )
    gap_at = np.flatnonzero(deltas > step)
    report.gaps = [Gap(int(times[i]), int(times[i + 1]), int(deltas[i] // step - 1)) for i in gap_at]
    if not report.gaps:
        return frame
    if on_gap == "fail":
        gap = report.gaps[0]
        i = int(gap_at[0]) + 1
        raise DataError(
            f"{_where(path, location, lines[i])}: {gap.missing} {interval} candle(s) missing between "
            f"{iso(gap.after)} and {iso(gap.before)} (rule: no gaps, on_gap='fail'; "
            f"{len(report.gaps)} gap(s), "
            f"{report.missing_candles} candle(s) missing in all)"
        )
    if on_gap == "warn":
        return frame
    full = np.arange(times[0], times[-1] + step, step, dtype="int64")
    filled = frame.set_index("open_time").reindex(full)
    missing = filled["open"].isna().to_numpy()
    previous_close = filled["close"].ffill()
    for col in ("open", "high", "low", "close"):
        filled[col] = filled[col].where(~missing, previous_close)
    for col in ("volume", "quote_volume", "trades", "taker_buy_base_volume", "taker_buy_quote_volume"):
        if col in filled.columns:
            filled[col] = filled[col].where(~missing, 0.0)
    if "close_time" in filled.columns:
        filled["close_time"] = np.where(missing, full + step - 1, filled["close_time"].fillna(-1)).astype(
            "int64"
        )
    filled["_line"] = filled["_line"].fillna(0).astype("int64")
    filled["is_filled"] = missing
    report.filled = int(missing.sum())
    return filled.rename_axis("open_time").reset_index()


def finish_extras(frame: pd.DataFrame, interval: str, report: LoadReport) -> pd.DataFrame:
    """Derive close times (``open_time + interval - 1``) where the file has none; count thin rows."""
    step = interval_ms(interval)
    derived = frame["open_time"].to_numpy() + step - 1
    if "close_time" not in frame.columns:
        frame["close_time"] = derived
    else:
        close_time = frame["close_time"].to_numpy()
        missing = close_time < 0
        report.missing_extras = int(missing.sum())
        frame["close_time"] = np.where(missing, derived, close_time).astype("int64")
    for col in EXTRA_COLUMNS[1:]:
        if col in frame.columns:
            frame[col] = frame[col].astype("float64")
    return frame
