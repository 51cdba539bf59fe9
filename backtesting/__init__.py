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

Fill models (``BacktestConfig.fill``):

``close``
    The original 2023 scripts: signals, stops and take-profits are evaluated on each candle's close
    and filled at that close; with a position open only exits are checked, so no exit and entry happen
    on the same candle. ``--preset seed --fill close`` reproduces the original trade lists exactly.
``intrabar`` (default)
    Signals read on a candle's close are filled at the next candle's open; stop-loss and take-profit
    trigger on high/low from the entry candle on, at their level (or at the open when the candle gaps
    through it). If one candle touches both, the stop is assumed to have been hit first (pessimistic:
    the order inside a candle is unknown). Exit signals and ``max_holding_candles`` close at the next
    open; the trailing stop follows the best high/low of the candles before the current one.

A backtest computes only the indicators its strategy's rules read (``custom`` reads RSI and engulfing,
so MACD and CCI are never computed); ``SymbolResult.computed_indicators`` names them, and
``SymbolResult.indicators`` computes the others the first time it is read (reports, replays).

Several symbols in one run each trade an equal share of the cash; the combined equity is their sum.
When an account's equity reaches zero it stops trading (no liquidation model beyond that).
A bot's portfolio backtest (:func:`run_portfolio_backtest`, ``cryptoflow backtest --bot``) runs the
strategies of a bot file over its symbols with one capital, by the executor's rules
(:mod:`cryptoflow.portfolio`); :func:`write_portfolio_report` draws it.

Exit reasons are ``stop_loss``, ``take_profit``, ``signal`` and ``end`` (``--close-at-end``), plus
``trailing_stop`` and ``max_holding`` when those optional exits are enabled.
"""

from typing import TYPE_CHECKING, Any

from backtesting._engine import (
    BacktestConfig,
    BacktestResult,
    SymbolResult,
    backtest_symbol,
    run_backtest,
    slice_period,
)
from backtesting._losses import LOSSES, Loss
from backtesting._optimize import (
    OptimizeProgress,
    OptimizeResult,
    OptimizeSettings,
    StudySettings,
    default_jobs,
    optimize,
)
from backtesting._outputs import write_trades_csv, write_trades_json
from backtesting._request import PRESETS, BacktestRequest
from backtesting._stats import STAT_LABELS, Stats, compute_stats
from backtesting._study import SAMPLERS
from backtesting._walkforward import WALK_FORWARD_MODES, WalkForwardResult, walk_forward

if TYPE_CHECKING:
    from backtesting._portfolio import (
        PortfolioResult,
        PortfolioSignal,
        run_portfolio_backtest,
        strategy_signals,
    )
    from backtesting._portfolio_report import render_portfolio_report, write_portfolio_report
    from backtesting._report import build_figure, render_report, write_report

_LAZY = {  # name -> its module, loaded on first use
    "PortfolioResult": "_portfolio",
    "PortfolioSignal": "_portfolio",
    "run_portfolio_backtest": "_portfolio",
    "strategy_signals": "_portfolio",
    "build_figure": "_report",
    "render_report": "_report",
    "write_report": "_report",
    "render_portfolio_report": "_portfolio_report",
    "write_portfolio_report": "_portfolio_report",
}


def __getattr__(name: str) -> Any:
    # The reports' names load plotly (and narwhals), the portfolio's the bot rules and the Binance
    # filters, on first use: a backtest without them does not pay their import time and memory.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"backtesting.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LOSSES",
    "PRESETS",
    "SAMPLERS",
    "STAT_LABELS",
    "WALK_FORWARD_MODES",
    "BacktestConfig",
    "BacktestRequest",
    "BacktestResult",
    "Loss",
    "OptimizeProgress",
    "OptimizeResult",
    "OptimizeSettings",
    "PortfolioResult",
    "PortfolioSignal",
    "Stats",
    "StudySettings",
    "SymbolResult",
    "WalkForwardResult",
    "backtest_symbol",
    "build_figure",
    "compute_stats",
    "default_jobs",
    "optimize",
    "render_portfolio_report",
    "render_report",
    "run_backtest",
    "run_portfolio_backtest",
    "slice_period",
    "walk_forward",
    "strategy_signals",
    "write_portfolio_report",
    "write_report",
    "write_trades_csv",
    "write_trades_json",
]
