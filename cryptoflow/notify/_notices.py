"""What ``cryptoflow notify`` posts: one :class:`Notice` per event worth telling a person, one line each.

Entries and exits are the ``trade`` events' open and close legs, signals the ``signal`` events. Protection
locks and executor errors come from the executor as two more kinds of message on the trades topic (the
executor that publishes them is still to come; :data:`EXECUTOR_NOTICES` is what it must send)::

    {"schema_name": "lock", "schema_version": 1, "event_id": "…", "source": "paper", "run_id": "bot-1",
     "strategy": "basic", "symbol": "ETHUSDT", "interval": "1h", "time_ms": 1700000000000,
     "lock": {"protection": "stoploss_guard", "reason": "3 stop-losses within 60 min",
              "until_ms": 1700003600000, "symbol": "ETHUSDT", "run_id": null}}
    {"schema_name": "error", …, "error": {"category": "exchange_rejection",
              "message": "code -2019: Margin is insufficient", "signal_event_id": "…"}}

The ``lock`` object is :class:`cryptoflow.portfolio.Lock` (``until`` named ``until_ms``): ``until_ms``
``null`` while its condition holds, ``symbol`` / ``run_id`` ``null`` when it locks every symbol / every
strategy; the envelope names the entry it blocked. ``signal_event_id`` is ``null`` for an error no signal
caused. The envelope is the one every event carries (``@timestamp`` may be given).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cryptoflow.config import NoticeKind
from cryptoflow.events import EventError, SignalEvent, Source, TradeEvent, decode, iso_ms

__all__ = ["EXECUTOR_NOTICES", "Notice", "read_notice"]

EXECUTOR_NOTICES = ("lock", "error")
"""The ``schema_name`` of the executor's messages this module reads besides the events."""


@dataclass(frozen=True)
class Notice:
    """One thing to tell: its ``kind``, the event it comes from (``event_id``, ``source``, ``run_id``,
    ``strategy``, ``symbol``, ``time_ms``) and what a person reads (:attr:`text`).

    ``side``, ``quantity`` (base currency), ``price`` and ``pnl`` (quote currency, after fees),
    ``pnl_pct`` (percent of the entry notional) are set where the kind has them; ``reason`` is an exit's
    reason, a signal's reason, a lock's protection and reason, an error's category and message; ``until_ms``
    the end of a lock.
    """

    kind: NoticeKind
    event_id: str
    source: Source
    run_id: str
    strategy: str | None
    symbol: str
    interval: str
    time_ms: int
    side: str | None = None
    quantity: float | None = None
    price: float | None = None
    pnl: float | None = None
    pnl_pct: float | None = None
    reason: str | None = None
    until_ms: int | None = None

    @property
    def text(self) -> str:
        """One line: what happened, to what, at what price, with what result, and where it ran.

        >>> Notice("exit", "id", "paper", "run-1", "basic", "ETHUSDT", "1h", 0, side="long", quantity=0.5,
        ...     price=2050.0, pnl=22.45, pnl_pct=2.24, reason="take_profit").text
        'EXIT ETHUSDT long 0.5 @ 2050 PnL +22.45 (+2.24%) take_profit [paper basic run-1]'
        """
        where = " ".join(part for part in (self.source, self.strategy, self.run_id) if part)
        if self.kind in ("entry", "exit"):
            fill = f"{_number(self.quantity)} @ {_number(self.price)}"
            line = f"{self.kind.upper()} {self.symbol} {self.side} {fill}"
            if self.kind == "exit":
                line += f" PnL {self.pnl:+.2f} ({self.pnl_pct or 0.0:+.2f}%) {self.reason}"
        elif self.kind == "signal":
            line = f"SIGNAL {self.symbol} {self.side} @ {_number(self.price)}"
            line += f" {self.reason}" if self.reason else ""
        elif self.kind == "lock":
            until = "until further notice" if self.until_ms is None else f"until {iso_ms(self.until_ms)}"
            line = f"LOCK {self.symbol} entries locked {until}: {self.reason}"
        else:
            line = f"ERROR {self.symbol}: {self.reason}"
        return f"{line} [{where}]"

    def fields(self) -> dict[str, object]:
        """The notice as plain data (the generic webhook's body, with :attr:`text`)."""
        return {
            "kind": self.kind,
            "text": self.text,
            "event_id": self.event_id,
            "source": self.source,
            "run_id": self.run_id,
            "strategy": self.strategy,
            "symbol": self.symbol,
            "interval": self.interval,
            "time": iso_ms(self.time_ms),
            "side": self.side,
            "quantity": self.quantity,
            "price": self.price,
            "pnl": self.pnl,
            "pnl_pct": self.pnl_pct,
            "reason": self.reason,
            "until": None if self.until_ms is None else iso_ms(self.until_ms),
        }


