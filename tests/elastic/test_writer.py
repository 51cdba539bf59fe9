"""The bulk writer's verdicts on Elasticsearch's per-item answers (unit: a canned answer, no server;
index blocks on the real server).

The same paths run against the real server in test_sink.py (mapping rejections) and test_faults.py
(connection errors, the flood-stage block); 429 and 5xx items cannot be provoked on demand on a healthy
single node.
"""

from __future__ import annotations

from typing import Any

import pytest

from cryptoflow.config import load_settings
from cryptoflow.elastic import BulkWriter, IndexBlocked, make_client
from cryptoflow.errors import TemporaryError
from cryptoflow.stack import LocalStack


class _Answering:
    """Stands in for the client: returns one canned bulk answer."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.bodies: list[list[bytes]] = []

    def options(self, **_: Any) -> _Answering:
        return self

    def bulk(self, operations: list[bytes], **_: Any) -> dict[str, Any]:
        self.bodies.append(list(operations))
        return self.answer


def _writer(statuses: list[int]) -> tuple[BulkWriter, _Answering]:
    items = []
    for status in statuses:
        item: dict[str, Any] = {"status": status}
        if status >= 300:
            kind = "mapper_parsing_exception" if status == 400 else "es_rejected_execution_exception"
            item["error"] = {"type": kind, "reason": f"because {status}"}
        items.append({"index": item})
    client = _Answering({"errors": any(s >= 300 for s in statuses), "items": items})
    writer = BulkWriter(client)  # type: ignore[arg-type]
    for k in range(len(statuses)):
        writer.add("idx", f"id-{k}", b'{"a":1}', ref=k)
    return writer, client


def test_all_acknowledged_clears_the_buffer() -> None:
    writer, client = _writer([201, 200])
    result = writer.flush()
    assert (result.indexed, result.rejected, len(writer)) == (2, [], 0)
    assert client.bodies[0][0] == b'{"index":{"_index":"idx","_id":"id-0"}}'


def test_a_mapping_rejection_is_returned_for_the_dead_letter_queue() -> None:
    writer, _ = _writer([201, 400, 200])
    result = writer.flush()
    assert result.indexed == 2
    [rejection] = result.rejected
    assert (rejection.ref, rejection.status, rejection.error_type) == (1, 400, "mapper_parsing_exception")
    assert "because 400" in rejection.reason


@pytest.mark.parametrize("status", [429, 503])
def test_an_overloaded_or_failing_item_fails_the_batch_for_a_retry(status: int) -> None:
    writer, _ = _writer([201, status, 400])
    with pytest.raises(TemporaryError, match=f"1 of 3 documents.*{status}"):
        writer.flush()
    assert len(writer) == 3  # kept: the caller retries or rewinds


@pytest.mark.integration
def test_a_write_block_is_a_pause_not_a_rejected_document(local_stack: LocalStack, unique_name: str) -> None:
    """``index.blocks.write`` answers 403 per item, which used to send every document to the DLQ."""
    client = make_client(load_settings().elasticsearch)
    index = f"{unique_name}-blocked"
    client.indices.create(index=index, settings={"number_of_replicas": 0, "index.blocks.write": True})
    try:
        writer = BulkWriter(client)
        writer.add(index, "id-0", b'{"a":1}', ref=0)
        with pytest.raises(IndexBlocked) as raised:
            writer.flush()
        assert raised.value.indices == [index] and raised.value.setting == "index.blocks.write"
        assert f'PUT {index}/_settings {{"index.blocks.write": null}}' in str(raised.value)
        assert len(writer) == 1  # kept for the retry
    finally:
        client.indices.delete(index=index)
