"""The USD-M futures user data stream: a listenKey (``POST /fapi/v1/listenKey``), kept alive with ``PUT``
while the websocket ``<futures stream>/private/ws/<listenKey>`` delivers the account's events
(``ORDER_TRADE_UPDATE``, ``ALGO_UPDATE``, ``ACCOUNT_UPDATE``), reconnected for ever with backoff.

Binance: a listenKey lives 60 minutes unless kept alive; ``PUT`` answers -1125 once it no longer exists
(then a new one is made); the stream may send ``listenKeyExpired``; a connection lasts at most 24 hours.
Each (re)connection calls ``on_connect`` once the socket is open, so the owner can look up through REST
what happened while no connection was open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from cryptoflow.binance._protection import Call
from cryptoflow.errors import ExchangeRejection, RestrictedLocation, TemporaryError
from cryptoflow.retry import Backoff

__all__ = ["UserStream"]

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class _Reconnect(Exception):
    pass


class UserStream:
    """Follows one account's user data stream: each event (a decoded JSON object) goes to ``handler``.

    ``stream_base`` is the futures websocket base (``wss://fstream.binance.com/``); ``call`` makes REST
    calls (the broker's retry rule). ``keepalive_s``: how often the listenKey is renewed (Binance asks
    for less than 60 minutes). A handler that raises is logged; the stream goes on.
    """

    def __init__(
        self,
        call: Call,
        stream_base: str,
        handler: Handler,
        on_connect: Callable[[], Awaitable[None]],
        *,
        keepalive_s: float = 1800.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._call = call
        self._base = stream_base if stream_base.endswith("/") else stream_base + "/"
        self._handler = handler
        self._on_connect = on_connect
        self.keepalive_s = keepalive_s
        self._backoff = backoff or Backoff(0.5, 30.0)
        self.connections = 0
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Follow the stream until cancelled; every interruption reconnects (with a new listenKey when
        the old one is gone). HTTP 451 (a restricted location) ends it."""
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await self._session(session)
                    reason = "closed by the exchange"
                except asyncio.CancelledError:
                    raise
                except RestrictedLocation:
                    raise
                except (_Reconnect, ExchangeRejection, TemporaryError) as exc:
                    reason = str(exc)
                except Exception as exc:  # aiohttp and the OS raise many types: keep following
                    reason = f"{type(exc).__name__}: {exc}"
                self.connected.clear()
                delay = self._backoff.next_delay()
                log.warning("user data stream interrupted (%s); reconnecting in %.2f s", reason, delay)
                await asyncio.sleep(delay)

    async def _session(self, session: aiohttp.ClientSession) -> None:
        key = str(await self._call("futures_stream_get_listen_key"))
        async with session.ws_connect(f"{self._base}private/ws/{key}", heartbeat=30.0) as ws:
            self.connections += 1
            self.connected.set()
            keepalive = asyncio.create_task(self._keepalive(key, ws))
            try:
                await self._on_connect()
                self._backoff.reset()
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    event = json.loads(message.data)
                    if event.get("e") == "listenKeyExpired":
                        raise _Reconnect("listenKey expired")
                    try:
                        await self._handler(event)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("user data stream: handling a %s event failed", event.get("e"))
            finally:
                keepalive.cancel()
                await asyncio.gather(keepalive, return_exceptions=True)

    async def _keepalive(self, key: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            try:
                await self._call("futures_stream_keepalive", listenKey=key)
            except (ExchangeRejection, TemporaryError) as exc:
                log.warning("user data stream: keepalive failed (%s); reconnecting", exc)
                await ws.close()  # the reader ends and the stream reconnects with a new key
                return
