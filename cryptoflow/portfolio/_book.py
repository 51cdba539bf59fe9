"""The bot's book (which strategy holds which symbol, and the closed trades) and the signal it reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptoflow.brokers import ClosedTrade, Position
from cryptoflow.events import Side, SignalAction

__all__ = ["Book", "Holding", "Intent", "StrategyTrade"]


@dataclass(frozen=True)
class Holding:
    """An open position of the bot and the followed strategy (its ``run_id``) that owns it."""

    run_id: str
    position: Position

    @property
    def side(self) -> Side:
        """``long`` or ``short``."""
        return "long" if self.position.side > 0 else "short"


@dataclass(frozen=True)
class StrategyTrade:
    """A closed round trip and the followed strategy (its ``run_id``) that made it."""

    run_id: str
    trade: ClosedTrade

    @property
    def profit_ratio(self) -> float:
        """PnL after fees relative to the entry notional (0.01 = 1 %)."""
        notional = self.trade.quantity * self.trade.entry_price
        return self.trade.pnl / notional if notional > 0 else 0.0


@dataclass
class Book:
    """What the bot holds and what it has closed: the state the conflict rule and the protections read.

    capital: the bot's starting capital (quote currency). holdings: the open positions by symbol (one
    per symbol: see the conflict rule). trades: the closed round trips, in the order they closed. The
    executor and the portfolio backtest keep one :class:`Book` each and change it only through
    :meth:`open` and :meth:`close`, with the broker's own :class:`~cryptoflow.brokers.Position` and
    :class:`~cryptoflow.brokers.ClosedTrade`.
    """

    capital: float
    holdings: dict[str, Holding] = field(default_factory=dict)
    trades: list[StrategyTrade] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        """The book as JSON-ready data (for the executor's state), read back by :meth:`of_document`."""
        return {
            "capital": self.capital,
            "holdings": {s: {"run_id": h.run_id, **asdict(h.position)} for s, h in self.holdings.items()},
            "trades": [{"run_id": t.run_id, **asdict(t.trade)} for t in self.trades],
        }

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> Book:
        """The book :meth:`document` wrote."""
        holdings = {}
        for symbol, data in document.get("holdings", {}).items():
            fields = dict(data)
            holdings[symbol] = Holding(fields.pop("run_id"), Position(**fields))
        trades = []
        for data in document.get("trades", []):
            fields = dict(data)
            trades.append(StrategyTrade(fields.pop("run_id"), ClosedTrade(**fields)))
        return cls(float(document["capital"]), holdings, trades)

    def holding(self, symbol: str) -> Holding | None:
        """The open position on ``symbol`` and its owner, or ``None`` when the bot is flat there."""
        return self.holdings.get(symbol)

    def open(self, run_id: str, position: Position) -> Holding:
        """Record that ``run_id`` opened ``position``; ``ValueError`` if its symbol is already held."""
        if position.symbol in self.holdings:
            owner = self.holdings[position.symbol].run_id
            raise ValueError(f"{position.symbol} is already held by run {owner}")
        holding = Holding(run_id, position)
        self.holdings[position.symbol] = holding
        return holding

    def close(self, trade: ClosedTrade) -> StrategyTrade:
        """Record that the position on ``trade.symbol`` closed as ``trade``; ``KeyError`` if none is open."""
        holding = self.holdings.pop(trade.symbol)
        closed = StrategyTrade(holding.run_id, trade)
        self.trades.append(closed)
        return closed

    def last_exit(self, symbol: str) -> int | None:
        """When the bot's last position on ``symbol`` closed (its trade's ``exit_time``), or ``None``."""
        for closed in reversed(self.trades):
            if closed.trade.symbol == symbol:
                return closed.trade.exit_time
        return None

    def realised_pnl(self, trades: Iterable[StrategyTrade] | None = None) -> float:
        """The sum of the PnL (after fees) of ``trades`` (default: every closed trade)."""
        return sum(t.trade.pnl for t in (self.trades if trades is None else trades))

    @property
    def equity(self) -> float:
        """Capital plus realised PnL (open positions at their entry value)."""
        return self.capital + self.realised_pnl()


@dataclass(frozen=True)
class Intent:
    """A signal as the portfolio reads it.

    strategy, run_id: the strategy's name and run, as the signal event carries them. action:
    ``entry_long``, ``entry_short``, ``exit_long`` or ``exit_short``. candle_open_time: the open time of
    the candle whose close decided it (epoch ms): the time every rule is evaluated at. price: that
    candle's close. From a :class:`~cryptoflow.events.SignalEvent` ``e``: ``Intent(e.strategy,
    e.run_id, e.symbol, e.signal.action, e.signal.candle_open_time_ms, e.signal.price)``.
    """

    strategy: str
    run_id: str
    symbol: str
    action: SignalAction
    candle_open_time: int
    price: float

    @property
    def is_entry(self) -> bool:
        """Whether it asks to open a position."""
        return self.action.startswith("entry")

    @property
    def side(self) -> Side:
        """The side it enters or exits."""
        return "long" if self.action.endswith("long") else "short"
