"""What :meth:`BinanceFuturesBroker.start` cleans up before trading: orders of ours that no process looks
after any more. Ours are the ones with our client ids (``cf-…``, see
:func:`cryptoflow.brokers.client_order_id`); every other order is left alone."""

from __future__ import annotations

import logging

from cryptoflow.binance._protection import UNKNOWN_ORDER, Call, ProtectiveOrders
from cryptoflow.errors import ExchangeRejection

__all__ = ["cancel_resting_entries", "cancel_stale_protection"]

log = logging.getLogger(__name__)


async def cancel_stale_protection(call: Call, symbol: str, keep: ProtectiveOrders | None) -> None:
    """Cancel our protective orders (``cf-…-sl`` / ``cf-…-tp``) open on ``symbol`` that do not belong to
    ``keep`` (the open position's orders; ``None``: there is no position)."""
    kept = {cid for _, cid, _, _ in keep.legs()} if keep is not None else set()
    for algo in await call("futures_get_open_algo_orders", symbol=symbol):
        client_id = str(algo.get("clientAlgoId", ""))
        ours = client_id.startswith("cf-") and client_id.endswith(("-sl", "-tp"))
        if not ours or client_id in kept:
            continue
        try:
            await call("futures_cancel_algo_order", clientAlgoId=client_id)
            log.info("%s: protective order %s without its position cancelled", symbol, client_id)
        except ExchangeRejection as exc:
            if exc.code not in UNKNOWN_ORDER:
                raise


async def cancel_resting_entries(call: Call, symbol: str) -> None:
    """Cancel our entry LIMIT orders still resting on ``symbol``: the process that posted them is gone,
    and a fill nobody follows would be a position nobody protects. What they filled is part of the
    position :meth:`start` then reads."""
    for order in await call("futures_get_open_orders", symbol=symbol):
        client_id = str(order.get("clientOrderId", ""))
        if not client_id.startswith("cf-") or order.get("type") != "LIMIT" or order.get("reduceOnly"):
            continue
        try:
            await call("futures_cancel_order", symbol=symbol, origClientOrderId=client_id)
        except ExchangeRejection as exc:
            if exc.code not in UNKNOWN_ORDER:
                raise
        log.warning(
            "%s: entry order %s of an earlier process was still resting (%s of %s filled); cancelled",
            symbol, client_id, order.get("executedQty"), order.get("origQty"),
        )  # fmt: skip