def _number(value: float | None) -> str:
    """``2050.0 -> '2050'``, ``0.00125 -> '0.00125'``: every digit a price or quantity has, none more."""
    if value is None:
        return "?"
    return f"{value:.8f}".rstrip("0").rstrip(".")


# -- the executor's messages (see the module's docstring) -----------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Text = Annotated[str, Field(min_length=1, max_length=2000)]


class _Lock(_Strict):
    protection: Text
    reason: Text
    until_ms: int | None = Field(None, ge=0)
    symbol: str | None = None
    run_id: str | None = None


class _Error(_Strict):
    category: Text
    message: Text
    signal_event_id: str | None = None


class _ExecutorNotice(_Strict):
    schema_name: Literal["lock", "error"]
    schema_version: Literal[1]
    event_id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")]
    source: Source
    run_id: Text
    strategy: str | None = None
    symbol: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9._\-]+$")]
    interval: Annotated[str, Field(pattern=r"^\d+[smhdw]$")]
    time_ms: int = Field(ge=0)
    timestamp: str | None = Field(None, alias="@timestamp")
    lock: _Lock | None = None
    error: _Error | None = None


def _executor_notice(value: bytes) -> Notice | None:
    """The lock or error in ``value``; ``None`` when it is none, a ValueError when it is a broken one."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("schema_name") not in EXECUTOR_NOTICES:
        return None
    message = _ExecutorNotice.model_validate(data)
    if message.lock is not None:
        lock = message.lock
        reason = f"{lock.protection}: {lock.reason}"
        scope = {"symbol": lock.symbol or "all symbols"}
        return _notice("lock", message, reason=reason, until_ms=lock.until_ms, **scope)
    if message.error is not None:
        return _notice("error", message, reason=f"{message.error.category}: {message.error.message}")
    raise ValueError(f"a {message.schema_name} message needs its {message.schema_name!r} object")


def read_notice(value: bytes | None) -> Notice | None:
    """The notice of one message of the trades or signals topic, or ``None`` for an event nobody is told
    about (a candle, an indicator update).

    Raises :class:`~cryptoflow.events.EventError` (``category``, ``reason``) when ``value`` is neither a
    valid event nor a valid lock or error message.
    """
    try:
        event = decode(value)
    except EventError as exc:
        try:
            notice = _executor_notice(value or b"")
        except ValidationError as invalid:
            errors = invalid.errors(include_url=False)[:3]
            reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
            raise EventError("invalid_event", reason) from None
        except ValueError as invalid:
            raise EventError("invalid_event", str(invalid)) from None
        if notice is None:
            raise exc from None
        return notice
    if isinstance(event, TradeEvent):
        trade = event.trade
        fill = {"side": trade.side, "quantity": trade.quantity, "price": trade.price}
        if trade.leg == "open":
            return _notice("entry", event, **fill)
        return _notice("exit", event, pnl=trade.pnl, pnl_pct=trade.pnl_pct, reason=trade.exit_reason, **fill)
    if isinstance(event, SignalEvent):
        signal = event.signal
        return _notice("signal", event, side=signal.action, price=signal.price, reason=signal.reason)
    return None


def _notice(kind: NoticeKind, envelope: Any, **details: Any) -> Notice:
    """A notice of ``kind`` from the envelope fields of an event or an executor's message (``details``
    may name another ``symbol``: a lock's scope)."""
    fields = {
        "event_id": envelope.event_id,
        "source": envelope.source,
        "run_id": envelope.run_id,
        "strategy": envelope.strategy,
        "symbol": envelope.symbol,
        "interval": envelope.interval,
        "time_ms": envelope.time_ms,
    }
    return Notice(kind=kind, **(fields | details))
