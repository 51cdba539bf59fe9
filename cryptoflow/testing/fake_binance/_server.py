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

from aiohttp import WSMsgType, web

from cryptoflow.errors import CryptoflowError
from cryptoflow.testing.fake_binance._account import FuturesAccount
from cryptoflow.testing.fake_binance._auth import API_KEY, API_SECRET, check_signed, parse_params
from cryptoflow.testing.fake_binance._desk import OrderDesk
from cryptoflow.testing.fake_binance._errors import BinanceError
from cryptoflow.testing.fake_binance._market import KlineState, ReplayMarket
from cryptoflow.testing.fake_binance._public import PublicApi
from cryptoflow.testing.fake_binance._spot import SpotAccount
from cryptoflow.testing.fake_binance._user_stream import UserStreams

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

    Its parts: :attr:`account` (the futures wallet and positions, :class:`FuturesAccount`), :attr:`desk`
    (futures orders and their matching, :class:`OrderDesk`; ``desk.volume_share`` sets the LIMIT partial
    fills), :attr:`spot` (the spot account), :attr:`user_streams` (listen keys and user-stream sockets).

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
        self.desk = OrderDesk(self.account)
        self.spot = SpotAccount(market)
        self.public = PublicApi(market)
        self.user_streams = UserStreams(self.account, api_key)
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
        self._public_routes(r)
        self._account_routes(r)
        for path in (
            "/ws",
            "/ws/{stream}",
            "/stream",
            "/market/ws/{stream}",
            "/market/stream",
            "/market/ws",
            "/private/ws",
            "/private/ws/{stream}",
        ):
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
        """Close every websocket connection abruptly (market streams and user data streams), as a network
        failure would (thread-safe)."""

        def drop() -> None:
            for sub in list(self.subscribers):
                transport = sub.ws._req.transport if sub.ws._req is not None else None
                if transport is not None:
                    transport.abort()
            self.subscribers.clear()
            self.user_streams.drop()

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
                    try:
                        self.desk.on_kline(state)
                        self.spot.on_kline(state)
                    except Exception:  # a fault in matching must not stop the replay every client waits on
                        log.exception("fake exchange: matching %s failed", state.symbol)
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

    def _signed(self, answer: Callable[[dict[str, str]], object]) -> Handler:
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
            return web.json_response(answer(params))

        return wrapped

    # ---- public REST -------------------------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    def _public(self, answer: Callable[[web.Request], object]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(answer(request))

        return handler

    def _public_routes(self, r: web.UrlDispatcher) -> None:
        api = self.public

        def futures(request: web.Request) -> bool:
            return request.path.startswith("/fapi")

        for prefix in ("/api/v3", "/fapi/v1"):
            r.add_get(f"{prefix}/ping", self._ping)
            r.add_get(f"{prefix}/time", self._time)
            r.add_get(f"{prefix}/exchangeInfo", self._public(lambda q: api.exchange_info(futures=futures(q))))
            r.add_get(
                f"{prefix}/klines",
                self._public(lambda q: api.klines(q.query, futures=futures(q), continuous=False)),
            )
            r.add_get(
                f"{prefix}/ticker/24hr", self._public(lambda q: api.ticker_24h(q.query, futures=futures(q)))
            )
            r.add_get(
                f"{prefix}/ticker/price",
                self._public(lambda q: api.ticker_price(q.query, futures=futures(q))),
            )
        r.add_get("/fapi/v2/ticker/price", self._public(lambda q: api.ticker_price(q.query, futures=True)))
        r.add_get(
            "/fapi/v1/continuousKlines",
            self._public(lambda q: api.klines(q.query, futures=True, continuous=True)),
        )
        r.add_get("/fapi/v1/premiumIndex", self._public(lambda q: api.premium_index(q.query)))
        r.add_get("/fapi/v1/fundingRate", self._public(lambda q: api.funding_rate(q.query)))

    def _account_routes(self, r: web.UrlDispatcher) -> None:
        desk, account = self.desk, self.account
        signed: dict[tuple[str, str], Callable[[dict[str, str]], object]] = {
            ("POST", "/fapi/v1/order"): desk.new_order,
            ("GET", "/fapi/v1/order"): desk.query_order,
            ("DELETE", "/fapi/v1/order"): desk.cancel_order,
            ("GET", "/fapi/v1/openOrders"): desk.open_orders,
            ("GET", "/fapi/v1/allOrders"): desk.all_orders,
            ("DELETE", "/fapi/v1/allOpenOrders"): desk.cancel_all,
            ("POST", "/fapi/v1/algoOrder"): desk.new_algo_order,
            ("GET", "/fapi/v1/algoOrder"): desk.query_algo,
            ("DELETE", "/fapi/v1/algoOrder"): desk.cancel_algo,
            ("GET", "/fapi/v1/openAlgoOrders"): desk.open_algos,
            ("GET", "/fapi/v1/allAlgoOrders"): desk.all_algos,
            ("DELETE", "/fapi/v1/algoOpenOrders"): desk.cancel_all_algos,
            ("GET", "/fapi/v1/userTrades"): account.user_trades,
            ("POST", "/fapi/v1/leverage"): account.leverage,
            ("POST", "/fapi/v1/marginType"): account.margin_type,
            ("GET", "/fapi/v1/leverageBracket"): account.leverage_bracket,
            ("GET", "/fapi/v1/commissionRate"): account.commission_rate,
            ("GET", "/fapi/v1/positionSide/dual"): lambda p: account.position_mode(p, change=False),
            ("POST", "/fapi/v1/positionSide/dual"): lambda p: account.position_mode(p, change=True),
        }
        for version in ("v2", "v3"):
            signed[("GET", f"/fapi/{version}/positionRisk")] = account.position_risk
            signed[("GET", f"/fapi/{version}/account")] = lambda p: account.account()
            signed[("GET", f"/fapi/{version}/balance")] = lambda p: account.balance()
        spot = self.spot
        signed |= {
            ("POST", "/api/v3/order"): spot.new_order,
            ("GET", "/api/v3/order"): spot.query_order,
            ("DELETE", "/api/v3/order"): spot.cancel_order,
            ("GET", "/api/v3/openOrders"): spot.open_orders,
            ("GET", "/api/v3/myTrades"): spot.my_trades,
            ("GET", "/api/v3/account"): lambda p: spot.account(),
            ("GET", "/sapi/v1/margin/isolated/allPairs"): lambda p: [],  # no margin trading
        }
        r.add_get("/sapi/v1/margin/allPairs", self._public(lambda q: []))
        for (method, path), answer in signed.items():
            r.add_route(method, path, self._signed(answer))
        r.add_route("*", "/fapi/v1/listenKey", self.user_streams.listen_key_endpoint)

    # ---- websockets --------------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("listenKey") or request.match_info.get("stream")
        if self.user_streams.knows(key):
            return await self.user_streams.serve(request)
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
