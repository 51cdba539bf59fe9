"""A fake exchange over two real 5m files, served from a background thread, and two ways to talk to it:
python-binance (``binance``) and plain signed HTTP (``http``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from cryptoflow.binance import BinanceEndpoints, binance_classes
from cryptoflow.testing.fake_binance import API_KEY, API_SECRET, FakeExchange, replay_exchange, sign


@pytest.fixture
def exchange(shared_data: Path) -> Iterator[FakeExchange]:
    ex = replay_exchange(shared_data)
    yield ex
    ex.stop_thread()


@pytest.fixture
def binance(exchange: FakeExchange) -> Callable[[Callable[[Any], Any]], Any]:
    """``binance(lambda client: client.futures_ping())``: run a coroutine on python-binance's
    AsyncClient pointed at the fake exchange (with the fake's credentials unless given), return its result."""

    def call(body: Callable[[Any], Any], *, key: str = API_KEY, secret: str = API_SECRET) -> Any:
        async def main() -> Any:
            client_cls, _ = binance_classes(BinanceEndpoints(exchange.base_url, exchange.stream_url))
            client = await client_cls.create(key, secret)
            try:
                return await body(client)
            finally:
                await client.close_connection()

        return asyncio.run(main())

    return call


@pytest.fixture
def http(exchange: FakeExchange) -> Callable[..., tuple[int, Any]]:
    """``http("POST", "/fapi/v1/order", symbol=..., signed=True)``: one plain HTTP request (signed with
    the fake's secret and sent with its key when ``signed``), answering ``(status, json)``."""
    return _http_to(exchange)


@pytest.fixture
def http_for() -> Callable[[FakeExchange], Callable[..., tuple[int, Any]]]:
    """``http_for(exchange)``: the ``http`` caller of an exchange a test built itself."""
    return _http_to


def _http_to(exchange: FakeExchange) -> Callable[..., tuple[int, Any]]:
    def call(method: str, path: str, *, signed: bool = False, key: str | None = None, **params: Any) -> Any:
        headers = {}
        if signed:
            params["timestamp"] = int(time.time() * 1000)
        query = urlencode(params)
        if signed:
            query += f"&signature={sign(API_SECRET, query)}"
        if signed or key:
            headers["X-MBX-APIKEY"] = key or API_KEY
        response = requests.request(method, f"{exchange.base_url}{path}?{query}", headers=headers, timeout=10)
        return response.status_code, response.json()

    return call
