"""Shared fixtures. Integration tests talk to the real local Kafka and Elasticsearch: a running stack is
used as it is; otherwise the session starts one through the same code as `cryptoflow stack up` and stops
it at the end.

Every test using a fixture that needs the stack or a broker of its own (:data:`INTEGRATION_FIXTURES`) is
marked ``integration`` here, so ``pytest -m "not integration and not slow"`` (the fast lane) never
reaches for Kafka or Elasticsearch; modules that talk to them otherwise carry the mark themselves."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cryptoflow.candles import shared_data_dir
from cryptoflow.config import Settings, load_settings
from cryptoflow.stack import KafkaService, LocalStack
from cryptoflow.testing.services import cleanup, free_port, prefixed_settings

INTEGRATION_FIXTURES = frozenset({"local_stack", "own_kafka", "secure_kafka", "pipeline"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``CRYPTOFLOW_*`` variable and no ``.env`` or ``cryptoflow.toml`` in the working directory: the
    settings a test reads are the defaults plus what it sets (``pytestmark = usefixtures(...)``)."""
    for name in list(os.environ):
        if name.startswith("CRYPTOFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real candles in ../shared/data or $CRYPTOFLOW_SHARED_DATA (see its README)."""
    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.fail(f"real candle files expected in {folder}")
    return folder


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    return load_settings()


_NAMES: list[str] = []  # every name handed out by new_name() in this session


@pytest.fixture(scope="session")
def local_stack(stack_settings: Settings) -> Iterator[LocalStack]:
    """The real local stack, up for the whole session. At the end, whatever the session's tests created
    under their unique names (topics, consumer groups, indices, index templates) is removed, then the
    stack is stopped if this session started it."""
    stack = LocalStack(stack_settings.stack)
    before = {name: info["managed_pid"] for name, info in stack.status().items() if info["up"]}
    stack.up()
    yield stack
    _remove_created(stack_settings, tuple(_NAMES))
    if not before:  # this session started it: stop what it started
        stack.down()


@pytest.fixture(scope="session")
def new_name() -> Callable[[str], str]:
    """``new_name("test-page")`` -> ``"test-page-<12 hex>"``: a name no other test uses, removed with
    everything carrying it as a prefix at the end of the session."""

    def make(kind: str = "test") -> str:
        name = f"{kind}-{uuid.uuid4().hex[:12]}"
        _NAMES.append(name)
        return name

    return make


@pytest.fixture
def unique_name(new_name: Callable[[str], str]) -> str:
    """A name no other test uses (topics, indices, consumer groups)."""
    return new_name("test")


@pytest.fixture
def pipeline(local_stack: LocalStack, unique_name: str) -> Iterator[Settings]:
    """Settings whose topics (``<unique>.*``) and indices (``<unique>-*``) belong to this test only."""
    settings = prefixed_settings(unique_name)
    yield settings
    cleanup(settings)


def _remove_created(settings: Settings, names: tuple[str, ...]) -> None:
    """Delete the topics, consumer groups, indices and index templates whose names start with ``names``
    (a test that cleaned up after itself leaves nothing to find)."""
    if not names:
        return
    from confluent_kafka.admin import AdminClient

    from cryptoflow.elastic import make_client
    from cryptoflow.kafka import client_config

    admin = AdminClient(client_config(settings.kafka))
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(names)]
    for future in (admin.delete_topics(topics, operation_timeout=30) if topics else {}).values():
        future.result(timeout=30)
    listed = admin.list_consumer_groups().result(timeout=10)
    groups = [g.group_id for g in listed.valid if g.group_id.startswith(names)]
    for future in (admin.delete_consumer_groups(groups) if groups else {}).values():
        future.exception(timeout=10)  # a group with members (a process still running) stays
    client = make_client(settings.elasticsearch)
    patterns = ",".join(f"{name}*" for name in names)
    indices = list(client.indices.get(index=patterns, expand_wildcards="all", ignore_unavailable=True))
    for start in range(0, len(indices), 50):  # wildcard deletes are refused; keep URLs short
        client.indices.delete(index=",".join(indices[start : start + 50]))
    for template in client.indices.get_index_template().body["index_templates"]:
        if template["name"].startswith(names):
            client.indices.delete_index_template(name=template["name"])


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
