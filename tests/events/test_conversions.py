"""The conversions on the event types (candle <-> event, indicator values, trade legs) and the shared
vocabulary every other package derives its names from."""

from __future__ import annotations

import math
import typing
from pathlib import Path

import pytest

from cryptoflow.candles import Candle, load_candles
from cryptoflow.elastic import INDEX_KINDS
from cryptoflow.events import (
    EVENT_INDICES,
    EVENT_KINDS,
    EVENT_TOPIC_KINDS,
    EVENT_TOPICS,
    INDICATOR_NAMES,
    SOURCES,
    CandleEvent,
    Event,
    IndicatorEvent,
    IndicatorValues,
    TradePayload,
    decode,
    encode,
    index_mappings,
)
from cryptoflow.indicators import StreamingIndicators, compute
from cryptoflow.kafka import DLQ_KIND, TOPIC_KINDS

CANDLE = Candle(
    "ETHUSDT", "5m", 1755616200000, 1755616499999, 4194.1, 4196.41, 4184.53, 4186.51, 4454.1,
    18664809.37, 5120, 2100.5, 8801234.25,
)  # fmt: skip


def test_a_candle_survives_the_trip_through_its_event_and_kafka() -> None:
    event = CandleEvent.of_candle(CANDLE, {"rsi": 48.5}, source="live", run_id="realtime", strategy="basic")
    assert (event.symbol, event.interval, event.time_ms, event.strategy) == (
        "ETHUSDT",
        "5m",
        1755616200000,
        "basic",
    )
    assert (
        event.candle.close_time_ms == CANDLE.close_time and event.candle.quote_volume == CANDLE.quote_volume
    )
    assert event.candle.indicators == IndicatorValues(rsi=48.5)
    back = decode(encode(event))
    assert isinstance(back, CandleEvent) and back.to_candle() == CANDLE


def test_a_candle_event_without_optional_counts_gives_a_candle_with_zeros() -> None:
    event = CandleEvent.of_candle(CANDLE, {}, source="backtest", run_id="r")
    bare = event.model_copy(
        update={"candle": event.candle.model_copy(update={"trades": None, "quote_volume": None})}
    )
    candle = bare.to_candle()
    assert (candle.trades, candle.quote_volume, candle.volume) == (0, 0.0, CANDLE.volume)


def test_indicator_values_drop_what_is_not_a_finite_indicator_value() -> None:
    values = IndicatorValues.of(
        {"rsi": 48.5, "macd": math.nan, "cci": math.inf, "is_bull": 1, "engulfing": -1, "close": 3.0}
    )
    assert values == IndicatorValues(rsi=48.5, is_bull=1.0, engulfing=-1.0)
    assert isinstance(values.is_bull, float)


def test_an_update_of_the_open_candle_is_provisional_and_keeps_its_own_time() -> None:
    event = IndicatorEvent.of_update(
        CANDLE, {"rsi": 51.0}, CANDLE.open_time + 2_500, source="live", run_id="rt"
    )
    assert event.time_ms == CANDLE.open_time + 2_500
    assert event.indicator.open_time_ms == CANDLE.open_time and event.indicator.close == CANDLE.close
    assert event.indicator.provisional and event.indicator.values.rsi == 51.0


def test_trade_legs_fill_at_their_price_and_the_close_leg_knows_its_return() -> None:
    entry = {"side": "short", "quantity": 2.0, "entry_time_ms": 1_000, "entry_price": 1000.0}
    opened = TradePayload.open_leg(fees=0.8, client_order_id="cf-1", **entry)
    assert (opened.leg, opened.price, opened.fees, opened.client_order_id) == ("open", 1000.0, 0.8, "cf-1")
    assert opened.exit_time_ms is None and opened.pnl is None and opened.pnl_pct is None
    closed = TradePayload.close_leg(
        exit_time_ms=61_000, exit_price=990.0, exit_reason="take_profit", fees=1.59, pnl=18.41, **entry
    )
    assert (closed.leg, closed.price, closed.exit_price, closed.exit_reason) == (
        "close",
        990.0,
        990.0,
        "take_profit",
    )
    assert closed.pnl_pct == 18.41 / 2000.0 * 100.0


def test_the_event_kinds_are_the_schemas_of_the_event_union() -> None:
    members = typing.get_args(typing.get_args(Event)[0])
    assert EVENT_KINDS == tuple(model.model_fields["schema_name"].default for model in members)
    assert tuple(index_mappings()) == tuple(EVENT_INDICES.values()) == INDEX_KINDS
    assert TOPIC_KINDS == (*EVENT_TOPIC_KINDS, DLQ_KIND)  # the dead-letter topic is no event kind
    assert DLQ_KIND not in EVENT_TOPICS.values()
    # each kind has an index of its own; the executor's locks and errors travel with its trades
    assert INDEX_KINDS == ("candles", "indicators", "signals", "trades", "locks", "errors")
    assert EVENT_TOPIC_KINDS == ("candles", "indicators", "signals", "trades")
    assert EVENT_TOPICS["lock"] == EVENT_TOPICS["error"] == EVENT_TOPICS["trade"]


def test_every_source_is_accepted_and_nothing_else() -> None:
    for source in SOURCES:
        assert CandleEvent.of_candle(CANDLE, {}, source=source, run_id="r").source == source
    with pytest.raises(ValueError, match="source"):
        CandleEvent.of_candle(CANDLE, {}, source="simulation", run_id="r")  # type: ignore[arg-type]


def test_the_indicator_names_are_what_both_engines_compute(shared_data: Path) -> None:
    candles = load_candles(shared_data / "ETHUSDT_5m_2025-08.csv").iloc[:50]
    assert tuple(compute(candles).columns) == INDICATOR_NAMES
    stream = StreamingIndicators()
    row = candles.iloc[0]
    first = Candle("ETHUSDT", "5m", 0, 299_999, row.open, row.high, row.low, row.close, row.volume)
    assert tuple(stream.update(first)) == INDICATOR_NAMES
