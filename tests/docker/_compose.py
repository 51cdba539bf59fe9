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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main

from cryptoflow.cli import app

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
SOURCE = Path(__file__).resolve().parent / "composeconfig"
ENV_EXAMPLE = DOCKER / ".env.example"
APP_IMAGE = "cryptoflow"
SECRET = re.compile(r"(KEY|SECRET|PASSWORD|CLOUD_ID)")


@dataclass(frozen=True)
class Stack:
    """A way to run cryptoflow with docker compose: its compose files, in order, as the README gives them."""

    name: str
    files: tuple[str, ...]
    elastic: str  # "bundled" or "cloud"

    def __str__(self) -> str:
        return self.name


STACKS = (
    Stack("bundled", ("docker-compose.yml",), "bundled"),
    Stack("elastic-cloud", ("compose.elastic-cloud.yml",), "cloud"),
)
SHARED_FILE = "compose.services.yml"  # extended by every stack file; not a stack of its own
# Override files applied on top of a stack (`-f STACK -f OVERRIDE`): register each here, with the stacks
# it applies to, so every check runs on the combination too (e.g. a SASL_SSL Kafka override).
OVERRIDES: dict[str, tuple[str, ...]] = {"compose.kafka-secure.yml": ("bundled", "elastic-cloud")}
ALL_STACKS = STACKS + tuple(
    Stack(f"{stack.name}+{override}", (*stack.files, override), stack.elastic)
    for override, names in OVERRIDES.items()
    for stack in STACKS
    if stack.name in names
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
