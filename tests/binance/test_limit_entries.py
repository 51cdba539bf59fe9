"""Limit entries of the testnet broker against the fake exchange: filled at once, re-priced after the
timeout, given up, partially filled (the fill is the position, and its protection covers it)."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoflow.binance import Protection
from cryptoflow.brokers import client_order_id
from cryptoflow.portfolio import EntrySettings
from cryptoflow.testing.fake_binance import replay_exchange
from tests.binance._testnet import HISTORY, SYMBOL, broker_for, last_history_candle, on_tick

pytestmark = pytest.mark.slow  # waits out limit-order timeouts against the fake exchange


def run_entry(exchange, tmp_path: Path, candle, entry: EntrySettings, *, start_replay: bool = False, **kw):
    """Start a broker, enter long with ``entry`` (starting the replay once the first order rests when
    ``start_replay``), stop; the position."""
    order_id = client_order_id("limit", SYMBOL, candle.open_time, "open")

    async def main():
        broker = broker_for(exchange, tmp_path)
        await broker.start([SYMBOL])

        async def replay_once_posted() -> None:
            while not exchange.account.orders:
                await asyncio.sleep(0.01)
            exchange.start_replay()

        starter = asyncio.create_task(replay_once_posted()) if start_replay else None
        try:
            return await broker.open_position(SYMBOL, 1, candle, order_id, entry=entry, **kw)
        finally:
            if starter is not None:
                starter.cancel()
            await broker.stop()

    return asyncio.run(main()), order_id


def orders(exchange) -> list[tuple[str, str, str, Decimal, Decimal]]:
    return [
        (o.client_order_id, o.type, o.status, o.price, o.filled) for o in exchange.account.orders.values()
    ]


def test_a_marketable_limit_fills_at_once(shared_data: Path, tmp_path: Path) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20)
    candle = last_history_candle(shared_data)
    entry = EntrySettings(type="limit", aggressiveness=0.001, timeout_s=5, reprices=0)
    try:
        position, order_id = run_entry(exchange, tmp_path, candle, entry, quantity=0.5)
    finally:
        exchange.stop_thread()
    price = on_tick(exchange, candle.close * 1.001)
    assert orders(exchange) == [(order_id, "LIMIT", "FILLED", price, Decimal("0.500"))]
    # it crossed the last price (the candle's close) on arrival: filled there, as a taker
    assert position is not None and position.quantity == 0.5 and position.entry_price == candle.close
    assert exchange.account.requests[0]["timeInForce"] == "GTC"


def test_an_unfilled_limit_is_repriced_from_the_last_price(shared_data: Path, tmp_path: Path) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20)
    candle = last_history_candle(shared_data)
    stale = dataclasses.replace(candle, close=round(candle.close * 0.98, 2))  # the market left it behind
    entry = EntrySettings(type="limit", aggressiveness=0.0005, timeout_s=0.3, reprices=2)
    try:
        position, order_id = run_entry(exchange, tmp_path, stale, entry, quantity=0.5)
    finally:
        exchange.stop_thread()
    assert orders(exchange) == [
        (order_id, "LIMIT", "CANCELED", on_tick(exchange, stale.close * 1.0005), Decimal(0)),
        (f"{order_id}-r1", "LIMIT", "FILLED", on_tick(exchange, candle.close * 1.0005), Decimal("0.500")),
    ]
    assert position is not None and position.quantity == 0.5 and position.entry_order_id == order_id


def test_a_limit_entry_gives_up_after_its_reprices(shared_data: Path, tmp_path: Path) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20)
    candle = last_history_candle(shared_data)
    stale = dataclasses.replace(candle, close=round(candle.close * 0.98, 2))
    entry = EntrySettings(type="limit", aggressiveness=0.0, timeout_s=0.3, reprices=0)
    try:
        position, order_id = run_entry(
            exchange, tmp_path, stale, entry, quantity=0.5, protection=Protection(1.0, 2.0)
        )
    finally:
        exchange.stop_thread()
    assert position is None
    assert orders(exchange) == [(order_id, "LIMIT", "CANCELED", on_tick(exchange, stale.close), Decimal(0))]
    assert exchange.account.positions[SYMBOL].amount == 0 and not exchange.account.algo_orders


def test_a_partial_fill_is_the_position_and_is_protected(shared_data: Path, tmp_path: Path) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=20)
    exchange.desk.volume_share = 0.0001  # a sliver of each stretch's volume: 1 ETH cannot fill
    candle = last_history_candle(shared_data)
    below = dataclasses.replace(
        candle, close=round(candle.close * 0.999, 2)
    )  # the first replayed lows reach it
    entry = EntrySettings(type="limit", aggressiveness=0.0, timeout_s=3, reprices=0)
    try:
        position, order_id = run_entry(
            exchange, tmp_path, below, entry, start_replay=True, quantity=1.0, protection=Protection(1.0, 2.0)
        )
    finally:
        exchange.stop_thread()
    ((client_id, _, status, price, filled),) = orders(exchange)
    assert client_id == order_id and status == "CANCELED" and 0 < filled < 1
    assert (
        position is not None and position.quantity == float(filled) and position.entry_price == float(price)
    )
    assert exchange.account.positions[SYMBOL].amount == float(filled)
    protective = {(a.order_type, a.close_position, a.status) for a in exchange.account.algo_orders.values()}
    assert protective == {("STOP_MARKET", True, "NEW"), ("TAKE_PROFIT_MARKET", True, "NEW")}
