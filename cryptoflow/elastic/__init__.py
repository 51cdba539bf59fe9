"""Elasticsearch: a client from settings, index templates, time partitions, retention and the bulk writer."""

from cryptoflow.elastic._client import describe_error, make_client, refusal, server_version
from cryptoflow.elastic._partitions import (
    GRANULARITIES,
    IndexRouter,
    partition_index,
    partition_span,
    partition_suffix,
)
from cryptoflow.elastic._retention import KindRule, Partition, RetentionReport, apply_retention
from cryptoflow.elastic._templates import (
    INDEX_KINDS,
    MANAGED_BY,
    index_alias,
    install_templates,
    template_body,
)
from cryptoflow.elastic._writer import BulkWriter, FlushResult, IndexBlocked, Rejection

__all__ = [
    "GRANULARITIES",
    "INDEX_KINDS",
    "MANAGED_BY",
    "BulkWriter",
    "FlushResult",
    "IndexBlocked",
    "IndexRouter",
    "KindRule",
    "Partition",
    "Rejection",
    "RetentionReport",
    "apply_retention",
    "describe_error",
    "index_alias",
    "install_templates",
    "make_client",
    "partition_index",
    "partition_span",
    "partition_suffix",
    "refusal",
    "server_version",
    "template_body",
]
