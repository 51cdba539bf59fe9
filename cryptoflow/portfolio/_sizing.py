"""The capital split into (strategy, symbol) budgets, and the size of a position."""

from __future__ import annotations

from decimal import Decimal

from cryptoflow.binance import SymbolFilters
from cryptoflow.portfolio._bot import Bot

__all__ = ["budget", "budgets", "position_size", "strategy_capital"]


def strategy_capital(bot: Bot, run_id: str) -> float:
    """The share of the bot's capital given to the followed strategy ``run_id`` (quote currency): its
    ``fraction`` of the capital, or an equal share when no strategy gives one. ``KeyError`` for a run
    the bot does not follow."""
    followed = bot.strategy(run_id)
    share = followed.fraction if followed.fraction is not None else 1.0 / len(bot.strategies)
    return bot.capital.total * share


def budget(bot: Bot, run_id: str, symbol: str) -> float:
    """The budget of strategy ``run_id`` on ``symbol`` (quote currency): its capital times its share of
    the symbol (its ``symbols`` table, or an equal share of the bot's symbols). 0 for a symbol the
    strategy does not trade. The budgets of a bot add up to at most its capital."""
    followed = bot.strategy(run_id)
    if followed.symbols is None:
        share = 1.0 / len(bot.symbols) if symbol in bot.symbols else 0.0
    else:
        share = followed.symbols.get(symbol, 0.0)
    return strategy_capital(bot, run_id) * share


def budgets(bot: Bot) -> dict[tuple[str, str], float]:
    """Every (run id, symbol) budget of the bot (see :func:`budget`)."""
    return {
        (followed.run_id, symbol): budget(bot, followed.run_id, symbol)
        for followed in bot.strategies
        for symbol in bot.symbols
    }


def position_size(
    budget: float,
    price: float,
    *,
    fraction: float = 1.0,
    leverage: int = 1,
    filters: SymbolFilters | None = None,
) -> float:
    """The quantity (base asset) of a position: ``budget × fraction × leverage / price``.

    With the symbol's exchange ``filters`` the quantity is rounded down to its ``stepSize`` (never more
    than asked for), and a quantity below ``minQty`` or a notional below the minimum raises
    :class:`~cryptoflow.errors.ExchangeRejection` (code 0, refused before sending), whose message says
    to raise the budget, fraction or leverage. The notional (quantity × price) never exceeds
    ``budget × fraction × leverage``.

    >>> position_size(1000.0, 2500.0, fraction=0.5, leverage=2)
    0.4
    """
    if price <= 0 or budget <= 0:
        return 0.0
    quantity = budget * fraction * leverage / price
    if filters is None:
        return quantity
    rounded = filters.quantity(quantity)
    # the decimal of a float may sit a hair above it: step down once more if the notional overshoots
    while rounded > 0 and float(rounded) * price > budget * fraction * leverage:
        rounded -= filters.step_size
    rounded = max(rounded, Decimal(0))
    filters.check(rounded, price)
    return float(rounded)
