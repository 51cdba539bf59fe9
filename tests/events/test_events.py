"""Event schemas: round trips, deterministic ids, strict validation, and the mappings derived from them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryptoflow.events import (
    CandleEvent,
    CandlePayload,
    ErrorEvent,
    ErrorPayload,
    EventError,
    IndicatorEvent,
    IndicatorPayload,
    IndicatorValues,
    LockEvent,
    LockPayload,
    SignalEvent,
    SignalPayload,
    TradeEvent,
    TradePayload,
    decode,
    encode,
    index_kind,
    index_mappings,
    iso_ms,
    topic_kind,
)
from cryptoflow.portfolio import Lock

OPEN_MS = 1_700_000_000_000


def candle(**overrides: object) -> CandleEvent:
    fields = {
        "source": "backtest",
        "run_id": "run-1",
        "symbol": "ETHUSDT",
        "interval": "1h",
        "open_time_ms": OPEN_MS,
        "candle": CandlePayload(
            close_time_ms=OPEN_MS + 3_599_999,
            open=2000.0,
            high=2010.5,
            low=1995.25,
            close=2005.0,
            volume=120.5,
            indicators=IndicatorValues(rsi=55.5, macd=1.5),
        ),
        "strategy": "custom",
    }
    fields.update(overrides)
    return CandleEvent.create(**fields)  # type: ignore[arg-type]


def trade(leg: str = "close") -> TradeEvent:
    extra = (
        {"exit_time_ms": OPEN_MS + 7_200_000, "exit_price": 2100.0, "exit_reason": "take_profit", "pnl": 47.2}
        if leg == "close"
        else {}
    )
    payload = TradePayload(
        leg=leg,
        side="long",
        quantity=0.5,
        price=2100.0 if leg == "close" else 2000.0,
        entry_time_ms=OPEN_MS,
        entry_price=2000.0,
        fees=0.8,
        **extra,
    )
    return TradeEvent.create(
        source="paper", run_id="run-1", strategy="custom", symbol="ETHUSDT", interval="1h", trade=payload
    )


def all_kinds() -> list:
    indicator = IndicatorEvent.create(
        source="live",
        run_id="live-1",
        symbol="BTCUSDT",
        interval="5m",
        update_time_ms=OPEN_MS + 2_000,
        indicator=IndicatorPayload(open_time_ms=OPEN_MS, close=35000.5, values=IndicatorValues(rsi=40.0)),
    )
    signal = SignalEvent.create(
        source="testnet",
        run_id="t-1",
        strategy="custom",
        symbol="BTCUSDT",
        interval="5m",
        time_ms=OPEN_MS + 299_999,
        signal=SignalPayload(
            action="entry_long",
            price=35000.0,
            candle_open_time_ms=OPEN_MS,
            params={"a": 1},
            indicators=IndicatorValues(rsi=28.5),
        ),
    )
    return [candle(), indicator, signal, trade("open"), trade("close"), lock(), error()]


def lock(**overrides: object) -> LockEvent:
    fields = {
        "source": "paper",
        "run_id": "bot-1",
        "strategy": "custom",
        "symbol": "ETHUSDT",
        "interval": "1h",
        "time_ms": OPEN_MS + 3_599_999,
        "lock": LockPayload.of_lock(Lock("cooldown", "ETHUSDT closed by stop_loss", OPEN_MS, "ETHUSDT")),
    }
    return LockEvent.create(**(fields | overrides))  # type: ignore[arg-type]


def error(**overrides: object) -> ErrorEvent:
    fields = {
        "source": "testnet",
        "run_id": "bot-1",
        "symbol": "ETHUSDT",
        "interval": "1h",
        "time_ms": OPEN_MS + 3_599_999,
        "error": ErrorPayload(category="exchange_rejection", message="code -2019", signal_event_id="s-1"),
    }
    return ErrorEvent.create(**(fields | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize("index", range(7))
def test_every_kind_round_trips_through_json(index: int) -> None:
    event = all_kinds()[index]
    raw = encode(event)
    assert b"\n" not in raw
    assert decode(raw) == event
    doc = json.loads(raw)
    assert doc["schema_name"] == event.schema_name and doc["schema_version"] == 1
    assert doc["@timestamp"] == iso_ms(doc["time_ms"])
    topics = {"candle": "candles", "indicator": "indicators", "signal": "signals", "trade": "trades"}
    assert topic_kind(event) == (topics | {"lock": "trades", "error": "trades"})[event.schema_name]
    assert index_kind(event) == (topics | {"lock": "locks", "error": "errors"})[event.schema_name]


def test_prices_and_quantities_are_json_numbers() -> None:
    doc = json.loads(encode(trade()))
    for name in ("quantity", "price", "entry_price", "exit_price", "fees", "pnl"):
        assert isinstance(doc["trade"][name], float), name
    doc = json.loads(encode(candle()))
    assert all(isinstance(doc["candle"][k], float) for k in ("open", "high", "low", "close", "volume"))


def test_ids_are_deterministic_and_distinguish_what_matters() -> None:
    assert candle().event_id == candle().event_id
    assert candle().event_id != candle(open_time_ms=OPEN_MS + 3_600_000).event_id
    assert candle().event_id != candle(run_id="run-2").event_id
    assert candle().event_id != candle(source="replay").event_id
    assert candle().event_id != candle(symbol="BTCUSDT").event_id
    assert trade("open").event_id != trade("close").event_id
    # the payload's values are not part of the identity: a corrected candle overwrites its document
    changed = candle(
        candle=CandlePayload(
            close_time_ms=OPEN_MS + 3_599_999, open=1.0, high=2.0, low=0.5, close=1.5, volume=0.0
        )
    )
    assert changed.event_id == candle().event_id
    # a lock or error published again for the same signal (after a restart) is the same document
    assert lock().event_id == lock().event_id != lock(time_ms=OPEN_MS).event_id
    other = LockPayload(protection="max_open_positions", reason="2 positions open")
    assert lock().event_id != lock(lock=other).event_id
    assert error().event_id == error().event_id
    assert error().event_id != error(error=ErrorPayload(category="x", message="y")).event_id


def test_a_lock_carries_the_portfolio_lock() -> None:
    payload = lock().lock
    assert (payload.protection, payload.until_ms, payload.symbol, payload.run_id) == (
        "cooldown", OPEN_MS, "ETHUSDT", None
    )  # fmt: skip
    assert LockPayload.of_lock(Lock("max_open_positions", "full")).until_ms is None


def test_iso_timestamps_are_utc_with_milliseconds() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_iso_ms_agrees_with_datetime(ms: int) -> None:
    from datetime import UTC, datetime

    parsed = datetime.strptime(iso_ms(ms), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert (parsed - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000 == pytest.approx(ms, abs=0.5)


@pytest.mark.parametrize(
    ("mutate", "category", "words"),
    [
        (lambda raw: raw[:-5], "invalid_json", "not valid JSON"),
        (lambda raw: b"[1, 2]", "invalid_json", "not an object"),
        (lambda raw: b"", "invalid_json", "empty"),
        (lambda raw: raw.replace(b'"close":2005.0', b'"close":"2005.0"'), "invalid_event", "candle.close"),
        (lambda raw: raw.replace(b'"close":2005.0', b'"close":-1.0'), "invalid_event", "candle.close"),
        (
            lambda raw: raw.replace(b'"schema_version":1', b'"schema_version":2'),
            "invalid_event",
            "schema_version",
        ),
        (
            lambda raw: raw.replace(b'"schema_name":"candle"', b'"schema_name":"order"'),
            "invalid_event",
            "order",
        ),
        (
            lambda raw: raw.replace(b'"symbol":"ETHUSDT"', b'"symbol":"ETHUSDT","extra":1'),
            "invalid_event",
            "extra",
        ),
        (lambda raw: raw.replace(b'"source":"backtest"', b'"source":"prod"'), "invalid_event", "source"),
        (
            lambda raw: raw.replace(b'"@timestamp":"2023', b'"@timestamp":"2024'),
            "invalid_event",
            "does not match",
        ),
        (lambda raw: raw.replace(b'"close":2005.0', b'"close":NaN'), "invalid_event", "finite"),
    ],
)
def test_invalid_messages_name_their_category_and_reason(mutate, category: str, words: str) -> None:
    with pytest.raises(EventError) as caught:
        decode(mutate(encode(candle())))
    assert caught.value.category == category
    assert words in caught.value.reason


def test_trade_legs_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="close leg needs"):
        TradePayload(
            leg="close", side="long", quantity=1.0, price=1.0, entry_time_ms=0, entry_price=1.0, fees=0.0
        )
    with pytest.raises(ValueError, match="open leg has no"):
        TradePayload(
            leg="open",
            side="long",
            quantity=1.0,
            price=1.0,
            entry_time_ms=0,
            entry_price=1.0,
            fees=0.0,
            pnl=1.0,
        )


def _leaf_paths(mapping: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in mapping["properties"].items():
        if "properties" in value:
            paths |= _leaf_paths(value, f"{prefix}{key}.")
        else:
            paths.add(prefix + key)
    return paths


def _doc_paths(doc: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in doc.items():
        if isinstance(value, dict) and key != "params":
            paths |= _doc_paths(value, f"{prefix}{key}.")
        else:
            paths.add(prefix + key)
    return paths


def test_mappings_cover_every_field_with_the_right_types() -> None:
    mappings = index_mappings()
    for event in all_kinds():
        mapping = mappings[index_kind(event)]
        assert mapping["dynamic"] == "strict"
        assert _doc_paths(json.loads(encode(event))) == _leaf_paths(mapping)
    candles = mappings["candles"]["properties"]
    assert candles["@timestamp"]["type"] == "date"
    assert candles["time_ms"] == {"type": "date", "format": "epoch_millis"}
    assert candles["candle"]["properties"]["close_time_ms"]["type"] == "date"
    assert candles["candle"]["properties"]["close"]["type"] == "double"
    assert candles["candle"]["properties"]["trades"]["type"] == "long"
    for keyword in ("source", "symbol", "interval", "strategy", "run_id", "event_id"):
        assert candles[keyword]["type"] == "keyword"
    assert mappings["signals"]["properties"]["signal"]["properties"]["params"]["enabled"] is False
