"""A broker of the security tests' own with a SASL_SSL listener (SCRAM-SHA-512, a CA and a broker
certificate made at its start): the shared broker on 9092 is never touched."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from cryptoflow.config import Settings
from cryptoflow.stack import KafkaService, LocalStack
from cryptoflow.testing.services import free_port


@pytest.fixture(scope="session")
def secure_kafka(stack_settings: Settings, local_stack: LocalStack) -> Iterator[KafkaService]:
    """A fresh single-node broker (own ports and storage, shared jars) with PLAINTEXT and SASL_SSL
    listeners and its SCRAM user; stopped and removed at the end of the session."""
    settings = stack_settings.stack.model_copy(
        update={
            "kafka_port": free_port(),
            "kafka_controller_port": free_port(),
            "kafka_secure_port": free_port(),
        }
    )
    broker = KafkaService(settings, name=f"kafka-secure-{uuid.uuid4().hex[:8]}", secure=True)
    broker.start()
    try:
        broker.wait_ready(120)
        broker.ensure_user(timeout_s=60)
        yield broker
    finally:
        broker.stop(timeout_s=20)
        shutil.rmtree(broker.run_dir, ignore_errors=True)
