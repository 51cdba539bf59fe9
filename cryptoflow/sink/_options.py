"""How the sink runs: one validated options object (the CLI fills it from its flags)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cryptoflow.events import EVENT_TOPIC_KINDS

__all__ = ["SinkOptions"]


class SinkOptions(BaseModel):
    """Options of :class:`~cryptoflow.sink.Sink` (Kafka Connect's names in brackets).

    Attributes
    ----------
    group_id: consumer group (``group.id``); default ``<topic prefix>-sink``. Sinks sharing a group
        share the partitions: start more of them to scale out.
    kinds: which event topics to read (default all four: candles, indicators, signals, trades; the
        trades topic carries the executors' locks and errors too, indexed into their own indices).
    batch_size: documents per bulk request at most (``batch.size``), default 5000.
    batch_max_bytes: bytes per bulk request at most (action and document lines, counted as
        elasticsearch-py's ``max_chunk_bytes``), default 16 MiB: a document that would take a batch
        over it starts the next batch (a single larger document goes alone). Elasticsearch refuses
        requests over its ``http.max_content_length`` (100 MB by default).
    batch_wait_ms: a batch is written at the latest this long after its first message
        (``linger.ms``), default 250 ms; with no bulk request running it is written as soon as nothing
        more is waiting to be read.
    max_in_flight: bulk requests running at once while the next batch is read
        (``max.in.flight.requests``), default 2; offsets are still committed strictly in order.
    on_malformed: ``dlq`` (default) sends invalid messages and documents Elasticsearch rejects to
        ``<prefix>.dlq`` and goes on; ``fail`` stops the sink at the first one, committing nothing of
        its batch (``behavior.on.malformed.documents``/``errors.tolerance``).
    once: drain what is in the topics when the sink starts, then exit.
    log_interval_s: one progress log line every this many seconds (default 10).
    health_port: serve ``GET /health`` on this port (default: off); 503 while an index block stops
        writes, and when lag > 0 and nothing was written for ``stall_timeout_s``.
    stall_timeout_s: see ``health_port`` (default 60 s).
    backoff_initial_s, backoff_max_s: retry delays while Elasticsearch is unavailable (exponential,
        with jitter; ``retry.backoff.ms``/``max.retry.backoff.ms``), default 0.5 s and 30 s.
    give_up_after_s: stop with :class:`~cryptoflow.errors.TemporaryError` once Elasticsearch or Kafka
        stayed unavailable this long (default ``None``: wait for them as long as it takes).
    session_timeout_ms: Kafka consumer session timeout: how soon a dead sink's partitions move to
        the others (default 10 s).
    refresh_interval: index refresh interval set in the index templates (default ``1s``).
    consumer_config: extra librdkafka consumer settings, applied last.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_id: str | None = Field(None, min_length=1, max_length=249)
    kinds: tuple[str, ...] = EVENT_TOPIC_KINDS
    batch_size: int = Field(5000, ge=1, le=100_000)
    batch_max_bytes: int = Field(16 << 20, ge=1024, le=100 << 20)
    batch_wait_ms: int = Field(250, ge=1, le=600_000)
    max_in_flight: int = Field(2, ge=1, le=16)
    on_malformed: Literal["dlq", "fail"] = "dlq"
    once: bool = False
    log_interval_s: float = Field(10.0, gt=0)
    health_port: int | None = Field(None, ge=0, le=65535)
    health_host: str = "127.0.0.1"
    stall_timeout_s: float = Field(60.0, gt=0)
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)
    give_up_after_s: float | None = Field(None, gt=0)
    session_timeout_ms: int = Field(10_000, ge=1000, le=3_600_000)
    refresh_interval: str = Field("1s", pattern=r"^(-1|\d+(ms|s|m|h))$")
    consumer_config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [kind for kind in value if kind not in EVENT_TOPIC_KINDS]
        if unknown or not value:
            raise ValueError(
                f"topic kinds must be among {', '.join(EVENT_TOPIC_KINDS)}; got {', '.join(value)}"
            )
        return tuple(dict.fromkeys(value))
