"""Time-partitioned index names: every event is written to the partition of its own UTC time.

A kind is partitioned ``daily`` (``<prefix>-<kind>-YYYY.MM.DD``) or ``monthly`` (``<prefix>-<kind>-YYYY.MM``)
as the settings say (``[retention]``). The time is the event's :attr:`partition_time_ms`, one of the times
its deterministic id is made of, never the wall clock: a re-delivered event lands in the index it landed
in before and overwrites its document by ``_id``, so at-least-once delivery still writes each event once.

>>> partition_index("cryptoflow", "indicators", 1_798_761_599_999, "daily")
'cryptoflow-indicators-2026.12.31'
>>> partition_index("cryptoflow", "indicators", 1_798_761_600_000, "monthly")
'cryptoflow-indicators-2027.01'
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptoflow.config import Settings

if TYPE_CHECKING:
    from cryptoflow.events import Event

__all__ = ["DAY_MS", "GRANULARITIES", "IndexRouter", "partition_index", "partition_span", "partition_suffix"]

GRANULARITIES = ("daily", "monthly")
"""How a kind can be partitioned."""

DAY_MS = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SUFFIX = re.compile(r"^(\d{4})\.(\d{2})(?:\.(\d{2}))?$")


@lru_cache(maxsize=4096)
def _suffix_of_day(days: int, granularity: str) -> str:
    day = date.fromordinal(_EPOCH_ORDINAL + days)
    if granularity == "daily":
        return f"{day.year:04d}.{day.month:02d}.{day.day:02d}"
    if granularity == "monthly":
        return f"{day.year:04d}.{day.month:02d}"
    raise ValueError(f"unknown partition granularity {granularity!r}; expected daily or monthly")


def partition_suffix(time_ms: int, granularity: str) -> str:
    """``YYYY.MM.DD`` (daily) or ``YYYY.MM`` (monthly) of a UTC epoch-millisecond time (>= 0)."""
    if time_ms < 0:
        raise ValueError(f"time_ms must be >= 0 (UTC epoch milliseconds), got {time_ms}")
    return _suffix_of_day(time_ms // DAY_MS, granularity)


def partition_index(prefix: str, kind: str, time_ms: int, granularity: str) -> str:
    """The index of the partition holding ``time_ms``: ``<prefix>-<kind>-<suffix>``."""
    return f"{prefix}-{kind}-{partition_suffix(time_ms, granularity)}"


def partition_span(suffix: str) -> tuple[int, int] | None:
    """``[start_ms, end_ms)`` (UTC) a partition suffix covers, or ``None`` if it is not one.

    >>> partition_span("2026.02")
    (1769904000000, 1772323200000)
    """
    match = _SUFFIX.match(suffix)
    if match is None:
        return None
    year, month, day = int(match.group(1)), int(match.group(2)), match.group(3)
    try:
        first = date(year, month, 1 if day is None else int(day)).toordinal()
    except ValueError:  # 2026.13, 2026.02.30
        return None
    days = 1 if day is not None else calendar.monthrange(year, month)[1]
    start = (first - _EPOCH_ORDINAL) * DAY_MS
    return start, start + days * DAY_MS


class IndexRouter:
    """Picks the index each event is written to, from the settings' index prefix and partitioning.

    Example::

        router = IndexRouter(load_settings())
        writer.add(router.index_of(event), event.event_id, encode(event))
    """

    def __init__(self, settings: Settings) -> None:
        from cryptoflow.events import EVENT_INDICES

        self.prefix = settings.elasticsearch.index_prefix
        kinds = EVENT_INDICES.values()
        self.granularity = {kind: settings.retention.policy(kind).partition for kind in kinds}
        self._kind_of = dict(EVENT_INDICES)

    def index(self, kind: str, time_ms: int) -> str:
        """The partition of index kind ``kind`` (``candles`` ... ``errors``) at ``time_ms``."""
        return partition_index(self.prefix, kind, time_ms, self.granularity[kind])

    def index_of(self, event: Event) -> str:
        """The partition an event belongs to (by its :attr:`partition_time_ms`)."""
        return self.index(self._kind_of[event.schema_name], event.partition_time_ms)
