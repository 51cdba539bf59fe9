"""Strategies: a small versioned contract shared by the backtester and live trading, plus built-ins.

A strategy declares its indicator periods and parameters as class attributes and two rules,
``entry_long(ind)`` / ``entry_short(ind)`` (optional ``exit_long`` / ``exit_short``), written as
expressions that work on numpy arrays and on scalars alike. Stops, take-profits, trailing stops and
maximum holding time are parameters the engine applies. Example (``my_strategy.py``)::

    from cryptoflow.strategies import Strategy

    class RsiDip(Strategy):
        name = "rsi_dip"
        rsi_below: float = 25.0          # own parameter, overridable: --param rsi_below=20
        take_profit_pct: float | None = 4.0

        def entry_long(self, ind):
            return (ind["rsi"] < self.rsi_below) & (ind["macd_hist"] > 0)

``cryptoflow backtest --strategy my_strategy.py:RsiDip ...`` loads it.
"""

from cryptoflow.strategies._base import (
    CONTRACT_VERSION,
    ENGINE_PARAMS,
    INDICATOR_PARAMS,
    Signals,
    Strategy,
    StrategyError,
)
from cryptoflow.strategies._builtin import BasicStrategy, CustomStrategy, EnsembleStrategy
from cryptoflow.strategies._exits import END, HOLD, REASONS, SIGNAL, STOP, TAKE, TRAIL, exit_on_close
from cryptoflow.strategies._loader import BUILTIN_STRATEGIES, load_strategy, strategy_class
from cryptoflow.strategies._space import Range

__all__ = [
    "BUILTIN_STRATEGIES",
    "CONTRACT_VERSION",
    "ENGINE_PARAMS",
    "INDICATOR_PARAMS",
    "END",
    "HOLD",
    "REASONS",
    "SIGNAL",
    "STOP",
    "TAKE",
    "TRAIL",
    "BasicStrategy",
    "CustomStrategy",
    "EnsembleStrategy",
    "Range",
    "Signals",
    "Strategy",
    "StrategyError",
    "exit_on_close",
    "load_strategy",
    "strategy_class",
]
