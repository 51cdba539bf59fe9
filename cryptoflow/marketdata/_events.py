"""Market data as events: a closed candle with its indicators, indicator values without NaN."""

from __future__ import annotations

import math

from cryptoflow.candles import Candle
from cryptoflow.events import CandleEvent, CandlePayload, IndicatorValues

__all__ = ["candle_event", "indicator_values"]


def indicator_values(values: dict[str, float | int]) -> IndicatorValues:
    """Indicator values for an event (NaN while warming up becomes ``None``)."""
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in values.items()}
    return IndicatorValues(**{k: clean.get(k) for k in IndicatorValues.model_fields})


def candle_event(
    candle: Candle, values: dict[str, float | int], *, source: str, run_id: str, strategy: str | None = None
) -> CandleEvent:
    """The ``candle`` event of a closed candle and its indicators (``source``: live, paper, testnet...)."""
    return CandleEvent.create(
        source=source,  # type: ignore[arg-type]
        run_id=run_id,
        symbol=candle.symbol,
        interval=candle.interval,
        open_time_ms=candle.open_time,
        strategy=strategy,
        candle=CandlePayload(
            close_time_ms=candle.close_time,
            open=candle.open,
            high=candle.high,
            low=candle.low,
            close=candle.close,
            volume=candle.volume,
            quote_volume=candle.quote_volume,
            trades=candle.trades,
            taker_buy_base_volume=candle.taker_buy_base_volume,
            taker_buy_quote_volume=candle.taker_buy_quote_volume,
            indicators=indicator_values(values),
        ),
    )
