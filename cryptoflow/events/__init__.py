"""Versioned events: candles, indicator updates, signals, trades, protection locks and executor errors, as
they travel on Kafka.

Each event is a JSON envelope (schema name and version, deterministic ``event_id``, ``source``,
``run_id``, ``symbol``, ``interval``, ``time_ms`` and ``@timestamp``) plus its payload. Events are
validated when built, when encoded and when decoded. Conversions live on the event types:
:meth:`CandleEvent.of_candle` / :meth:`CandleEvent.to_candle`, :meth:`IndicatorEvent.of_update`,
:meth:`IndicatorValues.of`, :meth:`TradePayload.open_leg` / :meth:`TradePayload.close_leg` (from a
broker's position and round trip: :meth:`TradePayload.of_position` / :meth:`TradePayload.of_trade`),
:meth:`LockPayload.of_lock`.

The shared vocabulary is defined here once: :data:`EventKind` (with :data:`EVENT_TOPICS`, the topic kind
of each, and :data:`EVENT_INDICES`, its index kind), :data:`Source`, :data:`Side`, :data:`SignalAction`
and :data:`INDICATOR_NAMES`.

>>> from cryptoflow.events import CandleEvent, CandlePayload, decode, encode
>>> event = CandleEvent.create(source="backtest", run_id="demo", symbol="ETHUSDT", interval="1h",
...     open_time_ms=1700000000000, candle=CandlePayload(close_time_ms=1700003599999, open=2000.0,
...     high=2010.0, low=1995.0, close=2005.0, volume=120.5))
>>> decode(encode(event)) == event
True
"""

from cryptoflow.events._codec import EventError, decode, encode, index_kind, topic_kind
from cryptoflow.events._mapping import index_mappings
from cryptoflow.events._models import (
    INDICATOR_NAMES,
    SCHEMA_VERSION,
    CandleEvent,
    CandlePayload,
    ErrorEvent,
    ErrorPayload,
    Event,
    IndicatorEvent,
    IndicatorPayload,
    IndicatorValues,
    LockEvent,
    LockPayload,
    SignalEvent,
    SignalPayload,
    TradeEvent,
    TradePayload,
    event_id,
    iso_ms,
)
from cryptoflow.events._vocabulary import (
    EVENT_INDICES,
    EVENT_KINDS,
    EVENT_TOPIC_KINDS,
    EVENT_TOPICS,
    FILTER_FIELDS,
    SIDES,
    SOURCES,
    EventKind,
    Side,
    SignalAction,
    Source,
)

__all__ = [
    "EVENT_INDICES",
    "EVENT_KINDS",
    "EVENT_TOPICS",
    "EVENT_TOPIC_KINDS",
    "FILTER_FIELDS",
    "INDICATOR_NAMES",
    "SCHEMA_VERSION",
    "SIDES",
    "SOURCES",
    "CandleEvent",
    "CandlePayload",
    "ErrorEvent",
    "ErrorPayload",
    "Event",
    "EventError",
    "EventKind",
    "IndicatorEvent",
    "IndicatorPayload",
    "IndicatorValues",
    "LockEvent",
    "LockPayload",
    "Side",
    "SignalAction",
    "SignalEvent",
    "SignalPayload",
    "Source",
    "TradeEvent",
    "TradePayload",
    "decode",
    "encode",
    "event_id",
    "index_kind",
    "index_mappings",
    "iso_ms",
    "topic_kind",
]
