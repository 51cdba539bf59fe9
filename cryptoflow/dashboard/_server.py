"""The dashboard page's web server: static files, Plotly.js from the installed ``plotly`` package (so the
page works offline) and a small JSON API over Elasticsearch.

The browser only ever sees the aggregated data; the Elasticsearch URL and credentials stay in this
process. Standard library HTTP server, one thread per request: it serves a handful of users, which is
what a local dashboard needs.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from elasticsearch import ApiError
from elasticsearch import ConnectionError as ESConnectionError

from cryptoflow.config import ElasticsearchSettings
from cryptoflow.dashboard import _queries
from cryptoflow.elastic import make_client
from cryptoflow.errors import CryptoflowError

__all__ = ["DashboardServer"]

log = logging.getLogger(__name__)

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
_VIEWS = {
    "/api/market": _queries.market,
    "/api/trading": _queries.trading,
    "/api/realtime": _queries.realtime,
}


def _plotly_js() -> bytes:
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


class DashboardServer:
    """Serve the dashboard on ``http://host:port/`` (``port=0`` picks a free port).

    >>> server = DashboardServer(load_settings().elasticsearch, port=0)  # doctest: +SKIP
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()  # doctest: +SKIP
    """

    def __init__(
        self,
        settings: ElasticsearchSettings,
        host: str = "127.0.0.1",
        port: int = 8050,
        refresh_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.client = make_client(settings)
        self.refresh_s = refresh_s
        files = resources.files("cryptoflow.dashboard") / "static"
        self._static = {
            path: (files.joinpath(name).read_bytes(), kind) for path, (name, kind) in _STATIC.items()
        }
        self._static["/static/plotly.min.js"] = (_plotly_js(), "text/javascript; charset=utf-8")
        try:
            self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        except OSError as exc:  # taken port, unknown interface, privileged port
            raise CryptoflowError(
                f"the dashboard page cannot listen on {host}:{port}: {exc.strerror}; choose another --port "
                "or --host, or stop what uses it"
            ) from None
        self._httpd.daemon_threads = True
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The page's address."""
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes | bytearray) else host  # always str once bound
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"

    def serve_forever(self) -> None:
        """Serve until :meth:`close` (or Ctrl-C) is called."""
        self._httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        """Stop serving and release the port and the Elasticsearch client."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self.client.close()

    def api(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """Answer one API request: ``(HTTP status, JSON body)``."""
        filters = {name: query[name][0] for name in _queries.FILTER_FIELDS if query.get(name, [""])[0]}
        try:
            if path == "/api/config":
                return 200, {"refresh_s": self.refresh_s, "filters": list(_queries.FILTER_FIELDS)}
            if path == "/api/filters":
                return 200, _queries.filter_options(self.client, self.settings)
            if path == "/healthz":
                self.client.cluster.health()
                return 200, {"ok": True}
            view = _VIEWS.get(path)
            if view is None:
                return 404, {"error": f"no such endpoint {path}"}
            return 200, view(self.client, self.settings, filters)
        except ESConnectionError:
            log.warning("Elasticsearch is unreachable for %s", path)
            return 503, {"error": "Elasticsearch is unreachable; the page retries"}
        except ApiError as exc:
            log.warning("Elasticsearch answered %s for %s: %s", exc.status_code, path, exc.error)
            return 502, {"error": f"Elasticsearch answered {exc.status_code} ({exc.error})"}


def _handler_for(server: DashboardServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, body: bytes, kind: str, cache: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            if parts.path in server._static:
                body, kind = server._static[parts.path]
                self._send(200, body, kind, cache=parts.path.endswith("plotly.min.js"))
                return
            status, payload = server.api(parts.path, parse_qs(parts.query))
            self._send(status, json.dumps(payload, allow_nan=False).encode(), "application/json")

    return Handler
