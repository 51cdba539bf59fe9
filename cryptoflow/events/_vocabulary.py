"""The words events are made of, each defined once: event kinds, sources, sides and signal actions.

Everything else imports these: the Kafka topics (:data:`EVENT_TOPICS`) and the Elasticsearch indices
(:data:`EVENT_INDICES`) are named after the event kinds, the brokers and the backtester speak of
``long`` and ``short`` (:data:`Side`), and the applications say where their events come from (:data:`Source`).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "EVENT_INDICES",
    "EVENT_KINDS",
    "EVENT_TOPICS",
    "EVENT_TOPIC_KINDS",
    "FILTER_FIELDS",
    "SIDES",
    "SOURCES",
    "EventKind",
    "Side",
    "SignalAction",
    "Source",
]

EventKind = Literal["candle", "indicator", "signal", "trade", "lock", "error"]
"""An event's schema name (``schema_name``): what it reports. ``lock`` (a protection refused an entry)
and ``error`` (an order failed) are the executor's, beside its trades."""

EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

EVENT_TOPICS: dict[EventKind, str] = {
    "candle": "candles",
    "indicator": "indicators",
    "signal": "signals",
    "trade": "trades",
    # the executor's other events travel with its trades (one topic per role), in order per symbol
    "lock": "trades",
    "error": "trades",
}
"""Event kind -> topic kind: ``candle`` events go to the topic ``<prefix>.candles``; ``trade``, ``lock``
and ``error`` events, the executor's, share ``<prefix>.trades``."""

EVENT_TOPIC_KINDS: tuple[str, ...] = tuple(dict.fromkeys(EVENT_TOPICS.values()))
"""The topic kinds events travel on (``candles``, ``indicators``, ``signals``, ``trades``)."""

EVENT_INDICES: dict[EventKind, str] = {kind: f"{kind}s" for kind in EVENT_KINDS}
"""Event kind -> index kind, one per kind: ``candle`` events are indexed behind ``<prefix>-candles``,
``lock`` events behind ``<prefix>-locks`` (though they travel on the trades topic)."""

Source = Literal["live", "paper", "testnet", "backtest", "replay"]
"""Where an event comes from: a live account, paper trading, the Binance testnet, a backtest or a replay."""

SOURCES: tuple[Source, ...] = get_args(Source)

Side = Literal["long", "short"]
"""The side of a position."""

SIDES: tuple[Side, ...] = get_args(Side)

SignalAction = Literal["entry_long", "entry_short", "exit_long", "exit_short"]
"""What a strategy decided on a closed candle."""

FILTER_FIELDS = ("symbol", "interval", "strategy", "source")
"""The envelope fields dashboards filter on (keywords in every index; candles and intrabar updates have
no strategy of their own): the dashboard page's filters and the Kibana dashboards' controls."""
