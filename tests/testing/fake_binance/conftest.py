"""A fake exchange over two real 5m files, served from a background thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cryptoflow.testing.fake_binance import FakeExchange, replay_exchange


@pytest.fixture
def exchange(shared_data: Path) -> Iterator[FakeExchange]:
    ex = replay_exchange(shared_data)
    yield ex
    ex.stop_thread()
