"""Index templates with explicit mappings, and the read alias every time partition joins.

For each index kind (candles, indicators, signals, trades, locks, errors) there is a composable index
template ``<prefix>-<kind>`` matching ``<prefix>-<kind>-*``. The sink writes each event to the time
partition of its own time (``<prefix>-<kind>-2026.12`` or ``<prefix>-<kind>-2026.12.03``, see
:mod:`._partitions`); the partition is created from the template on its first document and joins the
alias ``<prefix>-<kind>``, through which everything reads (dashboards, Kibana data views, tests) and
which is never written to.

Plain indices rather than data streams: a data stream only accepts ``create`` and spreads a re-delivered
event over backing indices after a rollover, while an index picked from the event's own time lets a
re-delivered event overwrite its document by ``_id`` — the exactly-once-per-id guarantee the sink is
built on. Old partitions are deleted whole by ``cryptoflow retention``; nothing here deletes data.

Deployments from before time partitions have ``<prefix>-<kind>-000001`` as the alias's write index. It
stays as it is (readable through the alias, still the target of anything writing to the alias itself);
new partitions join the alias beside it.
"""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as ESConnectionError

from cryptoflow.config import ElasticsearchSettings
from cryptoflow.elastic._client import describe_error, refusal
from cryptoflow.errors import ConfigurationError, TemporaryError
from cryptoflow.events import EVENT_INDICES

__all__ = ["INDEX_KINDS", "MANAGED_BY", "index_alias", "install_templates", "template_body"]

log = logging.getLogger(__name__)

INDEX_KINDS: tuple[str, ...] = tuple(EVENT_INDICES.values())
"""The indexed kinds, one per event kind (``candles``, ``indicators``, ``signals``, ``trades``, ``locks``,
``errors``); the dead-letter queue holds records that are not events and stays in Kafka."""

TEMPLATE_VERSION = 2  # bump when a template's settings or mappings change

MANAGED_BY = "cryptoflow"
"""``_meta.managed_by`` of every template and of every partition's mapping (what retention checks)."""


def index_alias(settings: ElasticsearchSettings, kind: str) -> str:
    """``<prefix>-<kind>``, e.g. ``cryptoflow-candles``: the alias to search (every partition of the kind)."""
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {', '.join(INDEX_KINDS)}")
    return f"{settings.index_prefix}-{kind}"


def template_body(settings: ElasticsearchSettings, kind: str, refresh_interval: str = "1s") -> dict[str, Any]:
    """The composable index template of one kind (``index_patterns``, settings, mappings, ``_meta``).

    ``refresh_interval`` is set explicitly: without it an idle shard stops refreshing and the first
    search after a pause waits for a refresh.
    """
    from cryptoflow.events import index_mappings

    alias = index_alias(settings, kind)
    mappings = {**index_mappings()[kind], "_meta": {"managed_by": MANAGED_BY, "kind": kind}}
    return {
        "index_patterns": [f"{alias}-*"],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"managed_by": MANAGED_BY, "kind": kind},
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    "auto_expand_replicas": "0-1",
                    "refresh_interval": refresh_interval,
                }
            },
            "mappings": mappings,
            # every partition joins the read alias; never as its write index, so that a write to the
            # alias itself fails instead of landing in an arbitrary partition
            "aliases": {alias: {"is_write_index": False}},
        },
    }


def _call(what: str, func: Any, **kwargs: Any) -> Any:
    try:
        return func(**kwargs)
    except ESConnectionError as exc:
        raise TemporaryError(
            f"Elasticsearch is unreachable while {what} ({describe_error(exc)}): start it, or point "
            "CRYPTOFLOW_ELASTICSEARCH__HOSTS at where it runs"
        ) from None
    except ApiError as exc:
        refused = refusal(exc, what, "manage index templates")
        if refused is not None:
            raise refused from None
        if exc.status_code == 429 or exc.status_code >= 500:
            raise TemporaryError(f"Elasticsearch is overloaded or failing while {what}: {exc}") from None
        raise


def install_templates(
    client: Elasticsearch, settings: ElasticsearchSettings, refresh_interval: str = "1s"
) -> dict[str, str]:
    """Install (or update) the index templates, one per index kind; returns ``{kind: read alias}``.

    Creates no index: each partition is created from its template by its first document. Existing
    indices behind an alias (partitions, or a ``-000001`` index from before time partitions) get any new
    mapping fields (additive only). Safe to call from several processes at once.

    Raises :class:`~cryptoflow.errors.ConfigurationError` when a concrete index holds the alias's name
    (something wrote to ``<prefix>-<kind>`` before any partition existed): no partition could join it.
    """
    aliases = {}
    for kind in INDEX_KINDS:
        alias = index_alias(settings, kind)
        body = template_body(settings, kind, refresh_interval)
        exists = _call(f"checking index {alias}", client.indices.exists, index=alias)
        if exists and not _call(f"checking alias {alias}", client.indices.exists_alias, name=alias):
            raise ConfigurationError(
                f"Elasticsearch has an index named {alias!r} where cryptoflow needs an alias of that "
                f"name (probably created by a write to {alias!r} before any partition existed): move "
                "its documents into the partitions or delete it, then start again"
            )
        _call(f"installing index template {alias}", client.indices.put_index_template, name=alias, **body)
        if exists:
            _update_mapping(client, alias, body["template"]["mappings"])
        aliases[kind] = alias
    return aliases


def _update_mapping(client: Elasticsearch, alias: str, mappings: dict[str, Any]) -> None:
    try:
        _call(
            f"updating the mapping of {alias}",
            client.indices.put_mapping,
            index=alias,
            properties=mappings["properties"],
        )
    except ApiError as exc:
        if exc.status_code != 400:
            raise
        # a conflicting older mapping: keep it (never rewrite data); rejected documents will say why
        log.warning("could not update the mapping of %s: %s", alias, exc)
