"""Exchange-side protection: the reduce-only ``STOP_MARKET`` / ``TAKE_PROFIT_MARKET`` algo orders
(``closePosition=true``) that guard a position while no process of ours runs, and how their fills are read
back.

Binance serves conditional orders on ``/fapi/v1/algoOrder`` since December 2025 (``/fapi/v1/order`` answers
-4120 for them). An algo order that triggers places an ordinary order (``actualOrderId``); its fills, price,
time and commission are that order's ``userTrades``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from cryptoflow.binance._filters import SymbolFilters
from cryptoflow.errors import ExchangeRejection

__all__ = ["Fill", "Protection", "ProtectiveOrders", "derived_id", "order_fills"]

Call = Callable[..., Awaitable[Any]]
Leg = Literal["stop_loss", "take_profit"]

_MAX_ID = 36  # Binance: ^[.A-Z:/a-z0-9_-]{1,36}$
UNKNOWN_ORDER = (-2011, -2013)  # cancel of an order that is no longer open; query of an unknown order
DUPLICATE_ID = -4116  # the client id is taken by an open order: placed before
_SAME_CLOSE_OPEN = -4130  # an open close-position order of this type and side exists already


def derived_id(order_id: str, suffix: str) -> str:
    """``<order_id>-<suffix>``, the id of an order that belongs to the order ``order_id`` (its protective
    orders, its re-priced limit orders): the same every time, at most 36 characters (a longer id is
    replaced by ``cf-`` and a hash of it)."""
    wanted = f"{order_id}-{suffix}"
    if len(wanted) <= _MAX_ID:
        return wanted
    digest = hashlib.sha256(order_id.encode()).hexdigest()[: _MAX_ID - 4 - len(suffix)]
    return f"cf-{digest}-{suffix}"


@dataclass(frozen=True)
class Protection:
    """Where a position's exchange-side exits lie, in percent of the entry fill price, as the strategy's
    ``stop_loss_pct`` / ``take_profit_pct`` (2.0 = 2 %); ``None`` (or 0) places no order on that side.

    >>> Protection(stop_loss_pct=1.5, take_profit_pct=3.0).levels(side=1, fill_price=2000.0)
    (1970.0, 2060.0)
    """

    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Protection:
        """From a strategy's parameters (``stop_loss_pct``, ``take_profit_pct``; absent = none)."""
        return cls(params.get("stop_loss_pct"), params.get("take_profit_pct"))

    def __bool__(self) -> bool:
        return bool(self.stop_loss_pct) or bool(self.take_profit_pct)

    def levels(self, side: int, fill_price: float) -> tuple[float | None, float | None]:
        """``(stop price, take-profit price)`` of a position of ``side`` (+1 long, -1 short) entered at
        ``fill_price``, before rounding to the tick grid."""
        stop = fill_price * (1 - side * self.stop_loss_pct / 100) if self.stop_loss_pct else None
        take = fill_price * (1 + side * self.take_profit_pct / 100) if self.take_profit_pct else None
        return stop, take


