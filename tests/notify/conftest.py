"""The notify tests' webhook receiver, fresh for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cryptoflow.testing.webhooks import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server
