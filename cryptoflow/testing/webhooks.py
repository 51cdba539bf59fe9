"""A real local webhook receiver for tests of ``cryptoflow notify``: it records every request and
answers each as the test scripts it (a status, a body, headers, or a dropped connection).

Example::

    with WebhookReceiver() as receiver:
        receiver.script = [Reply(503), Reply(drop=True)]   # then 200 for every other request
        ...  # post to receiver.url("/hook")
        assert [r.status for r in receiver.requests] == [503, 0, 200]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Received", "Reply", "WebhookReceiver"]


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
    """One request: its ``path``, its JSON ``body``, and the ``status`` it was answered (0: dropped)."""

    path: str
    body: dict[str, Any]
    status: int  # what the receiver answered (0: dropped)


class WebhookReceiver:
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
        """The address of ``path`` on this receiver."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    @property
    def accepted(self) -> list[Received]:
        """The requests answered 2xx."""
        return [request for request in self.requests if 200 <= request.status < 300]

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
