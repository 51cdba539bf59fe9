"""One symbol's trading loop: closed candle -> streaming indicators -> strategy -> engine rules -> broker.

The rules are the backtester's ``close`` fill model, applied by the function the strategy worker applies
to its virtual positions (:func:`auto_trade._decision.decide`), here to the broker's position: with a
position open only exits are checked (stop-loss, take-profit, trailing stop, exit signal, holding limit,
in that order), flat only entries; everything fills at the candle's close.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auto_trade._decision import Decision, decide, signal_event, strategy_inputs
from cryptoflow.brokers import Broker, ClosedTrade, Position, StateFile, client_order_id
from cryptoflow.candles import Candle
from cryptoflow.errors import CryptoflowError, ExchangeRejection, RestrictedLocation, TemporaryError
from cryptoflow.events import CandleEvent, Event, SignalAction, Source, TradeEvent, TradePayload
from cryptoflow.indicators import StreamingIndicators
from cryptoflow.strategies import LiveInputs, Signals, Strategy, StrategyError

__all__ = ["SymbolTrader", "engine_record", "log_resumed"]

log = logging.getLogger(__name__)
Emit = Callable[[Event], None]


def log_resumed(position: Position) -> None:
    """Say which position a (re)started trader takes over."""
    side = "long" if position.side > 0 else "short"
    log.info(
        "%s: resuming a %s position of %g at %g",
        position.symbol,
        side,
        position.quantity,
        position.entry_price,
    )


def engine_record(broker: Broker, legacy: Path) -> dict[str, Any]:
    """The engine's record (``last_decided``) of a started broker, kept in the broker's state document.

    Earlier versions kept it in a file of its own (``legacy``, ``<stem>.engine.json``), written after
    the broker's: such a record is moved into the broker's document (one atomic write), then the old
    file is removed. A crash between the two leaves both; the broker's document wins from then on.
    """
    if broker.engine:
        legacy.unlink(missing_ok=True)
        return broker.engine
    old = StateFile(legacy).load()
    if old:
        log.info("engine state of %s moved into the broker's state file", legacy.name)
        broker.record(old)
        legacy.unlink()
    return broker.engine


class SymbolTrader:
    """Decisions for one symbol; events go to ``emit`` (candle, signal, trade).

    Error rule (documented): a strategy exception is logged and the candle gets no decision; an exchange
    rejection is logged, published nowhere, and the decision is skipped (the next candle decides
    again); a temporary error (network) is retried by the broker and, if it persists, skipped the same way.
    The process keeps running in every case.
    """

    def __init__(
        self,
        symbol: str,
        interval: str,
        strategy: Strategy,
        broker: Broker,
        *,
        run_id: str,
        source: Source,
        emit: Emit,
    ) -> None:
        self.symbol = symbol
        self.interval = interval
        self.strategy = strategy
        self.broker = broker
        self.run_id = run_id
        self.source = source
        self.emit = emit
        self.indicators = StreamingIndicators(strategy.indicator_preset, **strategy.indicator_params())
        declared = strategy.declared_indicators()
        self.declared = declared.stream() if declared else None  # none: no cost per candle
        self.past: deque[dict[str, Any]] = deque(maxlen=strategy.lookback)  # what ind.ago reads
        self.last_decided: int | None = None
        self.trades: list[ClosedTrade] = []
        self.errors: list[str] = []

    def _update(self, candle: Candle) -> tuple[dict[str, float | int], dict[str, Any]]:
        """Feed a closed candle to the built-in and the declared indicators: their values, and what the
        rules read (prices and values as float64), which later candles' rules see through ``ind.ago``."""
        values = self.indicators.update(candle)
        if self.declared is not None:
            values.update(self.declared.update(candle))
        return values, strategy_inputs(candle, values)

    def warm(self, candle: Candle) -> None:
        """Feed a history candle to the indicators (no decision, no event)."""
        self.past.append(self._update(candle)[1])

    def _candle_event(self, candle: Candle, values: dict[str, float | int]) -> None:
        self.emit(
            CandleEvent.of_candle(
                candle, values, source=self.source, run_id=self.run_id, strategy=self.strategy.name
            )
        )

    def _signal(self, candle: Candle, action: SignalAction, reason: str | None) -> None:
        decision = Decision(action, reason)
        self.emit(signal_event(self.strategy, candle, decision, source=self.source, run_id=self.run_id))

    def _trade(self, payload: TradePayload) -> None:
        self.emit(
            TradeEvent.create(
                source=self.source,
                run_id=self.run_id,
                strategy=self.strategy.name,
                symbol=self.symbol,
                interval=self.interval,
                trade=payload,
            )
        )

    async def on_closed(self, candle: Candle) -> None:
        """Decide on one closed candle (each open time once; a repeat is ignored)."""
        if self.last_decided is not None and candle.open_time <= self.last_decided:
            return
        values, row = self._update(candle)
        self.last_decided = candle.open_time
        self._candle_event(candle, values)
        ind = LiveInputs(row, tuple(self.past), self.strategy.lookback)  # the candles before this one
        self.past.append(row)
        try:
            signals = self.strategy.evaluate(ind)
        except StrategyError as exc:
            log.error("%s: %s; no decision on the candle opened at %d", self.symbol, exc, candle.open_time)
            self.errors.append(str(exc))
            return
        try:
            await self._decide(candle, signals)
        except (ExchangeRejection, TemporaryError) as exc:
            log.error(
                "%s: %s; decision on the candle opened at %d skipped", self.symbol, exc, candle.open_time
            )
            self.errors.append(str(exc))
        except RestrictedLocation:
            raise  # the exchange refuses this server's region: no later decision can succeed
        except CryptoflowError as exc:
            log.error("%s: %s", self.symbol, exc)
            self.errors.append(str(exc))

    def _open_leg(self, position: Position) -> None:
        self._trade(TradePayload.of_position(position))

    def _close_leg(self, trade: ClosedTrade) -> None:
        self._trade(TradePayload.of_trade(trade))

    def catch_up(self, candle: Candle) -> None:
        """A closed candle after the last one decided, met in the warm-up after a restart: not traded
        (its price is stale), but when the broker's state shows a fill on it (the process stopped after
        the fill, before the decision's events were delivered and it was recorded), the candle, signal
        and trade events are published again, with the ids they had, so none is lost."""
        values, row = self._update(candle)
        self.past.append(row)
        self.last_decided = candle.open_time
        position = self.broker.position(self.symbol)
        if self._filled_on(candle, position):
            log.info("%s: publishing the fill at %d again", self.symbol, candle.open_time)
            self._candle_event(candle, values)
            self._republish(candle, position)

    def _filled_on(self, candle: Candle, position: Position | None) -> bool:
        """Whether the broker's state shows a fill decided on ``candle``."""
        if position is not None:
            return position.entry_time == candle.open_time
        last = self.broker.last_closed(self.symbol)
        return last is not None and last.exit_time == candle.open_time

    def _acted_already(self, candle: Candle, position: Position | None) -> bool:
        """Whether the broker's state shows this candle's decision was carried out already (the process
        stopped after the fill, before its events were delivered and the decision recorded): publish
        what was done again (same event ids) instead of acting twice."""
        if not self._filled_on(candle, position):
            return False
        self._republish(candle, position)
        return True

    def _republish(self, candle: Candle, position: Position | None) -> None:
        """The signal and trade leg of the fill made on ``candle`` (see :meth:`_filled_on`), again."""
        if position is not None:
            self._signal(candle, "entry_long" if position.side > 0 else "entry_short", None)
            self._open_leg(position)
            return
        last = self.broker.last_closed(self.symbol)
        assert last is not None
        self._signal(candle, "exit_long" if last.side == "long" else "exit_short", last.exit_reason)
        self._close_leg(last)
        self.trades.append(last)

    async def _decide(self, candle: Candle, signals: Signals) -> None:
        position: Position | None = self.broker.position(self.symbol)
        if self._acted_already(candle, position):
            return
        if position is None and not self.broker.can_trade(self.symbol):
            return
        decision, extreme = decide(self.strategy, position, candle.close, signals)
        if decision is None:
            if position is not None:  # written with the decision's record, in one write (Broker.record)
                position.extreme = extreme
                position.held += 1
            return
        self._signal(candle, decision.action, decision.reason)
        if position is not None:
            assert decision.reason is not None  # an exit says why
            order_id = client_order_id(self.run_id, self.symbol, candle.open_time, "close")
            trade = await self.broker.close_position(self.symbol, candle, decision.reason, order_id)
            self.trades.append(trade)
            self._close_leg(trade)
            return
        order_id = client_order_id(self.run_id, self.symbol, candle.open_time, "open")
        opened = await self.broker.open_position(self.symbol, decision.side, candle, order_id)
        if opened is not None:
            self._open_leg(opened)
