"""Golden tests on the real candles in ../shared/data.

The trade lists under ``--preset seed --fill close`` are compared trade by trade with an independent
plain-pandas re-implementation of the original 2023 loop (``_reference.py``); statistics are pinned.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from backtesting import BacktestConfig, backtest_symbol, run_backtest, slice_period
from cryptoflow.candles import load_candles
from cryptoflow.strategies import load_strategy
from tests.backtesting._reference import (
    DATA,
    ETH_1H,
    ETH_5M,
    original_loop,
    read_plain_csv,
    seed_indicators,
)

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data not mounted")

SEED_CLOSE = BacktestConfig(fill="close")
H1_2022 = ("2022-01-01", "2022-06-30")


def _load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_candles(path)


@pytest.fixture(scope="module")
def eth_1h() -> pd.DataFrame:
    return _load(ETH_1H)


@pytest.fixture(scope="module")
def eth_5m() -> pd.DataFrame:
    return _load(ETH_5M)


def _tuples(trades: pd.DataFrame) -> list[tuple]:
    return [
        (t.side, t.entry_time, t.entry_price, t.exit_time, t.exit_price)
        for t in trades.itertuples(index=False)
    ]


def _reference_equity(trades: list[tuple], cash: float = 10_000.0, fee: float = 0.0004) -> float:
    """The original scripts' accounting: all-in, fee on both sides."""
    for side, _, entry, _, exit_ in trades:
        qty = cash / entry
        direction = 1 if side == "long" else -1
        cash += direction * qty * (exit_ - entry) - cash * fee - qty * exit_ * fee
    return cash


@pytest.mark.parametrize(
    ("path", "strategy", "period", "n_trades"),
    [
        (ETH_1H, "custom", H1_2022, 43),
        (ETH_1H, "custom", (None, None), 213),
        (ETH_1H, "basic", (None, None), 106),
        (ETH_5M, "basic", (None, None), 42),
        (ETH_5M, "custom", (None, None), 115),
    ],
)
def test_seed_close_reproduces_the_original_loop(path, strategy, period, n_trades, eth_1h, eth_5m):
    candles = eth_1h if path == ETH_1H else eth_5m
    result = run_backtest(candles, strategy, SEED_CLOSE, preset="seed", start=period[0], end=period[1])
    sliced = read_plain_csv(path, "date" if path == ETH_1H else "timestamp")
    reference = original_loop(slice_period(sliced, *period), strategy)
    assert len(reference) == n_trades
    assert _tuples(result.trades) == reference
    assert result.stats["final_equity"] == pytest.approx(_reference_equity(reference), rel=1e-12)


def test_engine_alone_on_reference_indicators_matches_the_loop():
    """Same comparison with the oracle's own indicators: isolates the engine from the indicator code."""
    candles = slice_period(read_plain_csv(ETH_1H, "date"), *H1_2022)
    result = backtest_symbol(
        candles, load_strategy("custom"), SEED_CLOSE, indicators=seed_indicators(candles)
    )
    assert _tuples(result.trades) == original_loop(candles, "custom")


def test_custom_h1_2022_seed_close_golden(eth_1h):
    result = run_backtest(eth_1h, "custom", SEED_CLOSE, preset="seed", start=H1_2022[0], end=H1_2022[1])
    first = result.trades.iloc[0]
    assert (first.side, str(first.entry_time), first.entry_price) == (
        "short",
        "2022-01-04 15:00:00+00:00",
        3849.52,
    )
    assert (str(first.exit_time), first.exit_price, first.exit_reason) == (
        "2022-01-05 19:00:00+00:00",
        3655.30,
        "take_profit",
    )
    assert result.trades["exit_reason"].value_counts().to_dict() == {"stop_loss": 22, "take_profit": 21}
    assert result.open_positions == []
    expected = {
        "n_trades": 43,
        "n_long": 15,
        "n_short": 28,
        "final_equity": 12065.924051575923,
        "total_return_pct": 20.659240515759226,
        "cagr_pct": 46.078284625405615,
        "max_drawdown_pct": -17.09590679012497,
        "max_drawdown_duration_days": 70.75,
        "sharpe": 1.4835798679032268,
        "sortino": 2.1658687528381426,
        "calmar": 2.6952816946815368,
        "win_rate_pct": 48.837209302325576,
        "win_rate_long_pct": 46.666666666666664,
        "win_rate_short_pct": 50.0,
        "profit_factor": 1.3011859515564903,
        "expectancy": 48.04474538548657,
        "avg_holding_hours": 14.023255813953488,
        "max_holding_hours": 51.0,
        "exposure_pct": 13.88121546961326,
        "fees_paid": 389.97088572164046,
        "duration_days": 181.0,
    }
    for key, value in expected.items():
        assert result.stats[key] == pytest.approx(value, rel=1e-9), key


def test_custom_h1_2022_intrabar_ta_golden(eth_1h):
    result = run_backtest(eth_1h, "custom", BacktestConfig(), start=H1_2022[0], end=H1_2022[1])
    trades = result.trades
    assert len(trades) == 10
    assert trades["exit_reason"].value_counts().to_dict() == {"stop_loss": 8, "take_profit": 2}
    first = trades.iloc[0]
    # signal on the 12:00 candle's close, filled at the 13:00 open; stop at its level
    assert (first.side, str(first.entry_time), first.entry_price) == (
        "long",
        "2022-01-06 13:00:00+00:00",
        3361.15,
    )
    assert first.exit_price == pytest.approx(3361.15 * 0.985)
    assert result.stats["final_equity"] == pytest.approx(9325.254266188698, rel=1e-9)
    assert result.stats["max_drawdown_pct"] == pytest.approx(-9.283296808351194, rel=1e-9)


def test_basic_5m_seed_close_golden(eth_5m):
    result = run_backtest(eth_5m, "basic", SEED_CLOSE, preset="seed")
    last = result.trades.iloc[-1]
    assert (last.side, str(last.entry_time), last.entry_price, last.exit_price, last.exit_reason) == (
        "long",
        "2025-07-01 15:25:00+00:00",
        2423.53,
        2497.01,
        "take_profit",
    )
    assert result.stats["n_trades"] == 42
    assert result.stats["final_equity"] == pytest.approx(7589.748603709106, rel=1e-9)
    assert result.stats["win_rate_pct"] == pytest.approx(100 * 11 / 42)
    assert result.stats["profit_factor"] == pytest.approx(0.5811468865843985, rel=1e-9)


def test_several_symbols_in_one_run_split_the_cash():
    paths = {s: DATA / f"{s}_5m_2025-08.csv" for s in ("ETHUSDT", "BTCUSDT")}
    frames = {s: _load(p) for s, p in paths.items()}
    result = run_backtest(frames, "basic", BacktestConfig(cash=20_000))
    alone = run_backtest(frames["BTCUSDT"], "basic", BacktestConfig(cash=10_000))
    assert set(result.trades["symbol"]) <= {"ETHUSDT", "BTCUSDT"}
    assert _tuples(result.symbols["BTCUSDT"].trades) == _tuples(alone.trades)
    total = sum(r.equity.iloc[-1] for r in result.symbols.values())
    assert result.equity.iloc[-1] == pytest.approx(total)
    assert result.stats["n_trades"] == sum(len(r.trades) for r in result.symbols.values())
