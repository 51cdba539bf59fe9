"""One member of a consumer group on the candles topic: what the trading worker (``trade --from-kafka``)
and the strategy worker (``signals``) share.

``cryptoflow indicators`` publishes every closed candle of the market to ``<prefix>.candles`` (keyed by
symbol and interval, so one symbol always lives in one partition). K members of one consumer group share
the partitions; each handles the symbols of the partitions it holds. When a partition moves (a member
joins, leaves or dies), the symbols in it move: their state is kept per symbol in a shared state
directory, saved after every candle, and read back by the next owner when the symbol's first candle
reaches it ("activation", with a REST warm-up of the indicators up to that candle).

Offsets are stored only once a candle was handled (its events flushed, its state saved) and committed
from there, also when partitions are revoked and when the member stops: a crash re-delivers what was not
handled to the next owner, which decides it again from the saved state (deterministic event ids make a
second publication the same event).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from cryptoflow.binance import BinanceEndpoints, binance_classes, connect, fetch_warmup
from cryptoflow.candles import Candle
from cryptoflow.config import KafkaSettings, Market
from cryptoflow.events import CandleEvent, EventError, Source, decode
from cryptoflow.kafka import ensure_topics, is_record, message_position, new_client, topic_name

__all__ = ["CandleGroupMember", "GroupOptions", "Held"]

log = logging.getLogger(__name__)


class GroupOptions(Protocol):
    """What a member reads: the settings :class:`~auto_trade.WorkerOptions` and
    :class:`~auto_trade.SignalOptions` have in common."""

    symbols: list[str]
    interval: str
    state_dir: Path
    candles_source: Source
    candles_run_id: str
    market: Market
    warmup_candles: int
    until_open_time: int | None


class Held(Protocol):
    """A symbol a member holds: the partition it came from."""

    partition: int


H = TypeVar("H", bound=Held)


class CandleGroupMember(Generic[H]):
    """The consumer-group half of a worker on the candles topic; subclasses handle the candles.

    A subclass implements :meth:`handle_event` (one wanted closed candle, read from a partition: take
    the symbol over on first sight, decide, flush, save) and keeps the symbols it holds in
    :attr:`symbols`; :meth:`give_up` and :meth:`stop` say what happens to them when their partition
    goes and when the member stops.
    """

    def __init__(
        self,
        options: GroupOptions,
        kafka: KafkaSettings,
        group: str,
        *,
        endpoints: BinanceEndpoints | None = None,
    ) -> None:
        self.options = options
        self.kafka = kafka
        self.group = group
        self.topic = topic_name(kafka, "candles")
        self.universe = {s.upper() for s in options.symbols}
        self.symbols: dict[str, H] = {}
        self._client_cls, _ = binance_classes(endpoints or BinanceEndpoints())
        self._client: Any = None

    # ---- to implement --------------------------------------------------------------------------------

    async def handle_event(self, event: CandleEvent, partition: int) -> Candle:
        """Handle one wanted closed candle read from ``partition``; returns the candle it carries."""
        raise NotImplementedError

    def give_up(self, symbol: str) -> None:
        """Drop a symbol whose partition was revoked (its state is on disk already)."""
        self.symbols.pop(symbol)

    async def release(self) -> None:
        """Called between polls: close what :meth:`give_up` left to close (nothing by default)."""

    async def stop(self) -> None:
        """Let go of every symbol and close the REST session (:meth:`run` ends so)."""
        self.symbols.clear()
        await self.close_session()

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
                # a member that died hands its symbols over after 10 s (Kafka's default is 45 s)
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
            self.give_up(symbol)
        log.info("revoked partitions %s of %s", sorted(gone), self.topic)

    # ---- REST warm-up ------------------------------------------------------------------------------

    async def history(self, symbol: str, before: int) -> list[Candle]:
        """The warm-up of ``symbol``: the last ``warmup_candles`` closed candles opening before
        ``before`` (epoch ms), from the exchange's REST API."""
        if self._client is None:
            self._client = await connect(self._client_cls, self.options.market)
        options = self.options
        return await fetch_warmup(
            self._client, symbol, options.interval, before, options.warmup_candles, options.market
        )

    async def close_session(self) -> None:
        """Close the REST session of the warm-ups."""
        if self._client is not None:
            await self._client.close_connection()
            self._client = None

    # ---- the loop ----------------------------------------------------------------------------------

    def wanted(self, message: Message) -> CandleEvent | None:
        """The closed candle event a message carries, when it is one this member handles."""
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
        return event

    async def run(self, on_decided: Callable[[Candle], None] | None = None) -> None:
        """Consume and handle until ``until_open_time`` (or forever; cancel or interrupt to stop)."""
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
                await self.release()
                for message in messages:
                    if not is_record(message, self.topic):
                        continue
                    event = self.wanted(message)
                    if event is not None:
                        candle = await self.handle_event(event, message_position(message)[1])
                        if on_decided is not None:
                            on_decided(candle)
                        if until is not None and candle.open_time >= until:
                            done.add(candle.symbol)
                    consumer.store_offsets(message)
        finally:
            polling.shutdown(wait=True)  # an interrupted poll finishes before the consumer closes
            consumer.close()  # commits the stored offsets, gives the partitions up, leaves the group
            await self.stop()
