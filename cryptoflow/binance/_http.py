"""python-binance pointed at any Binance-compatible endpoint (Binance, its testnet, the fake exchange).

python-binance keeps its endpoints in class attributes (``API_URL``, ``FUTURES_URL``, ``STREAM_URL``,
``FSTREAM_URL`` and their ``*_TESTNET_URL`` twins) with no constructor argument. Rather than mutate the
library's classes for the whole process, we build subclasses whose only difference is those attributes.
This module is the one place that makes python-binance clients: asynchronous ones for live market data
and orders, a synchronous one for the history download.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from binance import AsyncClient, BinanceSocketManager, Client

from cryptoflow.errors import RestrictedLocation
from cryptoflow.retry import Backoff, retry_async

__all__ = [
    "TESTNET_FUTURES",
    "BinanceEndpoints",
    "binance_classes",
    "binance_client",
    "connect",
    "is_restricted_location",
    "open_client",
]

log = logging.getLogger(__name__)

RESTRICTED_LOCATION_STATUS = 451


@dataclass(frozen=True)
class BinanceEndpoints:
    """Where to reach an exchange: a REST base (``http(s)://host[:port]``, without ``/api``/``/fapi``)
    and a websocket base (``ws(s)://host[:port]/``). ``None`` keeps python-binance's own."""

    rest: str | None = None
    stream: str | None = None
    futures_stream: str | None = None

    @classmethod
    def from_settings(cls, binance: object) -> BinanceEndpoints:
        """From :class:`cryptoflow.config.BinanceSettings` (``base_url``, ``stream_url``)."""
        rest = getattr(binance, "base_url", None)
        stream = getattr(binance, "stream_url", None)
        return cls(rest, stream, stream)


def binance_classes(endpoints: BinanceEndpoints) -> tuple[type[AsyncClient], type[BinanceSocketManager]]:
    """``(AsyncClient subclass, BinanceSocketManager subclass)`` that talk to ``endpoints``.

    >>> Client, Sockets = binance_classes(BinanceEndpoints("http://127.0.0.1:9000", "ws://127.0.0.1:9000/"))
    >>> Client.FUTURES_URL
    'http://127.0.0.1:9000/fapi'
    """
    socket_attrs: dict[str, str] = {}
    if endpoints.stream:
        stream = endpoints.stream if endpoints.stream.endswith("/") else endpoints.stream + "/"
        socket_attrs.update(STREAM_URL=stream, STREAM_TESTNET_URL=stream)
    fstream = endpoints.futures_stream or endpoints.stream
    if fstream:
        fstream = fstream if fstream.endswith("/") else fstream + "/"
        socket_attrs.update(FSTREAM_URL=fstream, FSTREAM_TESTNET_URL=fstream)
    client = type("EndpointAsyncClient", (AsyncClient,), _rest_attributes(endpoints))
    sockets = type("EndpointSocketManager", (BinanceSocketManager,), socket_attrs)
    return client, sockets


def binance_client(endpoints: BinanceEndpoints | None = None) -> Client:
    """A synchronous python-binance ``Client`` for public market data (no keys, no ping at creation),
    talking to ``endpoints.rest`` (``<rest>/api`` spot, ``<rest>/fapi`` futures) or to Binance itself.

    >>> binance_client(BinanceEndpoints("http://127.0.0.1:9000")).FUTURES_URL
    'http://127.0.0.1:9000/fapi'
    """
    cls = type("EndpointClient", (Client,), _rest_attributes(endpoints or BinanceEndpoints()))
    return cls(None, None, ping=False)


def _rest_attributes(endpoints: BinanceEndpoints) -> dict[str, str]:
    if not endpoints.rest:
        return {}
    base = endpoints.rest.rstrip("/")
    return {
        "API_URL": f"{base}/api",
        "API_TESTNET_URL": f"{base}/api",
        "FUTURES_URL": f"{base}/fapi",
        "FUTURES_TESTNET_URL": f"{base}/fapi",
        "FUTURES_DATA_URL": f"{base}/futures/data",
        "FUTURES_DATA_TESTNET_URL": f"{base}/futures/data",
    }


def is_restricted_location(exc: BaseException) -> bool:
    """Whether ``exc`` is Binance refusing this server's region: HTTP 451 on a REST call
    (python-binance's ``BinanceAPIException``, ``requests``) or on a websocket handshake
    (``websockets``' ``InvalidStatus``)."""
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status == RESTRICTED_LOCATION_STATUS


async def open_client(
    client_cls: type[AsyncClient],
    market: str = "futures",
    api_key: str | None = None,
    api_secret: str | None = None,
) -> AsyncClient:
    """An ``AsyncClient`` whose clock offset comes from the market's own ``time`` endpoint.

    ``AsyncClient.create`` pings the spot API, which the futures testnet does not serve; this pings the
    API of ``market`` instead. Network errors propagate (callers retry); the session is closed on failure.
    """
    client = client_cls(api_key, api_secret)
    try:
        answer = await (client.futures_time() if market == "futures" else client.get_server_time())
        client.timestamp_offset = int(answer["serverTime"]) - int(time.time() * 1000)
    except BaseException:
        await client.close_connection()
        raise
    return client


async def connect(client_cls: type[AsyncClient], market: str, backoff: Backoff | None = None) -> AsyncClient:
    """:func:`open_client` (public data, no keys), retried until it succeeds: network errors of every
    kind are retried with ``backoff`` (default 0.5 s doubling to 30 s, jittered), each logged as one
    warning line. HTTP 451 raises :class:`~cryptoflow.errors.RestrictedLocation` at once: no retry can
    change Binance's refusal to serve this server's region.
    """

    async def attempt() -> AsyncClient:
        try:
            return await open_client(client_cls, market)
        except Exception as exc:
            if is_restricted_location(exc):
                raise RestrictedLocation("REST API") from None
            raise

    def tell(exc: BaseException, delay: float) -> None:
        log.warning("exchange REST unreachable (%s: %s); retrying in %.1f s", type(exc).__name__, exc, delay)

    return await retry_async(
        attempt,
        backoff=backoff or Backoff(0.5, 30.0),
        retry_on=Exception,  # python-binance, aiohttp and the OS raise many types: never give up on them
        fatal=RestrictedLocation,
        on_retry=tell,
    )


TESTNET_FUTURES = BinanceEndpoints("https://testnet.binancefuture.com", "wss://fstream.binancefuture.com/")
"""Binance's USD-M futures testnet."""
