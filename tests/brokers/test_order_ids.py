"""Deterministic client order ids."""

from __future__ import annotations

import re

from cryptoflow.brokers import client_order_id


def test_client_order_ids_are_deterministic_and_valid_for_binance() -> None:
    first = client_order_id("run-1", "ETHUSDT", 1755630300000, "open")
    assert first == client_order_id("run-1", "ETHUSDT", 1755630300000, "open")
    assert first != client_order_id("run-1", "ETHUSDT", 1755630300000, "close")
    assert first != client_order_id("run-2", "ETHUSDT", 1755630300000, "open")
    assert re.fullmatch(r"[.A-Z:/a-z0-9_-]{1,36}", first)
