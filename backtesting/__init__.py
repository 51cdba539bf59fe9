"""Historical simulation of cryptoflow strategies, statistics and Plotly HTML reports.

Note: this package shadows the PyPI package ``backtesting`` (backtesting.py); compare against that one
only from an isolated virtual environment.

Example::

    from cryptoflow.candles import load_candles
    from backtesting import BacktestConfig, run_backtest, write_report

    candles = load_candles("ETHUSDT_1h.csv")
    result = run_backtest(candles, "custom", BacktestConfig(fill="intrabar"))
    print(result.stats["total_return_pct"])
    write_report(result, "report.html")

Fill models are documented in :mod:`backtesting._kernel` and on :class:`BacktestConfig`.
"""

from backtesting._engine import (
    BacktestConfig,
    BacktestResult,
    SymbolResult,
    backtest_symbol,
    run_backtest,
    slice_period,
)
from backtesting._outputs import write_trades_csv, write_trades_json
from backtesting._report import build_figure, render_report, write_report
from backtesting._stats import STAT_LABELS, Stats, compute_stats

__all__ = [
    "STAT_LABELS",
    "BacktestConfig",
    "BacktestResult",
    "Stats",
    "SymbolResult",
    "backtest_symbol",
    "build_figure",
    "compute_stats",
    "render_report",
    "run_backtest",
    "slice_period",
    "write_report",
    "write_trades_csv",
    "write_trades_json",
]
