"""Formatting a new broker's KRaft storage with any random cluster id."""

from __future__ import annotations

import base64
import shutil
import uuid

import pytest

from cryptoflow.config import Settings
from cryptoflow.stack import KafkaService
from cryptoflow.stack import _kafka as kafka_module
from cryptoflow.testing.services import free_port

pytestmark = pytest.mark.integration


def test_a_cluster_id_starting_with_a_dash_is_not_taken_for_an_option(
    stack_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One random id in 64 starts with "-" (urlsafe base64 of 0xf8...); the storage tool once read it as
    an option and failed with "argument --cluster-id/-t: expected one argument"."""
    dashed = uuid.UUID(bytes=b"\xf8" + bytes(range(15)))
    assert base64.urlsafe_b64encode(dashed.bytes).startswith(b"-")
    monkeypatch.setattr(kafka_module.uuid, "uuid4", lambda: dashed)
    settings = stack_settings.stack.model_copy(
        update={"kafka_port": free_port(), "kafka_controller_port": free_port()}
    )
    broker = KafkaService(settings, name=f"kafka-test-{dashed.hex[:8]}-dash")
    try:
        broker.start()
        meta = (broker.run_dir / "data" / "meta.properties").read_text()
        assert "cluster.id=-" in meta
    finally:
        broker.stop(timeout_s=20)
        shutil.rmtree(broker.run_dir, ignore_errors=True)
