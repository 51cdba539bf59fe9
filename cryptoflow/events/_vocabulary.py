"""The words events are made of, each defined once: event kinds, sources, sides and signal actions.

Everything else imports these: the Kafka topics and the Elasticsearch indices are named after the
event kinds (:data:`EVENT_TOPICS`), the brokers and the backtester speak of ``long`` and ``short``
(:data:`Side`), and the applications say where their events come from (:data:`Source`).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "EVENT_KINDS",
    "EVENT_TOPICS",
    "FILTER_FIELDS",
    "SIDES",
    "SOURCES",
    "EventKind",
    "Side",
    "SignalAction",
    "Source",
]

EventKind = Literal["candle", "indicator", "signal", "trade"]
"""An event's schema name (``schema_name``): what it reports."""

EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

EVENT_TOPICS: dict[EventKind, str] = {kind: f"{kind}s" for kind in EVENT_KINDS}
"""Event kind -> topic kind, which is also the index kind: ``candle`` events go to the topic
``<prefix>.candles`` and the indices behind ``<prefix>-candles``."""

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
