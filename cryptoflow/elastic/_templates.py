"""Index templates with explicit mappings and the write aliases the sink indexes into.

For each kind (candles, indicators, signals, trades) there is a composable index template
``<prefix>-<kind>`` matching ``<prefix>-<kind>`` and ``<prefix>-<kind>-*``, and an alias ``<prefix>-<kind>``
pointing at ``<prefix>-<kind>-000001`` (its write index). Plain indices behind aliases rather than data
streams: a data stream only accepts ``create`` and spreads a re-delivered event over backing indices
after a rollover, while an alias over one index lets a re-delivered event overwrite its document by
``_id`` — the exactly-once-per-id guarantee the sink is built on. Nothing here ever deletes data.
"""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as ESConnectionError

from cryptoflow.config import ElasticsearchSettings
from cryptoflow.elastic._client import describe_error
from cryptoflow.errors import ConfigurationError, TemporaryError

__all__ = ["INDEX_KINDS", "index_alias", "install_templates", "template_body"]

log = logging.getLogger(__name__)

INDEX_KINDS = ("candles", "indicators", "signals", "trades")
"""The indexed kinds; the dead-letter queue stays in Kafka."""

TEMPLATE_VERSION = 1  # bump when a template's settings or mappings change


def index_alias(settings: ElasticsearchSettings, kind: str) -> str:
    """``<prefix>-<kind>``, e.g. ``cryptoflow-candles``: the name to search and to write to."""
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
    return {
        "index_patterns": [alias, f"{alias}-*"],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"managed_by": "cryptoflow", "kind": kind},
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    "auto_expand_replicas": "0-1",
                    "refresh_interval": refresh_interval,
                }
            },
            "mappings": index_mappings()[kind],
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
        if exc.status_code in (401, 403):
            raise ConfigurationError(
                f"Elasticsearch refused {what} ({exc.status_code}): check CRYPTOFLOW_ELASTICSEARCH__* "
                "credentials and that the user may manage index templates"
            ) from None
        if exc.status_code == 429 or exc.status_code >= 500:
            raise TemporaryError(f"Elasticsearch is overloaded or failing while {what}: {exc}") from None
        raise


def install_templates(
    client: Elasticsearch, settings: ElasticsearchSettings, refresh_interval: str = "1s"
) -> dict[str, str]:
    """Install (or update) the four index templates and make sure each alias has a write index.

    Existing indices are kept: their mappings get any new fields (additive only). Safe to call from
    several processes at once. Returns ``{kind: alias}``.
    """
    aliases = {}
    for kind in INDEX_KINDS:
        alias = index_alias(settings, kind)
        body = template_body(settings, kind, refresh_interval)
        _call(f"installing index template {alias}", client.indices.put_index_template, name=alias, **body)
        if _call(f"checking index {alias}", client.indices.exists, index=alias):
            _update_mapping(client, alias, body["template"]["mappings"])
        else:
            first = f"{alias}-000001"
            try:
                _call(
                    f"creating index {first}",
                    client.indices.create,
                    index=first,
                    aliases={alias: {"is_write_index": True}},
                )
                log.info("created index %s with write alias %s", first, alias)
            except ApiError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
                # another sink created it meanwhile, or an earlier alias was removed: re-attach it
                _call(
                    f"attaching alias {alias}",
                    client.indices.put_alias,
                    index=first,
                    name=alias,
                    is_write_index=True,
                )
        aliases[kind] = alias
    return aliases


def _update_mapping(client: Elasticsearch, alias: str, mappings: dict[str, Any]) -> None:
    try:
        _call(
            f"updating the mapping of {alias}",
            client.indices.put_mapping,
            index=alias,
            properties=mappings["properties"],
            write_index_only=True,
        )
    except ApiError as exc:
        if exc.status_code != 400:
            raise
        # a conflicting older mapping: keep it (never rewrite data); rejected documents will say why
        log.warning("could not update the mapping of %s: %s", alias, exc)
