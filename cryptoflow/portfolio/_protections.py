"""Portfolio protections: pure checks, run before every entry, that may lock it with a reason.

Each protection reads the book (open positions, closed trades) and the time of the entry and returns a
:class:`Lock` or ``None``. Nothing is stored: a lock is derived again from the trade history at every
check, so the executor after a restart and the portfolio backtest find the same locks.

Times are candle open times (epoch ms), as the brokers' and the backtester's trades carry them; the
time of an entry is the open time of the candle whose close decided it. A lock that starts with a trade
closed on candle ``T`` counts from that candle's close: ``stop_duration_candles = N`` blocks the
entries decided on the N candles after it (``until = T + (N + 1) × interval``). A duration in minutes
ends rounded up to the next candle (freqtrade's rule). An entry at ``t`` is blocked while
``t < until``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptoflow.events import iso_ms
from cryptoflow.portfolio._book import Book, Intent, StrategyTrade
from cryptoflow.portfolio._bot import (
    Bot,
    CooldownSettings,
    DailyLossSettings,
    MaxDrawdownSettings,
    StoplossGuardSettings,
)
from cryptoflow.portfolio._sizing import strategy_capital
from cryptoflow.strategies import REASONS, STOP, TRAIL

__all__ = [
    "STOP_REASONS",
    "Lock",
    "cooldown_lock",
    "daily_loss_lock",
    "entry_locks",
    "max_drawdown_lock",
    "max_open_positions_lock",
    "stoploss_guard_lock",
]

STOP_REASONS = frozenset({REASONS[STOP], REASONS[TRAIL]})
"""The exit reasons that count as a stop (freqtrade counts its stop-loss and trailing stop-loss)."""

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class Lock:
    """A protection's refusal of entries.

    protection: which one (``max_open_positions``, ``cooldown``, ``stoploss_guard``, ``max_drawdown``,
    ``daily_loss``). reason: one line for the log and the notification. until: the first candle open
    time (epoch ms) at which entries are allowed again, or ``None`` while a condition holds (open
    positions). symbol / run_id: what it locks (``None``: every symbol / every strategy).
    """

    protection: str
    reason: str
    until: int | None = None
    symbol: str | None = None
    run_id: str | None = None

    def describe(self) -> str:
        """The reason with what is locked and until when, e.g. for an INFO log line."""
        scope = self.symbol or "all symbols"
        if self.run_id is not None:
            scope += f", run {self.run_id}"
        until = f" until {iso_ms(self.until)}" if self.until is not None else ""
        return f"{self.protection} locks {scope}{until}: {self.reason}"


def _candle(time: int, interval: int) -> int:
    return time - time % interval


def _lock_end(exit_time: int, duration: int, interval: int) -> int:
    """The end of a lock that starts at the close of the candle ``exit_time`` falls in."""
    end = _candle(exit_time, interval) + interval + duration
    return -(-end // interval) * interval  # up to the next candle


def _recent(trades: Sequence[StrategyTrade], now: int, duration: int, interval: int) -> list[StrategyTrade]:
    """The trades, newest first, that closed no later than ``now`` and whose lock would still run."""
    return [
        t
        for t in reversed(trades)
        if t.trade.exit_time <= now and _lock_end(t.trade.exit_time, duration, interval) > now
    ]


def max_open_positions_lock(limit: int, book: Book) -> Lock | None:
    """Every entry is locked while ``limit`` positions are open."""
    if len(book.holdings) < limit:
        return None
    return Lock(
        "max_open_positions",
        f"{len(book.holdings)} positions open, max_open_positions is {limit}; entries resume when one closes",
    )


def cooldown_lock(
    settings: CooldownSettings, book: Book, symbol: str, now: int, interval: int
) -> Lock | None:
    """No entry on ``symbol`` for the lock's duration after a stop (or any exit) on it."""
    duration = settings.duration_ms(interval)
    for closed in _recent(book.trades, now, duration, interval):
        trade = closed.trade
        if trade.symbol != symbol or (settings.only_stop_loss and trade.exit_reason not in STOP_REASONS):
            continue
        return Lock(
            "cooldown",
            f"{symbol} closed by {trade.exit_reason} at candle {iso_ms(trade.exit_time)}",
            _lock_end(trade.exit_time, duration, interval),
            symbol=symbol,
        )
    return None


