"""What the sink reports: totals, one log line per interval, and the health verdict."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Monitor", "SinkStats"]

log = logging.getLogger("cryptoflow.sink")

MAX_WARNINGS_PER_INTERVAL = 10


@dataclass
class SinkStats:
    """Totals since the sink started."""

    indexed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    retries: int = 0
    commits: int = 0
    elapsed_s: float = 0.0


@dataclass
class _Interval:
    started: float
    indexed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    batch_ms_total: float = 0.0
    batch_ms_max: float = 0.0
    warnings: int = 0


class Monitor:
    """Counts, logs every ``interval_s`` and judges health (unhealthy = an index blocks writes, or lag
    and no progress for ``stall_timeout_s``, or a loop that stopped turning)."""

    def __init__(self, interval_s: float, stall_timeout_s: float) -> None:
        self.interval_s = interval_s
        self.stall_timeout_s = stall_timeout_s
        self.stats = SinkStats()
        self.lag: int | None = None
        self.paused: str | None = None
        self.blocked: str | None = None  # an index block stops every write until someone acts
        self.partitions = 0
        now = time.monotonic()
        self.last_progress = now
        self.last_tick = now
        self._interval = _Interval(now)
        self._next_log = now + interval_s

    def batch_written(self, indexed: int, dead: int, latency_ms: float) -> None:
        """A batch is written and committed."""
        self.stats.indexed += indexed
        self.stats.dead_lettered += dead
        self.stats.batches += 1
        iv = self._interval
        iv.indexed += indexed
        iv.dead_lettered += dead
        iv.batches += 1
        iv.batch_ms_total += latency_ms
        iv.batch_ms_max = max(iv.batch_ms_max, latency_ms)
        self.last_progress = time.monotonic()

    def set_lag(self, lag: int) -> None:
        self.lag = lag
        if lag == 0:
            self.last_progress = time.monotonic()  # idle is not stalled

    def warn_dead(self, text: str, *args: Any) -> None:
        """Log a dead-lettered message, at most a few per interval."""
        if self._interval.warnings < MAX_WARNINGS_PER_INTERVAL:
            log.warning(text, *args)
        self._interval.warnings += 1

    def tick(self) -> None:
        """Called on every turn of the loop: logs when an interval is over."""
        now = time.monotonic()
        self.last_tick = now
        if now >= self._next_log:
            self._log(now)
            self._next_log = now + self.interval_s

    def _log(self, now: float) -> None:
        iv = self._interval
        span = max(1e-9, now - iv.started)
        latency = (
            f"{iv.batch_ms_total / iv.batches:.0f} ms avg, {iv.batch_ms_max:.0f} ms max"
            if iv.batches
            else "-"
        )
        paused = f", PAUSED: {self.paused}" if self.paused else ""
        if self.blocked:
            paused = ", PAUSED: an index blocks writes (logged when it started)"
        log.info(
            "sink: %.0f docs/s (%d in %.0f s), %d batch(es) (%s), lag %s, dlq %d (total %d)%s",
            iv.indexed / span, iv.indexed, span, iv.batches, latency,
            "?" if self.lag is None else self.lag, iv.dead_lettered, self.stats.dead_lettered,
            paused,
        )  # fmt: skip
        if iv.warnings > MAX_WARNINGS_PER_INTERVAL:
            log.warning(
                "sink: %d more dead-lettered message(s) not logged", iv.warnings - MAX_WARNINGS_PER_INTERVAL
            )
        self._interval = _Interval(now)

    def health(self, group: str) -> dict[str, Any]:
        """The report served on ``/health``."""
        now = time.monotonic()
        since_progress = now - self.last_progress
        since_tick = now - self.last_tick
        reason = None
        if self.blocked:
            reason = self.blocked
        elif self.lag and since_progress > self.stall_timeout_s:
            reason = f"lag {self.lag} and nothing written for {since_progress:.0f} s"
            if self.paused:
                reason += f" ({self.paused})"
        elif since_tick > self.stall_timeout_s:
            reason = f"the sink loop has not turned for {since_tick:.0f} s"
        return {
            "healthy": reason is None,
            "reason": reason,
            "lag": self.lag,
            "indexed": self.stats.indexed,
            "retries": self.stats.retries,
            "dead_lettered": self.stats.dead_lettered,
            "seconds_since_progress": round(since_progress, 1),
            "paused": self.paused,
            "partitions": self.partitions,
            "group": group,
        }
