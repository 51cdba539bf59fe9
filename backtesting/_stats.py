"""Backtest statistics from one pure function, :func:`compute_stats`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

__all__ = ["STAT_LABELS", "Stats", "compute_stats"]

_YEAR_DAYS = 365.25  # crypto trades every day of the year

STAT_LABELS: dict[str, str] = {
    "start": "Start (UTC)",
    "end": "End (UTC)",
    "duration_days": "Duration [days]",
    "initial_equity": "Initial equity [quote]",
    "final_equity": "Final equity [quote]",
    "total_return_pct": "Total return [%]",
    "cagr_pct": "CAGR [%]",
    "max_drawdown_pct": "Max drawdown [%]",
    "max_drawdown_duration_days": "Max drawdown duration [days]",
    "sharpe": "Sharpe ratio (annualised)",
    "sortino": "Sortino ratio (annualised)",
    "calmar": "Calmar ratio",
    "n_trades": "Trades",
    "n_long": "Long trades",
    "n_short": "Short trades",
    "win_rate_pct": "Win rate [%]",
    "win_rate_long_pct": "Win rate longs [%]",
    "win_rate_short_pct": "Win rate shorts [%]",
    "profit_factor": "Profit factor",
    "expectancy": "Expectancy [quote/trade]",
    "expectancy_pct": "Expectancy [%/trade]",
    "best_trade_pct": "Best trade [%]",
    "worst_trade_pct": "Worst trade [%]",
    "avg_holding_hours": "Average holding time [h]",
    "max_holding_hours": "Longest holding time [h]",
    "exposure_pct": "Exposure [%]",
    "fees_paid": "Fees paid [quote]",
}
"""Every statistic's key and its human label with unit, in display order."""


