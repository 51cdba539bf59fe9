"""Fixtures of the trading tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._trading import HISTORY
from tests.testing.fake_binance.conftest import make_exchange


@pytest.fixture
def exchange(shared_data: Path):
    ex = make_exchange(shared_data, symbols=("ETHUSDT",), history=HISTORY, limit=20)
    yield ex
    ex.stop_thread()
