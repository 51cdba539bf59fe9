"""Small, deterministic events for tests of the pipeline: candles of a few symbols and one event of
every other kind, all from fixed times, so the same call always gives the same event ids."""

from __future__ import annotations

from cryptoflow.events import (
    CandleEvent,
    CandlePayload,
    Event,
    IndicatorEvent,
    IndicatorPayload,
    IndicatorValues,
    SignalEvent,
    SignalPayload,
    TradeEvent,
    TradePayload,
)

__all__ = ["MINUTE", "START_MS", "candle_events", "one_of_each_other_kind"]

START_MS = 1_700_000_000_000
"""Open time (epoch ms) of the first candle :func:`candle_events` makes."""
MINUTE = 60_000
"""One minute in milliseconds: the candles' interval."""


def candle_events(
    count: int, symbols: tuple[str, ...] = ("ETHUSDT", "BTCUSDT"), run_id: str = "run-1"
) -> list[Event]:
    """``count`` closed 1m ``replay`` candle events with indicators, cycling through ``symbols`` (one
    candle of each symbol per minute from :data:`START_MS`).

    >>> [e.symbol for e in candle_events(3)]
    ['ETHUSDT', 'BTCUSDT', 'ETHUSDT']
    """
    events: list[Event] = []
    for i in range(count):
        symbol = symbols[i % len(symbols)]
        open_ms = START_MS + (i // len(symbols)) * MINUTE
        price = 1000.0 + (i % 97)
        payload = CandlePayload(
            close_time_ms=open_ms + MINUTE - 1,
            open=price,
            high=price + 2.5,
            low=price - 1.25,
            close=price + 0.5,
            volume=10.0 + i % 7,
            trades=i % 50,
            indicators=IndicatorValues(rsi=30.0 + i % 40, macd=0.1 * (i % 9), is_bull=float(i % 2)),
        )
        events.append(
            CandleEvent.create(
                source="replay",
                run_id=run_id,
                symbol=symbol,
                interval="1m",
                open_time_ms=open_ms,
                candle=payload,
            )
        )
    return events


def one_of_each_other_kind(run_id: str = "run-1") -> list[Event]:
    """An ``indicator``, a ``signal`` and the two legs (open, close) of a ``trade`` of ETHUSDT 1m."""
    values = IndicatorValues(rsi=45.0, cci=-80.0)
    open_leg = TradePayload(
        leg="open",
        side="short",
        quantity=2.0,
        price=1000.0,
        entry_time_ms=START_MS,
        entry_price=1000.0,
        fees=0.8,
    )
    close_leg = open_leg.model_copy(
        update={
            "leg": "close",
            "price": 990.0,
            "exit_time_ms": START_MS + 10 * MINUTE,
            "exit_price": 990.0,
            "exit_reason": "take_profit",
            "fees": 1.59,
            "pnl": 18.41,
            "pnl_pct": 0.9205,
        }
    )
    common = {"source": "paper", "run_id": run_id, "symbol": "ETHUSDT", "interval": "1m"}
    return [
        IndicatorEvent.create(
            **common,
            update_time_ms=START_MS + 2_500,
            indicator=IndicatorPayload(open_time_ms=START_MS, close=1000.5, values=values),
        ),
        SignalEvent.create(
            **common,
            strategy="custom",
            time_ms=START_MS + MINUTE - 1,
            signal=SignalPayload(
                action="entry_short",
                price=1000.0,
                candle_open_time_ms=START_MS,
                params={"rsi_overbought": 70},
            ),
        ),
        TradeEvent.create(**common, strategy="custom", trade=open_leg),
        TradeEvent.create(
            **common, strategy="custom", trade=TradePayload.model_validate(close_leg.model_dump())
        ),
    ]
