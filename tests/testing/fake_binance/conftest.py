"""A fake exchange over two real 5m files, served from a background thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cryptoflow.testing.fake_binance import FakeExchange, ReplayMarket

KEY, SECRET = "fake-api-key", "fake-api-secret"


def make_exchange(
    shared_data: Path,
    *,
    symbols=("ETHUSDT", "BTCUSDT"),
    history=60,
    limit=8,
    speed=None,
    fill_at="last",
    lockstep=False,
):
    files = [shared_data / f"{symbol}_5m_2025-08.csv" for symbol in symbols]
    market = ReplayMarket.from_files(files, history=history, limit=limit, updates_per_candle=3)
    exchange = FakeExchange(
        market,
        speed=speed,
        api_key=KEY,
        api_secret=SECRET,
        fill_at=fill_at,
        lockstep_timeout_s=2.0 if lockstep else None,
    )
    return exchange.start_in_thread()


@pytest.fixture
def exchange(shared_data: Path) -> Iterator[FakeExchange]:
    ex = make_exchange(shared_data)
    yield ex
    ex.stop_thread()