@dataclass(frozen=True)
class ProtectiveOrders:
    """The protective orders of one position, as kept in the broker's state document: their client algo
    ids (derived from the entry's client order id), trigger prices on the tick grid (as sent) and the
    levels they came from (so a restart can place a missing one again)."""

    symbol: str
    side: int  # of the position: the orders are on the other side
    entry_order_id: str
    stop_loss_pct: float | None
    take_profit_pct: float | None
    stop_price: str | None
    take_price: str | None

    @property
    def stop_id(self) -> str:
        """``clientAlgoId`` of the ``STOP_MARKET`` order."""
        return derived_id(self.entry_order_id, "sl")

    @property
    def take_id(self) -> str:
        """``clientAlgoId`` of the ``TAKE_PROFIT_MARKET`` order."""
        return derived_id(self.entry_order_id, "tp")

    def legs(self) -> list[tuple[Leg, str, str, str]]:
        """``(reason, clientAlgoId, type, triggerPrice)`` of each order this position has."""
        out: list[tuple[Leg, str, str, str]] = []
        if self.stop_price is not None:
            out.append(("stop_loss", self.stop_id, "STOP_MARKET", self.stop_price))
        if self.take_price is not None:
            out.append(("take_profit", self.take_id, "TAKE_PROFIT_MARKET", self.take_price))
        return out

    def reason_of(self, client_algo_id: str) -> Leg | None:
        """``stop_loss`` or ``take_profit`` for one of this position's ids, else ``None``."""
        return next((leg for leg, cid, _, _ in self.legs() if cid == client_algo_id), None)

    @classmethod
    def plan(
        cls, filters: SymbolFilters, side: int, fill_price: float, entry_order_id: str, protection: Protection
    ) -> ProtectiveOrders:
        """The orders that protect a ``side`` position entered at ``fill_price``, trigger prices rounded
        to the nearest tick."""
        stop, take = protection.levels(side, fill_price)
        return cls(
            filters.symbol,
            side,
            entry_order_id,
            protection.stop_loss_pct or None,
            protection.take_profit_pct or None,
            str(filters.price(stop)) if stop is not None else None,
            str(filters.price(take)) if take is not None else None,
        )

    def document(self) -> dict[str, Any]:
        """For the state document."""
        return asdict(self)

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> ProtectiveOrders:
        """Back from :meth:`document`."""
        return cls(**document)

    # ---- on the exchange ---------------------------------------------------------------------------

    async def place(self, call: Call) -> tuple[list[str], list[tuple[Leg, ExchangeRejection]]]:
        """Send the orders. Returns the ids placed (a leg already open is not placed again: -4116 for its
        id, -4130 for its type and side) and the legs the exchange refused with its reason (e.g. -2021:
        the price already passed the trigger); every leg is tried."""
        placed: list[str] = []
        refused: list[tuple[Leg, ExchangeRejection]] = []
        for leg, client_id, kind, trigger in self.legs():
            try:
                await call(
                    "futures_create_algo_order",
                    algoType="CONDITIONAL",
                    symbol=self.symbol,
                    side="SELL" if self.side > 0 else "BUY",
                    type=kind,
                    triggerPrice=trigger,
                    closePosition="true",
                    workingType="CONTRACT_PRICE",
                    clientAlgoId=client_id,
                )
                placed.append(client_id)
            except ExchangeRejection as exc:
                if exc.code not in (DUPLICATE_ID, _SAME_CLOSE_OPEN):
                    refused.append((leg, exc))
        return placed, refused

    async def cancel(self, call: Call) -> list[str]:
        """Cancel the orders still open; returns the ids cancelled (one already gone is skipped)."""
        cancelled: list[str] = []
        for _, client_id, _, _ in self.legs():
            try:
                await call("futures_cancel_algo_order", clientAlgoId=client_id)  # Binance: no symbol here
                cancelled.append(client_id)
            except ExchangeRejection as exc:
                if exc.code not in UNKNOWN_ORDER:
                    raise
        return cancelled

    async def filled_leg(self, call: Call) -> tuple[Leg, int] | None:
        """``(reason, actual order id)`` of the leg that triggered and filled (closing the position), or
        ``None`` when neither did."""
        for leg, client_id, _, _ in self.legs():
            try:
                algo = await call("futures_get_algo_order", clientAlgoId=client_id)
            except ExchangeRejection as exc:
                if exc.code in UNKNOWN_ORDER:
                    continue
                raise
            actual = str(algo.get("actualOrderId") or "")
            if algo.get("algoStatus") in ("TRIGGERED", "FINISHED") and actual:
                return leg, int(actual)
        return None


@dataclass(frozen=True)
class Fill:
    """What an order's fills add up to (``userTrades``): quantity, average price, time of the last fill
    (epoch ms), commission in the margin asset."""

    quantity: float
    price: float
    time: int
    fee: float


async def order_fills(call: Call, symbol: str, order_id: int, fee_rate: float) -> Fill | None:
    """The fills of order ``order_id`` (``None`` when it has none). A commission paid in another asset
    (BNB with the fee discount) counts at ``fee_rate``."""
    rows = await call("futures_account_trades", symbol=symbol, orderId=order_id)
    if not rows:
        return None
    quantity = sum(float(r["qty"]) for r in rows)
    quote = sum(float(r["qty"]) * float(r["price"]) for r in rows)
    fee = 0.0
    for row in rows:
        if row.get("commissionAsset") == row.get("marginAsset", "USDT"):
            fee += float(row["commission"])
        else:
            fee += float(row["qty"]) * float(row["price"]) * fee_rate
    return Fill(quantity, quote / quantity, max(int(r["time"]) for r in rows), fee)
