"""``cryptoflow execute``: one bot's executor as a member of a consumer group on the signals topic.

The group is ``<prefix>.execute.<bot name>``. Per message: decode; a signal of a run the bot follows is
traded by :class:`~auto_trade.Executor` (its events flushed and its state saved first), then the offset
is stored (committed from there, also on revocation and on close).

A candle's signals are decided together, in the bot's decision order
(:meth:`~auto_trade.Executor.decision_key`: exits first, then the strategies' and the symbols' order in
the bot file), whatever order the topic's partitions delivered them in: the bot-wide protections
(``max_open_positions``, ``max_drawdown``) then find the same book as the portfolio backtest. A candle
is decided once every partition has shown a signal of a later candle, or was read to its end
``gather_s`` (50 ms) after the candle's first signal arrived: the strategy workers publish a candle's
signals within milliseconds of each other, and every signal waits at most this long for the others
(live, all partitions are read to their end when a candle's signals come in: the window is added to
the signal-to-order latency). A signal the bot cannot trade (a
followed run id under another strategy name, a symbol or interval the bot does not trade) goes to
``<prefix>.dlq`` with its reason, through the sink's :class:`~cryptoflow.sink.DeadLetterPublisher`, and
the executor goes on. Messages that are no valid event are skipped with a warning (the sink
dead-letters them).

One process per bot: the state is the bot's (one book for all its symbols, which the bot-wide
protections read), so a second executor of the same bot on the same state folder refuses to start.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from auto_trade._executor import Emit, ExecutionBroker, Executor, ExecutorSummary
from cryptoflow.config import KafkaSettings
from cryptoflow.errors import ConfigurationError
from cryptoflow.events import EventError, SignalEvent, decode
from cryptoflow.kafka import DLQ_KIND, ensure_topics, is_record, message_position, new_client, topic_name
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
    (tests, replays). gather_s: how long the signals of a candle are gathered from partitions read to
    their end before they are decided (see :class:`ExecuteWorker`).
    """

    state_dir: Path
    group: str | None = None
    from_beginning: bool = False
    once: bool = False
    gather_s: float = 0.05
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
        self._pending: dict[_TP, collections.deque[_Held]] = {}
        self._seen: dict[int, float] = {}  # candle open time -> when its first signal was read

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
        for key in keys:  # undecided: the next owner reads them again (their offsets were not stored)
            self._pending.pop(key, None)

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
            closes = asyncio.create_task(self.executor.follow_exchange_closes(), name="exchange-closes")
            polling = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="signals-consumer")
            try:
                await self._loop(consumer, polling)
            finally:
                closes.cancel()
                polling.shutdown(wait=True)
                consumer.close()  # commits the stored offsets, leaves the group
                self.dead_letters.close()
                await self.executor.broker.stop()
        return self.executor.finish()

    async def _loop(self, consumer: Consumer, polling: concurrent.futures.ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            messages = await loop.run_in_executor(polling, consumer.consume, 200, 0.1)
            for message in messages:
                self._read(message)
            await self._decide_ready()
            self._store_decided(consumer)
            idle = not messages and not any(self._pending.values())
            if self.options.once and idle and self._assigned and self._assigned <= self._ended:
                return

    def _read(self, message: Message) -> None:
        """Queue a message in its partition's order (a signal for this bot waits for its candle's turn)."""
        if not is_record(message, "execute", self._ended):
            return
        topic, partition, offset = message_position(message)
        try:
            event = decode(message.value())
        except EventError as exc:
            log.warning("execute: %s[%d]@%d skipped, not an event: %s", topic, partition, offset, exc)
            event = None
        held = _Held(message)
        if isinstance(event, SignalEvent):
            held.candle = event.signal.candle_open_time_ms
            if self.executor.followed(event) is not None:
                held.signal = event
                self._seen.setdefault(held.candle, time.monotonic())
        self._pending.setdefault((topic, partition), collections.deque()).append(held)

    def _ready(self, candle: int) -> bool:
        """Whether every signal of ``candle`` is in: each partition has a message of a later candle, or
        was read to its end at least ``gather_s`` after the candle's first signal."""
        waited = time.monotonic() - self._seen.get(candle, 0.0) >= self.options.gather_s
        for tp in self._assigned:
            later = any(h.candle is not None and h.candle > candle for h in self._pending.get(tp, ()))
            if not later and not (tp in self._ended and waited):
                return False
        return True

    async def _decide_ready(self) -> None:
        """Decide the signals of the earliest candle whose signals are all in, in the bot's decision
        order, then the next one, and so on."""
        while not self._stop.is_set():
            waiting = [h for queue in self._pending.values() for h in queue if h.signal is not None]
            if not waiting:
                return
            candle = min(h.candle for h in waiting if h.candle is not None)
            if not self._ready(candle):
                return
            batch = [h for h in waiting if h.candle == candle]
            for held in sorted(batch, key=lambda h: self.executor.decision_key(h.signal)):  # type: ignore[arg-type]
                assert held.signal is not None
                refused = await self.executor.handle(held.signal)
                if refused is not None:
                    self._dead_letter(held.message, *refused)
                held.signal = None
                if self._stop.is_set():
                    return
            self._seen.pop(candle, None)

    def _dead_letter(self, message: Message, category: str, reason: str) -> None:
        self.dead_letters.publish([(message, category, reason)])
        self.executor.summary.dead_letters += 1
        topic, partition, offset = message_position(message)
        log.warning("execute: %s[%d]@%d -> dead letters: %s: %s", topic, partition, offset, category, reason)

    def _store_decided(self, consumer: Consumer) -> None:
        """Store the offset of each partition's messages decided so far (up to the first one waiting)."""
        for queue in self._pending.values():
            last = None
            while queue and queue[0].signal is None:
                last = queue.popleft()
            if last is not None:
                consumer.store_offsets(last.message)


@dataclass
class _Held:
    """A message read and not yet stored: ``signal`` while it waits for its decision, ``candle`` the
    open time of the candle it is a signal of (any bot's)."""

    message: Message
    signal: SignalEvent | None = None
    candle: int | None = None
