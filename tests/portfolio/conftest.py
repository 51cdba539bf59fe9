"""Bot files for the portfolio tests: a standard two-strategy bot with the protections a test names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cryptoflow.portfolio import Bot, load_bot

STANDARD = """
name = "test-bot"
interval = "5m"
symbols = ["ETHUSDT", "BTCUSDT", "SOLUSDT"]

[capital]
total = 10000.0
leverage = 2

[[strategies]]
strategy = "basic"
run_id = "sig-basic"
fraction = 0.5

[[strategies]]
strategy = "custom"
run_id = "sig-custom"
fraction = 0.5
"""


@pytest.fixture
def write_bot(tmp_path: Path) -> Callable[[str], Path]:
    """Write a bot file (``bot.toml`` in the test's folder) and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "bot.toml"
        path.write_text(text)
        return path

    return write


@pytest.fixture
def make_bot(write_bot: Callable[[str], Path]) -> Callable[[str], Bot]:
    """The standard bot (basic and custom, 50 % each, on ETHUSDT, BTCUSDT, SOLUSDT, 5m candles, 10,000
    USDT) with ``protections`` (TOML text) appended."""

    def make(protections: str = "") -> Bot:
        return load_bot(write_bot(STANDARD + protections))

    return make
