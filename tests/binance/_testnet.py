"""Helpers of the testnet broker's tests: a broker on the fake exchange, the candle the replay starts
after, prices on the tick grid, a stop level the replay crosses."""

from __future__ import annotations

import asyncio
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd

from cryptoflow.binance import BinanceEndpoints, BinanceFuturesBroker
from cryptoflow.brokers import TradingConfig
from cryptoflow.candles import Candle
from cryptoflow.testing.fake_binance import API_KEY, API_SECRET, FakeExchange

CONFIG = TradingConfig(cash=10_000, fee_rate=0.0004, fraction=0.5, leverage=2, margin_type="ISOLATED")
HISTORY = 60
SYMBOL = "ETHUSDT"


def broker_for(exchange: FakeExchange, tmp_path: Path, **kw) -> BinanceFuturesBroker:
    return BinanceFuturesBroker(
        CONFIG,
        tmp_path / "testnet.json",
        mode="testnet",
        endpoints=BinanceEndpoints(exchange.base_url, exchange.stream_url),
        api_key=API_KEY,
        api_secret=API_SECRET,
        **kw,
    )


def frame(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / f"{SYMBOL}_5m_2025-08.csv")


def last_history_candle(shared_data: Path) -> Candle:
    """The last candle served as history: its close is the exchange's last price before the replay."""
    row = frame(shared_data).iloc[HISTORY - 1]
    open_time = int(pd.Timestamp(row["Open time"], tz="UTC").value // 1_000_000)
    prices = [float(row[name]) for name in ("Open", "High", "Low", "Close", "Volume")]
    return Candle(SYMBOL, "5m", open_time, open_time + 299_999, *prices)


def replayed(shared_data: Path, limit: int) -> pd.DataFrame:
    """The ``limit`` candles the replay sends after the history."""
    return frame(shared_data).iloc[HISTORY : HISTORY + limit]


def crossed_stop_pct(shared_data: Path, limit: int) -> float:
    """A long's ``stop_loss_pct`` from the last history close that the next ``limit`` candles' lows cross."""
    close = last_history_candle(shared_data).close
    return (close - float(replayed(shared_data, limit).Low.min())) / close * 100 / 2


def on_tick(exchange: FakeExchange, value: float) -> Decimal:
    tick = Decimal(exchange.market.rules[SYMBOL].tick_size)
    return ((Decimal(repr(float(value))) / tick).to_integral_value(ROUND_HALF_UP) * tick).quantize(tick)


def algo_orders(exchange: FakeExchange) -> dict[str, object]:
    return {a.client_algo_id: a for a in exchange.account.algo_orders.values()}


async def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
