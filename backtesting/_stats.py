"""Backtest statistics from one pure function, :func:`compute_stats`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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


def _win_rate(pnl: pd.Series) -> float:
    return float((pnl > 0).mean() * 100.0) if len(pnl) else math.nan


def _longest_underwater(index: pd.DatetimeIndex, underwater: np.ndarray, bar: pd.Timedelta) -> pd.Timedelta:
    """Longest time from leaving a peak to getting back to it (or to the end of the data)."""
    if not underwater.any():
        return pd.Timedelta(0)
    flags = np.concatenate([[False], underwater, [False]]).astype(np.int8)
    starts = np.flatnonzero(np.diff(flags) == 1)
    ends = np.flatnonzero(np.diff(flags) == -1)  # first candle back at the peak (or len)
    times = np.concatenate([index.asi8, [index.asi8[-1] + bar.value]])
    return pd.Timedelta(int((times[ends] - times[starts]).max()), "ns")


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
    equity = equity.astype(float)
    if len(equity) == 0:
        raise ValueError("compute_stats needs at least one equity value")
    initial = float(equity.iloc[0] if initial_equity is None else initial_equity)
    index = pd.DatetimeIndex(equity.index)
    if bar_duration is None:
        bar_duration = pd.Timedelta(np.median(np.diff(index.asi8))) if len(index) > 1 else pd.Timedelta(0)
    span = (index[-1] - index[0]) + bar_duration
    days = span / pd.Timedelta(days=1)
    final = float(equity.iloc[-1])

    # returns per candle, including the first candle's move from the initial equity
    values = np.concatenate([[initial], equity.to_numpy()])
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(values) / values[:-1]
    returns = returns[np.isfinite(returns)]
    periods_per_year = _YEAR_DAYS / (bar_duration / pd.Timedelta(days=1)) if bar_duration else math.nan
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else math.nan
    mean = float(np.mean(returns)) if len(returns) else math.nan
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))) if len(returns) else math.nan
    sharpe = _ratio(mean, std) * math.sqrt(periods_per_year) if std == std else math.nan
    sortino = _ratio(mean, downside) * math.sqrt(periods_per_year) if downside == downside else math.nan

    peak = np.maximum.accumulate(np.concatenate([[initial], equity.to_numpy()]))[1:]
    drawdown = np.where(peak > 0, equity.to_numpy() / peak - 1.0, 0.0)
    max_dd = float(drawdown.min()) if len(drawdown) else 0.0
    longest = _longest_underwater(index, drawdown < 0, bar_duration)

    total_return = final / initial - 1.0 if initial else math.nan
    cagr = (
        (final / initial) ** (1.0 / (days / _YEAR_DAYS)) - 1.0
        if initial > 0 and final > 0 and days
        else (-1.0 if final <= 0 < initial else math.nan)
    )
    calmar = _ratio(cagr, abs(max_dd)) if max_dd < 0 else math.nan

    pnl = trades["pnl"].astype(float) if len(trades) else pd.Series(dtype=float)
    is_long = trades["side"].eq("long") if len(trades) else pd.Series(dtype=bool)
    if len(trades):
        sign = np.where(is_long, 1.0, -1.0)
        trade_return = sign * (trades["exit_price"] / trades["entry_price"] - 1.0) * 100.0
        holding = (trades["exit_time"] - trades["entry_time"]) / pd.Timedelta(hours=1)
    else:
        trade_return = pd.Series(dtype=float)
        holding = pd.Series(dtype=float)
    gains = float(pnl[pnl > 0].sum())
    losses = float(-pnl[pnl < 0].sum())
    held = float(holding.sum()) if len(holding) else 0.0

    stats = {
        "start": index[0].isoformat(),
        "end": index[-1].isoformat(),
        "duration_days": days,
        "initial_equity": initial,
        "final_equity": final,
        "total_return_pct": total_return * 100.0,
        "cagr_pct": cagr * 100.0,
        "max_drawdown_pct": max_dd * 100.0,
        "max_drawdown_duration_days": longest / pd.Timedelta(days=1),
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        "n_trades": len(trades),
        "n_long": int(is_long.sum()) if len(trades) else 0,
        "n_short": int((~is_long).sum()) if len(trades) else 0,
        "win_rate_pct": _win_rate(pnl),
        "win_rate_long_pct": _win_rate(pnl[is_long]) if len(trades) else math.nan,
        "win_rate_short_pct": _win_rate(pnl[~is_long]) if len(trades) else math.nan,
        "profit_factor": _ratio(gains, losses) if len(trades) else math.nan,
        "expectancy": float(pnl.mean()) if len(trades) else math.nan,
        "expectancy_pct": float(trade_return.mean()) if len(trades) else math.nan,
        "best_trade_pct": float(trade_return.max()) if len(trades) else math.nan,
        "worst_trade_pct": float(trade_return.min()) if len(trades) else math.nan,
        "avg_holding_hours": float(holding.mean()) if len(trades) else math.nan,
        "max_holding_hours": float(holding.max()) if len(trades) else math.nan,
        "exposure_pct": held / (span / pd.Timedelta(hours=1)) * 100.0 if days else math.nan,
        "fees_paid": float(trades["fees"].sum()) if len(trades) else 0.0,
    }
    curve = pd.DataFrame({"equity": equity.to_numpy(), "drawdown_pct": drawdown * 100.0}, index=index)
    return Stats(stats, trades.copy(), curve)
