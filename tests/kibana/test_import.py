"""`cryptoflow dashboards import` against a small local HTTP server that answers like Kibana 8 (Kibana
itself cannot run here): the request Kibana's saved objects import API expects, and a clear message for
bad credentials, missing privileges, an old Kibana, a missing space, a refused connection and partial
imports."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cryptoflow.cli import main
from cryptoflow.kibana import build_objects

USER, PASSWORD, API_KEY = "elastic", "s3cret-pw", "a2V5OnNlY3JldA=="


class FakeKibana(ThreadingHTTPServer):
    """Answers /api/status and /api/saved_objects/_import like Kibana; records the import requests."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.version = "8.19.21"
        self.spaces = {"default", "trading"}
        self.reject_types: set[str] = set()
        self.read_only_user = False
        self.imports: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeKibana

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if header in (basic, f"ApiKey {API_KEY}"):
            return True
        self._send(
            401,
            {
                "statusCode": 401,
                "error": "Unauthorized",
                "message": "[security_exception]: unable to authenticate user",
            },
        )
        return False

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if not self._authorized():
            return
        if self.path == "/api/status":
            self._send(
                200,
                {
                    "name": "kibana",
                    "version": {"number": self.server.version, "build_number": 1},
                    "status": {"overall": {"level": "available"}},
                },
            )
        else:
            self._send(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        path, _, query = self.path.partition("?")
        space = "default"
        if path.startswith("/s/"):
            _, _, space, path = path.split("/", 3)
            path = "/" + path
        if path != "/api/saved_objects/_import":
            self._send(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})
            return
        if space not in self.server.spaces:
            self._send(
                404,
                {
                    "statusCode": 404,
                    "error": "Not Found",
                    "message": f"Saved object [space/{space}] not found",
                },
            )
            return
        if self.headers.get("kbn-xsrf") is None:
            self._send(
                400,
                {
                    "statusCode": 400,
                    "error": "Bad Request",
                    "message": "Request must contain a kbn-xsrf header.",
                },
            )
            return
        if self.server.read_only_user:
            self._send(
                403,
                {
                    "statusCode": 403,
                    "error": "Forbidden",
                    "message": "Unable to bulk_create index-pattern,lens,search,dashboard",
                },
            )
            return
        length = int(self.headers["Content-Length"])
        raw = self.rfile.read(length)
        content_type = self.headers["Content-Type"]
        assert content_type.startswith("multipart/form-data; boundary=")
        boundary = content_type.split("boundary=", 1)[1].encode()
        part = raw.split(b"--" + boundary)[1]
        head, _, content = part.partition(b"\r\n\r\n")
        assert b'name="file"' in head and b'filename="' in head
        objects = [json.loads(line) for line in content.decode().strip().splitlines()]
        self.server.imports.append({"query": query, "space": space, "objects": objects})
        errors = [
            {
                "id": obj["id"],
                "type": obj["type"],
                "meta": {"title": obj["id"]},
                "error": {"type": "unsupported_type"},
            }
            for obj in objects
            if obj["type"] in self.server.reject_types
        ]
        self._send(
            200,
            {
                "success": not errors,
                "successCount": len(objects) - len(errors),
                "successResults": [],
                **({"errors": errors} if errors else {}),
            },
        )


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    server = FakeKibana()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class _Outcome:
    def __init__(self, exit_code: int, output: str) -> None:
        self.exit_code, self.output = exit_code, " ".join(output.split())


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., _Outcome]:
    """Run `cryptoflow dashboards import ARGS` as the console script does; output with spaces collapsed."""
    for name in ("KIBANA_URL", "KIBANA_API_KEY", "KIBANA_USER", "KIBANA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str) -> _Outcome:
        code = main(["dashboards", "import", *args])
        captured = capsys.readouterr()
        return _Outcome(code, captured.out + captured.err)

    return invoke


def test_import_with_basic_auth_overwrites_every_object(
    kibana: FakeKibana, run: Callable[..., _Outcome]
) -> None:
    result = run("--kibana-url", kibana.url, "--user", USER, "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert f"imported {len(build_objects())} saved objects into Kibana 8.19.21" in result.output
    (request,) = kibana.imports
    assert request["query"] == "overwrite=true" and request["space"] == "default"
    assert request["objects"] == build_objects()
    assert PASSWORD not in result.output


def test_import_into_a_space_with_an_api_key(kibana: FakeKibana, run: Callable[..., _Outcome]) -> None:
    result = run("--kibana-url", kibana.url + "/", "--api-key", API_KEY, "--space", "trading")
    assert result.exit_code == 0, result.output
    assert kibana.imports[0]["space"] == "trading"


def test_wrong_credentials_say_so(kibana: FakeKibana, run: Callable[..., _Outcome]) -> None:
    result = run("--kibana-url", kibana.url, "--user", USER, "--password", "wrong-pw")
    assert result.exit_code == 1
    assert "rejected the credentials (401)" in result.output and "--user/--password" in result.output
    assert "wrong-pw" not in result.output


def test_missing_privileges_say_which(kibana: FakeKibana, run: Callable[..., _Outcome]) -> None:
    kibana.read_only_user = True
    result = run("--kibana-url", kibana.url, "--api-key", API_KEY)
    assert result.exit_code == 1
    assert "(403)" in result.output and "privilege to manage saved objects" in result.output


def test_an_old_kibana_is_refused_before_importing(kibana: FakeKibana, run: Callable[..., _Outcome]) -> None:
    kibana.version = "7.17.9"
    result = run("--kibana-url", kibana.url, "--api-key", API_KEY)
    assert result.exit_code == 1
    assert "Kibana 7.17.9 is too old" in result.output and "8.9.0 or newer" in result.output
    assert kibana.imports == []


def test_an_unknown_space_is_named(kibana: FakeKibana, run: Callable[..., _Outcome]) -> None:
    result = run("--kibana-url", kibana.url, "--api-key", API_KEY, "--space", "nope")
    assert result.exit_code == 1
    assert "space 'nope' was not found" in result.output


def test_per_object_errors_are_listed(kibana: FakeKibana, run: Callable[..., _Outcome]) -> None:
    kibana.reject_types = {"lens"}
    result = run("--kibana-url", kibana.url, "--api-key", API_KEY)
    assert result.exit_code == 1
    assert "failed: lens/cryptoflow-lens-price: unsupported_type" in result.output


def test_a_refused_connection_names_the_url(run: Callable[..., _Outcome]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("--kibana-url", f"http://127.0.0.1:{port}", "--api-key", API_KEY)
    assert result.exit_code == 1
    assert f"cannot reach Kibana at http://127.0.0.1:{port}" in result.output


def test_bad_arguments_are_configuration_errors(kibana: FakeKibana, run: Callable[..., _Outcome]) -> None:
    result = run("--kibana-url", kibana.url, "--api-key", API_KEY, "--user", USER, "--password", PASSWORD)
    assert result.exit_code == 2 and "not both" in result.output
    result = run("--kibana-url", "kibana:5601")
    assert result.exit_code == 2 and "http(s) URL" in result.output


def test_the_objects_folder_comes_from_the_variable_the_docker_image_sets(
    kibana: FakeKibana,
    run: Callable[..., _Outcome],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The image installs the NDJSON outside the package and says where in ``KIBANA_OBJECTS_DIR``; the
    kibana-import one-shot passes no --objects. A misspelt variable name imported nothing in the image."""
    dockerfile = (Path(__file__).parents[2] / "docker" / "Dockerfile").read_text()
    (variable,) = re.findall(r"\b(KIBANA\w*_DIR)=", dockerfile)
    folder = tmp_path / "objects"
    folder.mkdir()
    (folder / "one.ndjson").write_text(json.dumps(build_objects()[0]) + "\n")
    monkeypatch.setenv(variable, str(folder))
    result = run("--kibana-url", kibana.url, "--api-key", API_KEY)
    assert result.exit_code == 0, result.output
    assert kibana.imports[0]["objects"] == build_objects()[:1]
