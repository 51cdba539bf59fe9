"""Shared fixtures. Integration tests talk to the real local Kafka and Elasticsearch: a running stack is
used as it is; otherwise the session starts one through the same code as `cryptoflow stack up` and stops
it at the end."""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cryptoflow.config import Settings, load_settings
from cryptoflow.stack import KafkaService, LocalStack

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real candles in ../shared/data (see its README)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real candle files expected in {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def local_stack(stack_settings: Settings) -> Iterator[LocalStack]:
    """The real local stack, up for the whole session."""
    stack = LocalStack(stack_settings.stack)
    before = {name: info["managed_pid"] for name, info in stack.status().items() if info["up"]}
    stack.up()
    yield stack
    if not before:  # this session started it: stop what it started
        stack.down()


@pytest.fixture
def unique_name() -> str:
    """A name no other test uses (topics, indices, consumer groups)."""
    return f"test-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_kafka(stack_settings: Settings) -> Iterator[KafkaService]:
    """A second, fresh single-node broker of this test's own (other ports, own storage), which the test
    may kill and restart; the shared stack's broker is never touched. Stopped and removed afterwards."""
    settings = stack_settings.stack.model_copy(
        update={"kafka_port": free_port(), "kafka_controller_port": free_port()}
    )
    broker = KafkaService(settings, name=f"kafka-test-{uuid.uuid4().hex[:8]}")
    broker.start()
    try:
        broker.wait_ready(120)
        yield broker
    finally:
        broker.stop(timeout_s=20)
        shutil.rmtree(broker.run_dir, ignore_errors=True)
