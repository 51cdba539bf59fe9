"""Fixtures of the trading tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryptoflow.testing.fake_binance import replay_exchange
from tests._trading import HISTORY


@pytest.fixture
def exchange(shared_data: Path):
    ex = replay_exchange(shared_data, symbols=("ETHUSDT",), history=HISTORY, limit=20)
    yield ex
    ex.stop_thread()
