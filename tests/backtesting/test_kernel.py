"""Hand-built candles that pin each rule of the two fill models and the accounting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtesting import BacktestConfig, backtest_symbol
from cryptoflow.errors import ConfigurationError
from cryptoflow.strategies import Strategy


class Scripted(Strategy):
    """Enters long/short where the test's ``go`` indicator column says +1/-1; exits where ``out`` is 1."""

    name = "scripted"

    def entry_long(self, ind):
        return ind["go"] == 1

    def entry_short(self, ind):
        return ind["go"] == -1

    def exit_long(self, ind):
        return ind["out"] == 1

    def exit_short(self, ind):
        return ind["out"] == 1


def _candles(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(rows), freq="1h", tz="UTC", name="open_time")
    frame = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=index)
    frame["volume"] = 1.0
    return frame


def _run(rows, go, out=None, *, fill="intrabar", fee=0.0, **params):
    candles = _candles(rows)
    ind = pd.DataFrame(
        {"go": np.asarray(go, dtype=float), "out": np.asarray(out or [0] * len(rows), dtype=float)},
        index=candles.index,
    )
    config = BacktestConfig(cash=1000.0, fill=fill, fee_rate=fee)
    return backtest_symbol(candles, Scripted(**params), config, indicators=ind, symbol="TEST")


FLAT = (100.0, 100.5, 99.5, 100.0)


def test_close_fill_enters_and_exits_at_close_and_never_reenters_on_exit_candle():
    rows = [FLAT, (100, 104, 100, 103.0), FLAT, FLAT]
    result = _run(rows, [1, 1, 1, 0], fill="close", stop_loss_pct=1.5, take_profit_pct=3.0)
    trades = result.trades
    assert list(trades["entry_bar"]) == [0] and list(trades["exit_bar"]) == [1]
    first = trades.iloc[0]
    assert (first.side, first.entry_price, first.exit_price, first.exit_reason) == (
        "long",
        100.0,
        103.0,
        "take_profit",
    )
    # bar 1's entry signal is ignored (it closed a trade); bar 2's opens the position still held
    assert result.open_position is not None
    assert result.open_position["entry_time"] == "2024-01-01 02:00:00"


def test_close_fill_stop_is_checked_before_take_profit_and_on_close_only():
    # the low touches the stop but the close does not: the close model keeps the position
    rows = [FLAT, (100, 100.2, 90, 100.1), (100, 100, 97, 98.4), FLAT]
    result = _run(rows, [-1, 0, 0, 0], fill="close", stop_loss_pct=1.5, take_profit_pct=1.5)
    trade = result.trades.iloc[0]
    assert (trade.side, trade.exit_bar, trade.exit_reason, trade.exit_price) == (
        "short",
        2,
        "take_profit",
        98.4,
    )


def test_intrabar_enters_at_next_open_and_assumes_stop_when_both_levels_touched():
    rows = [FLAT, (101.0, 105, 99, 102), FLAT]
    result = _run(rows, [1, 0, 0], stop_loss_pct=1.5, take_profit_pct=3.0)
    trade = result.trades.iloc[0]
    assert trade.entry_bar == 1 and trade.entry_price == 101.0
    assert trade.exit_reason == "stop_loss" and trade.exit_price == pytest.approx(101.0 * 0.985)


def test_intrabar_take_profit_at_its_level_and_gaps_fill_at_the_open():
    rows = [FLAT, (100.0, 103.5, 99.9, 103), FLAT, (100, 100, 99.9, 100), (95.0, 96, 94, 95)]
    result = _run(rows, [1, 0, 1, 0, 0], stop_loss_pct=1.5, take_profit_pct=3.0)
    first, second = result.trades.itertuples(index=False)
    assert (first.exit_reason, first.exit_price, first.exit_bar) == ("take_profit", pytest.approx(103.0), 1)
    assert (second.entry_bar, second.exit_bar, second.exit_reason, second.exit_price) == (
        3,
        4,
        "stop_loss",
        95.0,
    )


def test_intrabar_short_mirrors_long():
    rows = [FLAT, (100.0, 100.4, 96.9, 98), FLAT]
    trade = _run(rows, [-1, 0, 0], stop_loss_pct=1.5, take_profit_pct=3.0).trades.iloc[0]
    assert (trade.side, trade.exit_reason, trade.exit_price) == ("short", "take_profit", pytest.approx(97.0))
    assert trade.pnl == pytest.approx(1000.0 / 100.0 * 3.0)


def test_exit_signal_and_reversal_at_next_open():
    rows = [FLAT, FLAT, (100.2, 100.5, 99.5, 100), FLAT]
    result = _run(rows, [1, -1, 0, 0], [0, 1, 0, 0], stop_loss_pct=None, take_profit_pct=None)
    (long,) = result.trades.itertuples(index=False)
    assert (long.entry_bar, long.exit_bar, long.exit_reason, long.exit_price) == (1, 2, "signal", 100.2)
    assert result.open_position["side"] == "short" and result.open_position["entry_price"] == 100.2


def test_max_holding_and_trailing_stop():
    rows = [FLAT] * 6
    result = _run(rows, [1, 0, 0, 0, 0, 0], stop_loss_pct=None, take_profit_pct=None, max_holding_candles=2)
    trade = result.trades.iloc[0]
    assert (trade.entry_bar, trade.exit_bar, trade.exit_reason) == (1, 3, "max_holding")

    rising = [FLAT, (100, 110, 100, 110), (110, 111, 106, 107), FLAT]
    trade = _run(rising, [1, 0, 0, 0], stop_loss_pct=None, take_profit_pct=None, trailing_stop_pct=3.0).trades
    assert trade.iloc[0].exit_reason == "trailing_stop"
    assert trade.iloc[0].exit_price == pytest.approx(110 * 0.97)


def test_fees_equity_and_close_at_end():
    rows = [FLAT, (100.0, 103.5, 99.9, 103), FLAT, FLAT]
    result = _run(rows, [1, 0, 0, 0], fee=0.0004, stop_loss_pct=1.5, take_profit_pct=3.0)
    trade = result.trades.iloc[0]
    qty = 1000.0 / 100.0
    assert trade.fees == pytest.approx(1000.0 * 0.0004 + qty * 103.0 * 0.0004)
    assert trade.pnl == pytest.approx(qty * 3.0 - trade.fees)
    assert result.equity.iloc[-1] == pytest.approx(1000.0 + trade.pnl)
    assert result.stats["fees_paid"] == pytest.approx(trade.fees)

    candles = _candles([FLAT, FLAT, (100, 101, 99, 101.0)])
    ind = pd.DataFrame({"go": [1.0, 0, 0], "out": [0.0, 0, 0]}, index=candles.index)
    config = BacktestConfig(cash=1000.0, fill="close", fee_rate=0.0, close_at_end=True, leverage=2.0)
    result = backtest_symbol(candles, Scripted(), config, indicators=ind)
    assert result.open_position is None
    trade = result.trades.iloc[0]
    assert (trade.exit_reason, trade.pnl) == ("end", pytest.approx(20.0))


def test_equity_is_marked_to_market_every_candle():
    rows = [FLAT, (100, 101, 99, 101.0), (101, 102, 100, 99.0)]
    result = _run(rows, [1, 0, 0], fill="close", stop_loss_pct=None, take_profit_pct=None)
    assert list(result.equity) == pytest.approx([1000.0, 1010.0, 990.0])


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigurationError, match="fraction"):
        BacktestConfig(fraction=1.5)
    with pytest.raises(ConfigurationError, match="fill model"):
        BacktestConfig(fill="open")  # type: ignore[arg-type]
