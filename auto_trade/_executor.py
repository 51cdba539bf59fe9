"""The executor's decisions: one signal -> the portfolio's verdict -> an order through the bot's broker.

:class:`Executor` holds a bot's :class:`~cryptoflow.portfolio.Book` and trades the signals of the
strategies the bot follows (:meth:`Executor.handle`, one signal at a time, in the order they arrive).
For each one :func:`cryptoflow.portfolio.decide` says enter, exit or skip:

- **enter**: the quantity is :func:`~cryptoflow.portfolio.position_size` of the (strategy, symbol)
  budget at the signal's price; the broker fills it (paper: at the price, with fees);
- **exit**: the owner's position is closed by the broker, with the signal's reason (``stop_loss``,
  ``exit_signal`` ...);
- **skip**: logged with its reason; a skip a protection caused publishes a ``lock`` event per lock.

An order the exchange refuses publishes an ``error`` event; the executor goes on with the next signal.

**At most once.** Each order's client order id is derived from the bot and the signal's event id, so
the same signal always names the same order. The executor's state (the book and the ids of the signals
handled) is one document (:class:`~cryptoflow.brokers.StateFile`, atomic) written after the signal's
events were delivered and before its offset is stored. A crash before that write re-delivers the
signal: it is decided again from the book as it was, and when the broker's own state shows that the
order of this client order id was filled already (the process died after the fill), the fill is taken
over and its events are published again with the same ids, instead of ordering twice.

**Positions the exchange closes** (a protective stop or take-profit on testnet/live): the broker calls
:meth:`Executor.on_exchange_close` with the round trip (its ``on_exchange_close`` hook, in the broker's
event loop, without blocking); the executor books it as the owner's exit (``stop_loss`` /
``take_profit``, the exchange's price and time) in :meth:`Executor.follow_exchange_closes`, one change
of the book at a time with the signals. At start, a position the broker no longer holds is reconciled
from the broker's last closed trade of that symbol.

Every order, fill, lock, skip and position change is one INFO line with symbol, side, quantity, price
and PnL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptoflow.brokers import ClosedTrade, PaperBroker, Position, StateFile, TradingConfig, client_order_id
from cryptoflow.candles import Candle
from cryptoflow.config import Settings, load_settings
from cryptoflow.errors import ExchangeRejection, TemporaryError
from cryptoflow.events import (
    ErrorEvent,
    ErrorPayload,
    Event,
    LockEvent,
    LockPayload,
    SignalEvent,
    Source,
    TradeEvent,
    TradePayload,
)
from cryptoflow.portfolio import (
    Book,
    Bot,
    Decision,
    FollowedStrategy,
    Holding,
    Intent,
    decide,
    decision_order,
    position_size,
)

__all__ = [
    "ExecutionBroker",
    "Executor",
    "ExecutorSummary",
    "bot_broker",
    "signal_order_id",
]

log = logging.getLogger("auto_trade.execute")

Emit = Callable[[Event], None]
_HANDLED_KEPT = 100_000  # signal ids remembered: far more than Kafka re-delivers after a crash


class ExecutionBroker(Protocol):
    """What an executor trades through: :class:`~cryptoflow.brokers.Broker`, with the position's size
    given by the caller (the bot's budgets), not the broker's own."""

    name: Source

    async def start(self, symbols: list[str]) -> dict[str, Position | None]: ...

    def position(self, symbol: str) -> Position | None: ...

    def last_closed(self, symbol: str) -> ClosedTrade | None: ...

    async def open_position(
        self, symbol: str, side: int, candle: Candle, order_id: str, *, quantity: float | None = None
    ) -> Position | None: ...

    async def close_position(
        self, symbol: str, candle: Candle, reason: str, order_id: str
    ) -> ClosedTrade: ...

    async def stop(self) -> None: ...


@dataclass
class ExecutorSummary:
    """What a run did: signals read for this bot, entries, exits, skips, locks and errors published,
    signals dead-lettered, the trades closed in this run, and what is open now."""

    signals: int = 0
    entries: int = 0
    exits: int = 0
    skips: int = 0
    locks: int = 0
    errors: int = 0
    dead_letters: int = 0
    closed: list[ClosedTrade] = field(default_factory=list)
    open_positions: list[Holding] = field(default_factory=list)
    total_pnl: float = 0.0

    @property
    def pnl(self) -> float:
        """The realised PnL (after fees) of the trades closed in this run, in quote currency."""
        return sum(trade.pnl for trade in self.closed)

    def lines(self) -> list[str]:
        """The summary for a person, one line each."""
        held = ", ".join(
            f"{h.position.symbol} {h.side} {h.position.quantity:g} @ {h.position.entry_price:g} ({h.run_id})"
            for h in self.open_positions
        )
        return [
            f"signals {self.signals}: {self.entries} entries, {self.exits} exits, {self.skips} skipped, "
            f"{self.locks} lock(s), {self.errors} error(s), {self.dead_letters} dead-lettered",
            f"trades closed {len(self.closed)}, PnL {self.pnl:+.2f} (all time {self.total_pnl:+.2f})",
            f"open positions {len(self.open_positions)}" + (f": {held}" if held else ""),
        ]


def signal_order_id(bot: str, signal_event_id: str) -> str:
    """The client order id of the order a bot places for a signal: the same for every delivery of it,
    different between bots (two bots on one account never share one)."""
    return client_order_id(bot, "signal", 0, signal_event_id)


def bot_broker(
    bot: Bot,
    state_dir: Path,
    settings: Settings | None = None,
    on_exchange_close: Callable[[ClosedTrade], None] | None = None,
) -> ExecutionBroker:
    """The broker of a bot, with its capital, fraction, leverage and margin type and its state in
    ``<state dir>/<bot>.<broker>.json``: the paper broker, or Binance USD-M futures for ``testnet`` and
    ``live`` (endpoints and API keys from ``settings``; :func:`~cryptoflow.portfolio.check_broker`
    checked them), which reports the positions its protective orders close to ``on_exchange_close``
    (:meth:`Executor.on_exchange_close`)."""
    config = TradingConfig(
        cash=bot.capital.total,
        fraction=bot.capital.fraction,
        leverage=bot.capital.leverage,
        margin_type=bot.capital.margin_type,
    )
    path = state_dir / f"{bot.name}.{bot.broker}.json"
    if bot.broker == "paper":
        return PaperBroker(config, path)
    from cryptoflow.binance import TESTNET_FUTURES, BinanceEndpoints, BinanceFuturesBroker

    binance = (settings or load_settings()).binance
    endpoints = BinanceEndpoints.from_settings(binance)
    if not (endpoints.rest or endpoints.stream) and bot.broker == "testnet":
        endpoints = TESTNET_FUTURES
    key, secret = binance.api_key, binance.api_secret
    return BinanceFuturesBroker(
        config,
        path,
        mode=bot.broker,
        endpoints=endpoints,
        api_key=key.get_secret_value() if key else None,
        api_secret=secret.get_secret_value() if secret else None,
        on_exchange_close=on_exchange_close,
    )


def _intent(event: SignalEvent) -> Intent:
    signal = event.signal
    return Intent(
        event.strategy, event.run_id, event.symbol, signal.action, signal.candle_open_time_ms, signal.price
    )


def _candle(event: SignalEvent) -> Candle:
    """The signal's candle as a broker reads it: its open time, and its close (the decision's price)."""
    price = event.signal.price
    opened = event.signal.candle_open_time_ms
    return Candle(event.symbol, event.interval, opened, event.time_ms, price, price, price, price, 0.0)


class Executor:
    """Trades one bot's signals through its broker; see the module's docstring.

    ``emit`` publishes events (the trades topic) and ``flush`` returns once they are acknowledged;
    ``state_path`` is the executor's state document. Call :meth:`start` once before :meth:`handle`.
    """

    def __init__(
        self, bot: Bot, broker: ExecutionBroker, state_path: Path, emit: Emit, flush: Callable[[], object]
    ) -> None:
        self.bot = bot
        self.broker = broker
        self.emit = emit
        self.flush = flush
        self.state = StateFile(state_path)
        self.book = Book(bot.capital.total)
        self.handled: dict[str, None] = {}  # ordered: the oldest ids are forgotten first
        self.summary = ExecutorSummary()
        self._closes: asyncio.Queue[ClosedTrade] = asyncio.Queue()
        self._protections: dict[str, Any] = {}  # run id -> the exchange-side levels of its entries
        self._busy = asyncio.Lock()  # one change of the book at a time: a signal's, or an exchange close

    # ---- state -------------------------------------------------------------------------------------

    def save(self) -> None:
        """Write the book and the signals handled (one atomic replace)."""
        ids = list(self.handled)[-_HANDLED_KEPT:]
        self.state.save({"bot": self.bot.name, "book": self.book.document(), "handled": ids})

    async def start(self) -> None:
        """Read the saved state, start the broker and reconcile the book with what the broker holds."""
        saved = self.state.load()
        if saved:
            self.book = Book.of_document(saved["book"])
            self.handled = dict.fromkeys(saved.get("handled", []))
            log.info(
                "%s: resumed from %s: %d open position(s), %d closed trade(s), %d signal(s) handled",
                self.bot.name, self.state.path, len(self.book.holdings), len(self.book.trades),
                len(self.handled),
            )  # fmt: skip
        held = await self.broker.start(list(self.bot.symbols))
        for symbol, holding in list(self.book.holdings.items()):
            if held.get(symbol) is not None:
                continue
            last = self.broker.last_closed(symbol)
            if last is not None and last.entry_time == holding.position.entry_time:
                log.info("%s: closed while the executor was away", symbol)
                self._record_close(holding, last, "exchange")
            else:
                log.warning("%s: the book held a position the broker no longer has; dropped", symbol)
                del self.book.holdings[symbol]
        for symbol, position in held.items():
            if position is not None and symbol not in self.book.holdings:
                log.warning(
                    "%s: the broker holds a %s position of %g the book does not (an order whose signal "
                    "was not recorded: its signal, read again, takes it over); left alone for now",
                    symbol, "long" if position.side > 0 else "short", position.quantity,
                )  # fmt: skip
        self.flush()  # the close legs of what closed meanwhile, before the book says it was booked
        self.save()
        self._log_positions()

    # ---- one signal --------------------------------------------------------------------------------

    def followed(self, event: SignalEvent) -> FollowedStrategy | None:
        """The followed strategy the signal's run id names, or ``None`` for another bot's signal."""
        try:
            return self.bot.strategy(event.run_id)
        except KeyError:
            return None

    def decision_key(self, event: SignalEvent) -> tuple[int, ...]:
        """The order in which the signals of one candle are decided:
        :func:`~cryptoflow.portfolio.decision_order` (exits first, then the strategies' order in the bot
        file), then the symbols' order in the bot file; so the bot-wide protections find the same book
        whatever order a candle's signals arrived in from the topic's partitions."""
        symbols = self.bot.symbols
        rank = symbols.index(event.symbol) if event.symbol in symbols else len(symbols)
        return (*decision_order(self.bot, _intent(event)), rank)

    def refusal(self, event: SignalEvent, followed: FollowedStrategy) -> tuple[str, str] | None:
        """``(category, reason)`` when a signal of a followed run cannot be this bot's (it belongs in the
        dead-letter queue): another strategy under the run id, a symbol or interval the bot does not
        trade."""
        where = self.bot.source
        if event.strategy != followed.name:
            return (
                "unknown_strategy",
                f"{where} follows run {event.run_id!r} as strategy {followed.name!r}, but the signal "
                f"{event.event_id} names strategy {event.strategy!r}",
            )
        if event.symbol not in self.bot.symbols:
            return (
                "unknown_symbol",
                f"{where} does not trade {event.symbol} (symbols: {', '.join(self.bot.symbols)}); "
                f"signal {event.event_id} of run {event.run_id!r}",
            )
        if event.interval != self.bot.interval:
            return (
                "wrong_interval",
                f"{where} trades {self.bot.interval} candles; signal {event.event_id} is {event.interval}",
            )
        return None

    async def handle(self, event: SignalEvent) -> tuple[str, str] | None:
        """Trade one signal event; returns ``(category, reason)`` when it must go to the dead-letter
        queue instead (see :meth:`refusal`). Another bot's signal and a signal handled before are
        ignored. The state is saved (after the events were flushed) before this returns."""
        followed = self.followed(event)
        if followed is None:
            return None
        refused = self.refusal(event, followed)
        if refused is not None:
            return refused
        async with self._busy:
            await self._handle(event, followed)
        return None

    async def _handle(self, event: SignalEvent, followed: FollowedStrategy) -> None:
        if event.event_id in self.handled:
            log.info("%s: signal %s was handled before; ignored", event.symbol, event.event_id)
            return
        self.summary.signals += 1
        decision = decide(self.bot, self.book, _intent(event))
        try:
            if decision.verdict == "enter":
                await self._enter(event, followed, decision)
            elif decision.verdict == "exit":
                await self._exit(event, followed)
            else:
                self._skip(event, followed, decision)
        except (ExchangeRejection, TemporaryError) as exc:
            category = "exchange_rejection" if isinstance(exc, ExchangeRejection) else "temporary"
            self._error(event, followed, category, str(exc))
        self.handled[event.event_id] = None
        if len(self.handled) > 2 * _HANDLED_KEPT:
            self.handled = dict.fromkeys(list(self.handled)[-_HANDLED_KEPT:])
        self.flush()  # the signal's events are in Kafka before it counts as handled
        self.save()

    async def _enter(self, event: SignalEvent, followed: FollowedStrategy, decision: Decision) -> None:
        symbol, side = event.symbol, decision.side
        filters = getattr(self.broker, "filters", {}).get(symbol)
        capital = self.bot.capital
        price = event.signal.price
        quantity = position_size(
            decision.budget, price, fraction=capital.fraction, leverage=capital.leverage, filters=filters
        )
        order_id = signal_order_id(self.bot.name, event.event_id)
        position = self.broker.position(symbol)
        if position is not None and position.entry_order_id == order_id:
            log.info("%s: order %s was filled before a restart; taking it over", symbol, order_id)
        else:
            log.info(
                "ORDER %s %s %s %g @ ~%g market, order %s [%s]",
                symbol, "BUY" if side == "long" else "SELL", side, quantity, price, order_id,
                followed.describe(),
            )  # fmt: skip
            opened = await self.broker.open_position(
                symbol,
                1 if side == "long" else -1,
                _candle(event),
                order_id,
                quantity=quantity,
                **self._order_options(followed),
            )
            if opened is None:
                self.summary.skips += 1
                log.info(
                    "SKIP %s %s: the broker placed no order [%s]",
                    symbol,
                    event.signal.action,
                    followed.describe(),
                )
                return
            position = opened
        holding = self.book.open(followed.run_id, position)
        self.summary.entries += 1
        self.emit(self._trade_event(followed, symbol, TradePayload.of_position(position)))
        log.info(
            "ENTRY %s %s %g @ %g fee %.4f, order %s [%s]",
            symbol, holding.side, position.quantity, position.entry_price, position.entry_fee,
            position.entry_order_id, followed.describe(),
        )  # fmt: skip
        self._log_positions()

    async def _exit(self, event: SignalEvent, followed: FollowedStrategy) -> None:
        symbol = event.symbol
        holding = self.book.holdings[symbol]
        reason = event.signal.reason or "signal"  # the exit rules' name of an exit signal
        order_id = signal_order_id(self.bot.name, event.event_id)
        last = self.broker.last_closed(symbol)
        if self.broker.position(symbol) is None and last is not None and last.exit_order_id == order_id:
            log.info("%s: order %s was filled before a restart; taking it over", symbol, order_id)
            trade = last
        else:
            position = holding.position
            log.info(
                "ORDER %s %s close %s %g @ ~%g market, order %s (%s) [%s]",
                symbol, "SELL" if position.side > 0 else "BUY", holding.side, position.quantity,
                event.signal.price, order_id, reason, followed.describe(),
            )  # fmt: skip
            trade = await self.broker.close_position(symbol, _candle(event), reason, order_id)
        self._record_close(holding, trade, "signal")

    def _record_close(self, holding: Holding, trade: ClosedTrade, by: str) -> None:
        """Book the close of ``holding`` as ``trade``, publish its close leg, log it."""
        followed = self.bot.strategy(holding.run_id)
        self.book.close(trade)
        self.summary.exits += 1
        self.summary.closed.append(trade)
        self.emit(self._trade_event(followed, trade.symbol, TradePayload.of_trade(trade)))
        log.info(
            "EXIT %s %s %g @ %g PnL %+.2f (%s, by %s), order %s [%s]",
            trade.symbol, trade.side, trade.quantity, trade.exit_price, trade.pnl, trade.exit_reason, by,
            trade.exit_order_id, followed.describe(),
        )  # fmt: skip
        self._log_positions()

    def on_exchange_close(self, trade: ClosedTrade) -> None:
        """The broker's hook for a position the exchange closed (a protective order filled): queued, and
        booked by :meth:`follow_exchange_closes`. Never blocks."""
        self._closes.put_nowait(trade)

    async def follow_exchange_closes(self) -> None:
        """Book every close :meth:`on_exchange_close` queues, until cancelled."""
        while True:
            await self.record_exchange_close(await self._closes.get())

    async def record_exchange_close(self, trade: ClosedTrade) -> None:
        """Book a position the exchange closed as the owner's exit, published and saved. A close the
        book knows already (an exit signal met the exchange's close first) changes nothing."""
        async with self._busy:
            holding = self.book.holding(trade.symbol)
            if holding is None or holding.position.entry_time != trade.entry_time:
                log.info("%s: the exchange's close of the position entered at %d is booked already",
                         trade.symbol, trade.entry_time)  # fmt: skip
                return
            self._record_close(holding, trade, "exchange")
            self.flush()
            self.save()

    def _skip(self, event: SignalEvent, followed: FollowedStrategy, decision: Decision) -> None:
        self.summary.skips += 1
        log.info(
            "SKIP %s %s [%s]: %s: %s",
            event.symbol, event.signal.action, followed.describe(), decision.code, decision.reason,
        )  # fmt: skip
        for lock in decision.locks:
            self.summary.locks += 1
            self.emit(LockEvent.create(**self._about(event, followed), lock=LockPayload.of_lock(lock)))
            log.info("LOCK %s %s [%s]", event.symbol, lock.describe(), followed.describe())

    def _error(self, event: SignalEvent, followed: FollowedStrategy, category: str, message: str) -> None:
        self.summary.errors += 1
        log.error(
            "ERROR %s %s [%s]: %s: %s; the signal is not traded",
            event.symbol, event.signal.action, followed.describe(), category, message,
        )  # fmt: skip
        payload = ErrorPayload(category=category, message=message[:2000], signal_event_id=event.event_id)
        self.emit(ErrorEvent.create(**self._about(event, followed), error=payload))

    def _order_options(self, followed: FollowedStrategy) -> dict[str, Any]:
        """What an exchange broker's entry takes besides the size: the owner's stop-loss and take-profit,
        placed on the exchange once the entry fills, and the bot's entry orders (market or limit). A
        paper bot has no exchange-side protection: its exits are its strategies' exit signals."""
        if self.broker.name == "paper":
            return {}
        from cryptoflow.binance import Protection

        if followed.run_id not in self._protections:
            strategy = followed.load()
            self._protections[followed.run_id] = Protection(strategy.stop_loss_pct, strategy.take_profit_pct)
        return {"protection": self._protections[followed.run_id], "entry": self.bot.entry}

    # ---- events and logs ---------------------------------------------------------------------------

    def _about(self, event: SignalEvent, followed: FollowedStrategy) -> dict[str, Any]:
        """The envelope of a lock or error about ``event``: the bot's broker and name, the strategy, the
        signal's symbol and time."""
        return {
            "source": self.broker.name,
            "run_id": self.bot.name,
            "strategy": followed.name,
            "symbol": event.symbol,
            "interval": self.bot.interval,
            "time_ms": event.time_ms,
        }

    def _trade_event(self, followed: FollowedStrategy, symbol: str, trade: TradePayload) -> TradeEvent:
        return TradeEvent.create(
            source=self.broker.name,
            run_id=self.bot.name,
            strategy=followed.name,
            symbol=symbol,
            interval=self.bot.interval,
            trade=trade,
        )

    def _log_positions(self) -> None:
        held = ", ".join(f"{s} {h.side} ({h.run_id})" for s, h in self.book.holdings.items()) or "none"
        log.info(
            "POSITIONS %s: %d open: %s; realised PnL %+.2f, equity %.2f",
            self.bot.name, len(self.book.holdings), held, self.book.realised_pnl(), self.book.equity,
        )  # fmt: skip

    def finish(self) -> ExecutorSummary:
        """The run's summary (also logged)."""
        self.summary.open_positions = list(self.book.holdings.values())
        self.summary.total_pnl = self.book.realised_pnl()
        for line in self.summary.lines():
            log.info("SUMMARY %s: %s", self.bot.name, line)
        return self.summary
