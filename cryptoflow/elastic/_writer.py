"""The bulk writer: the two-verb sink contract (``add``, ``flush``) over Elasticsearch's bulk API."""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as ESConnectionError

from cryptoflow.elastic._client import refusal
from cryptoflow.errors import ConfigurationError, TemporaryError

__all__ = ["BulkWriter", "FlushResult", "IndexBlocked", "Rejection"]

# the index blocks Elasticsearch names by number in a cluster_block_exception, and their settings
_BLOCKS = {
    12: "index.blocks.read_only_allow_delete",
    8: "index.blocks.write",
    5: "index.blocks.read_only",
}
_BLOCK_ID = re.compile(r"blocked by: \[[A-Z_]+/(\d+)/")


class IndexBlocked(TemporaryError):
    """Elasticsearch refuses writes to an index because of an index block, most often the one its
    flood-stage disk watermark sets (``index.blocks.read_only_allow_delete``). Nothing was lost: the
    batch is retried until the block is lifted. ``indices`` and ``setting`` name what is blocked."""

    def __init__(self, indices: list[str], block_id: int | None, reason: str) -> None:
        self.indices = indices
        self.setting = _BLOCKS.get(block_id or 0, "index.blocks.*")
        shown = ",".join(indices)
        if block_id == 12:
            why = (
                "disk usage exceeded the flood-stage watermark. Free disk space on the data nodes "
                "(Elasticsearch lifts the block by itself once usage is below the high watermark) or "
                "lift it by hand"
            )
        else:
            why = f"{reason[:300]}. Lift it"
        super().__init__(
            f"Elasticsearch blocks writes to {shown} ({self.setting}): {why}: "
            f'PUT {shown}/_settings {{"{self.setting}": null}}'
        )


@dataclass(frozen=True)
class Rejection:
    """A document Elasticsearch refused for good (e.g. a mapping error): ``ref`` is what was given to
    :meth:`BulkWriter.add`, ``status`` the HTTP status of the item, ``reason`` Elasticsearch's words."""

    ref: Any
    status: int
    error_type: str
    reason: str


@dataclass
class FlushResult:
    """What one flush did: documents written, and the rejected ones (to send to the dead-letter queue)."""

    indexed: int = 0
    rejected: list[Rejection] = field(default_factory=list)


class BulkWriter:
    """Buffers documents and writes them with one bulk request per :meth:`flush`.

    Documents are indexed by id (``index`` operations), so writing the same id twice leaves one
    document: re-delivery after a crash or a retry overwrites instead of duplicating.

    :meth:`flush` either
      - returns a :class:`FlushResult` (every document is now stored or was rejected for good), or
      - raises :class:`~cryptoflow.errors.TemporaryError` when Elasticsearch is unreachable, times out,
        is overloaded (429) or failing (5xx), for the whole request or any item: nothing may be assumed
        written and the caller retries the batch (it keeps it: the buffer is only cleared by
        :meth:`clear` or a successful flush), or
      - raises :class:`~cryptoflow.errors.ConfigurationError` when credentials or permissions are wrong.

    Example::

        writer = BulkWriter(client)
        writer.add("cryptoflow-candles", event_id, source_json_bytes, ref=message)
        result = writer.flush()
    """

    def __init__(self, client: Elasticsearch) -> None:
        # our own backoff decides when to retry; the client must not retry on its own
        self._client = client.options(max_retries=0, retry_on_timeout=False)
        self._lines: list[bytes] = []
        self._refs: list[Any] = []

    def __len__(self) -> int:
        return len(self._refs)

    def add(self, index: str, doc_id: str, source: bytes, ref: Hashable | Any = None) -> None:
        """Buffer one document: ``source`` is its JSON (one line, no newline), ``doc_id`` its ``_id``."""
        action = b'{"index":{"_index":"%s","_id":"%s"}}' % (index.encode(), doc_id.encode())
        self._lines.append(action)
        self._lines.append(source)
        self._refs.append(ref)

    def clear(self) -> None:
        """Drop the buffered documents (the caller will read them again)."""
        self._lines.clear()
        self._refs.clear()

    def flush(self) -> FlushResult:
        """Write the buffered documents; see the class docstring for the three outcomes."""
        if not self._refs:
            return FlushResult()
        try:
            response = self._client.bulk(
                # the client sends encoded NDJSON lines as they are; its annotation admits only mappings
                operations=self._lines,  # type: ignore[arg-type]
                filter_path="errors,items.*.status,items.*.error,items.*._index",
            )
        except ESConnectionError as exc:  # includes timeouts
            raise TemporaryError(f"Elasticsearch unreachable: {exc}") from None
        except ApiError as exc:
            refused = refusal(exc, "the bulk request", "write to the indices")
            if refused is not None:
                raise refused from None
            if exc.status_code == 413:
                raise ConfigurationError(
                    "Elasticsearch refused a bulk request as too large (413): lower the batch size"
                ) from None
            raise TemporaryError(f"Elasticsearch answered {exc.status_code}: {exc.message}") from None
        result = FlushResult()
        if not response.get("errors"):
            result.indexed = len(self._refs)
            self.clear()
            return result
        retry: list[str] = []
        blocked: dict[str, str] = {}
        for ref, item in zip(self._refs, response["items"], strict=True):
            outcome = next(iter(item.values()))
            status = int(outcome.get("status", 500))
            if status < 300:
                result.indexed += 1
                continue
            error = outcome.get("error") or {}
            if error.get("type") == "cluster_block_exception":  # 429 or 403: never the document's fault
                blocked.setdefault(str(outcome.get("_index", "?")), str(error.get("reason", "")))
                continue
            if status == 429 or status >= 500:
                retry.append(f"{status} {error.get('type', '')}")
                continue
            result.rejected.append(Rejection(ref, status, str(error.get("type", "")), _describe(error)))
        if blocked:
            reason = next(iter(blocked.values()))
            match = _BLOCK_ID.search(reason)
            raise IndexBlocked(sorted(blocked), int(match.group(1)) if match else None, reason)
        if retry:
            raise TemporaryError(
                f"Elasticsearch could not take {len(retry)} of {len(self._refs)} documents now "
                f"(first: {retry[0]}); retrying the batch"
            )
        self.clear()
        return result


def _describe(error: dict[str, Any]) -> str:
    """``type: reason (caused by: type: reason)``, compact."""
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        text += f" (caused by {cause.get('type', '')}: {cause.get('reason', '')})"
    if len(text) > 2000:
        text = text[:2000] + "…"
    return text if text.strip() else json.dumps(error)[:2000]
