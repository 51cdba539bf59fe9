"""A tiny HTTP health endpoint: ``GET /health`` answers 200 when the sink makes progress, 503 when not."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["HealthServer"]

log = logging.getLogger(__name__)


class HealthServer:
    """Serves ``report()`` as JSON on ``GET /health`` (and ``/``) from a daemon thread.

    ``report()`` must return a dict with a boolean ``healthy``; the status code is 200 or 503.
    ``port=0`` picks a free port (see :attr:`port`).
    """

    def __init__(self, report: Callable[[], dict[str, Any]], port: int, host: str = "127.0.0.1") -> None:
        def handler_factory(*args: Any) -> BaseHTTPRequestHandler:
            return _Handler(report, *args)

        self._server = ThreadingHTTPServer((host, port), handler_factory)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sink-health", daemon=True)

    @property
    def port(self) -> int:
        """The port actually listened on."""
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        """Start serving in the background."""
        self._thread.start()
        log.info("health check on http://%s:%d/health", self._server.server_address[0], self.port)
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, report: Callable[[], dict[str, Any]], *args: Any) -> None:
        self._report = report
        super().__init__(*args)

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        if self.path.split("?")[0] not in ("/", "/health", "/healthz"):
            self.send_error(404)
            return
        report = self._report()
        body = json.dumps(report).encode()
        self.send_response(200 if report.get("healthy") else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        log.debug("health: " + format, *args)
