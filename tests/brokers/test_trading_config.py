"""TradingConfig refuses what no broker can trade with, in the terms of `cryptoflow trade`'s options."""

from __future__ import annotations

import math

import pytest

from cryptoflow.brokers import TradingConfig
from cryptoflow.errors import ConfigurationError


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cash": 0.0}, "--cash 0: expected a positive amount of quote currency"),
        ({"cash": math.nan}, "--cash nan: expected a positive amount of quote currency"),
        ({"fraction": 0.0}, "--fraction 0: expected a share of the equity above 0 and at most 1"),
        ({"fraction": 1.5}, "--fraction 1.5: expected a share of the equity above 0 and at most 1"),
        ({"leverage": 0}, "--leverage 0: expected from 1 to 125"),
        ({"leverage": 126}, "--leverage 126: expected from 1 to 125"),
        ({"fee_rate": -0.001}, "fee_rate -0.001: expected a rate from 0 to below 0.1"),
        ({"slippage_rate": 0.1}, "slippage_rate 0.1: expected a rate from 0 to below 0.1"),
        ({"margin_type": "isolated"}, "--margin-type 'isolated': expected ISOLATED or CROSSED"),
    ],
)
def test_out_of_range_settings_are_refused_by_name(change: dict, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        TradingConfig(**change)
    assert str(caught.value).startswith(message)


def test_the_edges_are_accepted() -> None:
    config = TradingConfig(cash=0.01, fraction=1.0, leverage=125, fee_rate=0.0, margin_type="CROSSED")
    assert (config.fraction, config.leverage, config.margin_type) == (1.0, 125, "CROSSED")
