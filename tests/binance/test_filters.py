"""Binance symbol filters: stepSize/tickSize rounding and minQty/minNotional checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cryptoflow.binance import SymbolFilters
from cryptoflow.errors import ExchangeRejection

ETH = SymbolFilters.from_exchange_info(
    {
        "symbol": "ETHUSDT",
        "filters": [
            {"filterType": "PRICE_FILTER", "tickSize": "0.01"},
            {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001"},
            {"filterType": "MIN_NOTIONAL", "notional": "20"},
        ],
    }
)


def test_quantities_round_down_to_step_and_prices_to_tick() -> None:
    assert ETH.quantity(0.123456) == Decimal("0.123")
    assert ETH.quantity(0.0019999) == Decimal("0.001")
    assert str(ETH.quantity(2.0)) == "2.000"
    assert ETH.quantity(0.1 + 0.2) == Decimal("0.300")  # 0.30000000000000004 stays 0.300
    assert ETH.price(4186.506) == Decimal("4186.51") and ETH.price(4186.504) == Decimal("4186.50")


def test_spot_notional_filter_is_read() -> None:
    spot = SymbolFilters.from_exchange_info(
        {"symbol": "BTCUSDT", "filters": [{"filterType": "NOTIONAL", "minNotional": "5"}]}
    )
    assert spot.min_notional == Decimal("5")


def test_min_notional_and_min_qty_are_checked_before_sending() -> None:
    ETH.check(Decimal("0.005"), 4200.0)
    with pytest.raises(ExchangeRejection, match="notional 16.8000 is below the minimum 20"):
        ETH.check(Decimal("0.004"), 4200.0)
    with pytest.raises(ExchangeRejection, match="below minQty"):
        ETH.check(Decimal("0"), 4200.0)
