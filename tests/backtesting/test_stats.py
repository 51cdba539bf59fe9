"""compute_stats on a tiny hand-checked example."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from backtesting import STAT_LABELS, compute_stats


def _example():
    index = pd.date_range("2024-01-01", periods=6, freq="1D", tz="UTC")
    equity = pd.Series([100.0, 110.0, 99.0, 104.5, 121.0, 121.0], index=index)
    trades = pd.DataFrame(
        {
            "side": ["long", "short", "long"],
            "entry_time": index[[0, 1, 3]],
            "exit_time": index[[1, 2, 4]],
            "entry_price": [10.0, 20.0, 10.0],
            "exit_price": [11.0, 22.0, 11.0],
            "pnl": [10.0, -11.0, 16.5],
            "fees": [0.5, 0.5, 0.5],
        }
    )
    return trades, equity


def test_hand_checked_values():
    trades, equity = _example()
    stats = compute_stats(trades, equity, initial_equity=100.0)
    assert set(stats) == set(STAT_LABELS)
    assert stats["total_return_pct"] == pytest.approx(21.0)
    assert stats["duration_days"] == 6.0
    assert stats["cagr_pct"] == pytest.approx((1.21 ** (365.25 / 6) - 1) * 100)
    assert stats["max_drawdown_pct"] == pytest.approx(-10.0)  # 110 -> 99
    assert stats["max_drawdown_duration_days"] == 2.0  # day 2 and 3 under the 110 peak
    assert stats["n_trades"] == 3 and stats["n_long"] == 2 and stats["n_short"] == 1
    assert stats["win_rate_pct"] == pytest.approx(200 / 3)
    assert stats["win_rate_long_pct"] == 100.0 and stats["win_rate_short_pct"] == 0.0
    assert stats["profit_factor"] == pytest.approx(26.5 / 11.0)
    assert stats["expectancy"] == pytest.approx(15.5 / 3)
    assert stats["expectancy_pct"] == pytest.approx((10 - 10 + 10) / 3)
    assert stats["best_trade_pct"] == pytest.approx(10.0) and stats["worst_trade_pct"] == pytest.approx(-10.0)
    assert stats["avg_holding_hours"] == 24.0 and stats["max_holding_hours"] == 24.0
    assert stats["exposure_pct"] == pytest.approx(50.0)
    assert stats["fees_paid"] == pytest.approx(1.5)
    assert stats["calmar"] == pytest.approx(stats["cagr_pct"] / 10.0)
    returns = pd.Series([0.0, 0.1, -0.1, 104.5 / 99 - 1, 121 / 104.5 - 1, 0.0])
    assert stats["sharpe"] == pytest.approx(returns.mean() / returns.std() * math.sqrt(365.25))
    assert list(stats.equity.columns) == ["equity", "drawdown_pct"]


def test_no_trades_gives_undefined_not_zero():
    _, equity = _example()
    empty = pd.DataFrame(
        columns=["side", "entry_time", "exit_time", "entry_price", "exit_price", "pnl", "fees"]
    )
    stats = compute_stats(empty, equity)
    assert stats["n_trades"] == 0 and math.isnan(stats["win_rate_pct"]) and math.isnan(stats["profit_factor"])
    assert stats.to_json()["win_rate_pct"] is None


def test_inputs_are_untouched():
    trades, equity = _example()
    before = (trades.copy(), equity.copy())
    compute_stats(trades, equity)
    pd.testing.assert_frame_equal(trades, before[0])
    pd.testing.assert_series_equal(equity, before[1])
