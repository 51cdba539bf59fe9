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

Indicators beyond the built-in ones are declared by name, from :mod:`cryptoflow.indicators`' catalogue or
your own :class:`~cryptoflow.indicators.Indicator`; rules may look back with ``ind.ago(name, n)``::

    class EmaBands(Strategy):
        indicators = {"ema_fast": EMA(12), "ema_slow": EMA(50), "bb": Bollinger(20, 2)}

        def entry_long(self, ind):
            return (ind["ema_fast"] > ind["ema_slow"]) & crossed_above(ind, "bb_pct_b", 0.2)
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
from cryptoflow.strategies._lookback import LiveInputs, check_lookback, crossed_above, crossed_below
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
    "LiveInputs",
    "Range",
    "Signals",
    "Strategy",
    "StrategyError",
    "check_lookback",
    "crossed_above",
    "crossed_below",
    "exit_on_close",
    "load_strategy",
    "strategy_class",
]
