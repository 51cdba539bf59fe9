"""Where the exchange-side protective orders lie: the strategy's percentages from the fill price."""

from __future__ import annotations

import pytest

from cryptoflow.binance import Protection
from cryptoflow.strategies import load_strategy


def test_levels_of_a_long_and_a_short() -> None:
    protection = Protection(stop_loss_pct=1.5, take_profit_pct=3.0)
    assert protection.levels(side=1, fill_price=2000.0) == pytest.approx((1970.0, 2060.0))
    assert protection.levels(side=-1, fill_price=2000.0) == pytest.approx((2030.0, 1940.0))


def test_a_missing_level_places_no_order_on_that_side() -> None:
    assert Protection(stop_loss_pct=2.0).levels(side=1, fill_price=100.0) == (pytest.approx(98.0), None)
    assert Protection(take_profit_pct=0).levels(side=-1, fill_price=100.0) == (None, None)
    assert not Protection() and not Protection(0, None) and Protection(None, 1.0)


def test_levels_come_from_the_strategys_effective_parameters() -> None:
    strategy = load_strategy("basic", stop_loss_pct=0.5, take_profit_pct=None)
    assert Protection.from_params(strategy.params()) == Protection(stop_loss_pct=0.5, take_profit_pct=None)
    assert Protection.from_params({}) == Protection()
