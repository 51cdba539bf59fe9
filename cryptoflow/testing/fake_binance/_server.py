"""The fake exchange's HTTP and websocket server (aiohttp), its replay clock and its fault switches."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from cryptoflow.errors import CryptoflowError
from cryptoflow.testing.fake_binance._account import BinanceError, FuturesAccount
from cryptoflow.testing.fake_binance._auth import API_KEY, API_SECRET, check_signed, parse_params
from cryptoflow.testing.fake_binance._market import KlineState, ReplayMarket

__all__ = ["FakeExchange", "Subscriber"]

log = logging.getLogger(__name__)

_KLINE = re.compile(r"^([a-z0-9]+)@kline_([0-9]+[smhdwM])$")
_CONTINUOUS = re.compile(r"^([a-z0-9]+)_perpetual@continuouskline_([0-9]+[smhdwM])$", re.IGNORECASE)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What Binance answers to every request from a restricted location (the United States among them): HTTP 451,
# this JSON (pretty-printed, as Binance sends it) on REST, an empty 451 on a websocket handshake.
RESTRICTED_LOCATION_BODY = (
    '{\n  "code": 0,\n  "msg": "Service unavailable from a restricted location according to '
    "'b. Eligibility' in https://www.binance.com/en/terms. Please contact customer service if you "
    'believe you received this message in error."\n}'
)


@dataclass(eq=False)
class Subscriber:
    """One websocket connection and the streams it receives."""

    ws: web.WebSocketResponse
    combined: bool
    streams: set[str] = field(default_factory=set)

    def wants(self, symbol: str, interval: str) -> list[tuple[str, bool]]:
        """Stream names (and whether continuous) this connection gets a kline of ``symbol`` on."""
        out = []
        low = symbol.lower()
        for name in self.streams:
            if name == f"{low}@kline_{interval}":
                out.append((name, False))
            elif name.lower() == f"{low}_perpetual@continuouskline_{interval}".lower():
                out.append((name, True))
        return out


def exchange_environment(host: str, port: int) -> dict[str, str]:
    """The settings (environment variables) that point a ``cryptoflow`` process at a fake exchange
    serving on ``host:port`` (in this process: :meth:`FakeExchange.client_environment`; or a child
    running ``cryptoflow exchange serve``)."""
    return {
        "CRYPTOFLOW_BINANCE__BASE_URL": f"http://{host}:{port}",
        "CRYPTOFLOW_BINANCE__STREAM_URL": f"ws://{host}:{port}/",
    }


class FakeExchange:
    """A local Binance: REST (spot ``/api/v3`` and USD-M futures ``/fapi``) and kline websockets that
    replay real candles, with Binance's signature checks and error shapes.

    ``speed`` is candles per second (``None`` = as fast as the clients read). With
    ``lockstep_timeout_s`` the clock waits after each close until :meth:`release` is called (or the
    timeout passes), so a test can make orders meet the price they were decided on. The replay starts with
    :meth:`start_replay` (or at once with ``autostart``). Faults for tests: :meth:`drop_connections`,
    :meth:`silence`, :meth:`restrict_location`, ``account.reject_next_orders``.

    >>> exchange = FakeExchange(ReplayMarket.from_files(["ETHUSDT_5m.csv"]))  # doctest: +SKIP
    >>> exchange.start_in_thread(); exchange.start_replay()                     # doctest: +SKIP
    """

    def __init__(
        self,
        market: ReplayMarket,
        *,
        speed: float | None = None,
        api_key: str = API_KEY,
        api_secret: str = API_SECRET,
        host: str = "127.0.0.1",
        port: int = 0,
        autostart: bool = False,
        fill_at: str = "last",
        lockstep_timeout_s: float | None = None,
    ) -> None:
        self.market = market
        self.account = FuturesAccount(market, fill_at=fill_at)
        self.speed = speed
        self.api_key = api_key
        self._secret = api_secret
        self.host = host
        self.port = port
        self.autostart = autostart
        self.subscribers: list[Subscriber] = []
        self.connections_total = 0
        self.silent_until = 0.0
        self.restricted = False
        self.replay_done: asyncio.Event | None = None
        self._started: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._clock: asyncio.Task[None] | None = None
        self.lockstep_timeout_s = lockstep_timeout_s
        self._release: asyncio.Event | None = None

    # ---- URLs --------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return exchange_environment(self.host, self.port)["CRYPTOFLOW_BINANCE__BASE_URL"]

    @property
    def stream_url(self) -> str:
        """``ws://host:port/`` (python-binance appends ``ws/…`` or ``stream?streams=…``)."""
        return exchange_environment(self.host, self.port)["CRYPTOFLOW_BINANCE__STREAM_URL"]

    def client_environment(self, *, credentials: bool = False) -> dict[str, str]:
        """The settings (environment variables) of a ``cryptoflow`` process that reaches this exchange: its
        URLs, and with ``credentials`` its API key and secret (for the testnet broker)."""
        env = exchange_environment(self.host, self.port)
        if credentials:
            env |= {
                "CRYPTOFLOW_BINANCE__API_KEY": self.api_key,
                "CRYPTOFLOW_BINANCE__API_SECRET": self._secret,
            }
        return env

    # ---- lifecycle ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (routes for REST, websockets and the ``/_fake`` control API)."""
        app = web.Application(middlewares=[self._errors])
        r = app.router
        for prefix in ("/api/v3", "/fapi/v1"):
            r.add_get(f"{prefix}/ping", self._ping)
            r.add_get(f"{prefix}/time", self._time)
            r.add_get(f"{prefix}/exchangeInfo", self._exchange_info)
            r.add_get(f"{prefix}/klines", self._klines)
        r.add_get("/fapi/v1/continuousKlines", self._klines)
        r.add_route("*", "/fapi/v1/order", self._signed(self._order))
        r.add_get("/fapi/v1/openOrders", self._signed(self._open_orders))
        r.add_get("/fapi/v1/userTrades", self._signed(self._user_trades))
        r.add_post("/fapi/v1/leverage", self._signed(self._leverage))
        r.add_post("/fapi/v1/marginType", self._signed(self._margin_type))
        for version in ("v2", "v3"):
            r.add_get(f"/fapi/{version}/positionRisk", self._signed(self._position_risk))
            r.add_get(f"/fapi/{version}/account", self._signed(self._account))
            r.add_get(f"/fapi/{version}/balance", self._signed(self._balance))
        for path in ("/ws", "/ws/{stream}", "/stream", "/market/ws/{stream}", "/market/stream", "/market/ws"):
            r.add_get(path, self._websocket)
        r.add_post("/_fake/drop", self._control_drop)
        r.add_post("/_fake/silence", self._control_silence)
        r.add_post("/_fake/reject", self._control_reject)
        r.add_post("/_fake/restrict", self._control_restrict)
        r.add_post("/_fake/start", self._control_start)
        r.add_get("/_fake/state", self._control_state)
        return app

    async def start(self) -> None:
        """Serve on ``host:port`` in the running loop (port 0 picks a free one, see :attr:`port`)."""
        self._loop = asyncio.get_running_loop()
        self.replay_done = asyncio.Event()
        self._started = asyncio.Event()
        self._release = asyncio.Event()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise CryptoflowError(
                f"the fake exchange cannot listen on {self.host}:{self.port}: {exc.strerror}; choose another "
                "--port or --host, or stop what uses it"
            ) from None
        addresses = self._runner.addresses  # the one site's sockets
        if addresses:
            self.port = addresses[0][1]
        self._clock = asyncio.create_task(self._run_clock())
        if self.autostart:
            self._started.set()
        log.info(
            "fake exchange on %s (%d symbols, %s)",
            self.base_url,
            len(self.market.symbols),
            self.market.interval,
        )

    async def stop(self) -> None:
        """Close every connection and stop serving."""
        if self._clock is not None:
            self._clock.cancel()
        for sub in list(self.subscribers):  # abort: a graceful close waits for the peer (up to 10 s each)
            transport = sub.ws._req.transport if sub.ws._req is not None else None
            if transport is not None:
                transport.abort()
        self.subscribers.clear()
        if self._runner is not None:
            await self._runner.cleanup()

    def start_in_thread(self) -> FakeExchange:
        """Serve from a background thread with its own event loop (for synchronous callers)."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-exchange", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop_thread(self) -> None:
        """Stop a server started with :meth:`start_in_thread`."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def _call(self, fn: Callable[[], object]) -> None:
        if self._loop is None:
            raise RuntimeError("the fake exchange is not running")
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._loop.call_soon_threadsafe(fn)
        else:
            fn()

    def start_replay(self) -> None:
        """Start the clock (thread-safe)."""
        self._call(lambda: self._started.set() if self._started else None)

    def release(self) -> None:
        """Lockstep mode: let the clock go on after the candle that just closed (thread-safe)."""
        self._call(lambda: self._release.set() if self._release else None)

    def drop_connections(self) -> None:
        """Close every websocket connection abruptly, as a network failure would (thread-safe)."""

        def drop() -> None:
            for sub in list(self.subscribers):
                transport = sub.ws._req.transport if sub.ws._req is not None else None
                if transport is not None:
                    transport.abort()
            self.subscribers.clear()

        self._call(drop)

    def silence(self, seconds: float) -> None:
        """Keep connections open but send nothing for ``seconds`` (the replay goes on; thread-safe)."""
        self.silent_until = time.monotonic() + seconds

    def restrict_location(self, restricted: bool = True) -> None:
        """Answer every REST request and websocket handshake as Binance answers a restricted location
        (HTTP 451), or stop doing so; open connections stay open (thread-safe)."""
        self.restricted = restricted

    def wait_done(self, timeout: float = 60.0) -> bool:
        """Block until the replay has sent its last candle (for threaded use)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.replay_done is not None and self.replay_done.is_set():
                return True
            time.sleep(0.02)
        return False

    # ---- clock -------------------------------------------------------------------------------------

    async def _run_clock(self) -> None:
        assert self._started is not None and self.replay_done is not None
        await self._started.wait()
        per_batch = 0.0 if not self.speed else 1.0 / (self.speed * (self.market.updates_per_candle + 1))
        next_at = time.monotonic()
        while not self.market.finished:
            for batch in self.market.step():
                for state in batch:
                    self.account.on_kline(state)
                await self._broadcast(batch)
                if self.lockstep_timeout_s and batch and batch[0].is_closed and self._release is not None:
                    # lockstep (tests): wait until the client decided on this close, or the timeout
                    try:
                        await asyncio.wait_for(self._release.wait(), self.lockstep_timeout_s)
                    except TimeoutError:
                        log.debug("lockstep: no release within %.1f s", self.lockstep_timeout_s)
                    self._release.clear()
                    next_at = time.monotonic()
                if per_batch:
                    next_at += per_batch
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                else:
                    await asyncio.sleep(0)
        self.replay_done.set()
        log.info("fake exchange: replay finished")
        # Repeat the last closed klines (as Binance repeats a kline when nothing trades): a client that
        # reconnects after the end still gets a message, which tells it what to backfill.
        finals = [state for state in self.market.last_state.values() if state.is_closed]
        while finals:
            await asyncio.sleep(0.5)
            await self._broadcast(finals)

    async def _broadcast(self, batch: list[KlineState]) -> None:
        if time.monotonic() < self.silent_until:
            return
        interval = self.market.interval
        for sub in list(self.subscribers):
            for state in batch:
                for name, continuous in sub.wants(state.symbol, interval):
                    event = self.market.ws_event(state, continuous=continuous)
                    payload = {"stream": name, "data": event} if sub.combined else event
                    try:
                        await sub.ws.send_str(json.dumps(payload, separators=(",", ":")))
                    except (ConnectionError, RuntimeError):
                        if sub in self.subscribers:
                            self.subscribers.remove(sub)
                        break

    # ---- plumbing ----------------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.restricted and not request.path.startswith("/_fake/"):
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return web.Response(status=451)
            return web.Response(status=451, text=RESTRICTED_LOCATION_BODY, content_type="application/json")
        try:
            response = await handler(request)
        except BinanceError as exc:
            return web.json_response(exc.body(), status=exc.status)
        except web.HTTPNotFound:
            return web.json_response({"code": -1000, "msg": f"Unknown path {request.path}"}, status=404)
        response.headers["X-MBX-USED-WEIGHT-1M"] = "1"
        return response

    def _signed(self, handler: Callable[[web.Request, dict[str, str]], Awaitable[Any]]) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            body = await request.text() if request.can_read_body else ""
            query = request.rel_url.raw_query_string
            check_signed(
                api_key_header=request.headers.get("X-MBX-APIKEY"),
                api_key=self.api_key,
                secret=self._secret,
                query=query,
                body=body,
            )
            params = parse_params(query, body)
            params.pop("signature", None)
            return web.json_response(await handler(request, params))

        return wrapped

    # ---- public REST -------------------------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        futures = request.path.startswith("/fapi")
        symbols = []
        for symbol in self.market.symbols:
            rules = self.market.rules[symbol]
            price_filter = {
                "filterType": "PRICE_FILTER",
                "minPrice": rules.tick_size,
                "maxPrice": "1000000",
                "tickSize": rules.tick_size,
            }
            lot = {
                "filterType": "LOT_SIZE",
                "minQty": rules.step_size,
                "maxQty": "100000",
                "stepSize": rules.step_size,
            }
            base = {
                "symbol": symbol,
                "status": "TRADING",
                "baseAsset": rules.base_asset(),
                "quoteAsset": rules.quote_asset(),
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
            }
            if futures:
                base.update(
                    pair=symbol,
                    contractType="PERPETUAL",
                    marginAsset="USDT",
                    pricePrecision=rules.price_decimals,
                    quantityPrecision=rules.qty_decimals,
                    orderTypes=["LIMIT", "MARKET"],
                    timeInForce=["GTC", "IOC", "FOK", "GTX"],
                    filters=[
                        price_filter,
                        lot,
                        {**lot, "filterType": "MARKET_LOT_SIZE"},
                        {"filterType": "MIN_NOTIONAL", "notional": rules.min_notional},
                    ],
                )
            else:
                base.update(
                    quoteAssetPrecision=8,
                    orderTypes=["LIMIT", "MARKET"],
                    isSpotTradingAllowed=True,
                    permissions=["SPOT"],
                    filters=[
                        price_filter,
                        lot,
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": rules.min_notional,
                            "applyMinToMarket": True,
                            "maxNotional": "9000000",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],
                )
            symbols.append(base)
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": int(time.time() * 1000),
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400}
                ],
                "exchangeFilters": [],
                "symbols": symbols,
            }
        )

    async def _klines(self, request: web.Request) -> web.Response:
        q = request.query
        futures = request.path.startswith("/fapi")
        continuous = request.path.endswith("continuousKlines")
        symbol = (q.get("pair") if continuous else q.get("symbol")) or ""
        symbol = symbol.upper()
        if not symbol or "interval" not in q:
            name = "pair" if continuous else ("symbol" if not symbol else "interval")
            raise BinanceError(
                -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            )
        if symbol not in self.market.rules:
            raise BinanceError(-1121, "Invalid symbol.")
        if q["interval"] != self.market.interval:
            raise BinanceError(-1120, f"Invalid interval (the fake exchange replays {self.market.interval}).")
        try:
            limit = int(q.get("limit", 500))
            start = int(q["startTime"]) if "startTime" in q else None
            end = int(q["endTime"]) if "endTime" in q else None
        except ValueError:
            raise BinanceError(-1100, "Illegal characters found in a parameter.") from None
        top = 1500 if futures else 1000
        if not 1 <= limit <= top:
            limit = top if limit > top else 500
        states = self.market.klines(symbol, start_time=start, end_time=end, limit=limit)
        return web.json_response([self.market.rest_row(s) for s in states])

    # ---- signed REST (futures account) -------------------------------------------------------------

    async def _order(self, request: web.Request, params: dict[str, str]) -> Any:
        if request.method == "POST":
            return self.account.new_order(params)
        if request.method == "GET":
            return self.account.order_json(self.account.find_order(params))
        if request.method == "DELETE":
            return self.account.cancel_order(params)
        raise BinanceError(-1000, f"method {request.method} not supported", 405)

    async def _open_orders(self, request: web.Request, params: dict[str, str]) -> Any:
        return self.account.open_orders(params)

    async def _user_trades(self, request: web.Request, params: dict[str, str]) -> Any:
        return self.account.user_trades(params)

    async def _leverage(self, request: web.Request, params: dict[str, str]) -> Any:
        return self.account.leverage(params)

    async def _margin_type(self, request: web.Request, params: dict[str, str]) -> Any:
        return self.account.margin_type(params)

    async def _position_risk(self, request: web.Request, params: dict[str, str]) -> Any:
        return self.account.position_risk(params)

    async def _account(self, request: web.Request, params: dict[str, str]) -> Any:
        return self.account.account()

    async def _balance(self, request: web.Request, params: dict[str, str]) -> Any:
        return self.account.balance()

    # ---- websockets --------------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=1 << 20)
        await ws.prepare(request)
        combined = request.path.endswith("/stream")
        sub = Subscriber(ws, combined)
        raw = request.match_info.get("stream") or request.query.get("streams", "")
        for name in filter(None, raw.split("/")):
            if _KLINE.match(name) or _CONTINUOUS.match(name):
                sub.streams.add(name)
        self.subscribers.append(sub)
        self.connections_total += 1
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    command = json.loads(message.data)
                    method, names, ident = command["method"], command.get("params", []), command.get("id")
                except (ValueError, KeyError, TypeError):
                    await ws.send_str(json.dumps({"error": {"code": 3, "msg": "Invalid JSON"}}))
                    continue
                if method == "SUBSCRIBE":
                    sub.streams.update(n for n in names if _KLINE.match(n) or _CONTINUOUS.match(n))
                elif method == "UNSUBSCRIBE":
                    sub.streams.difference_update(names)
                elif method == "LIST_SUBSCRIPTIONS":
                    await ws.send_str(json.dumps({"result": sorted(sub.streams), "id": ident}))
                    continue
                await ws.send_str(json.dumps({"result": None, "id": ident}))
        finally:
            if sub in self.subscribers:
                self.subscribers.remove(sub)
        return ws

    # ---- control API (tests and demos) -------------------------------------------------------------

    async def _control_drop(self, request: web.Request) -> web.Response:
        self.drop_connections()
        return web.json_response({"dropped": True})

    async def _control_silence(self, request: web.Request) -> web.Response:
        seconds = float(request.query.get("seconds", "5"))
        self.silence(seconds)
        return web.json_response({"silent_for_s": seconds})

    async def _control_reject(self, request: web.Request) -> web.Response:
        q = request.query
        self.account.reject_next_orders(
            int(q.get("count", 1)), int(q.get("code", -2019)), q.get("msg", "Margin is insufficient.")
        )
        return web.json_response({"rejecting": len(self.account.rejections)})

    async def _control_restrict(self, request: web.Request) -> web.Response:
        restricted = request.query.get("on", "1") not in ("0", "false")
        self.restrict_location(restricted)
        return web.json_response({"restricted": restricted})

    async def _control_start(self, request: web.Request) -> web.Response:
        self.start_replay()
        return web.json_response({"started": True})

    async def _control_state(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "symbols": self.market.symbols,
                "interval": self.market.interval,
                "cursor": self.market.cursor,
                "candles": len(self.market.grid),
                "finished": self.market.finished,
                "subscribers": len(self.subscribers),
                "connections_total": self.connections_total,
            }
        )
