"""The request that backtest, replay, optimize and the demo share: checked on creation in the user's terms,
turned into the engine's settings, loading several files by symbol."""

from __future__ import annotations

import pytest

from backtesting import BacktestConfig, BacktestRequest
from cryptoflow.candles import sample_path, sample_symbols
from cryptoflow.errors import ConfigurationError

SAMPLES = tuple(sample_path("5m", symbol) for symbol in sample_symbols("5m"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"preset": "fancy"}, "--preset must be ta or seed, got 'fancy'"),
        ({"cash": 0.0}, "--cash 0: expected a positive amount of quote currency"),
        ({"fee_pct": 10.0}, "--fee-pct 10: expected a percentage from 0 to below 10"),
        ({"slippage_pct": float("nan")}, "--slippage-pct nan: expected a percentage from 0 to below 10"),
        ({"fraction": 1.5}, "--fraction 1.5: expected a share of the equity above 0 and at most 1"),
        ({"leverage": 0.5}, "--leverage 0.5: expected from 1 to 125"),
        ({"end": "yesterday-ish"}, "--end 'yesterday-ish': not a date/time"),
    ],
)
def test_a_wrong_value_is_refused_naming_its_option(options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        BacktestRequest(data=SAMPLES[:1], **options)
    assert str(refused.value).startswith(message)


def test_the_engine_settings_are_the_request_in_rates() -> None:
    request = BacktestRequest(
        data=SAMPLES[:1], cash=500.0, fee_pct=0.1, slippage_pct=0.05, fraction=0.5, leverage=3.0, fill="close"
    )
    assert request.config() == BacktestConfig(
        cash=500.0, fill="close", fee_rate=0.001, slippage_rate=0.0005, fraction=0.5, leverage=3.0
    )
    assert BacktestRequest(data=SAMPLES[:1]).config() == BacktestConfig()  # the defaults agree


def test_files_load_by_the_symbol_they_hold_or_the_one_given() -> None:
    frames = BacktestRequest(data=SAMPLES).load_candles()
    assert list(frames) == sample_symbols("5m")
    assert all(len(frame) > 0 for frame in frames.values())
    with pytest.raises(ConfigurationError, match="give one --symbol per --data file \\(3 files, 2 given\\)"):
        BacktestRequest(data=SAMPLES, symbols=("ETHUSDT", "BTCUSDT")).load_candles()


def test_the_same_symbol_twice_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="symbol ETHUSDT given twice; pass --symbol for each --data"):
        BacktestRequest(data=(SAMPLES[0], SAMPLES[0])).load_candles()


def test_the_strategy_loads_with_its_parameters() -> None:
    strategy = BacktestRequest(
        data=SAMPLES[:1], strategy="basic", params={"rsi_oversold": "25"}
    ).load_strategy()
    assert strategy.name == "basic" and strategy.params()["rsi_oversold"] == 25.0
