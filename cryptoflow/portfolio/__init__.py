"""Portfolio: the rules a bot trades by, shared by the executor (``auto_trade``) and the portfolio
backtest (``backtesting``), so that a live bot and its backtest agree trade for trade.

A bot follows K strategies over N symbols with one capital. This package holds what decides, not what
executes: the bot file, the book, the conflict rule, the protections and the sizing. Everything here
is pure (no I/O, no clock): the caller passes the time, the book and the signal.

**The bot file** (TOML, :func:`load_bot` -> :class:`Bot`): the strategies it follows (each with its
parameters, the run id of the signals it trades and its share of the capital, optionally split per
symbol), the broker (``paper``, ``testnet``, ``live``), the capital, leverage and margin type, the
entry orders (market, or limit at close × (1 ± aggressiveness) with a timeout) and the protections.
``docker/bot.example.toml`` is a complete example. :func:`check_broker` checks ``--live`` and the API
keys against the settings.

**The conflict rule: one owner per symbol, the first entry wins.** While the bot is flat on a symbol,
the first entry signal for it, from any followed strategy, opens a position that this strategy owns.
Until it closes, every other entry or exit on that symbol is skipped with its reason
(``held_by_other``), and so is the owner's own further entry (``already_open``); only the owner's exit
(or the exchange's stop or take-profit at the owner's levels) closes it. Why this rule, and not one
sub-position per strategy netted on the exchange position: Binance (one-way mode) keeps one position
per symbol, and the protective ``STOP_MARKET``/``TAKE_PROFIT_MARKET`` orders with ``closePosition``
close all of it, at one level; with a single owner the exchange position, its protective orders and
the strategy's stop and take-profit are the same thing, a fill reported by the exchange belongs to
exactly one strategy, and a restart reconciles one position with one owner. Netted sub-positions would
need per-strategy reduce-only orders of partial quantities that cancel out between a long and a short
strategy, and PnL attribution across them. The cost: a strategy may miss an entry another strategy
took first; that skip is logged with its reason. A symbol closed on a candle is entered again from
the next candle on, so an exit and another strategy's entry on the same candle give the same result
in either order. "First" among entries of one candle is :func:`decision_order`: exits before entries,
then the strategies' order in the bot file; the portfolio backtest sorts signals by it.

**Protections** (:func:`entry_locks`, evaluated before every entry, each a :class:`Lock` with its
reason and end, or nothing): ``max_open_positions``; ``cooldown`` after a stop on a symbol
(freqtrade's CooldownPeriod); ``stoploss_guard`` (N losing stops within a window lock one symbol or all,
freqtrade's StoplossGuard); ``max_drawdown`` of the bot's realised equity within a window (freqtrade's
MaxDrawdown); ``daily_loss``, a strategy's loss during the UTC day as a fraction of its capital. Their
settings keep freqtrade's names (``stop_duration_candles`` or ``stop_duration`` in minutes,
``lookback_period_candles`` or ``lookback_period``, ``trade_limit``, ``only_per_pair``,
``required_profit``, ``max_allowed_drawdown``). Locks are derived from the trade history at every
check, never stored, so a restarted executor finds the same ones.

**Sizing**: :func:`budget` splits the capital into (strategy, symbol) budgets that add up to at most
the capital; :func:`position_size` turns a budget into a quantity (``budget × fraction × leverage /
price``, rounded down to the exchange's ``stepSize`` when :class:`~cryptoflow.binance.SymbolFilters`
are given).

The executor and the backtest call :func:`decide` for every signal and record fills in the
:class:`Book` (which :meth:`Book.document` / :meth:`Book.of_document` save and restore)::

    bot = load_bot("bot.toml")
    book = Book(bot.capital.total)
    decision = decide(bot, book, Intent("basic", "sig-basic", "ETHUSDT", "entry_long", t, 2500.0))
    if decision.verdict == "enter":
        quantity = position_size(decision.budget, 2500.0, fraction=bot.capital.fraction,
                                 leverage=bot.capital.leverage)
        ...  # order it, then book.open("sig-basic", position)
"""

from cryptoflow.portfolio._book import Book, Holding, Intent, StrategyTrade
from cryptoflow.portfolio._bot import (
    Bot,
    BrokerKind,
    CapitalSettings,
    CooldownSettings,
    DailyLossSettings,
    EntrySettings,
    FollowedStrategy,
    MaxDrawdownSettings,
    ProtectionSettings,
    StoplossGuardSettings,
    check_broker,
    load_bot,
)
from cryptoflow.portfolio._decide import Decision, Verdict, decide, decision_order, resolve_conflict
from cryptoflow.portfolio._protections import (
    STOP_REASONS,
    Lock,
    cooldown_lock,
    daily_loss_lock,
    entry_locks,
    max_drawdown_lock,
    max_open_positions_lock,
    stoploss_guard_lock,
)
from cryptoflow.portfolio._sizing import budget, budgets, position_size, strategy_capital

__all__ = [
    "STOP_REASONS",
    "Book",
    "Bot",
    "BrokerKind",
    "CapitalSettings",
    "CooldownSettings",
    "DailyLossSettings",
    "Decision",
    "EntrySettings",
    "FollowedStrategy",
    "Holding",
    "Intent",
    "Lock",
    "MaxDrawdownSettings",
    "ProtectionSettings",
    "StoplossGuardSettings",
    "StrategyTrade",
    "Verdict",
    "budget",
    "budgets",
    "check_broker",
    "cooldown_lock",
    "daily_loss_lock",
    "decide",
    "decision_order",
    "entry_locks",
    "load_bot",
    "max_drawdown_lock",
    "max_open_positions_lock",
    "position_size",
    "resolve_conflict",
    "stoploss_guard_lock",
    "strategy_capital",
]
