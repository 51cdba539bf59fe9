"""Binance answers HTTP 451 to servers in a restricted location (the United States, AWS US regions
included). The fake exchange's switch answers exactly as Binance does; the market-data source, the
download, the broker and ``cryptoflow indicators`` stop at once with one clear message instead of retrying
forever in silence."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from urllib import error, request

import pytest
import websockets

from cryptoflow.binance import (
    BinanceEndpoints,
    BinanceFuturesBroker,
    KlineSource,
    SourceOptions,
    download_candles,
)
from cryptoflow.brokers import TradingConfig
from cryptoflow.errors import RestrictedLocation
from cryptoflow.testing.fake_binance import API_KEY, API_SECRET, FakeExchange, replay_exchange

# Binance's own answer, as python-binance users and ccxt report it (status 451, code 0, this message)
BINANCE_MESSAGE = (
    "Service unavailable from a restricted location according to 'b. Eligibility' in "
    "https://www.binance.com/en/terms. Please contact customer service if you believe you received this "
    "message in error."
)
CLEAR_MESSAGE = "Binance refuses this server's region (HTTP 451"
CONSOLE_SCRIPT = Path(sys.executable).with_name("cryptoflow")


@pytest.fixture
def restricted(shared_data: Path) -> FakeExchange:
    exchange = replay_exchange(shared_data, history=60, limit=40, speed=20)
    exchange.restrict_location()
    yield exchange
    exchange.stop_thread()


def _source(exchange: FakeExchange) -> KlineSource:
    return KlineSource(
        list(exchange.market.symbols),
        exchange.market.interval,
        endpoints=BinanceEndpoints(exchange.base_url, exchange.stream_url),
        options=SourceOptions(warmup_candles=20, backoff_initial_s=0.05, backoff_max_s=0.2),
    )


def test_the_switch_answers_as_binance_does(restricted: FakeExchange) -> None:
    for path in ("/fapi/v1/time", "/api/v3/klines?symbol=ETHUSDT&interval=5m", "/fapi/v2/account"):
        with pytest.raises(error.HTTPError) as refused:
            request.urlopen(restricted.base_url + path, timeout=10)  # noqa: S310 - loopback
        assert refused.value.code == 451
        assert refused.value.headers["Content-Type"].startswith("application/json")
        body = refused.value.read().decode()
        assert body.startswith('{\n  "code": 0,')  # pretty-printed, as Binance sends it
        assert json.loads(body) == {"code": 0, "msg": BINANCE_MESSAGE}

    async def handshake() -> int:
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            async with websockets.connect(restricted.stream_url + "ws/ethusdt@kline_5m"):
                pass
        return refused.value.response.status_code

    assert asyncio.run(handshake()) == 451
    answer = request.urlopen(  # noqa: S310 - loopback
        request.Request(restricted.base_url + "/_fake/restrict?on=0", method="POST"), timeout=10
    )
    assert json.load(answer) == {"restricted": False}
    assert "serverTime" in json.load(request.urlopen(restricted.base_url + "/fapi/v1/time", timeout=10))  # noqa: S310


def test_the_source_stops_at_once_when_binance_refuses_the_region(restricted: FakeExchange) -> None:
    async def first_event() -> None:
        async for _ in _source(restricted).events():
            raise AssertionError("no event can come from a restricted location")

    with pytest.raises(RestrictedLocation) as stopped:
        asyncio.run(asyncio.wait_for(first_event(), 30))  # retrying forever would time out
    assert str(stopped.value).startswith(CLEAR_MESSAGE)
    assert "from its REST API" in str(stopped.value)
    assert "run cryptoflow in a region Binance serves" in str(stopped.value)


def test_a_refusal_met_on_reconnecting_stops_the_stream(shared_data: Path) -> None:
    """The region is refused while streaming (as after moving the server): the websocket handshake of the
    reconnect answers 451, and the source stops instead of reconnecting forever."""
    exchange = replay_exchange(shared_data, history=60, limit=200, speed=20)
    events = []

    async def start_when_subscribed() -> None:
        while not exchange.subscribers:
            await asyncio.sleep(0.01)
        exchange.start_replay()

    async def stream() -> None:
        starter = asyncio.create_task(start_when_subscribed())
        try:
            async for event in _source(exchange).events():
                events.append(event)
                live = {e.candle.symbol for e in events if e.kind == "live"}
                if live == set(exchange.market.symbols) and not exchange.restricted:  # all warmed up
                    exchange.restrict_location()
                    exchange.drop_connections()
        finally:
            starter.cancel()

    try:
        with pytest.raises(RestrictedLocation) as stopped:
            asyncio.run(asyncio.wait_for(stream(), 30))
    finally:
        exchange.stop_thread()
    assert any(e.kind == "live" for e in events)
    assert "from its websocket" in str(stopped.value)


def test_the_download_does_not_retry_a_refused_region(restricted: FakeExchange, tmp_path: Path) -> None:
    pauses: list[float] = []
    with pytest.raises(RestrictedLocation) as stopped:
        download_candles(
            "ETHUSDT",
            "5m",
            1_754_006_400_000,
            1_754_092_800_000,
            tmp_path / "eth.csv",
            market="futures",
            base_url=restricted.base_url,
            sleep=pauses.append,
        )
    assert str(stopped.value).startswith(CLEAR_MESSAGE)
    assert pauses == []  # not one retry


def test_the_broker_stops_on_a_refused_region(restricted: FakeExchange, tmp_path: Path) -> None:
    broker = BinanceFuturesBroker(
        TradingConfig(cash=1000.0),
        tmp_path / "state.json",
        mode="testnet",
        endpoints=BinanceEndpoints(restricted.base_url, restricted.stream_url),
        api_key=API_KEY,
        api_secret=API_SECRET,
    )
    with pytest.raises(RestrictedLocation):
        asyncio.run(asyncio.wait_for(broker.start(["ETHUSDT"]), 30))


@pytest.mark.parametrize(
    "command",
    [
        ["indicators", "--symbols", "ETHUSDT,BTCUSDT", "--interval", "5m", "--no-kafka"],
        [
            "data",
            "download",
            "--symbol",
            "ETHUSDT",
            "--interval",
            "5m",
            "--start",
            "2025-08-01",
            "--end",
            "2025-08-02",
            "--out",
            "{tmp}/eth.csv",
        ],
    ],  # fmt: skip
    ids=["indicators", "data-download"],
)
def test_the_cli_says_why_and_exits_1(restricted: FakeExchange, tmp_path: Path, command: list[str]) -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), *(word.format(tmp=tmp_path) for word in command)],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "CRYPTOFLOW_BINANCE__BASE_URL": restricted.base_url,
            "CRYPTOFLOW_BINANCE__STREAM_URL": restricted.stream_url,
        },
        capture_output=True,
        text=True,
        timeout=60,  # the old source retried forever
    )
    assert result.returncode == 1, result.stderr
    assert f"error: {CLEAR_MESSAGE}" in result.stderr
    assert result.stderr.count("HTTP 451") == 1
    assert "Traceback" not in result.stderr
    assert "retrying" not in result.stderr and "reconnecting" not in result.stderr
