"""The notify loop: read trades and signals as a consumer group, post to the targets, then commit."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from cryptoflow.config import Settings
from cryptoflow.errors import ConfigurationError
from cryptoflow.events import EventError
from cryptoflow.kafka import ensure_topics, is_record, message_position, new_client, topic_name
from cryptoflow.notify._formats import posts
from cryptoflow.notify._notices import Notice, read_notice
from cryptoflow.notify._options import NotifyOptions
from cryptoflow.notify._state import Delivered
from cryptoflow.notify._webhook import Webhook
from cryptoflow.retry import Backoff

__all__ = ["NotifyStats", "Notifier"]

log = logging.getLogger("cryptoflow.notify")

TOPIC_KINDS = ("trades", "signals")
_TP = tuple[str, int]


@dataclass
class NotifyStats:
    """Totals of one run: messages ``read``, ``notices`` delivered (to each target that wanted them, so
    one event told two targets counts twice), ``posts`` made, ``duplicates`` not posted again,
    ``skipped`` messages that are no event, ``retries`` of posts, ``commits``, ``elapsed_s``."""

    read: int = 0
    notices: int = 0
    posts: int = 0
    duplicates: int = 0
    skipped: int = 0
    retries: int = 0
    commits: int = 0
    elapsed_s: float = 0.0


class _Stopped(Exception):
    """Asked to stop while a target was unreachable: the batch is left uncommitted."""


class Notifier:
    """Posts entries, exits, signals, protection locks and errors read from Kafka to webhooks.

    Delivery is at least once: a batch's offsets are committed only after every target that wants its
    notices accepted them, and each target's accepted event ids are kept (the last ``dedupe_window`` of
    them, in ``state_file``) so that a batch read again (after a crash before the commit, a target down
    while another was up, a rebalance) does not post them again. Duplicates remain possible when the
    process dies between a post and the record of it, or when another notifier of the group takes over
    a partition (its record is its own).

    A target that is unreachable or answers 408/429/5xx is retried with backoff (``Retry-After`` is
    honoured) for as long as it takes, the other targets waiting with it (order is kept). A target that
    refuses a post (another 4xx) stops the notifier with :class:`~cryptoflow.notify.TargetRefused`
    (exit code 2): nothing is dropped, the batch is not committed, and once the settings are fixed the
    next run posts it (the targets that had accepted it are not posted to again).

    Messages that are not events are skipped with a warning (the sink dead-letters them).

    Example::

        stats = Notifier(load_settings(), NotifyOptions(once=True)).run()

    Call :meth:`stop` (from a signal handler or another thread) to finish the batch, commit and return.
    """

    def __init__(self, settings: Settings, options: NotifyOptions | None = None) -> None:
        self.settings = settings
        self.options = options or NotifyOptions()
        self.group_id = self.options.group_id or f"{settings.kafka.topic_prefix}-notify"
        self.topics = [topic_name(settings.kafka, kind) for kind in TOPIC_KINDS]
        self.stats = NotifyStats()
        configured = {target.name: target for target in settings.notify.targets}
        if not configured:
            raise ConfigurationError(
                "no notify target: set CRYPTOFLOW_NOTIFY__TARGETS (a JSON list) or [[notify.targets]] in "
                'the config file, e.g. [{"name": "ops", "format": "slack", "webhook_url": "…"}]'
            )
        unknown = [name for name in self.options.targets if name not in configured]
        if unknown:
            raise ConfigurationError(
                f"unknown notify target {', '.join(map(repr, unknown))}: the configured ones are "
                + ", ".join(configured)
            )
        chosen = self.options.targets or tuple(configured)
        backoff = (self.options.backoff_initial_s, self.options.backoff_max_s)
        self.webhooks = [Webhook(configured[name], Backoff(*backoff), self._wait) for name in chosen]
        state_file = self.options.state_file or settings.stack.home / "notify" / f"{self.group_id}.json"
        self.delivered = Delivered(state_file, self.options.dedupe_window)
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
        self._assigned: set[_TP] = set()
        self._ended: set[_TP] = set()  # partitions read to their end (once)

    def stop(self) -> None:
        """Finish the batch, commit and return (thread- and signal-safe); a retry in progress is
        abandoned, its batch left uncommitted."""
        self._stop.set()

    def run(self) -> NotifyStats:
        """Run until :meth:`stop` (or, with ``once``, until the topics are read to their end).

        Raises :class:`~cryptoflow.notify.TargetRefused` when a target refuses a post and
        :class:`~cryptoflow.errors.TemporaryError` when Kafka cannot be reached.
        """
        started = time.monotonic()
        ensure_topics(self.settings.kafka, self.topics, stop=self._stop)
        self._consumer = new_client(Consumer, self.settings.kafka, self._consumer_config())
        self._consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        log.info(
            "notify: group %s reading %s, posting to %s",
            self.group_id, ", ".join(self.topics), ", ".join(w.name for w in self.webhooks),
        )  # fmt: skip
        try:
            self._loop()
        finally:
            self._consumer.close()
            self.stats.retries = sum(webhook.retries for webhook in self.webhooks)
            self.stats.elapsed_s = time.monotonic() - started
        log.info(
            "notify: done: %d message(s) read, %d notice(s) delivered in %d post(s), %d duplicate(s) "
            "not posted again, %d skipped, in %.1f s",
            self.stats.read, self.stats.notices, self.stats.posts, self.stats.duplicates,
            self.stats.skipped, self.stats.elapsed_s,
        )  # fmt: skip
        return self.stats

    def _consumer_config(self) -> dict[str, object]:
        return {
            "group.id": self.group_id,
            "client.id": "cryptoflow-notify",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": self.options.session_timeout_ms,
            "heartbeat.interval.ms": max(300, self.options.session_timeout_ms // 5),
            **self.options.consumer_config,
        }

    # -- the loop -------------------------------------------------------------------------------------

    def _loop(self) -> None:
        assert self._consumer is not None
        wait_s = self.options.batch_wait_ms / 1000.0
        while not self._stop.is_set():
            messages = self._consumer.consume(self.options.batch_size, timeout=wait_s)
            notices: list[Notice] = []
            offsets: dict[_TP, int] = {}
            for message in messages:
                notice = self._read(message, offsets)
                if notice is not None:
                    notices.append(notice)
            if offsets:
                try:
                    self._deliver(notices)
                except _Stopped:
                    log.info("notify: stopped while a target was unreachable; that batch will be read again")
                    return
                self._commit(offsets)
            elif self.options.once and self._assigned and self._assigned <= self._ended:
                return

    def _read(self, message: Message, offsets: dict[_TP, int]) -> Notice | None:
        if not is_record(message, "notify", self._ended):
            return None
        topic, partition, offset = message_position(message)
        offsets[(topic, partition)] = offset + 1
        self.stats.read += 1
        try:
            return read_notice(message.value())
        except EventError as exc:
            self.stats.skipped += 1
            log.warning(
                "notify: %s[%d]@%d skipped: not an event (%s): %s",
                topic,
                partition,
                offset,
                exc.category,
                exc.reason,
            )
            return None

    def _deliver(self, notices: list[Notice]) -> None:
        """Post every notice to every target that wants it and has not accepted it yet, in order; what
        was accepted is saved also when a target refuses or the command is stopped midway."""
        try:
            self._post_all(notices)
        finally:
            self.delivered.save()

    def _post_all(self, notices: list[Notice]) -> None:
        for webhook in self.webhooks:
            target = webhook.target
            pending: dict[str, Notice] = {}
            for notice in notices:
                if not _wanted(target.kinds, target.sources, target.run_ids, notice):
                    continue
                if self.delivered.seen(target.name, notice.event_id) or notice.event_id in pending:
                    self.stats.duplicates += 1
                    continue
                pending[notice.event_id] = notice
            for post in posts(target, list(pending.values())):
                webhook.deliver(post)
                self.delivered.add(target.name, post.event_ids)
                self.stats.posts += 1
                self.stats.notices += len(post.event_ids)
                for event_id in post.event_ids:
                    log.info("notify: %s <- %s", target.name, pending[event_id].text)

    def _commit(self, offsets: dict[_TP, int]) -> None:
        assert self._consumer is not None
        partitions = [TopicPartition(t, p, offset) for (t, p), offset in offsets.items()]
        try:
            self._consumer.commit(offsets=partitions, asynchronous=False)
            self.stats.commits += 1
        except KafkaException as exc:
            log.warning(
                "notify: offsets not committed (%s); the batch will be read again, its notices are not "
                "posted again",
                exc.args[0].str() if exc.args else exc,
            )

    def _wait(self, seconds: float, retrying: bool) -> None:
        """Wait ``seconds`` while staying in the group; a retry's wait ends at :meth:`stop`.

        The partitions are paused meanwhile, so the waits read nothing (a message that arrives anyway is
        read again: the consumer is rewound to it).
        """
        assert self._consumer is not None
        consumer = self._consumer
        assignment = consumer.assignment()
        if assignment:
            consumer.pause(assignment)
        rewind: dict[_TP, int] = {}
        deadline = time.monotonic() + seconds
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                if retrying and self._stop.is_set():
                    raise _Stopped
                message = consumer.poll(min(0.2, remaining))
                if message is not None and message.error() is None:
                    topic, partition, offset = message_position(message)
                    rewind.setdefault((topic, partition), offset)
        finally:
            assignment = consumer.assignment()
            if assignment:
                consumer.resume(assignment)
            for (topic, partition), offset in rewind.items():
                consumer.seek(TopicPartition(topic, partition, offset))

    # -- rebalances -----------------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        log.info("notify: assigned %d partition(s)", len(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self._assigned -= keys
        self._ended -= keys


def _wanted(
    kinds: tuple[str, ...], sources: tuple[str, ...], run_ids: tuple[str, ...], notice: Notice
) -> bool:
    """Whether a target with these filters wants ``notice`` (an empty filter lets everything through)."""
    return (
        notice.kind in kinds
        and (not sources or notice.source in sources)
        and (not run_ids or notice.run_id in run_ids)
    )
