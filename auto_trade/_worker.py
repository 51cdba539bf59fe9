"""auto_trade as one worker of a Kafka consumer group: closed candles from the candles topic -> traders.

K workers started with the same run id form one consumer group on the candles topic (see
:mod:`auto_trade._group`: partitions, activation, offsets stored after handling): each trades, through its
own brokers, the symbols of the partitions it holds, and a symbol moves between them with its state.

Per symbol, a worker keeps a :class:`~auto_trade.SymbolTrader` and a broker of its own, created when the
symbol's first candle arrives ("activation"):

1. the broker reads the symbol's position back (paper state file, or the exchange) before any decision;
2. the engine's record in the broker's state file says which candle was decided last (by this or
   another worker);
3. REST history up to that first candle warms the indicators.

A candle is then decided once: a repeat (Kafka re-delivers what was read but not committed) only feeds
the indicators if they have not seen it. Per candle: decide (a fill is written to the broker's state at
once), deliver its events to Kafka, record the decision together with the position's bookkeeping (one
atomic write of the same file), store the offset. A crash in between re-delivers the candle to the next
owner, which decides it again: from the bookkeeping as it was before the candle, and, when the broker's
state shows the fill happened already, the trader publishes it again (same event ids) instead of acting
twice; client order ids are deterministic, so no order is doubled.

A candle older than ``max_candle_age_s`` (wall clock) only feeds the indicators: its price is stale
(e.g. a backlog after every worker was down).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from auto_trade._group import CandleGroupMember
from auto_trade._trader import Emit, SymbolTrader, engine_record, log_resumed
from cryptoflow.binance import BinanceEndpoints
from cryptoflow.brokers import Broker
from cryptoflow.candles import Candle
from cryptoflow.config import KafkaSettings, Market
from cryptoflow.events import CandleEvent, Source
from cryptoflow.strategies import Strategy

__all__ = ["CandleTopicWorker", "WorkerOptions"]

log = logging.getLogger(__name__)


@dataclass
class WorkerOptions:
    """What a worker trades and where it reads.

    symbols: the traded universe (a candle of another symbol is skipped; the budget is split by it).
    candles_source, candles_run_id: whose candles to trade: those ``cryptoflow indicators`` publishes
        (source ``live``, its ``--run-id``, default ``realtime``).
    group: the consumer group (default ``<topic prefix>.auto-trade.<run_id>``).
    max_candle_age_s: a candle that closed longer ago than this (wall clock) is not traded; ``None``
        trades every candle (replays of old candles, e.g. from the fake exchange).
    warmup_candles: REST history fetched per symbol on activation.
    until_open_time: stop once every symbol handled the candle opened at this time (tests, replays).
    """

    symbols: list[str]
    interval: str
    run_id: str
    state_dir: Path
    candles_source: Source = "live"
    candles_run_id: str = "realtime"
    group: str | None = None
    market: Market = "futures"
    max_candle_age_s: float | None = None
    warmup_candles: int = 300
    until_open_time: int | None = None


@dataclass
class _Symbol:
    trader: SymbolTrader
    broker: Broker
    partition: int
    fed_until: int | None  # open time of the last candle the indicators saw

    def save(self) -> None:
        """Record the decision and the position's bookkeeping together (one atomic write)."""
        self.broker.record({"last_decided": self.trader.last_decided})


class CandleTopicWorker(CandleGroupMember[_Symbol]):
    """One member of the auto-trade consumer group (``<topic prefix>.auto-trade.<run_id>`` by default).

    ``make_broker(symbol)`` builds the broker of one symbol (its own state file, its share of the
    budget); ``emit`` publishes the candle, signal and trade events, as in single-process mode, and
    ``flush`` returns once they are acknowledged.
    """

    options: WorkerOptions

    def __init__(
        self,
        options: WorkerOptions,
        kafka: KafkaSettings,
        strategy: Strategy,
        make_broker: Callable[[str], Broker],
        emit: Emit,
        *,
        flush: Callable[[], object] = lambda: None,
        endpoints: BinanceEndpoints | None = None,
        source_name: Source | None = None,
    ) -> None:
        group = options.group or f"{kafka.topic_prefix}.auto-trade.{options.run_id}"
        if strategy.declared_indicators():  # enough warm-up history for them too
            options = replace(options, warmup_candles=max(options.warmup_candles, strategy.warmup + 1))
        super().__init__(options, kafka, group, endpoints=endpoints)
        self.strategy = strategy
        self.make_broker = make_broker
        self.emit = emit
        self.flush = flush
        self.source_name = source_name
        self._released: list[Broker] = []

    def give_up(self, symbol: str) -> None:
        """Drop the symbol; its broker is closed (without writing its state) before the next poll."""
        self._released.append(self.symbols.pop(symbol).broker)

    # ---- per symbol --------------------------------------------------------------------------------

    async def _activate(self, candle: Candle, partition: int) -> _Symbol:
        symbol = candle.symbol
        broker = self.make_broker(symbol)
        position = (await broker.start([symbol])).get(symbol)
        if position is not None:
            log_resumed(position)
        trader = SymbolTrader(
            symbol,
            self.options.interval,
            self.strategy,
            broker,
            run_id=self.options.run_id,
            source=self.source_name or broker.name,
            emit=self.emit,
        )
        legacy = self.options.state_dir / f"{self.options.run_id}.{symbol}.engine.json"
        trader.last_decided = engine_record(broker, legacy).get("last_decided")
        history = await self.history(symbol, candle.open_time)
        for old in history:
            trader.warm(old)
        held = _Symbol(trader, broker, partition, history[-1].open_time if history else None)
        log.info("%s: trading it (partition %d, %d warm-up candles)", symbol, partition, len(history))
        self.symbols[symbol] = held
        return held

    async def handle_event(self, event: CandleEvent, partition: int) -> Candle:
        """:meth:`handle` the candle ``event`` carries."""
        candle = event.to_candle()
        await self.handle(candle, partition)
        return candle

    async def handle(self, candle: Candle, partition: int) -> None:
        """Decide one closed candle read from ``partition`` (taking its symbol over on first sight), then
        flush its events and save the symbol's state: what :meth:`run` does with every wanted message."""
        held = self.symbols.get(candle.symbol) or await self._activate(candle, partition)
        if held.fed_until is not None and candle.open_time <= held.fed_until:
            return  # a re-delivery the indicators have seen
        trader = held.trader
        age_s = time.time() - candle.close_time / 1000
        limit = self.options.max_candle_age_s
        if trader.last_decided is not None and candle.open_time <= trader.last_decided:
            trader.warm(candle)  # decided before (by a previous owner or before a crash)
        elif limit is not None and age_s > limit:
            trader.warm(candle)
            trader.last_decided = candle.open_time
            log.warning(
                "%s: the candle opened at %d closed %.0f s ago (more than %g s): not traded",
                candle.symbol,
                candle.open_time,
                age_s,
                limit,
            )
        else:
            await trader.on_closed(candle)
        held.fed_until = candle.open_time
        self.flush()  # the decision's events are in Kafka before it is recorded and the offset stored
        held.save()

    # ---- stopping ----------------------------------------------------------------------------------

    async def release(self) -> None:
        """Close the brokers of symbols given up (without writing their state)."""
        while self._released:
            await self._released.pop().release()

    async def stop(self) -> None:
        """Stop the brokers of the symbols still held and close the REST session (:meth:`run` ends so)."""
        for held in self.symbols.values():
            await held.broker.stop()
        self.symbols.clear()
        await self.release()
        await self.close_session()