@dataclass(frozen=True)
class Stats:
    """Statistics (``values``, keys of :data:`STAT_LABELS`) with the trades and equity they came from.

    ``stats[key]`` reads ``values``; NaN marks a statistic that is undefined (e.g. a
    win rate without trades).
    """

    values: dict[str, Any]
    trades: pd.DataFrame = field(repr=False)
    equity: pd.DataFrame = field(repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def to_json(self) -> dict[str, Any]:
        """The values with NaN/inf replaced by ``None`` (JSON has no NaN) and numpy scalars unwrapped."""
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[key] = value
        return out


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0 or not math.isfinite(denominator):
        return math.inf if numerator > 0 and denominator == 0 else math.nan
    return numerator / denominator


def _annualised(growth: float, days: float) -> float:
    """``growth`` over ``days`` as a yearly rate; a gain over minutes overflows to infinity."""
    try:
        return growth ** (1.0 / (days / _YEAR_DAYS)) - 1.0
    except OverflowError:
        return math.inf


def _win_rate(pnl: np.ndarray) -> float:
    return float((pnl > 0).mean() * 100.0) if len(pnl) else math.nan


@njit(cache=True, nogil=True)
def _equity_pass(
    equity: np.ndarray, initial: float, times: np.ndarray, bar_ns: int
) -> tuple[int, float, float, float, float, int, np.ndarray]:
    """Two compiled passes over the equity curve (a million candles cost milliseconds, no temporaries).

    Returns the count, mean, sample standard deviation and downside deviation (root mean square of the
    negative ones) of the finite returns per candle, counted from ``initial``; the deepest drawdown (a
    fraction, <= 0); the longest time in ns from leaving a peak to getting back to it (or to the end of the
    data); and the drawdown in percent of the running peak per candle (0 where the peak is not positive).
    """
    n = equity.shape[0]
    drawdown_pct = np.empty(n)
    count = 0
    total = 0.0
    previous = initial
    for i in range(n):
        value = equity[i]
        r = (value - previous) / previous if previous != 0.0 else (value - previous) * np.inf
        if np.isfinite(r):
            count += 1
            total += r
        previous = value
    mean = total / count if count else np.nan
    squares = 0.0
    downside = 0.0
    peak = initial
    max_dd = 0.0
    longest = 0
    under_since = -1
    previous = initial
    for i in range(n):
        value = equity[i]
        r = (value - previous) / previous if previous != 0.0 else (value - previous) * np.inf
        if np.isfinite(r):
            squares += (r - mean) ** 2
            if r < 0.0:
                downside += r * r
        previous = value
        if peak != peak or value != value:
            peak = np.nan
        elif value > peak:
            peak = value
        dd = value / peak - 1.0 if peak > 0.0 else 0.0
        drawdown_pct[i] = dd * 100.0
        if dd < max_dd:
            max_dd = dd
        if dd < 0.0:
            if under_since < 0:
                under_since = i
        elif under_since >= 0:
            longest = max(longest, times[i] - times[under_since])
            under_since = -1
    if under_since >= 0:
        longest = max(longest, times[n - 1] + bar_ns - times[under_since])
    std = np.sqrt(squares / (count - 1)) if count > 1 else np.nan
    down = np.sqrt(downside / count) if count else np.nan
    return count, mean, std, down, max_dd, longest, drawdown_pct


def compute_stats(
    trades: pd.DataFrame,
    equity: pd.Series,
    *,
    initial_equity: float | None = None,
    bar_duration: pd.Timedelta | None = None,
) -> Stats:
    """Compute the backtest statistics; pure (no I/O, inputs untouched).

    Parameters
    ----------
    trades:
        Closed trades with columns ``side`` ("long"/"short"), ``entry_time``, ``exit_time`` (UTC
        timestamps), ``entry_price``, ``exit_price``, ``pnl`` and ``fees`` (quote currency, net pnl).
    equity:
        Equity in quote currency marked to market at every candle close, indexed by candle open time.
    initial_equity:
        Starting cash; defaults to the first equity value.
    bar_duration:
        Candle length; defaults to the median spacing of ``equity``'s index. Used to annualise Sharpe
        and Sortino (365.25 days a year) and to measure the covered span.

    Returns
    -------
    Stats
        Keys of :data:`STAT_LABELS`: returns and drawdowns in percent, durations in days or hours,
        money in quote currency, ratios unitless (risk-free rate 0).

    Example
    -------
    >>> stats = compute_stats(result.trades, result.equity, initial_equity=10_000)  # doctest: +SKIP
    >>> stats["total_return_pct"]  # doctest: +SKIP
    """
    values = equity.to_numpy(dtype=np.float64)  # no copy when it already is float64
    if len(values) == 0:
        raise ValueError("compute_stats needs at least one equity value")
    initial = float(values[0] if initial_equity is None else initial_equity)
    index = pd.DatetimeIndex(equity.index)
    times = index.asi8
    if bar_duration is None:
        bar_duration = _median_spacing(times)
    span = (index[-1] - index[0]) + bar_duration
    days = span / pd.Timedelta(days=1)
    final = float(values[-1])

    _, mean, std, downside, max_dd, longest_ns, drawdown_pct = _equity_pass(
        values, initial, times, bar_duration.value
    )
    periods_per_year = _YEAR_DAYS / (bar_duration / pd.Timedelta(days=1)) if bar_duration else math.nan
    sharpe = _ratio(mean, std) * math.sqrt(periods_per_year) if std == std else math.nan
    sortino = _ratio(mean, downside) * math.sqrt(periods_per_year) if downside == downside else math.nan

    total_return = final / initial - 1.0 if initial else math.nan
    cagr = (
        _annualised(final / initial, days)
        if initial > 0 and final > 0 and days
        else (-1.0 if final <= 0 < initial else math.nan)
    )
    calmar = _ratio(cagr, abs(max_dd)) if max_dd < 0 else math.nan

    n_trades = len(trades)
    if n_trades:
        pnl = trades["pnl"].to_numpy(dtype=np.float64)
        is_long = trades["side"].to_numpy() == "long"
        entry_price = trades["entry_price"].to_numpy(dtype=np.float64)
        exit_price = trades["exit_price"].to_numpy(dtype=np.float64)
        trade_return = np.where(is_long, 1.0, -1.0) * (exit_price / entry_price - 1.0) * 100.0
        held_ns = _ns(trades["exit_time"]) - _ns(trades["entry_time"])
        holding = held_ns / pd.Timedelta(hours=1).value
        fees = trades["fees"].to_numpy(dtype=np.float64)
    else:
        pnl = trade_return = holding = fees = np.empty(0)
        is_long = np.empty(0, dtype=bool)
    gains = float(pnl[pnl > 0].sum())
    losses = float(-pnl[pnl < 0].sum())
    held = float(holding.sum())
    undefined = n_trades == 0

    stats = {
        "start": index[0].isoformat(),
        "end": index[-1].isoformat(),
        "duration_days": days,
        "initial_equity": initial,
        "final_equity": final,
        "total_return_pct": total_return * 100.0,
        "cagr_pct": cagr * 100.0,
        "max_drawdown_pct": max_dd * 100.0,
        "max_drawdown_duration_days": longest_ns / pd.Timedelta(days=1).value,
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        "n_trades": n_trades,
        "n_long": int(is_long.sum()),
        "n_short": int(n_trades - is_long.sum()),
        "win_rate_pct": _win_rate(pnl),
        "win_rate_long_pct": _win_rate(pnl[is_long]) if n_trades else math.nan,
        "win_rate_short_pct": _win_rate(pnl[~is_long]) if n_trades else math.nan,
        "profit_factor": math.nan if undefined else _ratio(gains, losses),
        "expectancy": math.nan if undefined else float(pnl.mean()),
        "expectancy_pct": math.nan if undefined else float(trade_return.mean()),
        "best_trade_pct": math.nan if undefined else float(trade_return.max()),
        "worst_trade_pct": math.nan if undefined else float(trade_return.min()),
        "avg_holding_hours": math.nan if undefined else float(holding.mean()),
        "max_holding_hours": math.nan if undefined else float(holding.max()),
        "exposure_pct": held / (span / pd.Timedelta(hours=1)) * 100.0 if days else math.nan,
        "fees_paid": float(fees.sum()),
    }
    # the curve shares the equity's memory (a view, not a copy: a million candles are 8 MB each)
    curve = pd.DataFrame({"equity": values, "drawdown_pct": drawdown_pct}, index=index, copy=False)
    return Stats(stats, trades.copy(), curve)


def _median_spacing(times: np.ndarray) -> pd.Timedelta:
    """The median time between consecutive candles (0 for one candle); its temporary (8 MB per million
    candles) is gone before the equity pass allocates the drawdown."""
    if len(times) < 2:
        return pd.Timedelta(0)
    return pd.Timedelta(np.median(np.diff(times), overwrite_input=True))


def _ns(times: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds since the epoch."""
    return pd.DatetimeIndex(times).asi8
