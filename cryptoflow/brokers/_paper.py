"""The paper broker: simulated fills at the candle's close with fees and slippage, state on disk."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cryptoflow.brokers._base import BrokerBook, ClosedTrade, Position, TradingConfig
from cryptoflow.candles import Candle
from cryptoflow.events import Source

__all__ = ["PaperBroker", "paper_close", "paper_open", "paper_price"]

log = logging.getLogger(__name__)


def paper_price(config: TradingConfig, price: float, direction: int) -> float:
    """The price a paper order at ``price`` (the deciding candle's close) fills at: moved against us by
    ``slippage_rate``, up for a buy (``direction`` +1: a long's entry, a short's exit), down for a sell
    (-1)."""
    return price * (1.0 + config.slippage_rate * direction)


def paper_open(
    config: TradingConfig,
    symbol: str,
    side: int,
    quantity: float,
    price: float,
    open_time: int,
    order_id: str,
) -> Position:
    """The position a paper entry of ``quantity`` filled at ``price`` (from :func:`paper_price`) opens on
    the candle ``open_time``: it pays ``fee_rate`` of the notional. The paper broker and the portfolio
    backtest fill entries through this one function."""
    fee = quantity * price * config.fee_rate
    return Position(symbol, side, quantity, price, open_time, fee, price, 0, order_id)


def paper_close(
    config: TradingConfig, position: Position, price: float, open_time: int, reason: str, order_id: str
) -> ClosedTrade:
    """The round trip ``position`` makes by a paper exit filled at ``price`` (from :func:`paper_price`
    with the opposite direction, or an exchange's trigger price) on the candle ``open_time``: the exit
    pays ``fee_rate`` of its notional."""
    exit_fee = position.quantity * price * config.fee_rate
    return position.close(open_time, price, reason, exit_fee, order_id)


class PaperBroker(BrokerBook):
    """Fills exactly as the backtester's ``close`` model does, so a live paper run and a backtest of the
    same candles produce the same trades: a position uses ``fraction`` x ``leverage`` of the symbol's
    equity, fills move by ``slippage_rate`` against us, each side pays ``fee_rate`` of the notional.

    Each symbol trades its own equal share of ``cash``. The whole state (cash per symbol, open positions,
    closed trades count, and the engine's record of what it decided: :attr:`engine`) is one document at
    ``state_path``, replaced atomically at every fill and every :meth:`record`; a restart resumes it.
    """

    name: Source = "paper"

    def __init__(self, config: TradingConfig, state_path: Path) -> None:
        super().__init__(state_path)
        self.config = config
        self.cash: dict[str, float] = {}
        self.trades = 0

    async def start(self, symbols: list[str]) -> dict[str, Position | None]:
        """Load the saved state (if any); new symbols get their share of the cash."""
        saved = self.load()
        self.cash = {s: float(v) for s, v in saved.get("cash", {}).items()}
        self.trades = int(saved.get("trades", 0))
        share = self.config.cash / max(1, len(symbols))
        for symbol in symbols:
            self.cash.setdefault(symbol, share)
        if self.positions:
            log.info("paper broker resumed %d open position(s) from %s", len(self.positions), self._file.path)
        self.save()
        return {s: self.positions.get(s) for s in symbols}

    def can_trade(self, symbol: str) -> bool:
        """False once the symbol's equity reached zero (as in the backtester)."""
        return self.cash.get(symbol, 0.0) > 0.0

    async def open_position(
        self, symbol: str, side: int, candle: Candle, order_id: str, quantity: float | None = None
    ) -> Position | None:
        """Enter at ``candle.close``: ``quantity`` (base asset) when the caller sized the position (an
        executor, from its bot's budgets), else ``fraction`` x ``leverage`` of the symbol's equity."""
        c = self.config
        price = paper_price(c, candle.close, side)
        if quantity is None:
            quantity = self.cash[symbol] * c.fraction * c.leverage / price
        position = paper_open(c, symbol, side, quantity, price, candle.open_time, order_id)
        self.cash[symbol] -= position.entry_fee
        self.positions[symbol] = position
        self.save()
        return position

    async def close_position(self, symbol: str, candle: Candle, reason: str, order_id: str) -> ClosedTrade:
        """Exit at ``candle.close``."""
        pos = self.positions.pop(symbol)
        price = paper_price(self.config, candle.close, -pos.side)
        trade = paper_close(self.config, pos, price, candle.open_time, reason, order_id)
        self.cash[symbol] += trade.pnl + pos.entry_fee  # the entry fee left the cash at the entry
        if self.cash[symbol] <= 0.0:
            self.cash[symbol] = 0.0
        self.trades += 1
        self.closed[symbol] = trade
        self.save()
        return self.closed[symbol]

    def state(self) -> dict[str, Any]:
        """Cash per symbol and the closed trades count, beside the positions (see :class:`BrokerBook`)."""
        return {"cash": self.cash, "trades": self.trades}

    async def stop(self) -> None:
        """Nothing to write: fills and decisions were written when they happened (a decision cut short
        must not leave its half-updated bookkeeping behind)."""

    async def release(self) -> None:
        """Nothing to release."""
