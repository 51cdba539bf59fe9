"""An Elasticsearch client from settings, and what the server can do."""

from __future__ import annotations

from elastic_transport.client_utils import DEFAULT
from elasticsearch import ApiError, Elasticsearch, TransportError

from cryptoflow.config import ElasticsearchSettings, mask_credentials
from cryptoflow.errors import ConfigurationError


def make_client(settings: ElasticsearchSettings) -> Elasticsearch:
    """A client for the configured hosts or Elastic Cloud deployment, with API key or basic auth."""
    basic_auth = None
    if not settings.api_key and settings.username and settings.password:
        basic_auth = (settings.username, settings.password.get_secret_value())
    return Elasticsearch(
        hosts=None if settings.cloud_id else settings.host_list,
        cloud_id=settings.cloud_id.get_secret_value() if settings.cloud_id else None,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        basic_auth=basic_auth,
        ca_certs=str(settings.ca_certs) if settings.ca_certs else DEFAULT,
        verify_certs=DEFAULT if settings.verify_certs else False,
        request_timeout=settings.request_timeout_s,
    )


def server_version(client: Elasticsearch) -> str:
    """The server's version. Uses the nodes API: ``GET /`` (``client.info()``) is absent from the minimal
    distribution the local stack runs."""
    nodes = client.nodes.info(node_id="_local", filter_path="nodes.*.version")
    return next(iter(nodes["nodes"].values()))["version"]


def describe_error(exc: BaseException) -> str:
    """One line saying why a request failed, credentials masked: the reason of a connection failure
    (``HTTPConnection(host='es', port=9200): Failed to establish a new connection: [Errno 111] Connection
    refused``) rather than the client's nested wrapping of it, or Elasticsearch's status and error type."""
    if isinstance(exc, ApiError):
        text = f"HTTP {exc.status_code}: {exc.message}"
    elif isinstance(exc, TransportError) and isinstance(exc.message, str) and exc.message:
        text = exc.message
    else:
        text = f"{type(exc).__name__}: {exc}"
    return mask_credentials(text)


def refusal(exc: ApiError, what: str, may: str) -> ConfigurationError | None:
    """For a 401 or 403 answer, the error telling the user to check the credentials and that the user
    may ``may`` (``"manage index templates"``); ``None`` for any other answer. ``what`` names the refused
    request (``"the bulk request"``)."""
    if exc.status_code not in (401, 403):
        return None
    return ConfigurationError(
        f"Elasticsearch refused {what} ({exc.status_code}): check the CRYPTOFLOW_ELASTICSEARCH__* "
        f"credentials and that the user may {may}"
    )
