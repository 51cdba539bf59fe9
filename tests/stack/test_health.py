"""check_health, the logic of ``cryptoflow health``: what failed, one line each; nothing when healthy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cryptoflow.stack import check_health


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        self.send_response(int(self.path.strip("/")))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_urls_answering_2xx_are_healthy(server: str) -> None:
    assert check_health(urls=[f"{server}/200", f"{server}/204"], timeout_s=5) == []


def test_each_failing_url_is_one_line(server: str) -> None:
    failures = check_health(urls=[f"{server}/200", f"{server}/503", "http://127.0.0.1:1/"], timeout_s=5)
    assert failures[0] == f"{server}/503: Service Unavailable"
    assert failures[1].startswith("http://127.0.0.1:1/: [Errno 111]")
    assert len(failures) == 2


def test_nothing_asked_is_nothing_failed() -> None:
    assert check_health() == []
