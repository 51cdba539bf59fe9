"""Preparing a stack (the local one or ``docker/``'s) for cryptoflow: Kafka topics, Elasticsearch index
templates, Kibana saved objects. Safe to run again; it never deletes anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptoflow.config import Settings, register_secret
from cryptoflow.errors import CryptoflowError

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from cryptoflow.kibana import ImportResult

__all__ = ["KibanaImport", "KibanaTarget", "import_saved_objects", "setup_stack"]


@dataclass(frozen=True)
class KibanaTarget:
    """Where the saved objects go: Kibana's ``url``, an API key or basic-auth user and password (secrets
    are masked in every message from then on), a ``space`` (default: the default space), the folder of
    ``*.ndjson`` saved objects (default: the bundled ``dashboards/kibana``) and how long to wait for Kibana
    to come up first (``wait_s``, 0: not at all)."""

    url: str
    api_key: str | None = None
    user: str | None = None
    password: str | None = None
    space: str | None = None
    objects_dir: Path | None = None
    wait_s: float = 0.0


@dataclass(frozen=True)
class KibanaImport:
    """What an import did: the Kibana it reached (``url``, ``space``) and what that Kibana answered."""

    url: str
    space: str | None
    result: ImportResult


def import_saved_objects(target: KibanaTarget, index_prefix: str) -> KibanaImport:
    """Import the data views and the Market, Trading and Realtime dashboards, their index patterns under
    ``index_prefix`` (same ids: an import overwrites the previous one)."""
    from cryptoflow.kibana import (
        KibanaAuth,
        KibanaClient,
        default_objects_dir,
        read_objects,
        with_index_prefix,
    )

    register_secret(target.api_key)
    register_secret(target.password)
    auth = KibanaAuth(api_key=target.api_key or None, user=target.user, password=target.password)
    client = KibanaClient(target.url, auth, target.space)
    objects = with_index_prefix(read_objects(target.objects_dir or default_objects_dir()), index_prefix)
    if target.wait_s > 0:
        client.wait_ready(target.wait_s)
    return KibanaImport(client.url, target.space, client.import_objects(objects))


def _set_kibana_system_password(client: Elasticsearch, password: str) -> None:
    from elasticsearch import ApiError, TransportError

    from cryptoflow.elastic import describe_error

    register_secret(password)
    try:
        client.security.change_password(username="kibana_system", password=password)
    except (ApiError, TransportError) as exc:
        raise CryptoflowError(
            f"could not set the kibana_system password ({describe_error(exc)}): check that "
            "Elasticsearch is up and that CRYPTOFLOW_ELASTICSEARCH__* name a user allowed to manage users"
        ) from None


def setup_stack(
    config: Settings,
    *,
    kibana: KibanaTarget | None = None,
    kibana_system_password: str | None = None,
    on_step: Callable[[str], None] = lambda step: None,
) -> KibanaImport | None:
    """Prepare the stack ``config`` points at, telling ``on_step`` what each step did:

    1. with ``kibana_system_password``: set it on Elasticsearch's ``kibana_system`` user (the docker stack);
    2. create the Kafka topics of every event kind that are missing;
    3. install the Elasticsearch index templates (time-partitioned indices behind read aliases);
    4. with ``kibana``: import the saved objects there (returned).
    """
    from cryptoflow.elastic import install_templates, make_client
    from cryptoflow.kafka import TOPIC_KINDS, ensure_topics, topic_name

    client = make_client(config.elasticsearch)
    if kibana_system_password:
        _set_kibana_system_password(client, kibana_system_password)
        on_step("kibana_system password set")
    created = ensure_topics(config.kafka, [topic_name(config.kafka, kind) for kind in TOPIC_KINDS])
    on_step(f"topics: {len(TOPIC_KINDS)} present ({len(created)} created)")
    aliases = install_templates(client, config.elasticsearch)
    on_step(f"index templates (time partitions read through {', '.join(aliases.values())})")
    return import_saved_objects(kibana, config.elasticsearch.index_prefix) if kibana else None
