"""The futures user data stream: ``POST/PUT/DELETE /fapi/v1/listenKey`` and the websocket
``ws/<listenKey>`` (or ``private/ws?listenKey=…``) that carries the account's ``ORDER_TRADE_UPDATE``,
``ALGO_UPDATE`` and ``ACCOUNT_UPDATE`` events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets

from aiohttp import web

from cryptoflow.testing.fake_binance._account import FuturesAccount
from cryptoflow.testing.fake_binance._auth import parse_params
from cryptoflow.testing.fake_binance._errors import BinanceError

__all__ = ["UserStreams"]


class UserStreams:
    """Listen keys of the one API key and the websockets reading them.

    Like Binance, ``POST`` answers the active key while one exists (a new one otherwise), ``PUT`` keeps it
    alive (-1125 when there is none), ``DELETE`` closes it and its connections. Events reach every open
    connection of the key, in the order the account made them.
    """

    def __init__(self, account: FuturesAccount, api_key: str) -> None:
        self.api_key = api_key
        self.listen_key: str | None = None
        self.keepalives = 0  # PUTs that kept the key alive, for tests
        self.queues: dict[web.WebSocketResponse, asyncio.Queue[str | None]] = {}
        account.listeners.append(self.publish)

    def publish(self, event: dict[str, object]) -> None:
        """Queue ``event`` for every connection (called from the server's event loop)."""
        text = json.dumps(event, separators=(",", ":"))
        for queue in self.queues.values():
            queue.put_nowait(text)

    def _check_key(self, request: web.Request) -> None:
        header = request.headers.get("X-MBX-APIKEY")
        if not header:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        if header != self.api_key:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    async def listen_key_endpoint(self, request: web.Request) -> web.Response:
        """``POST|PUT|DELETE /fapi/v1/listenKey`` (API key header, no signature)."""
        self._check_key(request)
        if request.method == "POST":
            if self.listen_key is None:
                self.listen_key = secrets.token_urlsafe(48)
            return web.json_response({"listenKey": self.listen_key})
        body = await request.text() if request.can_read_body else ""
        params = parse_params(request.rel_url.raw_query_string, body)
        if self.listen_key is None or params.get("listenKey", self.listen_key) != self.listen_key:
            raise BinanceError(-1125, "This listenKey does not exist.")
        if request.method == "PUT":
            self.keepalives += 1
        if request.method == "DELETE":
            self.listen_key = None
            for queue in self.queues.values():
                queue.put_nowait(None)
        return web.json_response({})

    def drop(self) -> None:
        """Abort every user-stream connection, as a network failure would (the listen key stays valid)."""
        for ws in list(self.queues):
            transport = ws._req.transport if ws._req is not None else None
            if transport is not None:
                transport.abort()
            self.queues[ws].put_nowait(None)

    def knows(self, key: str | None) -> bool:
        """Whether ``key`` is the active listen key."""
        return key is not None and key == self.listen_key

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        """One user-stream connection: send the queued events until either side closes."""
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.queues[ws] = queue
        reader = asyncio.create_task(self._drain_incoming(ws))
        try:
            while not reader.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                text = getter.result()
                if text is None:
                    break
                await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.queues.pop(ws, None)
            reader.cancel()
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    @staticmethod
    async def _drain_incoming(ws: web.WebSocketResponse) -> None:
        async for _ in ws:  # the user stream takes no commands; this ends when the client closes
            pass
