"""A real local HTTP receiver that records every request and answers as a test scripts it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    """How the receiver answers one request: ``status`` with ``body`` and ``headers``; ``drop`` closes
    the connection without an answer (a network error)."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    status: int  # what the receiver answered (0: dropped)


class Receiver:
    """Records requests (:attr:`requests`) and answers each with the next scripted :class:`Reply`
    (200 once the script is used up); :attr:`accepted` are the bodies it answered 2xx."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[Reply] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    reply = receiver.script.pop(0) if receiver.script else Reply()
                    receiver.requests.append(Received(self.path, body, 0 if reply.drop else reply.status))
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    @property
    def accepted(self) -> list[Received]:
        return [request for request in self.requests if 200 <= request.status < 300]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()
