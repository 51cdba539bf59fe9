"""auto_trade as one worker of a Kafka consumer group: closed candles from the candles topic -> traders.

``cryptoflow indicators`` publishes every closed candle of the market to ``<prefix>.candles`` (keyed by
symbol and interval, so one symbol always lives in one partition). K workers started with the same run
id form one consumer group and share the partitions: each worker trades, through its own brokers, the
symbols of the partitions it holds. When a partition moves (a worker joins, leaves or dies), the symbols
in it move with their state, which is kept per symbol in the shared state directory.

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

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from auto_trade._trader import Emit, SymbolTrader, engine_record, log_resumed
from cryptoflow.binance import BinanceEndpoints, binance_classes, connect, fetch_warmup
from cryptoflow.brokers import Broker
from cryptoflow.candles import Candle, interval_ms
from cryptoflow.config import KafkaSettings, Market
from cryptoflow.events import CandleEvent, EventError, Source, decode
from cryptoflow.kafka import ensure_topics, message_position, new_client, topic_name
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


class CandleTopicWorker:
    """One member of the auto-trade consumer group.

    ``make_broker(symbol)`` builds the broker of one symbol (its own state file, its share of the
    budget); ``emit`` publishes the candle, signal and trade events, as in single-process mode, and
    ``flush`` returns once they are acknowledged.
    """

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
        self.options = options
        self.kafka = kafka
        self.strategy = strategy
        self.make_broker = make_broker
        self.emit = emit
        self.flush = flush
        self.source_name = source_name
        self.topic = topic_name(kafka, "candles")
        self.group = options.group or f"{kafka.topic_prefix}.auto-trade.{options.run_id}"
        self.universe = {s.upper() for s in options.symbols}
        self.symbols: dict[str, _Symbol] = {}
        self._client_cls, _ = binance_classes(endpoints or BinanceEndpoints())
        self._client: Any = None
        self._released: list[Broker] = []
        self._interval_ms = interval_ms(options.interval)

    # ---- the consumer group ------------------------------------------------------------------------

    def _consumer(self) -> Consumer:
        return new_client(
            Consumer,
            self.kafka,
            {
                "group.id": self.group,
                # a new group starts with the candles that close from now on, never with history
                "auto.offset.reset": "latest",
                # offsets are stored once a candle was handled and committed from there (also on
                # revocation and on close)
                "enable.auto.commit": True,
                "enable.auto.offset.store": False,
                "auto.commit.interval.ms": 1000,
                # a worker that died hands its symbols over after 10 s (Kafka's default is 45 s)
                "session.timeout.ms": 10_000,
            },
        )

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned partitions %s of %s", sorted(p.partition for p in partitions), self.topic)

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Give the symbols of revoked partitions up: their state is on disk already (saved after every
        candle), and nothing more may be written for them (the next owner writes now)."""
        gone = {p.partition for p in partitions}
        try:
            consumer.commit(asynchronous=False)  # what was handled, before the next owner reads on
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("could not commit before giving partitions up: %s", exc)
        for symbol in [s for s, held in self.symbols.items() if held.partition in gone]:
            self._released.append(self.symbols.pop(symbol).broker)
        log.info("revoked partitions %s of %s", sorted(gone), self.topic)

    # ---- per symbol --------------------------------------------------------------------------------

    async def _history(self, symbol: str, before: int) -> list[Candle]:
        if self._client is None:
            self._client = await connect(self._client_cls, self.options.market)
        options = self.options
        count = options.warmup_candles
        if self.strategy.declared_indicators():  # enough history for them too
            count = max(count, self.strategy.warmup + 1)
        return await fetch_warmup(self._client, symbol, options.interval, before, count, options.market)

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
        history = await self._history(symbol, candle.open_time)
        for old in history:
            trader.warm(old)
        held = _Symbol(trader, broker, partition, history[-1].open_time if history else None)
        log.info("%s: trading it (partition %d, %d warm-up candles)", symbol, partition, len(history))
        self.symbols[symbol] = held
        return held

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

    # ---- the loop ----------------------------------------------------------------------------------

    def _wanted(self, message: Message) -> Candle | None:
        """The closed candle a message carries, when it is one this worker trades."""
        try:
            event = decode(message.value())
        except EventError as exc:
            log.warning(
                "skipping offset %d of %s[%d]: %s",
                message.offset(),
                message.topic(),
                message.partition(),
                exc,
            )
            return None
        o = self.options
        if (
            not isinstance(event, CandleEvent)
            or event.source != o.candles_source
            or event.run_id != o.candles_run_id
            or event.interval != o.interval
            or event.symbol not in self.universe
            or not event.candle.is_closed
        ):
            return None
        return event.to_candle()

    async def run(self, on_decided: Callable[[Candle], None] | None = None) -> None:
        """Consume and trade until ``until_open_time`` (or forever; cancel or interrupt to stop)."""
        ensure_topics(self.kafka, [self.topic])
        consumer = self._consumer()
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self.on_revoke)
        loop = asyncio.get_running_loop()
        polling = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="candles-consumer")
        until = self.options.until_open_time
        done: set[str] = set()
        log.info("joining consumer group %s on %s", self.group, self.topic)
        try:
            while until is None or done != self.universe:
                messages = await loop.run_in_executor(polling, consumer.consume, 500, 0.5)
                await self._release()
                for message in messages:
                    error = message.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            log.warning("consumer: %s", error)
                        continue
                    candle = self._wanted(message)
                    if candle is not None:
                        await self.handle(candle, message_position(message)[1])
                        if on_decided is not None:
                            on_decided(candle)
                        if until is not None and candle.open_time >= until:
                            done.add(candle.symbol)
                    consumer.store_offsets(message)
        finally:
            polling.shutdown(wait=True)  # an interrupted poll finishes before the consumer closes
            consumer.close()  # commits the stored offsets, gives the partitions up, leaves the group
            await self.stop()

    async def _release(self) -> None:
        """Close the brokers of symbols given up (without writing their state)."""
        while self._released:
            await self._released.pop().release()

    async def stop(self) -> None:
        """Stop the brokers of the symbols still held and close the REST session (:meth:`run` ends so)."""
        for held in self.symbols.values():
            await held.broker.stop()
        self.symbols.clear()
        await self._release()
        await self.close_session()

    async def close_session(self) -> None:
        """Close the REST session of the warm-ups (brokers untouched)."""
        if self._client is not None:
            await self._client.close_connection()
            self._client = None
