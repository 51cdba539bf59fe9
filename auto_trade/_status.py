"""``cryptoflow status --bot``: what a bot holds, what it made today, what locks it, from its executor's
state (like freqtrade's ``/status`` and ``/profit``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptoflow.brokers import StateFile
from cryptoflow.errors import ConfigurationError
from cryptoflow.portfolio import Book, Bot, Holding, Intent, Lock, StrategyTrade, entry_locks

__all__ = ["BotStatus", "bot_status"]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class BotStatus:
    """A bot's state at ``now_ms``: its ``open_positions`` (with their owners), the trades closed
    during the UTC day of ``now_ms`` (``today``), every closed trade (``trades``), the bot's equity
    (capital plus realised PnL) and the protection ``locks`` that would refuse an entry now."""

    bot: Bot
    now_ms: int
    open_positions: list[Holding]
    today: list[StrategyTrade]
    trades: list[StrategyTrade]
    equity: float
    locks: list[Lock]

    @property
    def today_pnl(self) -> float:
        """Realised PnL (after fees) of today's trades, quote currency."""
        return sum(t.trade.pnl for t in self.today)

    @property
    def total_pnl(self) -> float:
        """Realised PnL (after fees) of every trade, quote currency."""
        return sum(t.trade.pnl for t in self.trades)

    def pnl_by_run(self, trades: list[StrategyTrade]) -> dict[str, float]:
        """PnL of ``trades`` per followed strategy (its run id), in the bot file's order."""
        pnl = {followed.run_id: 0.0 for followed in self.bot.strategies}
        for closed in trades:
            pnl[closed.run_id] = pnl.get(closed.run_id, 0.0) + closed.trade.pnl
        return pnl


def bot_status(bot: Bot, state_path: Path, now_ms: int) -> BotStatus:
    """The status of ``bot`` from its executor's state document at ``state_path``, as of ``now_ms``.

    Raises :class:`~cryptoflow.errors.ConfigurationError` when there is no state there (the executor
    never ran with this bot and state folder) or it belongs to another bot.
    """
    document = StateFile(state_path).load()
    if not document:
        raise ConfigurationError(
            f"no executor state for bot {bot.name!r} at {state_path}: has `cryptoflow execute --bot` run "
            "with this --state-dir?"
        )
    if document.get("bot") != bot.name:
        owner = document.get("bot")
        raise ConfigurationError(f"{state_path} is the state of bot {owner!r}, not {bot.name!r}")
    book = Book.of_document(document["book"])
    day = now_ms - now_ms % _DAY_MS
    today = [t for t in book.trades if t.trade.exit_time >= day]
    candle = now_ms - now_ms % bot.interval_ms
    locks: dict[str, Lock] = {}
    for followed in bot.strategies:
        for symbol in bot.symbols:
            intent = Intent(followed.name, followed.run_id, symbol, "entry_long", candle, 1.0)
            for lock in entry_locks(bot, book, intent):
                locks.setdefault(lock.describe(), lock)
    held = list(book.holdings.values())
    return BotStatus(bot, now_ms, held, today, list(book.trades), book.equity, list(locks.values()))
