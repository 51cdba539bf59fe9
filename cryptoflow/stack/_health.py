"""Health checks of a stack's services, for container healthchecks: does Kafka answer, is Elasticsearch's
cluster usable, does a URL answer 2xx."""

from __future__ import annotations

from collections.abc import Sequence
from urllib import error as urlerror
from urllib import request as urlrequest

from cryptoflow.config import ElasticsearchSettings, KafkaSettings
from cryptoflow.errors import TemporaryError

__all__ = ["check_health"]


def _kafka(config: KafkaSettings, timeout_s: float) -> str | None:
    from cryptoflow.kafka import ping

    try:  # a wrong password or an untrusted certificate is a ConfigurationError: not caught here
        ping(config, timeout_s=timeout_s)
    except TemporaryError as exc:
        return f"kafka: {exc}"
    return None


def _elasticsearch(config: ElasticsearchSettings, timeout_s: float) -> str | None:
    from elasticsearch import ApiError, TransportError

    from cryptoflow.elastic import describe_error, make_client

    where = "Elastic Cloud" if config.cloud_id else ", ".join(config.host_list)
    # one attempt, bounded by the timeout: the client's own retries would multiply it
    client = make_client(config).options(request_timeout=timeout_s, max_retries=0)
    try:
        answer = client.cluster.health(timeout=f"{max(1, int(timeout_s))}s")
    except (ApiError, TransportError) as exc:  # refused, timed out, unauthorised...: the healthcheck's answer
        return f"elasticsearch at {where}: {describe_error(exc)}"
    if answer["status"] == "red":
        return f"elasticsearch at {where}: cluster status red"
    return None


def _url(address: str, timeout_s: float) -> str | None:
    try:
        with urlrequest.urlopen(address, timeout=timeout_s) as response:  # noqa: S310 - the operator's URL
            if not 200 <= response.status < 300:
                return f"{address}: HTTP {response.status}"
    except (urlerror.URLError, OSError, ValueError) as exc:
        return f"{address}: {getattr(exc, 'reason', exc)}"
    return None


def check_health(
    *,
    kafka: KafkaSettings | None = None,
    elasticsearch: ElasticsearchSettings | None = None,
    urls: Sequence[str] = (),
    timeout_s: float = 10.0,
) -> list[str]:
    """Check each service given (Kafka answers a metadata request, Elasticsearch's cluster is yellow or
    green, each URL answers 2xx), each within ``timeout_s``; return what failed, one line each (empty:
    healthy). Credentials are not masked here: print through :func:`~cryptoflow.config.mask_credentials`."""
    failures = [
        _kafka(kafka, timeout_s) if kafka is not None else None,
        _elasticsearch(elasticsearch, timeout_s) if elasticsearch is not None else None,
        *(_url(address, timeout_s) for address in urls),
    ]
    return [failure for failure in failures if failure is not None]
