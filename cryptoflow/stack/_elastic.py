"""A single-node Elasticsearch 8.x on 127.0.0.1, security off, run as a non-root user when needed."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from cryptoflow.config import StackSettings
from cryptoflow.errors import StackError
from cryptoflow.stack import _process
from cryptoflow.stack._download import ensure_elasticsearch
from cryptoflow.stack._java import java_env

# Used when running as root and the stack home is not reachable by other users (e.g. under /root).
_SHARED_ROOT = Path("/var/lib/cryptoflow")


def _reachable_by_others(path: Path) -> bool:
    """Whether every ancestor of ``path`` lets other users traverse it."""
    for folder in [path, *path.parents]:
        if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return True


class ElasticsearchService:
    """The local node. As root, it runs as ``settings.elasticsearch_user`` (created if missing)."""

    name = "elasticsearch"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.as_root = os.geteuid() == 0
        home = settings.home
        # Elasticsearch refuses to run as root; its user must reach its distribution and data.
        self.root = _SHARED_ROOT if self.as_root and not _reachable_by_others(home) else home
        self.run_dir = self.root / "run" / f"elasticsearch-{settings.elasticsearch_port}"
        # The pid and log of the launcher stay under the stack home, next to Kafka's.
        self.pid_file = home / "run" / "elasticsearch.pid"
        self.log_file = home / "run" / "elasticsearch.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.elasticsearch_port}"

    def process(self) -> _process.ManagedProcess | None:
        return _process.read(self.pid_file, self.log_file)

    def _user(self) -> tuple[int, int] | None:
        if not self.as_root:
            return None
        name = self.settings.elasticsearch_user
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            result = subprocess.run(
                [
                    useradd,
                    "--system",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--user-group",
                    name,
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise StackError(
                    f"Elasticsearch refuses to run as root and creating the user {name!r} failed: "
                    f"{result.stderr.strip()}. Create it yourself or run cryptoflow as a normal user"
                ) from None
            entry = pwd.getpwnam(name)
        return entry.pw_uid, entry.pw_gid

    def _config(self, data_dir: Path, logs_dir: Path) -> str:
        settings = {
            "cluster.name": "cryptoflow-local",
            "node.name": "cryptoflow-local",
            "network.host": "127.0.0.1",
            "http.port": self.settings.elasticsearch_port,
            "transport.port": self.settings.elasticsearch_transport_port,
            "discovery.type": "single-node",
            "path.data": str(data_dir),
            "path.logs": str(logs_dir),
            "xpack.security.enabled": False,
            # A development node on a shared disk: never flip indices read-only on a disk watermark.
            "cluster.routing.allocation.disk.threshold_enabled": False,
        }
        return "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())

    def start(self) -> _process.ManagedProcess:
        """Prepare the node's folders and configuration and launch it; does not wait for it."""
        dist = ensure_elasticsearch(self.settings, self.root)
        user = self._user()
        config_dir, data_dir, logs_dir, tmp_dir = (
            self.run_dir / part for part in ("config", "data", "logs", "tmp")
        )
        for folder in (data_dir, logs_dir, tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(dist / "config", config_dir, dirs_exist_ok=True)
        (config_dir / "elasticsearch.yml").write_text(self._config(data_dir, logs_dir))
        heap = self.settings.elasticsearch_heap
        (config_dir / "jvm.options.d").mkdir(exist_ok=True)
        (config_dir / "jvm.options.d" / "cryptoflow-heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
        if user is not None:
            for folder in (self.root, self.root / "run", self.root / "dist"):
                folder.chmod(folder.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)
            for path in [self.run_dir, *self.run_dir.rglob("*")]:
                os.chown(path, *user)
        env = java_env()
        env.update({"ES_PATH_CONF": str(config_dir), "ES_TMPDIR": str(tmp_dir)})
        env.pop("ES_JAVA_OPTS", None)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        return _process.start(
            self.name,
            [str(dist / "bin" / "elasticsearch")],
            env=env,
            cwd=self.run_dir,
            log_file=self.log_file,
            pid_file=self.pid_file,
            user=user,
        )

    def ready(self) -> bool:
        """The node answers and every primary shard is started (health yellow or green).

        A restarted node answers while it still recovers the indices on disk (health red); a search or
        count against one of those then fails with 503, so it is not ready yet.
        """
        probe = self.probe()
        return probe is not None and probe["health"] in ("yellow", "green")

    def probe(self, timeout_s: float = 2.0) -> dict[str, object] | None:
        """Version and cluster health; ``None`` when the node does not answer or is not ready."""
        # `GET /` lives in the rest-root module, which the integ-test-zip lacks: ask the node itself.
        try:
            nodes = _get_json(self.url + "/_nodes/_local?filter_path=nodes.*.version", timeout_s)
            health = _get_json(self.url + "/_cluster/health", timeout_s)
        except (urllib.error.URLError, OSError, ValueError):
            return None
        versions = [node.get("version") for node in nodes.get("nodes", {}).values()]
        return {"version": versions[0] if versions else None, "health": health.get("status")}


def _get_json(url: str, timeout_s: float) -> dict:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return json.loads(response.read())
