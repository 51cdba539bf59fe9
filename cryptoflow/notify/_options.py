"""How ``cryptoflow notify`` runs: one validated options object (the CLI fills it from its flags)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["NotifyOptions"]


class NotifyOptions(BaseModel):
    """Options of :class:`~cryptoflow.notify.Notifier` (where to post is in the settings,
    :class:`~cryptoflow.config.NotifySettings`).

    Attributes
    ----------
    group_id: consumer group; default ``<topic prefix>-notify``. Notifiers sharing a group share the
        partitions (and each posts only what it reads).
    targets: the names of the configured targets to post to (default: all of them).
    once: post what is in the topics when the notifier starts, then exit.
    batch_size: messages read at once at most (default 500).
    batch_wait_ms: how long a read waits for messages (default 500 ms).
    state_file: where the recently delivered event ids are kept (default
        ``<stack home>/notify/<group>.json``); ``dedupe_window`` ids per target (default 10,000).
    backoff_initial_s, backoff_max_s: retry delays while a target is unreachable (exponential, with
        jitter, unless the target says ``Retry-After``), default 1 s and 60 s.
    session_timeout_ms: Kafka consumer session timeout (default 10 s).
    consumer_config: extra librdkafka consumer settings, applied last.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_id: str | None = Field(None, min_length=1, max_length=249)
    targets: tuple[str, ...] = ()
    once: bool = False
    batch_size: int = Field(500, ge=1, le=100_000)
    batch_wait_ms: int = Field(500, ge=1, le=600_000)
    state_file: Path | None = None
    dedupe_window: int = Field(10_000, ge=1, le=10_000_000)
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    session_timeout_ms: int = Field(10_000, ge=1000, le=3_600_000)
    consumer_config: dict[str, Any] = Field(default_factory=dict)
