"""Retention: delete whole time partitions older than each kind's kept period (``cryptoflow retention``).

A partition ``<prefix>-<kind>-YYYY.MM[.DD]`` covers ``[start, end)`` in UTC. With ``keep_days`` set for its
kind, it is deleted when ``end <= now - keep_days``: the partition that still covers ``now - keep_days``
is kept, so every event younger than the kept period stays. Only indices that (1) are named exactly like a
partition of the configured prefix and kind and (2) carry ``_meta.managed_by: cryptoflow`` and their kind in
their mapping (set by cryptoflow's index template) are ever deleted, each by its exact name. A ``-000001``
index from before time partitions is reported, never deleted.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as ESConnectionError

from cryptoflow.config import Settings
from cryptoflow.elastic._client import refusal
from cryptoflow.elastic._partitions import DAY_MS, partition_span
from cryptoflow.elastic._templates import INDEX_KINDS, MANAGED_BY, _call, index_alias

__all__ = ["KindRule", "Partition", "RetentionReport", "apply_retention"]

log = logging.getLogger(__name__)

_LEGACY = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class KindRule:
    """What retention does with one kind: ``cutoff_ms`` is ``now - keep_days`` (``None``: keep forever)."""

    kind: str
    partition: str
    keep_days: int | None
    cutoff_ms: int | None


@dataclass(frozen=True)
class Partition:
    """One index of a kind: its name, the UTC span it covers (``None`` for a legacy index), its document
    count and size on disk (``None`` when closed), and for a legacy index the newest event's ``time_ms``."""

    index: str
    kind: str
    start_ms: int | None
    end_ms: int | None
    docs: int | None
    size_bytes: int | None
    newest_ms: int | None = None


@dataclass
class RetentionReport:
    """What :func:`apply_retention` found and did.

    ``expired``: partitions past their kind's kept period (deleted unless ``dry_run``); ``kept``: the
    other managed partitions; ``legacy``: ``-000001`` indices from before time partitions (never deleted);
    ``unmanaged``: partition-named indices without cryptoflow's ``_meta`` (never deleted); ``deleted``
    and ``failed`` (index, reason): the outcome of each deletion.
    """

    prefix: str
    now_ms: int
    dry_run: bool
    rules: list[KindRule]
    expired: list[Partition] = field(default_factory=list)
    kept: list[Partition] = field(default_factory=list)
    legacy: list[Partition] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def apply_retention(
    client: Elasticsearch,
    settings: Settings,
    *,
    dry_run: bool = False,
    kinds: Iterable[str] | None = None,
    now_ms: int | None = None,
) -> RetentionReport:
    """Delete (or with ``dry_run`` only list) the expired partitions of ``kinds`` (default all four).

    ``now_ms`` (UTC epoch ms) defaults to the wall clock. Each deletion is one ``DELETE /<index>``; one
    that fails is recorded in ``report.failed`` and the others go on. Raises
    :class:`~cryptoflow.errors.TemporaryError` when Elasticsearch cannot be read and
    :class:`~cryptoflow.errors.ConfigurationError` when the credentials may not read or delete indices.

    Example::

        report = apply_retention(make_client(settings.elasticsearch), settings, dry_run=True)
        [p.index for p in report.expired]
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    chosen = list(kinds) if kinds is not None else list(INDEX_KINDS)
    unknown = [kind for kind in chosen if kind not in INDEX_KINDS]
    if unknown:
        raise ValueError(f"unknown index kind(s) {', '.join(unknown)}; expected {', '.join(INDEX_KINDS)}")
    report = RetentionReport(settings.elasticsearch.index_prefix, now_ms, dry_run, [])
    for kind in chosen:
        policy = settings.retention.policy(kind)
        cutoff = None if policy.keep_days is None else now_ms - policy.keep_days * DAY_MS
        report.rules.append(KindRule(kind, policy.partition, policy.keep_days, cutoff))
        _survey(client, settings, kind, cutoff, report)
    if not dry_run:
        for partition in report.expired:
            _delete(client, partition, report)
    return report


def _survey(
    client: Elasticsearch, settings: Settings, kind: str, cutoff_ms: int | None, report: RetentionReport
) -> None:
    alias = index_alias(settings.elasticsearch, kind)
    pattern = f"{alias}-*"
    rows = _call(
        f"listing the indices {pattern}",
        client.cat.indices,
        index=pattern,
        format="json",
        bytes="b",
        h="index,status,docs.count,store.size",
        expand_wildcards="open,closed",
    ).body
    if not rows:
        return
    metas = _call(
        f"reading the mappings of {pattern}",
        client.indices.get_mapping,
        index=pattern,
        expand_wildcards="open,closed",
    ).body
    for row in sorted(rows, key=lambda r: r["index"]):
        name = row["index"]
        suffix = name[len(alias) + 1 :]
        docs, size = _number(row.get("docs.count")), _number(row.get("store.size"))
        if _LEGACY.match(suffix):
            newest = _newest(client, name) if row.get("status") == "open" else None
            report.legacy.append(Partition(name, kind, None, None, docs, size, newest))
            continue
        span = partition_span(suffix)
        if span is None:
            continue  # not a cryptoflow name (e.g. another prefix that starts with this one): not ours
        meta = metas.get(name, {}).get("mappings", {}).get("_meta", {})
        if meta.get("managed_by") != MANAGED_BY or meta.get("kind") != kind:
            report.unmanaged.append(name)
            continue
        partition = Partition(name, kind, span[0], span[1], docs, size)
        if cutoff_ms is not None and span[1] <= cutoff_ms:
            report.expired.append(partition)
        else:
            report.kept.append(partition)


def _newest(client: Elasticsearch, index: str) -> int | None:
    """The newest event time (``time_ms``) in an index, ``None`` when it is empty or unreadable."""
    try:
        answer = client.search(index=index, size=0, aggs={"newest": {"max": {"field": "time_ms"}}})
    except (ApiError, ESConnectionError) as exc:
        log.warning("retention: could not read the newest event of %s: %s", index, exc)
        return None
    value = answer["aggregations"]["newest"]["value"]
    return None if value is None else int(value)


def _delete(client: Elasticsearch, partition: Partition, report: RetentionReport) -> None:
    try:
        client.indices.delete(index=partition.index)
    except ApiError as exc:
        if exc.status_code == 404:  # gone already (another run): what we wanted
            report.deleted.append(partition.index)
            return
        refused = refusal(exc, f"to delete {partition.index}", f"delete indices {report.prefix}-*")
        if refused is not None:
            raise refused from None
        report.failed.append((partition.index, f"{exc.status_code} {exc.message}"))
        return
    except ESConnectionError as exc:
        report.failed.append((partition.index, f"Elasticsearch unreachable: {exc}"))
        return
    log.info("retention: deleted %s (%s documents)", partition.index, partition.docs)
    report.deleted.append(partition.index)


def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
