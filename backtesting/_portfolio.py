"""The portfolio backtest: a bot's K strategies over N symbols with one capital, by the executor's rules.

Each followed strategy's signals are the entries and exits of its own single-strategy ``close``-model
backtest per symbol (its *virtual* position, as the ``signals`` worker publishes them). They are merged
over all strategies and symbols in time order, a candle's signals in
:func:`~cryptoflow.portfolio.decision_order` (then the bot's symbols' order), and each is decided by
:func:`~cryptoflow.portfolio.decide` on the bot's :class:`~cryptoflow.portfolio.Book`: enter (sized by
:func:`~cryptoflow.portfolio.position_size` from the (strategy, symbol) budget at the signal's price, as
the executor sizes its order), exit (the owner's exit), or skip with its reason. Fills and fees are the
paper broker's (:func:`~cryptoflow.brokers.paper_price`, :func:`~cryptoflow.brokers.paper_open`,
:func:`~cryptoflow.brokers.paper_close`). A limit entry (``[entry] type = "limit"``) is priced at
close × (1 ± aggressiveness), so it crosses the last price and fills at once at it, as a market order
does: the backtest fills both at the close.

With exchange-side protection (the default for a ``testnet`` or ``live`` bot) every entry also rests a
stop-loss and a take-profit order at the owner strategy's ``stop_loss_pct`` / ``take_profit_pct`` from
the fill price (rounded to the nearest tick when exchange filters are given); they trigger inside later
candles along the fake exchange's price path (:func:`backtesting._kernel.protective_exit`) and close
the position at their trigger price (at the open when a gap jumps over it), before that candle's
signals are decided. The trade's ``exit_time`` is that candle's open time, as every time of a
:class:`~cryptoflow.brokers.ClosedTrade`. A paper bot has none: its exits are its strategies' exit
signals only. Trailing stops stay the strategies' own (virtual) exits.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtesting._engine import TIME_FORMAT, TRADE_COLUMNS, BacktestConfig, run_kernel, slice_period
from backtesting._kernel import protective_exit
from backtesting._stats import Stats, compute_stats
from cryptoflow.binance import Protection, SymbolFilters
from cryptoflow.brokers import (
    ClosedTrade,
    Position,
    TradingConfig,
    client_order_id,
    paper_close,
    paper_open,
    paper_price,
)
from cryptoflow.errors import ConfigurationError, DataError, ExchangeRejection
from cryptoflow.events import SignalAction
from cryptoflow.portfolio import (
    Book,
    Bot,
    Intent,
    Lock,
    budget,
    decide,
    decision_order,
    position_size,
)
from cryptoflow.strategies import REASONS, Strategy

__all__ = ["PortfolioResult", "PortfolioSignal", "run_portfolio_backtest", "strategy_signals"]

_VIRTUAL = BacktestConfig(fill="close", fee_rate=0.0)
"""The single-strategy backtest whose trades are a strategy's signals. Its money plays no part in them,
but an account whose equity reached zero stops trading: no fees and no leverage keep it alive."""

_PROTECTIVE = -1  # sorts an exchange's fill before every signal of its candle (decision_order's 0 and 1)


@dataclass(frozen=True)
class PortfolioSignal:
    """A strategy's signal: the :class:`~cryptoflow.portfolio.Intent` the bot decides, and for an exit
    why its virtual position closed (``stop_loss``, ``signal`` ...; ``""`` for an entry)."""

    intent: Intent
    reason: str = ""


def strategy_signals(
    candles: pd.DataFrame,
    strategy: Strategy,
    *,
    symbol: str,
    run_id: str,
    start: str | pd.Timestamp | None = None,
    preset: str | None = None,
) -> list[PortfolioSignal]:
    """The signals of ``strategy`` (followed as run ``run_id``) on ``symbol``'s ``candles``: the entries
    and exits of its single-strategy ``close``-model backtest, at the deciding candle's open time and
    close. A position still open after the last candle has its entry only. With ``start``, the virtual
    position is flat until the first candle from ``start`` on and the candles before it only warm the
    indicators up, as the ``signals`` worker's REST warm-up does.

    Only the compiled loop runs (the indicators its rules read, no statistics).
    """
    first = 0
    if start is not None:
        first = len(candles) - len(slice_period(candles, start, None))
    run = run_kernel(candles, strategy, _VIRTUAL, preset=preset, symbol=symbol, first_entry=first)
    times = pd.DatetimeIndex(candles.index).asi8 // 1_000_000
    close = run.prices["close"]
    signals: list[PortfolioSignal] = []

    def add(bar: int, action: SignalAction, reason: str = "") -> None:
        intent = Intent(strategy.name, run_id, symbol, action, int(times[bar]), float(close[bar]))
        signals.append(PortfolioSignal(intent, reason))

    for row in run.trades:
        side = "long" if row[0] > 0 else "short"
        add(int(row[1]), f"entry_{side}")  # type: ignore[arg-type]
        add(int(row[2]), f"exit_{side}", REASONS[int(row[5])])  # type: ignore[arg-type]
    if run.position[0] != 0:
        add(int(run.position[1]), "entry_long" if run.position[0] > 0 else "entry_short")
    return signals


@dataclass
class PortfolioResult:
    """A bot's portfolio backtest.

    trades: closed round trips (``strategy``, ``run_id``, ``symbol``, ``side``, entry/exit time and
    price, ``exit_reason``, ``quantity``, ``pnl`` and ``fees`` in quote currency), in the order they
    closed. open_positions: positions still open after the last candle, marked at its close.
    decisions: every signal and what the bot did with it (``verdict`` enter/exit/skip, ``code``,
    ``reason``). locks: each protection lock that blocked an entry, once (``protection``, ``symbol``,
    ``run_id``, ``since``, ``until``, ``reason``, ``blocked``: how many entries it blocked; a lock
    without an end, ``max_open_positions``, is one row per candle it blocked on). equity: the bot's
    equity marked to market at every candle close (the union of the symbols' candles). stats:
    :func:`~backtesting.compute_stats` of the bot.
    """

    bot: Bot
    trading: TradingConfig
    exchange_protection: bool
    candles: dict[str, pd.DataFrame] = field(repr=False)
    trades: pd.DataFrame = field(repr=False)
    open_positions: list[dict[str, Any]] = field(repr=False)
    decisions: pd.DataFrame = field(repr=False)
    locks: pd.DataFrame = field(repr=False)
    equity: pd.Series = field(repr=False)
    stats: Stats = field(repr=False)

    @property
    def skips(self) -> dict[str, int]:
        """How many signals were skipped, by reason code (``held_by_other``, ``locked`` ...)."""
        skipped = self.decisions[self.decisions["verdict"] == "skip"]
        return {str(k): int(v) for k, v in skipped["code"].value_counts().sort_index().items()}

    def breakdown(self, by: str) -> pd.DataFrame:
        """Trades, PnL, fees and win rate grouped ``by`` ``run_id`` (the followed strategies, in the bot
        file's order) or ``symbol``, every one the bot names, also those without a trade."""
        names = [s.run_id for s in self.bot.strategies] if by == "run_id" else list(self.bot.symbols)
        grouped = self.trades.groupby(by)
        frame = pd.DataFrame(
            {
                "trades": grouped.size(),
                "pnl": grouped["pnl"].sum(),
                "fees": grouped["fees"].sum(),
                "win_rate_pct": grouped["pnl"].apply(lambda p: float((p > 0).mean() * 100.0)),
            }
        )
        frame = frame.reindex(list(dict.fromkeys(names)))
        frame["trades"] = frame["trades"].fillna(0).astype(int)
        return frame.fillna({"pnl": 0.0, "fees": 0.0})

    def to_json(self) -> dict[str, Any]:
        """The ``--trades-json`` document: trades, open positions, skips by reason, locks, statistics."""
        trades = []
        for row in self.trades.itertuples(index=False):
            trades.append(
                {
                    "strategy": row.strategy,
                    "run_id": row.run_id,
                    "symbol": row.symbol,
                    "side": row.side,
                    "entry_time": _fmt(row.entry_time),
                    "entry_price": float(row.entry_price),
                    "exit_time": _fmt(row.exit_time),
                    "exit_price": float(row.exit_price),
                    "exit_reason": row.exit_reason,
                    "quantity": float(row.quantity),
                    "pnl": float(row.pnl),
                    "fees": float(row.fees),
                }
            )
        locks = [
            {
                "protection": row.protection,
                "symbol": row.symbol,
                "run_id": row.run_id,
                "since": _fmt(row.since),
                "until": None if pd.isna(row.until) else _fmt(row.until),
                "reason": row.reason,
                "entries_blocked": int(row.blocked),
            }
            for row in self.locks.itertuples(index=False)
        ]
        return {
            "bot": self.bot.name,
            "exchange_protection": self.exchange_protection,
            "trades": trades,
            "open_positions": self.open_positions,
            "skips": self.skips,
            "locks": locks,
            "stats": self.stats.to_json(),
        }


def _fmt(stamp: pd.Timestamp) -> str:
    return pd.Timestamp(stamp).tz_convert("UTC").strftime(TIME_FORMAT)


def _stamp(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


@dataclass(frozen=True)
class _Market:
    """One symbol's candles as arrays, for the exchange's price path and the marks."""

    times: np.ndarray  # open times, epoch ms
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    @classmethod
    def of(cls, candles: pd.DataFrame) -> _Market:
        def column(name: str) -> np.ndarray:
            return np.ascontiguousarray(candles[name].to_numpy(dtype=np.float64))

        times = pd.DatetimeIndex(candles.index).asi8 // 1_000_000
        return cls(times, column("open"), column("high"), column("low"), column("close"))

    def bar(self, time: int) -> int:
        return int(np.searchsorted(self.times, time))


@dataclass(frozen=True)
class _ProtectiveFill:
    """An exchange-side stop or take-profit that closes the position opened by ``entry_order_id``."""

    symbol: str
    entry_order_id: str
    time: int
    price: float
    reason: str


class _Simulation:
    """The merge and book loop: Python over signals (few), the exchange's path in the compiled kernel."""

    def __init__(
        self,
        bot: Bot,
        trading: TradingConfig,
        markets: Mapping[str, _Market],
        strategies: Mapping[str, Strategy],
        *,
        exchange_protection: bool,
        filters: Mapping[str, SymbolFilters],
    ) -> None:
        self.bot, self.trading, self.markets, self.strategies = bot, trading, markets, strategies
        self.exchange_protection = exchange_protection
        self.filters = filters
        self.book = Book(bot.capital.total)
        self.queue: list[tuple[tuple[int, ...], Any]] = []
        self.decisions: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self.locks: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.spans: list[tuple[Position, int, float]] = []
        self._symbol_rank = {symbol: k for k, symbol in enumerate(bot.symbols)}
        self._sequence = 0

    def push(self, key: tuple[int, ...], item: PortfolioSignal | _ProtectiveFill) -> None:
        self._sequence += 1
        heapq.heappush(self.queue, ((*key, self._sequence), item))

    def run(self, signals: Sequence[PortfolioSignal]) -> None:
        for signal in signals:
            key = decision_order(self.bot, signal.intent)
            self.push((*key, self._symbol_rank[signal.intent.symbol]), signal)
        while self.queue:
            _, item = heapq.heappop(self.queue)
            if isinstance(item, _ProtectiveFill):
                self.protective_fill(item)
            else:
                self.signal(item)

    def signal(self, signal: PortfolioSignal) -> None:
        intent = signal.intent
        decision = decide(self.bot, self.book, intent)
        verdict, code, reason = decision.verdict, decision.code, decision.reason
        if verdict == "enter":
            try:
                self.enter(intent, decision.budget)
            except ExchangeRejection as exc:
                verdict, code, reason = "skip", "rejected", str(exc)
        elif verdict == "exit":
            self.exit(intent, signal.reason)
        elif code == "locked":
            for lock in decision.locks:
                self.lock(lock, intent.candle_open_time)
        self.decisions.append(
            {
                "time": intent.candle_open_time,
                "strategy": intent.strategy,
                "run_id": intent.run_id,
                "symbol": intent.symbol,
                "action": intent.action,
                "price": intent.price,
                "verdict": verdict,
                "code": code,
                "reason": reason,
            }
        )

    def enter(self, intent: Intent, budget: float) -> None:
        side = 1 if intent.side == "long" else -1
        capital = self.bot.capital
        # sized at the signal's price, as the executor sizes its order before it fills
        quantity = position_size(
            budget,
            intent.price,
            fraction=capital.fraction,
            leverage=capital.leverage,
            filters=self.filters.get(intent.symbol),
        )
        price = paper_price(self.trading, intent.price, side)
        order_id = client_order_id(self.bot.name, intent.symbol, intent.candle_open_time, "open")
        position = paper_open(
            self.trading, intent.symbol, side, quantity, price, intent.candle_open_time, order_id
        )
        self.book.open(intent.run_id, position)
        if self.exchange_protection:
            self.protect(position, self.strategies[intent.run_id])

    def protect(self, position: Position, strategy: Strategy) -> None:
        """Rest the owner's stop-loss and take-profit on the exchange; queue the fill they make first."""
        stop, take = Protection.from_params(strategy.params()).levels(position.side, position.entry_price)
        filters = self.filters.get(position.symbol)
        levels = [
            0.0 if level is None else float(filters.price(level)) if filters is not None else level
            for level in (stop, take)
        ]
        if not any(levels):
            return
        market = self.markets[position.symbol]
        start = market.bar(position.entry_time) + 1
        bar, price, code = protective_exit(
            market.open, market.high, market.low, market.close, start, position.side, levels[0], levels[1]
        )
        if bar < 0:
            return
        time = int(market.times[bar])
        fill = _ProtectiveFill(position.symbol, position.entry_order_id, time, float(price), REASONS[code])
        self.push((time, _PROTECTIVE, 0, self._symbol_rank[position.symbol]), fill)

    def protective_fill(self, fill: _ProtectiveFill) -> None:
        holding = self.book.holding(fill.symbol)
        if holding is None or holding.position.entry_order_id != fill.entry_order_id:
            return  # the owner's exit closed it first and cancelled the orders
        order_id = client_order_id(self.bot.name, fill.symbol, fill.time, fill.reason)
        trade = paper_close(self.trading, holding.position, fill.price, fill.time, fill.reason, order_id)
        self.record(self.book.close(trade).run_id, holding.position, trade)

    def exit(self, intent: Intent, reason: str) -> None:
        holding = self.book.holding(intent.symbol)
        assert holding is not None  # decide() said exit
        position = holding.position
        price = paper_price(self.trading, intent.price, -position.side)
        order_id = client_order_id(self.bot.name, intent.symbol, intent.candle_open_time, "close")
        trade = paper_close(self.trading, position, price, intent.candle_open_time, reason, order_id)
        self.record(self.book.close(trade).run_id, position, trade)

    def record(self, run_id: str, position: Position, trade: ClosedTrade) -> None:
        self.spans.append((position, trade.exit_time, trade.pnl))
        self.trades.append(
            {
                "strategy": self.bot.strategy(run_id).name,
                "run_id": run_id,
                "symbol": trade.symbol,
                "side": trade.side,
                "entry_time": trade.entry_time,
                "entry_price": trade.entry_price,
                "exit_time": trade.exit_time,
                "exit_price": trade.exit_price,
                "exit_reason": trade.exit_reason,
                "quantity": trade.quantity,
                "pnl": trade.pnl,
                "fees": trade.fees,
            }
        )

    def lock(self, lock: Lock, time: int) -> None:
        # a lock with an end is one row however many entries it blocks; a condition (open positions)
        # is one row per candle it blocks an entry on
        since = time if lock.until is None else 0
        key: tuple[Any, ...] = (lock.protection, lock.symbol, lock.run_id, lock.until, since)
        if key not in self.locks:
            self.locks[key] = {
                "protection": lock.protection,
                "symbol": lock.symbol,
                "run_id": lock.run_id,
                "since": time,
                "until": lock.until,
                "reason": lock.reason,
                "blocked": 0,
            }
        self.locks[key]["blocked"] += 1


def _trades_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["strategy", "run_id", *TRADE_COLUMNS])
    for column in ("entry_time", "exit_time"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), unit="ms", utc=True)
    return frame


def _equity(
    capital: float, markets: Mapping[str, _Market], spans: list[tuple[Position, int, float]]
) -> pd.Series:
    """The bot's equity at every candle close (the union of the symbols' candles): the capital, the
    realised PnL, and each open position marked at its symbol's last close less its entry fee.
    ``spans``: every position with its exit candle's open time and PnL (``-1`` and 0 while open)."""
    times = np.unique(np.concatenate([m.times for m in markets.values()]))
    marks = {}
    for symbol, market in markets.items():
        at = np.searchsorted(market.times, times, side="right") - 1
        marks[symbol] = market.close[np.maximum(at, 0)]  # a symbol's gap carries its last close over
    realised = np.zeros(len(times))
    unrealised = np.zeros(len(times))
    for position, exit_time, pnl in spans:
        first = int(np.searchsorted(times, position.entry_time))
        last = len(times) if exit_time < 0 else int(np.searchsorted(times, exit_time))
        signed = position.side * position.quantity
        unrealised[first:last] += signed * (marks[position.symbol][first:last] - position.entry_price)
        unrealised[first:last] -= position.entry_fee
        if exit_time >= 0:
            realised[last] += pnl
    index = pd.DatetimeIndex(pd.to_datetime(times, unit="ms", utc=True))
    return pd.Series(capital + np.cumsum(realised) + unrealised, index=index, name="equity")


def _check_candles(bot: Bot, candles: Mapping[str, pd.DataFrame]) -> None:
    missing = [symbol for symbol in bot.symbols if symbol not in candles]
    if missing:
        raise ConfigurationError(
            f"{bot.source}: symbols: no candles for {', '.join(missing)}; give a candle file for each "
            f"of the bot's symbols ({', '.join(bot.symbols)})"
        )
    for symbol in bot.symbols:
        interval = candles[symbol].attrs.get("interval")
        if interval is not None and interval != bot.interval:
            raise ConfigurationError(
                f"{bot.source}: interval: the bot decides on {bot.interval} candles but {symbol}'s are "
                f"{interval}; give {bot.interval} candles (cryptoflow data resample makes them)"
            )


def _signals(
    bot: Bot,
    strategies: Mapping[str, Strategy],
    histories: Mapping[str, pd.DataFrame],
    start: str | pd.Timestamp | None,
    progress: Callable[[str], None] | None,
) -> list[PortfolioSignal]:
    """Every followed strategy's signals on every symbol it has a budget for, from ``start`` on."""
    signals: list[PortfolioSignal] = []
    for followed in bot.strategies:
        strategy = strategies[followed.run_id]
        for symbol in bot.symbols:
            if budget(bot, followed.run_id, symbol) <= 0:
                continue  # the strategy does not trade it: every entry would be skipped for no budget
            signals += strategy_signals(
                histories[symbol], strategy, symbol=symbol, run_id=followed.run_id, start=start
            )
            if progress is not None:
                progress(f"{followed.name} {symbol}")
    return signals


def run_portfolio_backtest(
    bot: Bot,
    candles: Mapping[str, pd.DataFrame],
    *,
    fee_rate: float = 0.0004,
    slippage_rate: float = 0.0,
    exchange_protection: bool | None = None,
    filters: Mapping[str, SymbolFilters] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    signals: Sequence[PortfolioSignal] | None = None,
    progress: Callable[[str], None] | None = None,
) -> PortfolioResult:
    """Backtest ``bot`` (:func:`~cryptoflow.portfolio.load_bot`) on ``{symbol: candles}`` of its
    interval, as its executor would trade the signals of its strategies.

    Parameters
    ----------
    fee_rate, slippage_rate: the paper broker's costs per fill, as fractions
        (:class:`~cryptoflow.brokers.TradingConfig`); capital, fraction and leverage are the bot's.
    exchange_protection: stop-loss and take-profit orders resting on the exchange, triggered inside
        candles (see the module); default: on for a ``testnet`` or ``live`` bot, off for ``paper``.
    filters: the exchange's filters by symbol: quantities are rounded down to the step size (an entry
        below the minimum is skipped as ``rejected``) and trigger prices to the tick.
    start, end: inclusive bounds on the candle open time of the signals traded; the candles before
        ``start`` warm the strategies' indicators up (as a live worker's warm-up does).
    signals: the signals to trade instead of the strategies' own (e.g. those a ``signals`` worker
        published, or a test's); the candles then serve the exchange's price path and the marks.
    progress: called with ``strategy symbol`` after each strategy's signals on a symbol are computed.

    Example::

        bot = load_bot("bot.toml")
        frames = {s: load_candles(f"data/{s}_5m.csv") for s in bot.symbols}
        result = run_portfolio_backtest(bot, frames)
        result.trades, result.skips, result.stats["total_return_pct"]
    """
    _check_candles(bot, candles)
    capital = bot.capital
    trading = TradingConfig(
        cash=capital.total,
        fee_rate=fee_rate,
        slippage_rate=slippage_rate,
        fraction=capital.fraction,
        leverage=capital.leverage,
        margin_type=capital.margin_type,
    )
    periods = {symbol: slice_period(candles[symbol], start, end) for symbol in bot.symbols}
    empty = [symbol for symbol, frame in periods.items() if len(frame) == 0]
    if empty:
        raise DataError(f"no candles of {', '.join(empty)} in the selected period")
    strategies = {followed.run_id: followed.load() for followed in bot.strategies}
    if signals is None:
        histories = {symbol: slice_period(candles[symbol], None, end) for symbol in bot.symbols}
        signals = _signals(bot, strategies, histories, start, progress)
    markets = {symbol: _Market.of(frame) for symbol, frame in periods.items()}
    protect = bot.broker != "paper" if exchange_protection is None else exchange_protection
    simulation = _Simulation(
        bot, trading, markets, strategies, exchange_protection=protect, filters=filters or {}
    )
    simulation.run(signals)
    trades = _trades_frame(simulation.trades)
    open_positions = []
    for symbol, holding in simulation.book.holdings.items():
        position, market = holding.position, markets[symbol]
        mark = float(market.close[-1])
        simulation.spans.append((position, -1, 0.0))
        open_positions.append(
            {
                "strategy": bot.strategy(holding.run_id).name,
                "run_id": holding.run_id,
                "symbol": symbol,
                "side": holding.side,
                "entry_time": _fmt(_stamp(position.entry_time)),
                "entry_price": position.entry_price,
                "quantity": position.quantity,
                "mark_time": _fmt(_stamp(int(market.times[-1]))),
                "mark_price": mark,
                "unrealized_pnl": position.side * position.quantity * (mark - position.entry_price)
                - position.entry_fee,
            }
        )
    equity = _equity(capital.total, markets, simulation.spans)
    decisions = pd.DataFrame(
        simulation.decisions,
        columns=["time", "strategy", "run_id", "symbol", "action", "price", "verdict", "code", "reason"],
    )
    decisions["time"] = pd.to_datetime(decisions["time"].astype("int64"), unit="ms", utc=True)
    locks = pd.DataFrame(
        list(simulation.locks.values()),
        columns=["protection", "symbol", "run_id", "since", "until", "reason", "blocked"],
    )
    locks["since"] = pd.to_datetime(locks["since"].astype("int64"), unit="ms", utc=True)
    locks["until"] = pd.to_datetime(locks["until"].astype("float64"), unit="ms", utc=True)
    stats = compute_stats(trades, equity, initial_equity=capital.total)
    return PortfolioResult(
        bot, trading, protect, periods, trades, open_positions, decisions, locks, equity, stats
    )
