"""Small, deterministic events for tests of the pipeline: candles of a few symbols and one event of
every other kind, all from fixed times, so the same call always gives the same event ids. They are built
the way the applications build them (the event types' own conversions from candles, indicator values and
trade legs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptoflow.candles import Candle
from cryptoflow.events import (
    CandleEvent,
    ErrorEvent,
    ErrorPayload,
    Event,
    IndicatorEvent,
    LockEvent,
    LockPayload,
    SignalEvent,
    SignalPayload,
    Source,
    TradeEvent,
    TradePayload,
)

__all__ = [
    "MINUTE",
    "START_MS",
    "candle_event",
    "candle_events",
    "error_event",
    "indicator_event",
    "lock_event",
    "ms",
    "one_of_each_other_kind",
    "signal_event",
    "trade_events",
]

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
        candle = Candle(
            symbol, "1m", open_ms, open_ms + MINUTE - 1, price, price + 2.5, price - 1.25, price + 0.5,
            10.0 + i % 7, trades=i % 50,
        )  # fmt: skip
        indicators = {"rsi": 30.0 + i % 40, "macd": 0.1 * (i % 9), "is_bull": float(i % 2)}
        events.append(CandleEvent.of_candle(candle, indicators, source="replay", run_id=run_id))
    return events


def candle_event(open_ms: int, *, run_id: str = "run-1", source: Source = "paper") -> Event:
    """The closed ETHUSDT 1m candle opened at ``open_ms``, without indicators."""
    candle = Candle("ETHUSDT", "1m", open_ms, open_ms + MINUTE - 1, 100.0, 101.0, 99.0, 100.5, 3.0)
    return CandleEvent.of_candle(candle, {}, source=source, run_id=run_id)


def indicator_event(
    update_ms: int,
    values: dict[str, float] | None = None,
    *,
    open_ms: int | None = None,
    run_id: str = "run-1",
    source: Source = "paper",
) -> Event:
    """An intrabar ``indicator`` update of ETHUSDT 1m at ``update_ms``, of the candle opened at ``open_ms``
    (default: the minute ``update_ms`` falls in)."""
    open_ms = update_ms - update_ms % MINUTE if open_ms is None else open_ms
    candle = Candle("ETHUSDT", "1m", open_ms, open_ms + MINUTE - 1, 1000.0, 1001.0, 999.5, 1000.5, 3.0)
    values = {"rsi": 45.0, "cci": -80.0} if values is None else values
    return IndicatorEvent.of_update(candle, values, update_ms, source=source, run_id=run_id)


def signal_event(
    candle_open_ms: int, *, run_id: str = "run-1", source: Source = "paper", strategy: str = "custom"
) -> Event:
    """An ``entry_short`` signal of ETHUSDT 1m decided at the close of the candle opened at
    ``candle_open_ms``."""
    return SignalEvent.create(
        source=source, run_id=run_id, symbol="ETHUSDT", interval="1m", strategy=strategy,
        time_ms=candle_open_ms + MINUTE - 1,
        signal=SignalPayload(
            action="entry_short", price=1000.0, candle_open_time_ms=candle_open_ms,
            params={"rsi_overbought": 70},
        ),
    )  # fmt: skip


def trade_events(
    entry_ms: int, exit_ms: int, *, run_id: str = "run-1", source: Source = "paper", strategy: str = "custom"
) -> list[Event]:
    """The two legs (open, close) of a short ETHUSDT 1m trade entered at ``entry_ms``, closed by its take
    profit at ``exit_ms``."""
    entry: dict[str, Any] = {
        "side": "short",
        "quantity": 2.0,
        "entry_time_ms": entry_ms,
        "entry_price": 1000.0,
    }
    open_leg = TradePayload.open_leg(fees=0.8, **entry)
    close_leg = TradePayload.close_leg(
        exit_time_ms=exit_ms, exit_price=990.0, exit_reason="take_profit", fees=1.59, pnl=18.41, **entry
    )
    common: dict[str, Any] = {"source": source, "run_id": run_id, "symbol": "ETHUSDT", "interval": "1m"}
    return [TradeEvent.create(**common, strategy=strategy, trade=leg) for leg in (open_leg, close_leg)]


def lock_event(time_ms: int, *, run_id: str = "bot-1", source: Source = "paper") -> Event:
    """A ``stoploss_guard`` lock of ETHUSDT 1m, which refused an entry of ``custom`` decided at
    ``time_ms``, until an hour later."""
    lock = LockPayload(
        protection="stoploss_guard", reason="3 stops within 60 min", until_ms=time_ms + 60 * MINUTE,
        symbol="ETHUSDT",
    )  # fmt: skip
    return LockEvent.create(
        source=source, run_id=run_id, strategy="custom", symbol="ETHUSDT", interval="1m", time_ms=time_ms,
        lock=lock,
    )  # fmt: skip


def error_event(time_ms: int, *, run_id: str = "bot-1", source: Source = "paper") -> Event:
    """An ``exchange_rejection`` of an ETHUSDT 1m order, decided at ``time_ms``."""
    error = ErrorPayload(
        category="exchange_rejection", message="code -2019: Margin is insufficient", signal_event_id="sig-1"
    )
    return ErrorEvent.create(
        source=source, run_id=run_id, strategy="custom", symbol="ETHUSDT", interval="1m", time_ms=time_ms,
        error=error,
    )  # fmt: skip


def one_of_each_other_kind(run_id: str = "run-1") -> list[Event]:
    """An ``indicator``, a ``signal``, the two legs (open, close) of a ``trade``, a ``lock`` and an
    ``error`` of ETHUSDT 1m."""
    return [
        indicator_event(START_MS + 2_500, open_ms=START_MS, run_id=run_id),
        signal_event(START_MS, run_id=run_id),
        *trade_events(START_MS, START_MS + 10 * MINUTE, run_id=run_id),
        lock_event(START_MS + 20 * MINUTE - 1, run_id=run_id),
        error_event(START_MS + 30 * MINUTE - 1, run_id=run_id),
    ]


def ms(text: str) -> int:
    """An ISO-8601 time read as UTC, in epoch ms: ``ms("2026-12-31T23:59:59.999")``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)
