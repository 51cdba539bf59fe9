"""Preparing a stack (the local one or ``docker/``'s) for cryptoflow: Kafka topics, Elasticsearch index
templates, Kibana saved objects. Safe to run again; it never deletes anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cryptoflow.config import Settings, register_secret
from cryptoflow.errors import CryptoflowError

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from cryptoflow.kibana import KibanaImport, KibanaTarget

__all__ = ["setup_stack"]


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
    if kibana is None:
        return None
    from cryptoflow.kibana import import_saved_objects

    return import_saved_objects(kibana, config.elasticsearch.index_prefix)
