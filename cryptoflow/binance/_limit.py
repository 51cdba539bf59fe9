"""Limit entries: a LIMIT order at the reference price × (1 ± aggressiveness), re-priced from the last
price after a timeout, then given up; partial fills are kept."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cryptoflow.binance._filters import SymbolFilters
from cryptoflow.binance._protection import DUPLICATE_ID, UNKNOWN_ORDER, Call, derived_id
from cryptoflow.errors import ExchangeRejection

if TYPE_CHECKING:  # cryptoflow.portfolio imports this package: no import at run time
    from cryptoflow.portfolio import EntrySettings

__all__ = ["limit_entry"]

log = logging.getLogger(__name__)

_POLL_S = 0.1


async def _place(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return await call("futures_create_order", **params)
    except ExchangeRejection as exc:
        if exc.code != DUPLICATE_ID:
            raise
        # placed by an earlier try (or process): follow that order
        return await call(
            "futures_get_order", symbol=params["symbol"], origClientOrderId=params["newClientOrderId"]
        )


async def _settle(call: Call, symbol: str, client_id: str, order: dict[str, Any], timeout_s: float) -> dict:
    """Wait up to ``timeout_s`` for the order to fill; cancel what is left; the order's final state."""
    deadline = time.monotonic() + timeout_s
    while order.get("status") in ("NEW", "PARTIALLY_FILLED") and time.monotonic() < deadline:
        await asyncio.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))
        order = await call("futures_get_order", symbol=symbol, origClientOrderId=client_id)
    if order.get("status") in ("NEW", "PARTIALLY_FILLED"):
        try:
            order = await call("futures_cancel_order", symbol=symbol, origClientOrderId=client_id)
        except ExchangeRejection as exc:
            if exc.code not in UNKNOWN_ORDER:
                raise
        # the cancel's answer may predate a last fill: the order as it ended
        order = await call("futures_get_order", symbol=symbol, origClientOrderId=client_id)
    return order


async def limit_entry(
    call: Call,
    filters: SymbolFilters,
    side: int,
    quantity: Decimal,
    reference: float,
    order_id: str,
    entry: EntrySettings,
) -> list[dict[str, Any]]:
    """Enter ``quantity`` with LIMIT orders (GTC) and answer the orders that filled, wholly or in part.

    The first order (client id ``order_id``) is priced at ``reference`` × (1 + aggressiveness) for a long,
    × (1 − aggressiveness) for a short, rounded to the tick grid. An order not filled within
    ``entry.timeout_s`` is cancelled; the rest is ordered again at the last price (``ticker/price``) ×
    (1 ± aggressiveness), up to ``entry.reprices`` times (client ids ``<order_id>-r1``, ``-r2``…), then
    the entry gives up. Re-pricing also stops when what is left is below the symbol's minimum quantity or
    notional. An empty answer means nothing filled.
    """
    symbol = filters.symbol
    filled: list[dict[str, Any]] = []
    remaining = quantity
    for attempt in range(entry.reprices + 1):
        if attempt:
            ticker = await call("futures_symbol_ticker", symbol=symbol)
            reference = float(ticker["price"])
        price = filters.price(reference * (1 + side * entry.aggressiveness))
        try:
            filters.check(remaining, float(price))
        except ExchangeRejection:
            break  # what is left cannot be ordered: keep what filled
        side_name = "BUY" if side > 0 else "SELL"
        client_id = order_id if attempt == 0 else derived_id(order_id, f"r{attempt}")
        order = await _place(
            call,
            dict(
                symbol=symbol,
                side=side_name,
                type="LIMIT",
                timeInForce="GTC",
                quantity=str(remaining),
                price=str(price),
                newClientOrderId=client_id,
                newOrderRespType="RESULT",
            ),
        )
        tries = f"try {attempt + 1} of {entry.reprices + 1}"
        log.info(
            "%s: limit %s %s @ %s posted (%s, %s)", symbol, side_name, remaining, price, client_id, tries
        )
        order = await _settle(call, symbol, client_id, order, entry.timeout_s)
        executed = Decimal(str(order.get("executedQty") or "0"))
        if executed > 0:
            filled.append(order)
        remaining -= executed
        if order.get("status") == "FILLED" or remaining <= 0:
            break
        log.info("%s: limit %s ended %s with %s filled", symbol, client_id, order.get("status"), executed)
    if not filled:
        log.info("%s: limit entry %s gave up: nothing filled", symbol, order_id)
    elif remaining > 0:
        log.info("%s: limit entry %s filled %s of %s", symbol, order_id, quantity - remaining, quantity)
    return filled
