"""Versioned events: candles, indicator updates, signals and trades, as they travel on Kafka.

Each event is a JSON envelope (schema name and version, deterministic ``event_id``, ``source``,
``run_id``, ``symbol``, ``interval``, ``time_ms`` and ``@timestamp``) plus its payload. Events are
validated when built, when encoded and when decoded.

>>> from cryptoflow.events import CandleEvent, CandlePayload, decode, encode
>>> event = CandleEvent.create(source="backtest", run_id="demo", symbol="ETHUSDT", interval="1h",
...     open_time_ms=1700000000000, candle=CandlePayload(close_time_ms=1700003599999, open=2000.0,
...     high=2010.0, low=1995.0, close=2005.0, volume=120.5))
>>> decode(encode(event)) == event
True
"""

from cryptoflow.events._codec import EVENT_KINDS, EventError, decode, encode, topic_kind
from cryptoflow.events._mapping import index_mappings
from cryptoflow.events._models import (
    SCHEMA_VERSION,
    SOURCES,
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
    event_id,
    iso_ms,
)

__all__ = [
    "EVENT_KINDS",
    "SCHEMA_VERSION",
    "SOURCES",
    "CandleEvent",
    "CandlePayload",
    "Event",
    "EventError",
    "IndicatorEvent",
    "IndicatorPayload",
    "IndicatorValues",
    "SignalEvent",
    "SignalPayload",
    "TradeEvent",
    "TradePayload",
    "decode",
    "encode",
    "event_id",
    "index_mappings",
    "iso_ms",
    "topic_kind",
]
