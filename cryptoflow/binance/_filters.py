"""Exchange filters: quantities and prices rounded to stepSize/tickSize, notionals checked."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from cryptoflow.errors import ExchangeRejection

__all__ = ["SymbolFilters"]


@dataclass(frozen=True)
class SymbolFilters:
    """``PRICE_FILTER.tickSize``, ``LOT_SIZE.stepSize/minQty`` and the minimum notional of a symbol."""

    symbol: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal

    @classmethod
    def from_exchange_info(cls, info: dict[str, Any]) -> SymbolFilters:
        """From one entry of ``exchangeInfo["symbols"]`` (futures ``MIN_NOTIONAL.notional`` or spot
        ``NOTIONAL``/``MIN_NOTIONAL.minNotional``)."""
        filters = {f["filterType"]: f for f in info.get("filters", [])}
        price = filters.get("PRICE_FILTER", {})
        lot = filters.get("LOT_SIZE", {})
        notional = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL") or {}
        return cls(
            symbol=str(info["symbol"]),
            tick_size=Decimal(str(price.get("tickSize", "0.00000001"))),
            step_size=Decimal(str(lot.get("stepSize", "0.00000001"))),
            min_qty=Decimal(str(lot.get("minQty", "0"))),
            min_notional=Decimal(str(notional.get("notional", notional.get("minNotional", "0")))),
        )

    def quantity(self, value: float) -> Decimal:
        """``value`` rounded down to a multiple of ``stepSize`` (never more than asked for)."""
        steps = (Decimal(repr(float(value))) / self.step_size).to_integral_value(ROUND_DOWN)
        return (steps * self.step_size).quantize(self.step_size)

    def price(self, value: float) -> Decimal:
        """``value`` rounded to the nearest multiple of ``tickSize``."""
        ticks = (Decimal(repr(float(value))) / self.tick_size).to_integral_value(ROUND_HALF_UP)
        return (ticks * self.tick_size).quantize(self.tick_size)

    def check(self, quantity: Decimal, price: float) -> None:
        """Raise :class:`~cryptoflow.errors.ExchangeRejection` (code 0: refused before sending) when the
        order would break ``minQty`` or the minimum notional."""
        if quantity <= 0 or quantity < self.min_qty:
            raise ExchangeRejection(
                0,
                f"{self.symbol}: quantity {quantity} is below minQty {self.min_qty} "
                "(raise the budget, fraction or leverage)",
            )
        notional = quantity * Decimal(repr(float(price)))
        if notional < self.min_notional:
            raise ExchangeRejection(
                0,
                f"{self.symbol}: notional {notional:.4f} is below the minimum "
                f"{self.min_notional} (raise the budget, fraction or leverage)",
            )
