"""Market data as events: a closed candle with its indicators, indicator values without NaN."""

from __future__ import annotations

from cryptoflow.candles import Candle
from cryptoflow.events import CandleEvent, IndicatorValues, Source

__all__ = ["candle_event", "indicator_values"]


def indicator_values(values: dict[str, float | int]) -> IndicatorValues:
    """Indicator values for an event (NaN while warming up becomes ``None``)."""
    return IndicatorValues.of(values)


def candle_event(
    candle: Candle,
    values: dict[str, float | int],
    *,
    source: Source,
    run_id: str,
    strategy: str | None = None,
) -> CandleEvent:
    """The ``candle`` event of a closed candle and its indicators (``source``: live, paper, testnet...)."""
    return CandleEvent.of_candle(candle, values, source=source, run_id=run_id, strategy=strategy)
