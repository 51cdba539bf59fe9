"""The testnet and live brokers: Binance USD-M futures through python-binance, signed MARKET orders."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from binance.exceptions import BinanceAPIException, BinanceRequestException

from cryptoflow.binance._filters import SymbolFilters
from cryptoflow.binance._http import BinanceEndpoints, binance_classes, is_restricted_location, open_client
from cryptoflow.brokers import BrokerBook, ClosedTrade, Position, TradingConfig
from cryptoflow.candles import Candle
from cryptoflow.errors import ConfigurationError, ExchangeRejection, RestrictedLocation, TemporaryError
from cryptoflow.events import Source
from cryptoflow.retry import Backoff, retry_async

__all__ = ["BinanceFuturesBroker"]

log = logging.getLogger(__name__)

_NETWORK = (aiohttp.ClientError, asyncio.TimeoutError, BinanceRequestException, OSError)
_DUPLICATE_ID = -4116
_NO_CHANGE_MARGIN = -4046
_TIMESTAMP = -1021


class _ClockSkew(Exception):
    """Binance's -1021: our clock drifted from the exchange's; resynchronised, then retried at once."""

    def __init__(self, rejection: BinanceAPIException) -> None:
        super().__init__(rejection.message)
        self.code, self.message = rejection.code, rejection.message


class BinanceFuturesBroker(BrokerBook):
    """Orders on Binance USD-M futures (``testnet`` or ``live``), one-way mode, MARKET orders.

    Before trading it sets each symbol's leverage and margin type and reads back positions and open
    orders; positions found on the exchange win over the local state file (which only keeps the
    engine's bookkeeping: entry time, best close, candles held).

    Sizing: each symbol has a budget of ``cash / symbols``; a position's notional is budget x fraction
    x leverage, its quantity rounded down to ``stepSize`` and checked against ``minQty`` and the
    minimum notional before sending (a too-small order is skipped with a clear message). Fees are the
    commissions the exchange reports for each order's fills (``userTrades``).

    Retry rule: a network error or a timestamp error (-1021) is retried, up to ``retries`` tries in all,
    with the same client order id (network errors after 0.4 s doubling to 5 s, a timestamp error at
    once after resynchronising the clock), so a request that did reach the exchange is never doubled
    (Binance answers -4116, and the existing order is fetched instead). Any other rejection raises
    :class:`~cryptoflow.errors.ExchangeRejection` with Binance's code and message; the caller skips
    that decision. HTTP 451 (Binance refuses this server's region) raises
    :class:`~cryptoflow.errors.RestrictedLocation`, which no caller skips: trading stops.
    """

    def __init__(
        self,
        config: TradingConfig,
        state_path: Path,
        *,
        mode: str,
        endpoints: BinanceEndpoints,
        api_key: str | None,
        api_secret: str | None,
        retries: int = 4,
    ) -> None:
        if mode != "testnet" and mode != "live":
            raise ConfigurationError(f"broker mode must be testnet or live, got {mode!r}")
        if not api_key or not api_secret:
            raise ConfigurationError(
                f"the {mode} broker needs CRYPTOFLOW_BINANCE__API_KEY and CRYPTOFLOW_BINANCE__API_SECRET"
            )
        super().__init__(state_path)
        self.name: Source = "testnet" if mode == "testnet" else "live"
        self.config = config
        self._client_cls, _ = binance_classes(endpoints)
        self._key, self._secret = api_key, api_secret
        self.retries = retries
        self.client: Any = None
        self.filters: dict[str, SymbolFilters] = {}
        self.budget = 0.0
        self.open_orders: dict[str, list[dict[str, Any]]] = {}

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def _call(self, name: str, **params: Any) -> Any:
        """One REST call with the retry rule for network and timestamp errors."""
        skewed = False

        async def attempt() -> Any:
            nonlocal skewed
            if skewed:  # the last try met -1021: take the exchange's time before this one
                answer = await self.client.futures_time()
                self.client.timestamp_offset = int(answer["serverTime"]) - int(time.time() * 1000)
                skewed = False
            try:
                return await getattr(self.client, name)(**params)
            except BinanceAPIException as exc:
                if is_restricted_location(exc):
                    raise RestrictedLocation("REST API") from None
                if exc.code == _TIMESTAMP:
                    skewed = True
                    raise _ClockSkew(exc) from None
                raise ExchangeRejection(exc.code, exc.message) from None

        try:
            return await retry_async(
                attempt,
                backoff=Backoff(0.4, 5.0, jitter=False),
                retry_on=(*_NETWORK, _ClockSkew),
                attempts=self.retries,
                pause=lambda exc, delay: 0.0 if isinstance(exc, _ClockSkew) else delay,
            )
        except _ClockSkew as exc:
            raise ExchangeRejection(exc.code, exc.message) from None
        except _NETWORK as exc:
            raise TemporaryError(f"{name}: exchange unreachable after {self.retries} tries: {exc}") from None

    async def start(self, symbols: list[str]) -> dict[str, Position | None]:
        """Connect, load filters, set leverage and margin type, read back positions and open orders."""
        try:
            self.client = await open_client(self._client_cls, "futures", self._key, self._secret)
        except BinanceAPIException as exc:
            if is_restricted_location(exc):
                raise RestrictedLocation("REST API") from None
            raise ExchangeRejection(exc.code, exc.message) from None
        except _NETWORK as exc:
            raise TemporaryError(f"exchange unreachable: {exc}") from None
        info = await self._call("futures_exchange_info")
        known = {s["symbol"]: s for s in info["symbols"]}
        for symbol in symbols:
            if symbol not in known:
                raise ConfigurationError(f"symbol {symbol} is not traded on this exchange")
            self.filters[symbol] = SymbolFilters.from_exchange_info(known[symbol])
        self.budget = self.config.cash / max(1, len(symbols))
        self.load()
        saved, self.positions = self.positions, {}  # what the exchange still holds is adopted below
        for symbol in symbols:
            await self._call("futures_change_leverage", symbol=symbol, leverage=int(self.config.leverage))
            try:
                await self._call(
                    "futures_change_margin_type", symbol=symbol, marginType=self.config.margin_type
                )
            except ExchangeRejection as exc:
                if exc.code != _NO_CHANGE_MARGIN:
                    log.warning("%s: margin type not changed: %s", symbol, exc)
            risk = await self._call("futures_position_information", symbol=symbol)
            amount = sum(float(r["positionAmt"]) for r in risk)
            entry = next((float(r["entryPrice"]) for r in risk if float(r["positionAmt"]) != 0), 0.0)
            local = saved.get(symbol)
            if amount == 0:
                if local is not None:
                    log.warning(
                        "%s: the state file had a position the exchange no longer has; dropped", symbol
                    )
                continue
            side = 1 if amount > 0 else -1
            if local is not None and local.side == side:
                local.quantity, local.entry_price = abs(amount), entry
                self.positions[symbol] = local
            else:
                log.warning(
                    "%s: adopting a %s position of %g found on the exchange",
                    symbol,
                    "long" if side > 0 else "short",
                    abs(amount),
                )
                self.positions[symbol] = Position(symbol, side, abs(amount), entry, 0, 0.0, entry, 0, "")
            self.open_orders[symbol] = await self._call("futures_get_open_orders", symbol=symbol)
            if self.open_orders[symbol]:
                log.warning(
                    "%s: %d open order(s) on the exchange left as they are",
                    symbol,
                    len(self.open_orders[symbol]),
                )
        self.save()
        return {s: self.positions.get(s) for s in symbols}

    async def stop(self) -> None:
        """Close the REST session (fills and decisions were written when they happened)."""
        await self.release()

    async def release(self) -> None:
        """Close the REST session without writing the state (saved after every change anyway)."""
        if self.client is not None:
            await self.client.close_connection()
            self.client = None

    # ---- trading -----------------------------------------------------------------------------------

    def can_trade(self, symbol: str) -> bool:
        """Always true; the exchange refuses what the account cannot afford."""
        return True

    async def _market(
        self, symbol: str, side: str, quantity: Decimal, order_id: str, reduce_only: bool
    ) -> dict:
        params: dict[str, Any] = dict(
            symbol=symbol,
            side=side,
            type="MARKET",
            quantity=str(quantity),
            newClientOrderId=order_id,
            newOrderRespType="RESULT",
        )
        if reduce_only:
            params["reduceOnly"] = "true"
        try:
            order = await self._call("futures_create_order", **params)
        except ExchangeRejection as exc:
            if exc.code != _DUPLICATE_ID:
                raise
            log.info("%s: order %s was already placed; using it", symbol, order_id)
            order = await self._call("futures_get_order", symbol=symbol, origClientOrderId=order_id)
        except TemporaryError:
            # the request may have reached the exchange: look before giving up
            try:
                order = await self._call("futures_get_order", symbol=symbol, origClientOrderId=order_id)
            except ExchangeRejection:
                raise TemporaryError(
                    f"{symbol}: order {order_id} not placed (exchange unreachable)"
                ) from None
        for _ in range(20):
            if order.get("status") == "FILLED":
                return order
            if order.get("status") in ("CANCELED", "EXPIRED", "REJECTED"):
                raise ExchangeRejection(0, f"{symbol}: order {order_id} ended {order['status']}")
            await asyncio.sleep(0.1)
            order = await self._call("futures_get_order", symbol=symbol, origClientOrderId=order_id)
        raise TemporaryError(f"{symbol}: order {order_id} not filled yet (status {order.get('status')})")

    async def _commission(self, symbol: str, order: dict) -> float:
        """What the exchange charged for a filled order, in the margin asset (from its fills).

        A fill whose commission was paid in another asset (BNB with the fee discount), or fills that
        cannot be read (the exchange is unreachable right after the fill), count at ``fee_rate``.
        """
        estimate = float(order["executedQty"]) * float(order["avgPrice"]) * self.config.fee_rate
        try:
            fills = await self._call("futures_account_trades", symbol=symbol, orderId=order["orderId"])
        except (ExchangeRejection, TemporaryError) as exc:
            log.warning("%s: fills of order %s unreadable (%s); fee counted at the configured rate",
                        symbol, order["orderId"], exc)  # fmt: skip
            return estimate
        if not fills:
            return estimate
        fee = 0.0
        for fill in fills:
            if fill.get("commissionAsset") == fill.get("marginAsset", "USDT"):
                fee += float(fill["commission"])
            else:
                fee += float(fill["quoteQty"]) * self.config.fee_rate
                log.info("%s: commission paid in %s; counted at the configured rate",
                         symbol, fill.get("commissionAsset"))  # fmt: skip
        return fee

    async def open_position(self, symbol: str, side: int, candle: Candle, order_id: str) -> Position | None:
        """Enter with a MARKET order sized from the budget at the candle's close."""
        filters = self.filters[symbol]
        notional = self.budget * self.config.fraction * self.config.leverage
        quantity = filters.quantity(notional / candle.close)
        try:
            filters.check(quantity, candle.close)
        except ExchangeRejection as exc:
            log.error("%s; entry skipped", exc.reason)
            return None
        order = await self._market(symbol, "BUY" if side > 0 else "SELL", quantity, order_id, False)
        price = float(order["avgPrice"])
        executed = float(order["executedQty"])
        fee = await self._commission(symbol, order)
        position = Position(symbol, side, executed, price, candle.open_time, fee, price, 0, order_id)
        self.positions[symbol] = position
        self.save()
        return position

    async def close_position(self, symbol: str, candle: Candle, reason: str, order_id: str) -> ClosedTrade:
        """Exit with a reduce-only MARKET order for the whole position."""
        pos = self.positions[symbol]
        quantity = self.filters[symbol].quantity(pos.quantity)
        order = await self._market(symbol, "SELL" if pos.side > 0 else "BUY", quantity, order_id, True)
        price = float(order["avgPrice"])
        exit_fee = await self._commission(symbol, order)
        del self.positions[symbol]
        self.closed[symbol] = pos.close(candle.open_time, price, reason, exit_fee, order_id)
        self.save()
        return self.closed[symbol]
