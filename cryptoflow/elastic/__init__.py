"""Elasticsearch: a client from settings and what the server supports."""

from cryptoflow.elastic._client import make_client, server_version

__all__ = ["make_client", "server_version"]
