"""Exchange-side protection of the testnet broker against the fake exchange (real signed HTTP, the real
user data stream): protective algo orders at the strategy's levels, cancelled after our close, reconciled
on start, and closes made by the exchange recorded from its fills, while running and after a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pandas as pd
import pytest
import requests

from cryptoflow.binance import Protection
from cryptoflow.brokers import ClosedTrade, client_order_id
from cryptoflow.testing.fake_binance import API_KEY, replay_exchange
from tests.binance._testnet import (
    HISTORY,
    SYMBOL,
    algo_orders,
    broker_for,
    crossed_stop_pct,
    last_history_candle,
    on_tick,
    replayed,
    wait_for,
)

pytestmark = pytest.mark.slow  # replays candles through the fake exchange


def test_protective_orders_at_the_levels_then_cancelled_after_our_close(
    shared_data: Path, tmp_path: Path
) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20)
    candle = last_history_candle(shared_data)
    entry_id = client_order_id("protect", SYMBOL, candle.open_time, "open")
    exit_id = client_order_id("protect", SYMBOL, candle.open_time + 300_000, "close")

    async def main() -> tuple:
        broker = broker_for(exchange, tmp_path)
        await broker.start([SYMBOL])
        try:
            position = await broker.open_position(
                SYMBOL, -1, candle, entry_id, protection=Protection(stop_loss_pct=1.0, take_profit_pct=2.0)
            )
            placed = {
                cid: (a.status, a.order_type, a.trigger_price) for cid, a in algo_orders(exchange).items()
            }
            state = json.loads((tmp_path / "testnet.json").read_text())
            trade = await broker.close_position(SYMBOL, candle, "signal", exit_id)
        finally:
            await broker.stop()
        return position, placed, state, trade

    try:
        position, placed, state, trade = asyncio.run(main())
    finally:
        exchange.stop_thread()
    assert position is not None and position.side == -1
    fill = position.entry_price
    assert fill == float(exchange.account.trades[0]["price"])
    stop, take = on_tick(exchange, fill * 1.01), on_tick(exchange, fill * 0.98)  # a short: stop above
    assert placed == {
        f"{entry_id}-sl": ("NEW", "STOP_MARKET", stop),
        f"{entry_id}-tp": ("NEW", "TAKE_PROFIT_MARKET", take),
    }
    sent = [r for r in exchange.account.requests if r.get("algoType") == "CONDITIONAL"]
    assert [(r["side"], r["closePosition"], r.get("quantity"), r.get("reduceOnly")) for r in sent] == [
        ("BUY", "true", None, None)
    ] * 2
    assert state["protective"][SYMBOL]["stop_price"] == str(stop)
    # after our close nothing protective is left, on the exchange or in the state (Binance expires
    # close-position orders once the position is flat; the broker's cancel then finds them gone)
    assert trade.exit_reason == "signal" and trade.exit_order_id == exit_id
    assert {cid: a.status for cid, a in algo_orders(exchange).items()} == {
        f"{entry_id}-sl": "EXPIRED",
        f"{entry_id}-tp": "EXPIRED",
    }
    assert exchange.account.positions[SYMBOL].amount == 0
    assert json.loads((tmp_path / "testnet.json").read_text())["protective"] == {}


def test_stop_filled_while_no_process_ran_is_recorded_on_restart_without_an_order(
    shared_data: Path, tmp_path: Path
) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20)
    candle = last_history_candle(shared_data)
    replay = replayed(shared_data, 20)
    stop_pct = crossed_stop_pct(shared_data, 20)  # a take-profit far away
    entry_id = client_order_id("restart", SYMBOL, candle.open_time, "open")
    reported: list[ClosedTrade] = []

    async def first() -> None:
        broker = broker_for(exchange, tmp_path)
        await broker.start([SYMBOL])
        await broker.open_position(
            SYMBOL, 1, candle, entry_id, protection=Protection(stop_loss_pct=stop_pct, take_profit_pct=20)
        )
        await broker.stop()

    async def second() -> tuple:
        broker = broker_for(exchange, tmp_path, on_exchange_close=reported.append)
        opened = await broker.start([SYMBOL])
        await broker.stop()
        return opened, broker.last_closed(SYMBOL)

    try:
        asyncio.run(first())
        requests_before = list(exchange.account.requests)
        entry_fill = exchange.account.trades[0]
        exchange.start_replay()  # no process of ours runs: the stop closes the position on the exchange
        assert exchange.wait_done(30)
        assert exchange.account.positions[SYMBOL].amount == 0
        opened, closed = asyncio.run(second())
    finally:
        exchange.stop_thread()
    stop_fill = exchange.account.trades[-1]
    assert len(exchange.account.trades) == 2 and stop_fill["side"] == "SELL"
    assert opened == {SYMBOL: None}
    assert closed is not None and reported == [closed]
    assert closed.exit_reason == "stop_loss"
    assert closed.exit_price == float(stop_fill["price"])
    assert closed.exit_time == stop_fill["time"]
    assert closed.fees == pytest.approx(float(entry_fill["commission"]) + float(stop_fill["commission"]))
    assert closed.exit_order_id == f"{entry_id}-sl" and closed.entry_order_id == entry_id
    # the fill's time lies in the replayed candle whose prices crossed the stop
    stop = float(on_tick(exchange, closed.entry_price * (1 - stop_pct / 100)))
    assert closed.exit_price == stop
    crossing = replay[replay.Low <= stop].iloc[0]
    crossed_at = int(pd.Timestamp(crossing["Open time"], tz="UTC").value // 1_000_000)
    assert crossed_at <= closed.exit_time < crossed_at + 300_000
    assert closed.pnl == pytest.approx(
        closed.quantity * (closed.exit_price - closed.entry_price) - closed.fees, rel=1e-9
    )
    # the restarted broker sent no order
    assert exchange.account.requests == requests_before
    assert {a.status for a in exchange.account.algo_orders.values()} == {"FINISHED", "EXPIRED"}


def test_the_user_stream_reports_a_take_profit_while_the_broker_runs(
    shared_data: Path, tmp_path: Path
) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20, speed=20)
    candle = last_history_candle(shared_data)
    entry_id = client_order_id("stream", SYMBOL, candle.open_time, "open")
    reported: list[ClosedTrade] = []

    async def main() -> tuple:
        broker = broker_for(exchange, tmp_path, on_exchange_close=reported.append)
        await broker.start([SYMBOL])
        try:
            await broker.open_position(
                SYMBOL, 1, candle, entry_id, protection=Protection(stop_loss_pct=5, take_profit_pct=0.5)
            )
            assert broker.user_stream is not None
            await asyncio.wait_for(broker.user_stream.connected.wait(), 10)
            exchange.start_replay()
            await wait_for(lambda: bool(reported))
            return broker.position(SYMBOL), broker.last_closed(SYMBOL), broker.user_stream.connections
        finally:
            await broker.stop()

    try:
        position, closed, connections = asyncio.run(main())
    finally:
        exchange.stop_thread()
    take_fill = exchange.account.trades[-1]
    assert position is None and connections == 1
    assert reported == [closed]
    assert closed.exit_reason == "take_profit" and closed.exit_order_id == f"{entry_id}-tp"
    assert (
        closed.exit_price == float(take_fill["price"]) == float(on_tick(exchange, closed.entry_price * 1.005))
    )
    assert closed.exit_time == take_fill["time"]
    assert {cid: a.status for cid, a in algo_orders(exchange).items()} == {
        f"{entry_id}-sl": "EXPIRED",
        f"{entry_id}-tp": "FINISHED",
    }
    assert json.loads((tmp_path / "testnet.json").read_text())["last_closed"][SYMBOL]["exit_reason"] == (
        "take_profit"
    )


def test_start_restores_missing_protection_and_cancels_orphans_and_resting_entries(
    shared_data: Path, tmp_path: Path
) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL, "BTCUSDT"), history=HISTORY, limit=20)
    candle = last_history_candle(shared_data)
    entry_id = client_order_id("reconcile", SYMBOL, candle.open_time, "open")

    async def first() -> None:
        broker = broker_for(exchange, tmp_path)
        await broker.start([SYMBOL, "BTCUSDT"])
        await broker.open_position(
            SYMBOL, 1, candle, entry_id, protection=Protection(stop_loss_pct=2, take_profit_pct=3)
        )
        await broker.stop()

    async def second() -> None:
        broker = broker_for(exchange, tmp_path)
        await broker.start([SYMBOL, "BTCUSDT"])
        await broker.stop()

    try:
        asyncio.run(first())
        exchange.desk.cancel_algo({"clientAlgoId": f"{entry_id}-sl"})  # lost while we were away
        orphan = exchange.desk.new_algo_order(
            {
                "algoType": "CONDITIONAL",
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "triggerPrice": "1000.0",
                "closePosition": "true",
                "clientAlgoId": "cf-000000000000000000000000-sl",
            }
        )
        for client_id in ("cf-111111111111111111111111", "by-hand"):  # a dead process's entry; someone's
            resting = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010")
            exchange.desk.new_order(resting | {"price": "50000.0", "newClientOrderId": client_id})
        asyncio.run(second())
    finally:
        exchange.stop_thread()
    assert [(o.client_order_id, o.status) for o in exchange.account.orders.values()][1:] == [
        ("cf-111111111111111111111111", "CANCELED"),
        ("by-hand", "NEW"),
    ]
    statuses = [(a.client_algo_id, a.status) for a in exchange.account.algo_orders.values()]
    assert statuses == [
        (f"{entry_id}-sl", "CANCELED"),
        (f"{entry_id}-tp", "NEW"),  # left as it was
        (orphan["clientAlgoId"], "CANCELED"),  # no BTCUSDT position
        (f"{entry_id}-sl", "NEW"),  # placed again, same id and level
    ]
    first_stop, _, _, again = exchange.account.algo_orders.values()
    assert again.trigger_price == first_stop.trigger_price


def test_the_user_stream_survives_a_drop_and_a_lost_listen_key(shared_data: Path, tmp_path: Path) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20, speed=20)
    candle = last_history_candle(shared_data)
    entry_id = client_order_id("drops", SYMBOL, candle.open_time, "open")
    reported: list[ClosedTrade] = []

    def forget_listen_key() -> None:  # as Binance forgets a key nobody kept alive
        answer = requests.delete(f"{exchange.base_url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": API_KEY})
        answer.raise_for_status()

    async def main() -> int:
        broker = broker_for(exchange, tmp_path, on_exchange_close=reported.append)
        broker.user_stream_keepalive_s = 0.2
        await broker.start([SYMBOL])
        try:
            await broker.open_position(
                SYMBOL, 1, candle, entry_id, protection=Protection(stop_loss_pct=5, take_profit_pct=0.5)
            )
            stream = broker.user_stream
            assert stream is not None
            await wait_for(lambda: stream.connections == 1 and exchange.user_streams.keepalives >= 2)
            first_key = exchange.user_streams.listen_key
            exchange.drop_connections()
            await wait_for(lambda: stream.connections == 2 and stream.connected.is_set())
            await asyncio.to_thread(forget_listen_key)
            await wait_for(lambda: stream.connections == 3 and stream.connected.is_set())
            assert exchange.user_streams.listen_key not in (None, first_key)
            exchange.start_replay()
            await wait_for(lambda: bool(reported))
            await asyncio.sleep(0.5)  # a second report would come now
            return stream.connections
        finally:
            await broker.stop()

    try:
        connections = asyncio.run(main())
    finally:
        exchange.stop_thread()
    assert connections == 3
    assert [(t.exit_reason, t.exit_order_id) for t in reported] == [("take_profit", f"{entry_id}-tp")]


def test_a_level_the_price_already_passed_closes_at_market_at_once(shared_data: Path, tmp_path: Path) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20)
    candle = last_history_candle(shared_data)
    entry_id = client_order_id("passed", SYMBOL, candle.open_time, "open")
    reported: list[ClosedTrade] = []

    async def main() -> tuple:
        broker = broker_for(exchange, tmp_path, on_exchange_close=reported.append)
        await broker.start([SYMBOL])
        try:
            # a stop 0.0001 % away rounds to the fill price itself: Binance refuses it (-2021)
            opened = await broker.open_position(
                SYMBOL, 1, candle, entry_id, protection=Protection(stop_loss_pct=0.0001, take_profit_pct=2)
            )
            await asyncio.sleep(0)  # the report follows the caller's resumption
            return opened, broker.position(SYMBOL), list(reported)
        finally:
            await broker.stop()

    try:
        opened, position, seen = asyncio.run(main())
    finally:
        exchange.stop_thread()
    assert opened is not None and position is None
    assert [(t.exit_reason, t.exit_order_id) for t in seen] == [("stop_loss", f"{entry_id}-sx")]
    assert exchange.account.positions[SYMBOL].amount == 0
    assert [r["newClientOrderId"] for r in exchange.account.requests if "newClientOrderId" in r] == [
        entry_id,
        f"{entry_id}-sx",
    ]
    assert all(a.status != "NEW" for a in exchange.account.algo_orders.values())


def test_an_exit_after_the_exchange_stopped_the_position_answers_the_exchanges_close(
    shared_data: Path, tmp_path: Path
) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20)
    candle = last_history_candle(shared_data)
    stop_pct = crossed_stop_pct(shared_data, 20)
    entry_id = client_order_id("late", SYMBOL, candle.open_time, "open")
    exit_id = client_order_id("late", SYMBOL, candle.open_time + 300_000, "close")

    async def main():
        broker = broker_for(exchange, tmp_path)  # no hook: no user data stream
        await broker.start([SYMBOL])
        try:
            await broker.open_position(
                SYMBOL, 1, candle, entry_id, protection=Protection(stop_loss_pct=stop_pct, take_profit_pct=20)
            )
            exchange.start_replay()
            assert await asyncio.to_thread(exchange.wait_done, 30)
            return await broker.close_position(SYMBOL, candle, "signal", exit_id), broker.position(SYMBOL)
        finally:
            await broker.stop()

    try:
        trade, position = asyncio.run(main())
    finally:
        exchange.stop_thread()
    assert position is None
    assert (trade.exit_reason, trade.exit_order_id) == ("stop_loss", f"{entry_id}-sl")
    assert trade.exit_price == float(exchange.account.trades[-1]["price"])
    assert exit_id not in {r.get("newClientOrderId") for r in exchange.account.requests}  # refused: -2022
