"""One strategy's decision on one closed candle, given the position it holds: the rules of the backtester's
``close`` fill model, shared by the strategy worker (a virtual position) and single-process trading (the
broker's position).

With a position open only exits are checked, through the backtester's own compiled function
(:func:`cryptoflow.strategies.exit_on_close`: stop-loss, take-profit, trailing stop, exit signal, holding
limit, in that order); flat, only entries (long wins a tie). Everything happens at the candle's close, so
no exit and entry happen on the same candle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from cryptoflow.candles import Candle
from cryptoflow.events import IndicatorValues, SignalAction, SignalEvent, SignalPayload, Source
from cryptoflow.strategies import REASONS, Signals, Strategy, exit_on_close

__all__ = ["Decision", "Holding", "decide", "signal_event", "strategy_inputs"]


class Holding(Protocol):
    """An open position as the exit rules read it (a broker's :class:`~cryptoflow.brokers.Position` or a
    strategy worker's virtual one): side +1/-1, entry price, best close since the entry, and candles
    held since the entry candle."""

    side: int
    entry_price: float
    extreme: float
    held: int


@dataclass(frozen=True)
class Decision:
    """What a strategy does on a candle's close: ``entry_long``/``entry_short``, or ``exit_long``/
    ``exit_short`` with the exit's ``reason`` (one of :data:`~cryptoflow.strategies.REASONS`)."""

    action: SignalAction
    reason: str | None = None

    @property
    def side(self) -> int:
        """+1 for a long's entry or exit, -1 for a short's."""
        return 1 if self.action.endswith("long") else -1


def strategy_inputs(candle: Candle, values: Mapping[str, float | None]) -> dict[str, Any]:
    """What a strategy's rules read on one closed candle: its prices and volume and the indicator
    ``values`` (a value still warming up, ``None`` or NaN, is NaN: every comparison with it is false)."""
    ind: dict[str, Any] = {
        "open": np.float64(candle.open),
        "high": np.float64(candle.high),
        "low": np.float64(candle.low),
        "close": np.float64(candle.close),
        "volume": np.float64(candle.volume),
    }
    ind.update({k: np.float64(np.nan if v is None else v) for k, v in values.items()})
    return ind


def _pct(value: float | None) -> float:
    return 0.0 if value is None else float(value) / 100.0


def decide(
    strategy: Strategy, holding: Holding | None, close: float, signals: Signals
) -> tuple[Decision | None, float]:
    """The decision on a candle that closed at ``close``, with ``signals`` the strategy's rules gave on it.

    Returns ``(decision, extreme)``: ``None`` when nothing happens, and the best close since the entry
    as it is after this candle (meaningful only while ``holding`` stays open; the caller keeps it and
    counts the candle as held).
    """
    if holding is None:
        if bool(signals.entry_long):
            return Decision("entry_long"), close
        if bool(signals.entry_short):
            return Decision("entry_short"), close
        return None, float("nan")
    long = holding.side > 0
    reason, extreme = exit_on_close(
        holding.side,
        close,
        holding.entry_price,
        holding.extreme,
        _pct(strategy.stop_loss_pct),
        _pct(strategy.take_profit_pct),
        _pct(strategy.trailing_stop_pct),
        bool(signals.exit_long if long else signals.exit_short),
        holding.held + 1,
        int(strategy.max_holding_candles or 0),
    )
    if reason < 0:
        return None, float(extreme)
    return Decision("exit_long" if long else "exit_short", REASONS[reason]), float(extreme)


def signal_event(
    strategy: Strategy,
    candle: Candle,
    decision: Decision,
    *,
    source: Source,
    run_id: str,
    indicators: Mapping[str, float | None] | None = None,
) -> SignalEvent:
    """The ``signal`` event of ``decision`` on ``candle``: decided at its close (``time_ms``), at its close
    price, with the strategy's parameters and the indicator values that decided it. Its id is made of
    source, run, strategy, symbol, interval, candle open time and action, so deciding the same candle
    again gives the same event."""
    values = None
    if indicators is not None:
        values = IndicatorValues.of({k: float("nan") if v is None else v for k, v in indicators.items()})
    return SignalEvent.create(
        source=source,
        run_id=run_id,
        strategy=strategy.name,
        symbol=candle.symbol,
        interval=candle.interval,
        time_ms=candle.close_time,
        signal=SignalPayload(
            action=decision.action,
            price=candle.close,
            candle_open_time_ms=candle.open_time,
            reason=decision.reason,
            params=strategy.params(),
            indicators=values,
        ),
    )
