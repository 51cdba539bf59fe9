"""The conflict rule and the one decision the executor and the portfolio backtest ask for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptoflow.events import Side, iso_ms
from cryptoflow.portfolio._book import Book, Intent
from cryptoflow.portfolio._bot import Bot
from cryptoflow.portfolio._protections import Lock, entry_locks
from cryptoflow.portfolio._sizing import budget

__all__ = ["Decision", "Verdict", "decide", "decision_order", "resolve_conflict"]

Verdict = Literal["enter", "exit", "skip"]


@dataclass(frozen=True)
class Decision:
    """What to do with an :class:`Intent`.

    verdict: ``enter``, ``exit`` or ``skip``. code: why, as a stable word (``enter``, ``exit``,
    ``not_followed``, ``unknown_symbol``, ``already_open``, ``held_by_other``, ``closed_this_candle``,
    ``no_position``, ``other_side``, ``no_budget``, ``locked``); reason: the same for a person, one
    line. side: the side entered or exited. budget: the (strategy, symbol) budget an entry may use
    (quote currency). locks:
    the protections that blocked an entry (``code == "locked"``), each with its reason.
    """

    verdict: Verdict
    code: str
    reason: str
    side: Side | None = None
    budget: float = 0.0
    locks: tuple[Lock, ...] = ()


def _skip(code: str, reason: str, side: Side | None = None) -> Decision:
    return Decision("skip", code, reason, side)


def resolve_conflict(book: Book, intent: Intent) -> Decision:
    """The conflict rule: one owner per symbol, the first entry wins.

    A symbol the bot is flat on goes to the first strategy whose entry arrives; until that position
    closes, the others' entries and exits on the symbol are skipped (``held_by_other``) and the owner's
    further entries too (``already_open``: no pyramiding, no reversal, as in the single-strategy
    engine). Only the owner's exit on the owner's side closes it. A symbol whose position closed on
    the intent's candle (or later) is not entered again before the next candle
    (``closed_this_candle``, as in the single-strategy engine): so whether an exit or another
    strategy's entry on the same candle is decided first, the outcome is the same.
    """
    holding = book.holding(intent.symbol)
    side = intent.side
    if intent.is_entry:
        closed_at = book.last_exit(intent.symbol) if holding is None else None
        if closed_at is not None and closed_at >= intent.candle_open_time:
            return _skip(
                "closed_this_candle",
                f"{intent.symbol} closed on this candle ({iso_ms(closed_at)}); "
                "a symbol is entered again from the next candle on",
                side,
            )
        if holding is None:
            return Decision("enter", "enter", f"{intent.symbol} is flat: {intent.run_id} enters {side}", side)
        if holding.run_id == intent.run_id:
            return _skip(
                "already_open",
                f"{intent.symbol}: run {intent.run_id} already holds a {holding.side} position "
                f"(entered at candle {holding.position.entry_time})",
                side,
            )
        return _skip(
            "held_by_other",
            f"{intent.symbol} is held by run {holding.run_id} ({holding.side}); "
            f"the first entry owns a symbol until its position closes",
            side,
        )
    if holding is None:
        return _skip("no_position", f"{intent.symbol}: no open position to exit", side)
    if holding.run_id != intent.run_id:
        return _skip(
            "held_by_other",
            f"{intent.symbol} is held by run {holding.run_id}; only its owner's exit closes it",
            side,
        )
    if holding.side != side:
        return _skip("other_side", f"{intent.symbol}: the open position is {holding.side}, not {side}", side)
    return Decision("exit", "exit", f"{intent.symbol}: run {intent.run_id} exits its {side}", side)


def decide(bot: Bot, book: Book, intent: Intent) -> Decision:
    """What ``bot`` does with ``intent``, given its ``book``: the one call of the executor and the
    portfolio backtest for every signal, in the order they receive them.

    In order: a signal of a strategy the bot does not follow (``not_followed``) or of a symbol it does
    not trade (``unknown_symbol``) is skipped; then :func:`resolve_conflict`; an entry then needs a
    budget (``no_budget``) and no protection locking it (``locked``, with every :class:`Lock`). An
    entry that passes carries its (strategy, symbol) budget for :func:`position_size`.

    Pure: nothing is changed. After the order fills, the caller records it with :meth:`Book.open` or
    :meth:`Book.close`.
    """
    if bot.follows(intent.strategy, intent.run_id) is None:
        followed = ", ".join(s.describe() for s in bot.strategies)
        return _skip(
            "not_followed",
            f"{bot.source} does not follow strategy {intent.strategy!r} of run {intent.run_id!r} "
            f"(it follows {followed})",
            intent.side,
        )
    if intent.symbol not in bot.symbols:
        symbols = ", ".join(bot.symbols)
        return _skip("unknown_symbol", f"{bot.source} does not trade {intent.symbol} (symbols: {symbols})")
    decision = resolve_conflict(book, intent)
    if decision.verdict != "enter":
        return decision
    money = budget(bot, intent.run_id, intent.symbol)
    if money <= 0:
        return _skip("no_budget", f"run {intent.run_id} has no budget for {intent.symbol}", intent.side)
    locks = tuple(entry_locks(bot, book, intent))
    if locks:
        reason = "; ".join(lock.describe() for lock in locks)
        return Decision("skip", "locked", reason, intent.side, money, locks)
    return Decision("enter", "enter", decision.reason, intent.side, money)


def decision_order(bot: Bot, intent: Intent) -> tuple[int, int, int]:
    """The sort key of the order in which a bot decides signals: by candle, exits before entries (an
    exit frees a slot of ``max_open_positions``), then by the strategies' order in the bot file (the
    first one wins a symbol two strategies enter on the same candle); signals of strategies the bot
    does not follow last.

    The portfolio backtest sorts every signal by it. Bot-wide protections make the order of one
    candle's entries on different symbols matter, so an executor that wants to match its backtest
    decides a candle's signals, gathered across its partitions, in this order too.
    """
    ranks = {followed.run_id: index for index, followed in enumerate(bot.strategies)}
    return intent.candle_open_time, int(intent.is_entry), ranks.get(intent.run_id, len(ranks))
