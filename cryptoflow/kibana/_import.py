"""Importing the saved objects into a Kibana (``cryptoflow dashboards import``, ``cryptoflow setup``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptoflow.config import register_secret
from cryptoflow.kibana._client import ImportResult, KibanaAuth, KibanaClient
from cryptoflow.kibana._dashboards import with_index_prefix
from cryptoflow.kibana._files import default_objects_dir, read_objects

__all__ = ["KibanaImport", "KibanaTarget", "import_saved_objects"]


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
    register_secret(target.api_key)
    register_secret(target.password)
    auth = KibanaAuth(api_key=target.api_key or None, user=target.user, password=target.password)
    client = KibanaClient(target.url, auth, target.space)
    objects = with_index_prefix(read_objects(target.objects_dir or default_objects_dir()), index_prefix)
    if target.wait_s > 0:
        client.wait_ready(target.wait_s)
    return KibanaImport(client.url, target.space, client.import_objects(objects))
