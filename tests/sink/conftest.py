"""Each pipeline test gets its own topic and index prefix, cleaned up afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cryptoflow.config import Settings
from cryptoflow.stack import LocalStack
from cryptoflow.testing.services import cleanup, prefixed_settings


@pytest.fixture
def pipeline(local_stack: LocalStack, unique_name: str) -> Iterator[Settings]:
    """Settings whose topics (``<unique>.*``) and indices (``<unique>-*``) belong to this test only."""
    settings = prefixed_settings(unique_name)
    yield settings
    cleanup(settings)