def stoploss_guard_lock(
    settings: StoplossGuardSettings, book: Book, symbol: str, now: int, interval: int
) -> Lock | None:
    """``trade_limit`` losing stops within the lookback lock entries (on ``symbol`` with
    ``only_per_pair``, else on all) for the lock's duration after the stop that reached the limit."""
    duration = settings.duration_ms(interval)
    lookback = settings.lookback_ms(interval)
    stops = [
        t
        for t in book.trades
        if t.trade.exit_reason in STOP_REASONS
        and t.profit_ratio < settings.required_profit
        and (not settings.only_per_pair or t.trade.symbol == symbol)
    ]
    for last in _recent(stops, now, duration, interval):
        end = last.trade.exit_time
        count = sum(1 for t in stops if end - lookback <= t.trade.exit_time <= end)
        if count >= settings.trade_limit:
            where = symbol if settings.only_per_pair else "the bot"
            return Lock(
                "stoploss_guard",
                f"{count} stops on {where} within {lookback // 60_000} min up to "
                f"{iso_ms(end)} (trade_limit {settings.trade_limit})",
                _lock_end(end, duration, interval),
                symbol=symbol if settings.only_per_pair else None,
            )
    return None


def _drawdown(start: float, trades: Sequence[StrategyTrade]) -> float:
    """The largest fall of the realised equity from a peak, as a fraction of that peak."""
    peak = equity = start
    worst = 0.0
    for closed in trades:
        equity += closed.trade.pnl
        peak = max(peak, equity)
        if peak > 0:
            worst = max(worst, (peak - equity) / peak)
    return worst


def max_drawdown_lock(settings: MaxDrawdownSettings, book: Book, now: int, interval: int) -> Lock | None:
    """Every entry is locked for the lock's duration after a trade that took the bot's realised equity
    ``max_allowed_drawdown`` or more below its peak within the lookback (at least ``trade_limit``
    trades in it)."""
    duration = settings.duration_ms(interval)
    lookback = settings.lookback_ms(interval)
    trades = sorted(book.trades, key=lambda t: t.trade.exit_time)
    for last in _recent(trades, now, duration, interval):
        end = last.trade.exit_time
        window = [t for t in trades if end - lookback <= t.trade.exit_time <= end]
        if len(window) < settings.trade_limit:
            continue
        before = book.realised_pnl(t for t in trades if t.trade.exit_time < end - lookback)
        drawdown = _drawdown(book.capital + before, window)
        if drawdown >= settings.max_allowed_drawdown:
            return Lock(
                "max_drawdown",
                f"drawdown {drawdown:.1%} over the {len(window)} trades up to {iso_ms(end)} "
                f"(max_allowed_drawdown {settings.max_allowed_drawdown:.1%})",
                _lock_end(end, duration, interval),
            )
    return None


def daily_loss_lock(
    settings: DailyLossSettings, book: Book, run_id: str, capital: float, now: int
) -> Lock | None:
    """Strategy ``run_id`` enters nothing more until the next UTC midnight once its trades closed
    during the UTC day of ``now`` lost ``max_loss`` × ``capital`` (its share of the bot's capital)."""
    day = now - now % _DAY_MS
    today = [t for t in book.trades if t.run_id == run_id and day <= t.trade.exit_time <= now]
    loss = -book.realised_pnl(today)
    if capital <= 0 or loss < settings.max_loss * capital:
        return None
    return Lock(
        "daily_loss",
        f"run {run_id} lost {loss:.2f} today ({loss / capital:.1%} of its capital {capital:.2f}, "
        f"max_loss {settings.max_loss:.1%})",
        day + _DAY_MS,
        run_id=run_id,
    )


def entry_locks(bot: Bot, book: Book, intent: Intent) -> list[Lock]:
    """Every protection of ``bot`` that locks the entry ``intent`` now (empty: it may enter)."""
    settings = bot.protections
    now, symbol, interval = intent.candle_open_time, intent.symbol, bot.interval_ms
    found: list[Lock | None] = []
    if settings.max_open_positions is not None:
        found.append(max_open_positions_lock(settings.max_open_positions, book))
    if settings.cooldown is not None:
        found.append(cooldown_lock(settings.cooldown, book, symbol, now, interval))
    if settings.stoploss_guard is not None:
        found.append(stoploss_guard_lock(settings.stoploss_guard, book, symbol, now, interval))
    if settings.max_drawdown is not None:
        found.append(max_drawdown_lock(settings.max_drawdown, book, now, interval))
    if settings.daily_loss is not None:
        capital = strategy_capital(bot, intent.run_id)
        found.append(daily_loss_lock(settings.daily_loss, book, intent.run_id, capital, now))
    return [lock for lock in found if lock is not None]
