"""Klines from Binance (or anything speaking its protocol) through python-binance, made dependable.

python-binance's reconnecting socket gives up after five attempts, does not notice a stream that simply
goes quiet, ends the stream when its 100-message queue overflows, and reports trouble as ``{"e": "error"}``
messages. :class:`KlineSource` wraps it: every error message, overflow or silence longer than
``silence_timeout_s`` closes the connection and opens a new one with exponential backoff, forever;
missed closed candles are then fetched through REST, so each closed candle is delivered exactly once, in
open-time order per symbol. One answer stops it instead: HTTP 451, Binance refusing this server's region
(:class:`~cryptoflow.errors.RestrictedLocation`), which no retry can change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from binance.ws.reconnecting_websocket import ReconnectingWebsocket

from cryptoflow.binance._http import BinanceEndpoints, binance_classes, connect, is_restricted_location
from cryptoflow.candles import Candle, interval_ms
from cryptoflow.config import Market
from cryptoflow.errors import ConfigurationError, RestrictedLocation, TemporaryError
from cryptoflow.retry import Backoff

__all__ = ["KlineEvent", "KlineSource", "SourceOptions", "fetch_warmup"]

log = logging.getLogger(__name__)

MAX_STREAMS_PER_CONNECTION = 200
KlineKind = Literal["warmup", "backfill", "live"]


@dataclass(frozen=True, slots=True)
class KlineEvent:
    """One kline as the source delivers it.

    ``kind`` is ``warmup`` (history fetched before the first live message, for indicators only),
    ``backfill`` (a closed candle missed while disconnected, fetched through REST) or ``live`` (from the
    websocket; ``candle.is_closed`` tells the final update from intrabar ones). ``received_ns`` is
    ``time.perf_counter_ns()`` when the message was taken off the socket; ``event_time`` the
    exchange's event time (``E``, epoch ms; the close time for REST candles).
    """

    candle: Candle
    kind: KlineKind
    received_ns: int
    event_time: int = 0


@dataclass(frozen=True)
class SourceOptions:
    """How the source behaves.

    warmup_candles: closed candles fetched per symbol before the first decision (enough for every
        indicator; default 300).
    silence_timeout_s: reconnect when no message arrived for this long (Binance sends kline updates
        every 250 ms to 2 s, so 30 s of silence means a dead stream).
    backoff_initial_s, backoff_max_s: reconnect delays, doubled per failed attempt up to the maximum
        (jittered: see :mod:`cryptoflow.retry`).
    queue_per_stream: python-binance message-queue capacity per subscribed stream.
    continuous: futures only: subscribe ``<pair>_perpetual@continuousKline_<interval>`` instead of
        ``<symbol>@kline_<interval>``.
    streams_per_connection: symbols per websocket connection; more are spread over several connections,
        merged into one source (Binance allows 200 streams on one connection).
    """

    warmup_candles: int = 300
    silence_timeout_s: float = 30.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    queue_per_stream: int = 200
    continuous: bool = False
    streams_per_connection: int = MAX_STREAMS_PER_CONNECTION


async def fetch_warmup(
    client: Any, symbol: str, interval: str, before: int, count: int, market: Market = "futures"
) -> list[Candle]:
    """The REST warm-up: the last ``count`` (at most 1000) closed ``symbol`` candles opening before
    ``before`` (epoch ms), oldest first, through an ``AsyncClient`` (see :func:`connect`); none when
    ``count`` is 0 or less."""
    if count <= 0:
        return []
    fetch = client.futures_klines if market == "futures" else client.get_klines
    rows = await fetch(symbol=symbol, interval=interval, endTime=before - 1, limit=min(count, 1000))
    return [Candle.from_kline(r, symbol, interval) for r in rows if int(r[0]) < before]


class _StreamBroken(Exception):
    pass


class _SingleAttemptWebsocket(ReconnectingWebsocket):
    """python-binance's socket without its own reconnect loop: that loop overwrites the EXITING state
    when it reconnects, so closing the socket during one hangs; we reconnect (and backfill) instead.
    A short read timeout lets a close take effect promptly."""

    MAX_RECONNECTS = 0
    TIMEOUT = 0.5


class KlineSource:
    """Kline updates of many symbols over one websocket connection (one per 200 symbols), with REST
    warm-up and backfill.

    >>> source = KlineSource(["ETHUSDT", "BTCUSDT"], "5m", market="futures")  # doctest: +SKIP
    >>> async for event in source.events():                                  # doctest: +SKIP
    ...     if event.candle.is_closed: ...
    """

    def __init__(
        self,
        symbols: Sequence[str],
        interval: str,
        *,
        market: Market = "futures",
        endpoints: BinanceEndpoints | None = None,
        options: SourceOptions | None = None,
    ) -> None:
        self.symbols = [s.upper() for s in symbols]
        if not self.symbols:
            raise ConfigurationError("give at least one symbol to stream")
        self.interval = interval
        self.interval_ms = interval_ms(interval)
        self.market = market
        self.options = options or SourceOptions()
        if not 1 <= self.options.streams_per_connection <= MAX_STREAMS_PER_CONNECTION:
            raise ConfigurationError(
                f"streams_per_connection must be 1 to {MAX_STREAMS_PER_CONNECTION} (Binance's limit), "
                f"got {self.options.streams_per_connection}"
            )
        if self.options.continuous and market != "futures":
            raise ConfigurationError("continuous-contract klines exist only for futures (market=futures)")
        self.endpoints = endpoints or BinanceEndpoints()
        self._client_cls, self._sockets_cls = binance_classes(self.endpoints)
        self.last_closed: dict[str, int | None] = {s: None for s in self.symbols}
        self._reconnects = 0
        self._client: Any = None
        self._parts: list[KlineSource] = []

    @property
    def reconnects(self) -> int:
        """How often the stream (any of its connections) was interrupted and reconnected."""
        return self._reconnects + sum(part.reconnects for part in self._parts)

    # ---- helpers -----------------------------------------------------------------------------------

    def stream_names(self) -> list[str]:
        """The websocket stream names subscribed to."""
        if self.options.continuous:
            return [f"{s.lower()}_perpetual@continuousKline_{self.interval}" for s in self.symbols]
        return [f"{s.lower()}@kline_{self.interval}" for s in self.symbols]

    def _backoff(self) -> Backoff:
        return Backoff(self.options.backoff_initial_s, self.options.backoff_max_s)

    async def _rest_klines(self, symbol: str, **params: Any) -> list[list[Any]]:
        fetch = self._client.futures_klines if self.market == "futures" else self._client.get_klines
        return await fetch(symbol=symbol, interval=self.interval, **params)

    async def _history(self, symbol: str, before: int) -> tuple[KlineKind, list[Candle]]:
        """Closed candles of ``symbol`` opening before ``before``: the warm-up (first time) or every
        candle after the last one delivered (after a reconnect or a gap)."""
        last = self.last_closed[symbol]
        if last is None:
            warmup = self.options.warmup_candles
            return "warmup", await fetch_warmup(
                self._client, symbol, self.interval, before, warmup, self.market
            )
        out: list[Candle] = []
        start = last + self.interval_ms
        while start < before:
            rows = await self._rest_klines(symbol, startTime=start, endTime=before - 1, limit=1000)
            rows = [r for r in rows if int(r[0]) < before]
            if not rows:
                break
            out.extend(Candle.from_kline(r, symbol, self.interval) for r in rows)
            start = int(rows[-1][0]) + self.interval_ms
        return "backfill", out

    def _parse(self, message: dict[str, Any]) -> tuple[Candle, int]:
        data = message.get("data", message)
        if not isinstance(data, dict):
            raise _StreamBroken(f"unexpected message {str(message)[:200]}")
        if data.get("e") == "error":
            raise _StreamBroken(f"{data.get('type')}: {data.get('m')}")
        kline = data.get("k")
        if not isinstance(kline, dict):
            raise ValueError(f"not a kline message: {str(message)[:200]}")
        if "s" not in kline:  # continuous_kline: the pair is outside k
            kline = {**kline, "s": data.get("ps") or data.get("s")}
        candle = Candle.from_ws(kline)
        return candle, int(data.get("E") or candle.close_time)

    async def _connect_client(self) -> None:
        if self._client is None:
            self._client = await connect(self._client_cls, self.market, self._backoff())

    async def _merged(self) -> AsyncIterator[KlineEvent]:
        """The events of one source per ``streams_per_connection`` symbols, as they come."""
        size = self.options.streams_per_connection
        self._parts = [
            KlineSource(
                self.symbols[i : i + size],
                self.interval,
                market=self.market,
                endpoints=self.endpoints,
                options=self.options,
            )
            for i in range(0, len(self.symbols), size)
        ]
        queue: asyncio.Queue[KlineEvent | BaseException] = asyncio.Queue(maxsize=10_000)

        async def pump(part: KlineSource) -> None:
            try:
                async for event in part.events():
                    await queue.put(event)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # surface it to the reader instead of losing the connection
                await queue.put(exc)

        tasks = [asyncio.create_task(pump(part)) for part in self._parts]
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                if item.candle.is_closed:
                    self.last_closed[item.candle.symbol] = item.candle.open_time
                yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Close the REST session (the websocket closes when :meth:`events` is left)."""
        if self._client is not None:
            await self._client.close_connection()
            self._client = None

    # ---- the stream --------------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[KlineEvent, None]:
        """Warm-up candles, then live updates, forever; reconnects and backfills on its own.

        Closed candles (``candle.is_closed``) come exactly once per symbol and open time, in order; an
        intrabar update of a candle already delivered closed is dropped. More symbols than Binance allows
        on one connection (200 streams) are spread over several connections, merged here.
        """
        if len(self.symbols) > self.options.streams_per_connection:
            async for event in self._merged():
                yield event
            return
        await self._connect_client()
        backoff = self._backoff()
        queue_size = max(100, self.options.queue_per_stream * len(self.symbols))
        try:
            while True:
                manager = self._sockets_cls(self._client, max_queue_size=queue_size)
                names = self.stream_names()
                socket = (
                    manager.futures_multiplex_socket(names)
                    if self.market == "futures"
                    else manager.multiplex_socket(names)
                )
                if isinstance(socket, ReconnectingWebsocket):
                    socket.__class__ = _SingleAttemptWebsocket
                checked_until: dict[str, int] = {}
                try:
                    async with socket as stream:
                        while True:
                            try:
                                message = await asyncio.wait_for(
                                    stream.recv(), self.options.silence_timeout_s
                                )
                            except TimeoutError:
                                raise _StreamBroken(
                                    f"no message for {self.options.silence_timeout_s:g} s (silent stream)"
                                ) from None
                            received = time.perf_counter_ns()
                            try:
                                candle, event_time = self._parse(message)
                            except ValueError as exc:
                                log.warning("ignoring a message: %s", exc)
                                continue
                            backoff.reset()
                            symbol = candle.symbol
                            if symbol not in self.last_closed:
                                continue
                            last = self.last_closed[symbol]
                            expected = None if last is None else last + self.interval_ms
                            if (expected is None or candle.open_time > expected) and checked_until.get(
                                symbol
                            ) != candle.open_time:
                                checked_until[symbol] = candle.open_time
                                kind, history = await self._history(symbol, candle.open_time)
                                for old in history:
                                    newest = self.last_closed[symbol]
                                    if newest is None or old.open_time > newest:
                                        self.last_closed[symbol] = old.open_time
                                        yield KlineEvent(old, kind, received, old.close_time)
                                if kind == "warmup" and self.last_closed[symbol] is None:
                                    # nothing before this candle: start from the one before it
                                    self.last_closed[symbol] = candle.open_time - self.interval_ms
                            last = self.last_closed[symbol]
                            if last is not None and candle.open_time <= last:
                                continue  # already delivered closed (duplicate or late update)
                            if candle.is_closed:
                                self.last_closed[symbol] = candle.open_time
                            yield KlineEvent(candle, "live", received, event_time)
                except (_StreamBroken, OSError, TemporaryError) as exc:
                    reason = str(exc)
                except Exception as exc:  # python-binance and websockets raise many types; keep going
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    if is_restricted_location(exc):  # no reconnect can help: stop, saying why
                        what = "websocket" if type(exc).__module__.startswith("websockets") else "REST API"
                        raise RestrictedLocation(what) from None
                    reason = f"{type(exc).__name__}: {exc}"
                self._reconnects += 1
                delay = backoff.next_delay()
                log.warning("kline stream interrupted (%s); reconnecting in %.2f s", reason, delay)
                await asyncio.sleep(delay)
        finally:
            await self.close()
