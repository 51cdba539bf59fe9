"""Import Kibana saved objects through Kibana's saved objects import API.

``POST <kibana>[/s/<space>]/api/saved_objects/_import?overwrite=true`` with the NDJSON as the multipart
form field ``file`` and the ``kbn-xsrf`` header. Kibana answers ``{"success": …, "successCount": …,
"errors": [...]}``; HTTP errors come as ``{"statusCode": …, "error": …, "message": …}``. Before importing,
``GET /api/status`` tells the Kibana version: the objects need Kibana 8.x (:data:`MIN_KIBANA_VERSION` or
newer); exported saved objects never import into an older Kibana.

Credentials go into the ``Authorization`` header only; they are never logged nor part of an error message.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib import error as urlerror
from urllib import request as urlrequest
from urllib.parse import quote, urlsplit

from cryptoflow.errors import ConfigurationError, CryptoflowError, TemporaryError

__all__ = [
    "MIN_KIBANA_VERSION",
    "ImportResult",
    "KibanaAuth",
    "KibanaClient",
    "KibanaError",
]

log = logging.getLogger(__name__)

MIN_KIBANA_VERSION = (8, 9, 0)
"""The oldest Kibana the shipped saved objects are written for."""


class KibanaError(CryptoflowError):
    """Kibana refused the import or answered something that is not Kibana: the message says what to do."""


@dataclass(frozen=True)
class KibanaAuth:
    """An API key (``Authorization: ApiKey …``) or a user and password (basic auth); both empty: none."""

    api_key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.api_key and (self.user or self.password):
            raise ConfigurationError("give either --api-key or --user/--password for Kibana, not both")
        if (self.user is None) != (self.password is None):
            raise ConfigurationError("Kibana basic auth needs both --user and --password")

    def header(self) -> str | None:
        """The ``Authorization`` header value, or ``None`` without credentials."""
        if self.api_key:
            return f"ApiKey {self.api_key}"
        if self.user is not None and self.password is not None:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return f"Basic {token}"
        return None


@dataclass(frozen=True)
class ImportResult:
    """What Kibana imported: how many objects, and the errors it reported per object."""

    success: bool
    success_count: int
    errors: list[dict[str, Any]]
    kibana_version: str


def _parse_version(text: str) -> tuple[int, int, int]:
    core = text.split("-", 1)[0]
    parts = [int(part) for part in core.split(".")[:3]]
    major, minor, patch = (parts + [0, 0, 0])[:3]
    return major, minor, patch


class KibanaClient:
    """A minimal Kibana HTTP client for the saved objects import.

    >>> client = KibanaClient("http://127.0.0.1:5601", KibanaAuth(user="elastic", password="…"))
    >>> client.import_objects(read_objects(default_objects_dir()))  # doctest: +SKIP
    """

    def __init__(
        self, url: str, auth: KibanaAuth | None = None, space: str | None = None, timeout_s: float = 30.0
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"--kibana-url must be an http(s) URL such as http://127.0.0.1:5601; got {url!r}"
            )
        self.url = url.rstrip("/")
        self.auth = auth or KibanaAuth()
        self.space = space or None
        self.timeout_s = timeout_s

    def _space_prefix(self) -> str:
        return f"/s/{quote(self.space, safe='')}" if self.space and self.space != "default" else ""

    def _request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, Any]:
        headers = {"kbn-xsrf": "cryptoflow", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        authorization = self.auth.header()
        if authorization:
            headers["Authorization"] = authorization
        req = urlrequest.Request(self.url + path, data=body, headers=headers, method=method)
        try:
            with urlrequest.urlopen(req, timeout=self.timeout_s) as response:  # noqa: S310 (http(s) only)
                status, raw = response.status, response.read()
        except urlerror.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urlerror.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TemporaryError(
                f"cannot reach Kibana at {self.url}: {reason}; check --kibana-url and that Kibana is running"
            ) from None
        try:
            payload = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            payload = raw.decode("utf-8", "replace")[:200]
        return status, payload

    def _raise_for(self, status: int, payload: Any, what: str) -> None:
        message = payload.get("message") if isinstance(payload, dict) else None
        detail = f": {message}" if message else ""
        if status == 401:
            raise KibanaError(
                f"Kibana rejected the credentials (401) while {what}{detail}; check --api-key or "
                "--user/--password"
            )
        if status == 403:
            raise KibanaError(
                f"Kibana refused {what} (403){detail}; the user or API key needs the privilege to manage "
                "saved objects (e.g. the kibana_admin role) in the space"
            )
        if status == 404 and self.space:
            raise KibanaError(f"Kibana space {self.space!r} was not found (404){detail}; create it first")
        if status == 404:
            raise KibanaError(f"{self.url} answered 404 while {what}: is this Kibana (not Elasticsearch)?")
        if status in (502, 503, 504):
            raise TemporaryError(f"Kibana is not ready ({status}) while {what}{detail}; retry in a moment")
        raise KibanaError(f"Kibana answered {status} while {what}{detail}")

    def version(self) -> str:
        """The Kibana version, from ``GET /api/status``; checks it is a Kibana and new enough."""
        status, payload = self._request("GET", "/api/status")
        if status != 200:
            self._raise_for(status, payload, "reading its status")
        number = payload.get("version", {}).get("number") if isinstance(payload, dict) else None
        if not isinstance(number, str):
            raise KibanaError(f"{self.url}/api/status did not answer like Kibana (no version.number)")
        try:
            parsed = _parse_version(number)
        except ValueError:
            raise KibanaError(f"Kibana reported an unreadable version {number!r}") from None
        if parsed < MIN_KIBANA_VERSION:
            needed = ".".join(map(str, MIN_KIBANA_VERSION))
            raise KibanaError(
                f"Kibana {number} is too old for these saved objects: they need Kibana {needed} or newer "
                f"(8.x); upgrade Kibana"
            )
        return number

    def wait_ready(self, timeout_s: float, poll_s: float = 5.0) -> str:
        """Wait until Kibana answers its status (up to ``timeout_s`` seconds); returns its version."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.version()
            except TemporaryError as exc:
                if time.monotonic() >= deadline:
                    raise
                log.info("waiting for Kibana: %s", exc)
                time.sleep(poll_s)

    def import_objects(self, objects: list[dict[str, Any]], overwrite: bool = True) -> ImportResult:
        """Import saved objects (overwriting same-id objects); raises :class:`KibanaError` on failures."""
        version = self.version()
        ndjson = "\n".join(json.dumps(obj, separators=(",", ":")) for obj in objects) + "\n"
        boundary = f"cryptoflow-{uuid.uuid4().hex}"
        body = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="cryptoflow.ndjson"\r\n'
            "Content-Type: application/ndjson\r\n\r\n"
            f"{ndjson}\r\n--{boundary}--\r\n"
        ).encode()
        path = (
            f"{self._space_prefix()}/api/saved_objects/_import?overwrite={'true' if overwrite else 'false'}"
        )
        status, payload = self._request("POST", path, body, f"multipart/form-data; boundary={boundary}")
        if status != 200:
            self._raise_for(status, payload, "importing saved objects")
        if not isinstance(payload, dict) or "success" not in payload:
            raise KibanaError(f"unexpected answer from Kibana's import API: {str(payload)[:200]}")
        errors = list(payload.get("errors") or [])
        result = ImportResult(
            success=bool(payload["success"]),
            success_count=int(payload.get("successCount", 0)),
            errors=errors,
            kibana_version=version,
        )
        if not result.success:
            details = "; ".join(
                f"{err.get('type')}/{err.get('id')}: {err.get('error', {}).get('type', 'error')}"
                for err in errors[:10]
            )
            raise KibanaError(
                f"Kibana {version} imported {result.success_count} of {len(objects)} objects; "
                f"failed: {details}"
            )
        return result
