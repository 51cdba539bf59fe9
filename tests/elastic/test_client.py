"""What a refused request tells the user (a secured cluster's answers, built as the client builds them)."""

from __future__ import annotations

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from cryptoflow.elastic import refusal


def answer(status: int) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "127.0.0.1", 9200),
    )
    return ApiError("security_exception", meta=meta, body={"error": {"type": "security_exception"}})


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_request_names_the_request_the_settings_and_the_privilege(status: int) -> None:
    error = refusal(answer(status), "the bulk request", "write to the indices")
    assert error is not None
    assert str(error) == (
        f"Elasticsearch refused the bulk request ({status}): check the CRYPTOFLOW_ELASTICSEARCH__* "
        "credentials and that the user may write to the indices"
    )


@pytest.mark.parametrize("status", [400, 404, 429, 500])
def test_other_answers_are_not_a_refusal(status: int) -> None:
    assert refusal(answer(status), "the bulk request", "write to the indices") is None
