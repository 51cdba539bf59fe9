"""The testnet broker against the fake exchange: real signed orders, filters, rejections, restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cryptoflow.binance import BinanceEndpoints, BinanceFuturesBroker
from cryptoflow.brokers import client_order_id
from cryptoflow.errors import ConfigurationError
from cryptoflow.strategies import load_strategy
from cryptoflow.testing.fake_binance import replay_exchange
from tests._trading import HISTORY, LIVE, STRATEGIES, SYMBOLS, backtest_trades, run_trader
from tests.binance._testnet import CONFIG, broker_for

pytestmark = pytest.mark.slow  # replays candles through the fake exchange in real time


def test_keys_are_required_and_never_shown() -> None:
    with pytest.raises(ConfigurationError, match="CRYPTOFLOW_BINANCE__API_KEY") as info:
        BinanceFuturesBroker(
            CONFIG,
            Path("x.json"),
            mode="live",
            endpoints=BinanceEndpoints(),
            api_key=None,
            api_secret="s3cr3t-value",
        )
    assert "s3cr3t-value" not in str(info.value)


def test_testnet_broker_trades_like_the_backtester(shared_data: Path, tmp_path: Path) -> None:
    strategy = load_strategy("basic", **STRATEGIES["stops"])
    exchange = replay_exchange(
        shared_data, symbols=SYMBOLS, history=HISTORY, limit=LIVE, speed=200, fill_at="close", lockstep=True
    )
    try:
        runner, _ = run_trader(exchange, strategy, broker_for(exchange, tmp_path), tmp_path)
    finally:
        exchange.stop_thread()
    account = exchange.account
    for symbol in SYMBOLS:
        assert account.positions[symbol].leverage == 2 and account.positions[symbol].margin_type == "isolated"
        expected = backtest_trades(shared_data, symbol, strategy, CONFIG)
        live = runner.traders[symbol].trades
        assert [(t.side, t.entry_time, t.exit_time, t.exit_reason) for t in live] == [
            (w.side, w.entry_time.value // 1_000_000, w.exit_time.value // 1_000_000, w.exit_reason)
            for w in expected.itertuples()
        ]
        assert [t.entry_price for t in live] == pytest.approx(expected.entry_price.tolist(), rel=1e-9)
        assert [t.exit_price for t in live] == pytest.approx(expected.exit_price.tolist(), rel=1e-9)
        step = Decimal(exchange.market.rules[symbol].step_size)
        for trade in live:  # every quantity a multiple of stepSize and above the minimum notional
            assert Decimal(repr(trade.quantity)) % step == 0
            assert trade.quantity * trade.entry_price >= float(exchange.market.rules[symbol].min_notional)
    sent = [r["newClientOrderId"] for r in account.requests]
    assert len(sent) == len(set(sent)) and all(i.startswith("cf-") for i in sent)
    assert all(r.get("type") == "MARKET" for r in account.requests)


def test_fees_are_the_commissions_the_exchange_charged(shared_data: Path, tmp_path: Path) -> None:
    strategy = load_strategy("basic", **STRATEGIES["stops"])
    exchange = replay_exchange(
        shared_data, symbols=SYMBOLS, history=HISTORY, limit=LIVE, speed=200, fill_at="close", lockstep=True
    )
    exchange.account.fee_rate = 0.00018  # a VIP tier, not the configured 0.04 %
    try:
        runner, _ = run_trader(exchange, strategy, broker_for(exchange, tmp_path), tmp_path)
    finally:
        exchange.stop_thread()
    order_ids = {o.client_order_id: o.order_id for o in exchange.account.orders.values()}
    charged: dict[int, float] = {}
    for fill in exchange.account.trades:
        charged[fill["orderId"]] = charged.get(fill["orderId"], 0.0) + float(fill["commission"])
    trades = [t for trader in runner.traders.values() for t in trader.trades]
    assert len(trades) >= 4
    for trade in trades:
        want = charged[order_ids[trade.entry_order_id]] + charged[order_ids[trade.exit_order_id]]
        assert trade.fees == pytest.approx(want, rel=1e-9)
        assert trade.fees == pytest.approx(trade.quantity * (trade.entry_price + trade.exit_price) * 0.00018)


def test_rejected_order_is_reported_and_trading_goes_on(shared_data: Path, tmp_path: Path, caplog) -> None:
    strategy = load_strategy("basic", **STRATEGIES["stops"])
    exchange = replay_exchange(
        shared_data, symbols=SYMBOLS, history=HISTORY, limit=LIVE, speed=200, fill_at="close", lockstep=True
    )
    exchange.account.reject_next_orders(2, -2019, "Margin is insufficient.")
    try:
        runner, _ = run_trader(exchange, strategy, broker_for(exchange, tmp_path), tmp_path)
    finally:
        exchange.stop_thread()
    errors = [e for t in runner.traders.values() for e in t.errors]
    assert len(errors) == 2 and all("code -2019: Margin is insufficient." in e for e in errors)
    assert "code -2019" in caplog.text
    assert sum(len(t.trades) for t in runner.traders.values()) >= 4  # later decisions were traded


def test_restart_recovers_the_open_position_without_a_duplicate_order(
    shared_data: Path, tmp_path: Path
) -> None:
    strategy = load_strategy("basic", **STRATEGIES["stops"])
    exchange = replay_exchange(
        shared_data, symbols=("ETHUSDT",), history=HISTORY, limit=LIVE, fill_at="close", lockstep=True
    )
    try:
        # first process: stop right after the first entry (the position stays open on the exchange)
        trades = backtest_trades(shared_data, "ETHUSDT", strategy, CONFIG)
        first_entry = trades.entry_time.iloc[0].value // 1_000_000
        runner, _ = run_trader(
            exchange, strategy, broker_for(exchange, tmp_path), tmp_path, until=first_entry, run_id="restart"
        )
        assert exchange.account.positions["ETHUSDT"].amount != 0
        opened = runner.broker.position("ETHUSDT")
        assert opened is not None and opened.entry_time == first_entry
        requests_before = len(exchange.account.requests)
        # second process, same run id: the position comes back from the exchange before any decision
        broker = broker_for(exchange, tmp_path)
        runner2, _ = run_trader(exchange, strategy, broker, tmp_path, run_id="restart")
    finally:
        exchange.stop_thread()
    ids = [r["newClientOrderId"] for r in exchange.account.requests]
    assert len(ids) == len(set(ids))
    assert client_order_id("restart", "ETHUSDT", first_entry, "open") == ids[0]
    # the recovered position was closed by the second process, not opened again
    closes = [t for t in runner2.traders["ETHUSDT"].trades if t.entry_time == first_entry]
    assert len(closes) == 1 and closes[0].entry_order_id == ids[0]
    assert len(exchange.account.requests) > requests_before
