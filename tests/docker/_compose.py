"""Helpers of the compose tests: the stacks, loaded as Docker Compose loads them, without a Docker engine.

``docker compose`` itself needs no engine for ``config``, but the Docker CLI here has no compose plugin; the
loader Compose is built on, compose-go, is a Go module. ``composeconfig/`` is a 70-line Go program over it
that prints the project ``docker compose -f … --env-file … up [SERVICE…]`` would act on, as JSON: schema
validation, interpolation (``${VAR:?…}`` errors included), ``extends``, YAML merge keys, override files,
profiles and the selection of named services with their dependencies are compose-go's, not ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import pytest
import typer
import typer.main
from pydantic import BaseModel

from cryptoflow.cli import app
from cryptoflow.config import Settings
from cryptoflow.testing.services import REPO

DOCKER = REPO / "docker"
SOURCE = Path(__file__).resolve().parent / "composeconfig"
ENV_EXAMPLE = DOCKER / ".env.example"
APP_IMAGE = "cryptoflow"
SECRET = re.compile(r"(KEY|SECRET|PASSWORD|CLOUD_ID)")


@dataclass(frozen=True)
class Override:
    """A compose file applied on top of a stack (``-f STACK -f OVERRIDE``), and what it adds: the checks
    that know every service or every secret of a stack take these into account."""

    file: str
    stacks: tuple[str, ...]  # the names of the stacks it applies to
    one_shots: frozenset[str] = frozenset()  # services it adds that run once and exit (no healthcheck)
    # variables of docker/.env it uses -> the only services their values may reach
    secrets: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Stack:
    """A way to run cryptoflow with docker compose: its compose files, in order, as the README gives them."""

    name: str
    files: tuple[str, ...]
    elastic: str  # "bundled" or "cloud"
    override: Override | None = None

    def __str__(self) -> str:
        return self.name

    @property
    def one_shots(self) -> frozenset[str]:
        """The one-shot services its override adds (the stack files' own are known to each test)."""
        return self.override.one_shots if self.override else frozenset()

    @property
    def secrets(self) -> Mapping[str, frozenset[str]]:
        """The secrets its override adds, each with the services it may reach."""
        return self.override.secrets if self.override else {}


STACKS = (
    Stack("bundled", ("docker-compose.yml",), "bundled"),
    Stack("elastic-cloud", ("compose.elastic-cloud.yml",), "cloud"),
)
SHARED_FILE = "compose.services.yml"  # extended by every stack file; not a stack of its own
# Kafka's SCRAM user: created by kafka-scram, used by the services that talk to Kafka and by Kafka UI.
KAFKA_USERS = frozenset(
    {"kafka-scram", "kafka-ui", "setup", "sink", "realtime-indicator", "signals", "executor"}
)
# Override files applied on top of a stack (`-f STACK -f OVERRIDE`): register each here, with the stacks
# it applies to, the one-shots it adds and the secrets it uses, so every check runs on the combination too.
OVERRIDES = {
    override.file: override
    for override in (
        Override(
            "compose.kafka-secure.yml",
            ("bundled", "elastic-cloud"),
            one_shots=frozenset({"kafka-certs", "kafka-scram"}),
            secrets={"KAFKA_PASSWORD": KAFKA_USERS},
        ),
    )
}
ALL_STACKS = STACKS + tuple(
    Stack(f"{stack.name}+{override.file}", (*stack.files, override.file), stack.elastic, override)
    for override in OVERRIDES.values()
    for stack in STACKS
    if stack.name in override.stacks
)


def composeconfig_binary() -> Path:
    """Build the Go helper once per source version (cached under ~/.cache/cryptoflow)."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.fail("the compose tests need Go (they build tests/docker/composeconfig with compose-go)")
    digest = hashlib.sha256()
    for name in ("main.go", "go.mod", "go.sum"):
        digest.update((SOURCE / name).read_bytes())
    binary = (
        Path.home() / ".cache" / "cryptoflow" / "composeconfig" / digest.hexdigest()[:16] / "composeconfig"
    )
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
        built = subprocess.run(
            [go, "build", "-o", str(binary), "."],
            cwd=SOURCE,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if built.returncode != 0:
            pytest.fail(f"building composeconfig failed:\n{built.stderr}")
    return binary


def example_env() -> dict[str, str]:
    """Every variable docker/.env.example names (commented-out ones too), each secret a value of its own
    (``sentinel-<NAME>``) so a test can see which containers it reaches."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            name, value = match.groups()
            values[name] = f"sentinel-{name}" if SECRET.search(name) and name != "SYMBOLS" else value
    values["KIBANA_ENCRYPTION_KEY"] = "sentinel-KIBANA_ENCRYPTION_KEY-" + "x" * 32
    return values


def load(
    files: tuple[str, ...], env: dict[str, str], tmp: Path, services: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The resolved project (``docker compose config`` as JSON); fails with compose-go's message."""
    env_file = tmp / "compose.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    args = [str(composeconfig_binary())]
    for name in files:
        args += ["-f", str(DOCKER / name)]
    result = subprocess.run(
        [*args, "--env-file", str(env_file), *services],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp)},  # nothing of the test runner's environment
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"docker compose would refuse {' + '.join(files)}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def app_services(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services running the cryptoflow image."""
    return {
        name: service
        for name, service in project["services"].items()
        if str(service.get("image", "")).split(":")[0] == APP_IMAGE
    }


def passed_environment(service: dict[str, Any]) -> dict[str, str]:
    """What the container's environment holds (a variable listed without a value and unset is absent)."""
    return {name: value for name, value in (service.get("environment") or {}).items() if value is not None}


def dependencies(project: dict[str, Any], name: str) -> set[str]:
    """Every service ``name`` waits for, directly or through others."""
    found: set[str] = set()
    todo = [name]
    while todo:
        for dependency in project["services"][todo.pop()].get("depends_on") or {}:
            if dependency not in found:
                found.add(dependency)
                todo.append(dependency)
    return found


def resolve_command(argv: list[str]) -> tuple[Any, list[str]]:
    """The click command an argv names, and the words after its name; fails naming what is missing."""
    assert argv[0] == "cryptoflow", f"app services run `cryptoflow …`, not {argv[0]!r}"
    command: Any = typer.main.get_command(app)
    words = argv[1:]
    path = ["cryptoflow"]
    while hasattr(command, "list_commands") and words and not words[0].startswith("-"):
        sub = command.get_command(typer.Context(command), words[0])
        assert sub is not None, (
            f"`{' '.join(path)} {words[0]}` does not exist in the CLI (available: "
            f"{', '.join(sorted(command.list_commands(typer.Context(command))))})"
        )
        command, words, path = sub, words[1:], [*path, words[0]]
    return command, words


def memory_mib(limit: str | int) -> float:
    """A resolved memory limit (bytes) in MiB."""
    return int(limit) / 1024 / 1024


def setting_types(model: type[BaseModel] = Settings, prefix: str = "CRYPTOFLOW_") -> dict[str, Any]:
    """Every setting as the environment variable that sets it, with its type."""
    found: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= setting_types(annotation, f"{prefix}{name.upper()}__")
        else:
            found[f"{prefix}{name.upper()}"] = annotation
    return found


def mounted_volume(service: dict[str, Any], path: str) -> tuple[str, str]:
    """The named volume a file of the container lies on, and the file's path inside that volume; fails
    when no volume is mounted there (the app image holds no file a setting could name)."""
    for mount in service.get("volumes") or []:
        target = mount["target"].rstrip("/")
        if mount["type"] == "volume" and path.startswith(target + "/"):
            return mount["source"], path.removeprefix(target + "/")
    raise AssertionError(f"{path} is on no volume the container mounts: {service.get('volumes')}")


def use_service_environment(
    service: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    workdir: Path,
    volumes: Mapping[str, Path] | None = None,
) -> None:
    """Make this process's environment the container's (nothing else: no CRYPTOFLOW_* or KIBANA_* of the
    runner, no .env or cryptoflow.toml of the working directory).

    A setting naming a file (a CA certificate) is pointed at that file in ``volumes[volume]``, the folder
    standing for the volume the container mounts there; for a volume not given, at an empty stand-in
    under ``workdir``. Either way the file must be on a mounted volume.
    """
    for name in list(os.environ):
        if name.startswith(("CRYPTOFLOW_", "KIBANA_")):
            monkeypatch.delenv(name)
    files = {name for name, kind in setting_types().items() if kind is Path or Path in get_args(kind)}
    for name, value in passed_environment(service).items():
        if name in files:
            volume, inside = mounted_volume(service, value)
            folder = (volumes or {}).get(volume)
            if folder is None:
                folder = workdir / "volumes" / volume
                (folder / inside).parent.mkdir(parents=True, exist_ok=True)
                (folder / inside).touch()
            value = str(folder / inside)
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(workdir)
