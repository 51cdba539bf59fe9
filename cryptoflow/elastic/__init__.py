"""Elasticsearch: a client from settings, what the server supports, index templates and the bulk writer."""

from cryptoflow.elastic._client import describe_error, make_client, server_version
from cryptoflow.elastic._templates import INDEX_KINDS, index_alias, install_templates, template_body
from cryptoflow.elastic._writer import BulkWriter, FlushResult, Rejection

__all__ = [
    "INDEX_KINDS",
    "BulkWriter",
    "FlushResult",
    "Rejection",
    "describe_error",
    "index_alias",
    "install_templates",
    "make_client",
    "server_version",
    "template_body",
]
