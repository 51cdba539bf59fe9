"""What ``cryptoflow notify`` posts: one :class:`Notice` per event worth telling a person, one line each.

Entries and exits are the ``trade`` events' open and close legs, signals the ``signal`` events,
protection locks and executor errors the ``lock`` and ``error`` events
(:class:`~cryptoflow.events.LockEvent`, :class:`~cryptoflow.events.ErrorEvent`), which the executor
publishes on the trades topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptoflow.config import NoticeKind
from cryptoflow.events import ErrorEvent, LockEvent, SignalEvent, Source, TradeEvent, decode, iso_ms

__all__ = ["Notice", "read_notice"]


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


def read_notice(value: bytes | None) -> Notice | None:
    """The notice of one message of the trades or signals topic, or ``None`` for an event nobody is told
    about (a candle, an indicator update).

    Raises :class:`~cryptoflow.events.EventError` (``category``, ``reason``) when ``value`` is no valid
    event.
    """
    event = decode(value)
    if isinstance(event, TradeEvent):
        trade = event.trade
        fill = {"side": trade.side, "quantity": trade.quantity, "price": trade.price}
        if trade.leg == "open":
            return _notice("entry", event, **fill)
        return _notice("exit", event, pnl=trade.pnl, pnl_pct=trade.pnl_pct, reason=trade.exit_reason, **fill)
    if isinstance(event, SignalEvent):
        signal = event.signal
        return _notice("signal", event, side=signal.action, price=signal.price, reason=signal.reason)
    if isinstance(event, LockEvent):
        lock = event.lock
        scope = lock.symbol or "all symbols"
        return _notice(
            "lock", event, symbol=scope, reason=f"{lock.protection}: {lock.reason}", until_ms=lock.until_ms
        )
    if isinstance(event, ErrorEvent):
        return _notice("error", event, reason=f"{event.error.category}: {event.error.message}")
    return None


def _notice(kind: NoticeKind, envelope: Any, **details: Any) -> Notice:
    """A notice of ``kind`` from the envelope fields of an event (``details`` may name another
    ``symbol``: a lock's scope)."""
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
