"""The envelope every saved object shares, and the data views (one per index kind).

Ids are stable (``cryptoflow-dv-<kind>``, ``cryptoflow-lens-<slug>``, ``cryptoflow-<dashboard>``):
renaming one orphans what users saved on top of it.
"""

from __future__ import annotations

from typing import Any

from cryptoflow.events import EVENT_INDICES

__all__ = ["DATA_VIEW_IDS", "DEFAULT_PREFIX", "KINDS", "data_view", "saved_object"]

DEFAULT_PREFIX = "cryptoflow"
# the index kinds (``cryptoflow.elastic.INDEX_KINDS``), read from the event vocabulary so that the Kibana
# import does not load the Elasticsearch client
KINDS: tuple[str, ...] = tuple(EVENT_INDICES.values())
DATA_VIEW_IDS = {kind: f"cryptoflow-dv-{kind}" for kind in KINDS}
"""Stable ids of the data views, by index kind."""

_CORE_VERSION = "8.9.0"
_TYPE_VERSIONS = {"index-pattern": "8.0.0", "lens": "8.9.0", "search": "8.0.0", "dashboard": "8.9.0"}


def saved_object(
    kind: str, oid: str, attributes: dict[str, Any], references: list[dict[str, str]]
) -> dict[str, Any]:
    """A saved object of type ``kind`` as Kibana 8.9 exports it."""
    return {
        "type": kind,
        "id": oid,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": _CORE_VERSION,
        "typeMigrationVersion": _TYPE_VERSIONS[kind],
        "managed": False,
    }


def data_view(kind: str) -> dict[str, Any]:
    """The data view of the ``<prefix>-<kind>`` indices (the default prefix; see ``with_index_prefix``)."""
    title = f"{DEFAULT_PREFIX}-{kind}"
    return saved_object(
        "index-pattern",
        DATA_VIEW_IDS[kind],
        {"title": title, "name": f"cryptoflow {kind}", "timeFieldName": "@timestamp", "allowHidden": False},
        [],
    )
