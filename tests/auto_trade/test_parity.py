"""Parity: candles replayed by the fake exchange through auto_trade (paper broker) produce exactly the
trades the backtester (``close`` fill model) finds on the same candles."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cryptoflow.brokers import PaperBroker, TradingConfig
from cryptoflow.strategies import load_strategy
from cryptoflow.testing.fake_binance import replay_exchange
from tests._trading import HISTORY, LIVE, STRATEGIES, SYMBOLS, EmaBands, backtest_trades, run_trader

pytestmark = pytest.mark.slow  # replays candles through the fake exchange in real time


@pytest.mark.parametrize("name", [*sorted(STRATEGIES), "declared"])
def test_paper_trades_equal_backtest_trades(shared_data: Path, tmp_path: Path, name: str) -> None:
    strategy = EmaBands() if name == "declared" else load_strategy("basic", **STRATEGIES[name])
    config = TradingConfig(cash=10_000, fee_rate=0.0004, slippage_rate=0.0002, fraction=0.5, leverage=2)
    exchange = replay_exchange(shared_data, symbols=SYMBOLS, history=HISTORY, limit=LIVE, speed=200)
    try:
        broker = PaperBroker(config, tmp_path / "paper.json")
        runner, events = run_trader(exchange, strategy, broker, tmp_path)
    finally:
        exchange.stop_thread()
    total = 0
    for symbol in SYMBOLS:
        expected = backtest_trades(shared_data, symbol, strategy, config)
        live = runner.traders[symbol].trades
        assert len(live) == len(expected) and len(expected) >= 3, symbol
        total += len(expected)
        for got, want in zip(live, expected.itertuples(index=False), strict=True):
            assert got.side == want.side
            assert got.entry_time == want.entry_time.value // 1_000_000
            assert got.exit_time == want.exit_time.value // 1_000_000
            assert got.exit_reason == want.exit_reason
            assert (got.entry_price, got.exit_price, got.quantity, got.pnl, got.fees) == pytest.approx(
                (want.entry_price, want.exit_price, want.quantity, want.pnl, want.fees), rel=1e-12
            )
    # one candle event per closed live candle, a trade event per leg
    kinds = pd.Series([e.schema_name for e in events]).value_counts().to_dict()
    assert kinds["candle"] == LIVE * len(SYMBOLS)
    assert kinds["trade"] in (2 * total, 2 * total + 1, 2 * total + 2)  # + legs of still-open positions
    assert len({e.event_id for e in events}) == len(events)
