"""``cryptoflow execute``: one bot's executor as a member of a consumer group on the signals topic.

The group is ``<prefix>.execute.<bot name>``. Per message: decode; a signal of a run the bot follows is
traded by :class:`~auto_trade.Executor` (its events flushed and its state saved first), then the offset
is stored (committed from there, also on revocation and on close). A signal the bot cannot trade (a
followed run id under another strategy name, a symbol or interval the bot does not trade) goes to
``<prefix>.dlq`` with its reason, through the sink's :class:`~cryptoflow.sink.DeadLetterPublisher`, and
the executor goes on. Messages that are no valid event are skipped with a warning (the sink
dead-letters them).

One process per bot: the state is the bot's (one book for all its symbols, which the bot-wide
protections read), so a second executor of the same bot on the same state folder refuses to start.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from auto_trade._executor import Emit, ExchangeCloses, ExecutionBroker, Executor, ExecutorSummary
from cryptoflow.config import KafkaSettings
from cryptoflow.errors import ConfigurationError
from cryptoflow.events import EventError, SignalEvent, decode
from cryptoflow.kafka import DLQ_KIND, ensure_topics, message_position, new_client, topic_name
from cryptoflow.portfolio import Bot
from cryptoflow.sink import DeadLetterPublisher

__all__ = ["ExecuteOptions", "ExecuteWorker", "executor_state_path"]

log = logging.getLogger("auto_trade.execute")

_TP = tuple[str, int]


def executor_state_path(state_dir: Path, bot: Bot) -> Path:
    """``<state dir>/<bot>.execute.json``: the executor's book and the signals it handled."""
    return state_dir / f"{bot.name}.execute.json"


@dataclass
class ExecuteOptions:
    """How an executor runs.

    state_dir: where the executor's state (:func:`executor_state_path`) and its broker's are kept.
    group: the consumer group (default ``<topic prefix>.execute.<bot name>``). from_beginning: a new
    group starts at the beginning of the signals topic (default: with the signals published from now
    on; an old signal's price is stale). once: stop when every assigned partition is read to its end
    (tests, replays).
    """

    state_dir: Path
    group: str | None = None
    from_beginning: bool = False
    once: bool = False
    session_timeout_ms: int = 10_000


@contextlib.contextmanager
def _only_executor(path: Path) -> Iterator[None]:
    """Hold ``<state>.lock`` while running: a second executor of the same bot and state refuses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigurationError(
                f"another executor runs with the state {path} (locked: {lock}); run one executor per bot"
            ) from None
        yield


class ExecuteWorker:
    """Reads the signals topic as a member of the bot's group and trades through an :class:`Executor`.

    ``emit``/``flush`` publish the trade, lock and error events (and wait for them); the dead-letter
    publisher is opened here. Call :meth:`stop` (a signal handler, another thread) to finish the
    message in hand, commit and return the summary.
    """

    def __init__(
        self,
        bot: Bot,
        kafka: KafkaSettings,
        broker: ExecutionBroker,
        emit: Emit,
        flush: Callable[[], object],
        options: ExecuteOptions,
    ) -> None:
        self.bot = bot
        self.kafka = kafka
        self.options = options
        self.group = options.group or f"{kafka.topic_prefix}.execute.{bot.name}"
        self.topic = topic_name(kafka, "signals")
        self.state_path = executor_state_path(options.state_dir, bot)
        self.executor = Executor(bot, broker, self.state_path, emit, flush)
        self.dead_letters = DeadLetterPublisher(kafka, self.group)
        self._stop = threading.Event()
        self._assigned: set[_TP] = set()
        self._ended: set[_TP] = set()

    def stop(self) -> None:
        """Finish the signal in hand, commit and return (thread- and signal-safe)."""
        self._stop.set()

    def _consumer(self) -> Consumer:
        return new_client(
            Consumer,
            self.kafka,
            {
                "group.id": self.group,
                "client.id": f"cryptoflow-execute-{self.bot.name}",
                "auto.offset.reset": "earliest" if self.options.from_beginning else "latest",
                # stored once a signal was handled (its state saved), committed from there
                "enable.auto.commit": True,
                "enable.auto.offset.store": False,
                "auto.commit.interval.ms": 1000,
                "enable.partition.eof": True,
                "session.timeout.ms": self.options.session_timeout_ms,
            },
        )

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        log.info("execute: assigned partitions %s of %s", sorted(p.partition for p in partitions), self.topic)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("execute: could not commit before giving partitions up: %s", exc)
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self._assigned -= keys
        self._ended -= keys

    async def run(self) -> ExecutorSummary:
        """Trade until :meth:`stop` (or, with ``once``, until the topic is read to its end)."""
        with _only_executor(self.state_path):
            await self.executor.start()
            ensure_topics(
                self.kafka,
                [self.topic, topic_name(self.kafka, "trades"), topic_name(self.kafka, DLQ_KIND)],
                stop=self._stop,
            )
            self.dead_letters.start()
            consumer = self._consumer()
            consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
            log.info("execute: bot %s joining group %s on %s", self.bot.name, self.group, self.topic)
            closes = self._follow_exchange_closes()
            polling = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="signals-consumer")
            try:
                await self._loop(consumer, polling)
            finally:
                if closes is not None:
                    closes.cancel()
                polling.shutdown(wait=True)
                consumer.close()  # commits the stored offsets, leaves the group
                self.dead_letters.close()
                await self.executor.broker.stop()
        return self.executor.finish()

    def _follow_exchange_closes(self) -> asyncio.Task[None] | None:
        broker = self.executor.broker
        if not isinstance(broker, ExchangeCloses):
            return None

        async def follow() -> None:
            async for trade in broker.exchange_closes():
                await self.executor.record_exchange_close(trade)

        return asyncio.create_task(follow(), name="exchange-closes")

    async def _loop(self, consumer: Consumer, polling: concurrent.futures.ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            messages = await loop.run_in_executor(polling, consumer.consume, 200, 0.5)
            for message in messages:
                await self._one(consumer, message)
                if self._stop.is_set():
                    break
            if self.options.once and not messages and self._assigned and self._assigned <= self._ended:
                return

    async def _one(self, consumer: Consumer, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                topic, partition, _ = message_position(message)
                self._ended.add((topic, partition))
            elif error.fatal():
                raise KafkaException(error)
            else:
                log.warning("execute: consumer: %s", error.str())
            return
        topic, partition, offset = message_position(message)
        self._ended.discard((topic, partition))
        try:
            event = decode(message.value())
        except EventError as exc:
            log.warning("execute: %s[%d]@%d skipped, not an event: %s", topic, partition, offset, exc)
            event = None
        if isinstance(event, SignalEvent):
            refused = await self.executor.handle(event)
            if refused is not None:
                category, reason = refused
                self.dead_letters.publish([(message, category, reason)])
                self.executor.summary.dead_letters += 1
                log.warning("execute: %s[%d]@%d -> dead letters: %s: %s", topic, partition, offset, *refused)
        consumer.store_offsets(message)
