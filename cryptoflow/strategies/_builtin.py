"""The built-in strategies: ``basic`` and ``custom`` (the original 2023 scripts) and ``ensemble``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from cryptoflow.strategies._base import Strategy

__all__ = ["BasicStrategy", "CustomStrategy", "EnsembleStrategy"]


class BasicStrategy(Strategy):
    """MACD trend filtered by RSI and CCI extremes (the original 5m script).

    Long when MACD > signal and RSI < 30 and CCI > -100; short when MACD < signal and RSI > 70 and
    CCI < 100. Stop-loss 1.5 %, take-profit 3 %.
    """

    name: ClassVar[str] = "basic"
    description: ClassVar[str] = "MACD above/below signal with RSI < 30 / > 70 and CCI > -100 / < 100"
    timeframe: ClassVar[str | None] = "5m"
    search_space: ClassVar[Mapping[str, Any]] = {
        "rsi_oversold": [20, 25, 30, 35],
        "rsi_overbought": [65, 70, 75, 80],
        "stop_loss_pct": [1.0, 1.5, 2.0, 3.0],
        "take_profit_pct": [2.0, 3.0, 4.5, 6.0],
    }

    rsi_oversold: float = 30.0
    rsi_overbought: float = 70.0
    cci_floor: float = -100.0
    cci_ceiling: float = 100.0

    def entry_long(self, ind: Mapping[str, Any]) -> Any:
        return (
            (ind["macd"] > ind["macd_signal"])
            & (ind["rsi"] < self.rsi_oversold)
            & (ind["cci"] > self.cci_floor)
        )

    def entry_short(self, ind: Mapping[str, Any]) -> Any:
        return (
            (ind["macd"] < ind["macd_signal"])
            & (ind["rsi"] > self.rsi_overbought)
            & (ind["cci"] < self.cci_ceiling)
        )


class CustomStrategy(Strategy):
    """Engulfing candles at RSI extremes (the original 1h script).

    Long on a bullish engulfing candle with RSI < 25; else short on a bearish engulfing candle with
    RSI > 70. Stop-loss 1.5 %, take-profit 3 %.
    """

    name: ClassVar[str] = "custom"
    description: ClassVar[str] = "bullish engulfing with RSI < 25 / bearish engulfing with RSI > 70"
    timeframe: ClassVar[str | None] = "1h"
    search_space: ClassVar[Mapping[str, Any]] = {
        "rsi_oversold": [20, 25, 30, 35, 40],
        "rsi_overbought": [60, 65, 70, 75, 80],
        "stop_loss_pct": [1.0, 1.5, 2.0, 3.0],
        "take_profit_pct": [2.0, 3.0, 4.5, 6.0],
    }
    plot_config: ClassVar[Mapping[str, Any]] = {
        "main_plot": [],
        "subplots": {
            "RSI": {"lines": ["rsi"], "bands": [25, 70]},
            "MACD": {"lines": ["macd", "macd_signal"], "bars": ["macd_hist"]},
            "CCI": {"lines": ["cci"], "bands": [-100, 100]},
        },
    }

    rsi_oversold: float = 25.0
    rsi_overbought: float = 70.0

    def entry_long(self, ind: Mapping[str, Any]) -> Any:
        return (ind["engulfing"] == 1) & (ind["rsi"] < self.rsi_oversold)

    def entry_short(self, ind: Mapping[str, Any]) -> Any:
        return (ind["engulfing"] == -1) & (ind["rsi"] > self.rsi_overbought)


def _vote(up: Any, down: Any) -> Any:
    """+1 where ``up``, -1 where ``down``, 0 otherwise (NaN comparisons are false) — arrays or scalars."""
    return up * 1.0 - down * 1.0


class EnsembleStrategy(Strategy):
    """A weighted vote of four signals against a threshold; the weights are what the optimiser tunes.

    Votes (+1 for long, -1 for short, 0 otherwise): RSI below ``rsi_oversold`` / above
    ``rsi_overbought``; MACD above / below its signal line; CCI below ``-cci_level`` / above
    ``cci_level`` (mean reversion); bullish / bearish engulfing. Long when the weighted sum is at least
    ``threshold``, short when it is at most ``-threshold``.
    """

    name: ClassVar[str] = "ensemble"
    description: ClassVar[str] = "weighted vote of RSI, MACD, CCI and engulfing signals against a threshold"
    timeframe: ClassVar[str | None] = None
    search_space: ClassVar[Mapping[str, Any]] = {
        "weight_rsi": [0.0, 0.5, 1.0, 2.0],
        "weight_macd": [0.0, 0.5, 1.0, 2.0],
        "weight_cci": [0.0, 0.5, 1.0, 2.0],
        "weight_engulfing": [0.0, 0.5, 1.0, 2.0],
        "threshold": [1.0, 1.5, 2.0, 2.5, 3.0],
    }

    weight_rsi: float = 1.0
    weight_macd: float = 1.0
    weight_cci: float = 1.0
    weight_engulfing: float = 1.0
    threshold: float = 2.0
    rsi_oversold: float = 30.0
    rsi_overbought: float = 70.0
    cci_level: float = 100.0

    def score(self, ind: Mapping[str, Any]) -> Any:
        """The weighted vote, between -(sum of weights) and +(sum of weights)."""
        rsi, cci, macd, signal = ind["rsi"], ind["cci"], ind["macd"], ind["macd_signal"]
        return (
            self.weight_rsi * _vote(rsi < self.rsi_oversold, rsi > self.rsi_overbought)
            + self.weight_macd * _vote(macd > signal, macd < signal)
            + self.weight_cci * _vote(cci < -self.cci_level, cci > self.cci_level)
            + self.weight_engulfing * _vote(ind["engulfing"] == 1, ind["engulfing"] == -1)
        )

    def entry_long(self, ind: Mapping[str, Any]) -> Any:
        return self.score(ind) >= self.threshold

    def entry_short(self, ind: Mapping[str, Any]) -> Any:
        return self.score(ind) <= -self.threshold
