"""docker/docker-compose.yml, checked without a Docker engine: structure (the compose specification's
keys), pinned images, app commands that exist in our CLI, healthchecks, and CRYPTOFLOW_* variables that are
settings the app knows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
import yaml
from pydantic import BaseModel

from cryptoflow.cli import app
from cryptoflow.config import Settings, StackSettings

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = DOCKER / "docker-compose.yml"

# Top-level and service keys of the compose specification (github.com/compose-spec/compose-spec,
# schema/compose-spec.json); anything else is a typo Docker would reject.
TOP_LEVEL = {"version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models"}
SERVICE_KEYS = {
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
}
HEALTHCHECK_KEYS = {"disable", "interval", "retries", "test", "timeout", "start_period", "start_interval"}
DEPLOY_KEYS = {
    "mode",
    "endpoint_mode",
    "replicas",
    "labels",
    "rollback_config",
    "update_config",
    "resources",
    "restart_policy",
    "placement",
}
RESTART = {"no", "always", "on-failure", "unless-stopped"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
APP_IMAGE = "cryptoflow"
APP_SERVICES = {"setup", "sink", "realtime-indicator", "auto-trade", "dashboard"}
INFRA_SERVICES = {"kafka", "kafka-ui", "elasticsearch", "kibana"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml must be a mapping"
    return document


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_structure_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    unknown = {key for key in compose if not key.startswith("x-")} - TOP_LEVEL
    assert not unknown, f"unknown top-level keys: {unknown}"
    assert "version" not in compose, "`version` is obsolete in the compose specification"
    services = _services(compose)
    assert set(services) == APP_SERVICES | INFRA_SERVICES
    volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert re.match(r"^[a-zA-Z0-9._-]+$", name)
        unknown = set(service) - SERVICE_KEYS
        assert not unknown, f"service {name}: keys not in the compose specification: {unknown}"
        assert "image" in service or "build" in service, f"service {name} has neither image nor build"
        assert service.get("restart") in RESTART, f"service {name}: restart policy {service.get('restart')!r}"
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"service {name} depends on unknown service {dependency}"
            assert spec.get("condition") in CONDITIONS, f"{name} -> {dependency}: condition {spec}"
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in volumes, f"service {name} mounts undeclared named volume {source!r}"
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"service {name} publishes {port} on every interface"
        deploy = service.get("deploy") or {}
        assert set(deploy) <= DEPLOY_KEYS, f"service {name}: deploy keys {set(deploy) - DEPLOY_KEYS}"
        limits = deploy.get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= set(limits), f"service {name} needs cpu and memory limits"
        assert re.match(r"^\d+[kmg]$", str(limits["memory"])), f"{name}: memory limit {limits['memory']!r}"
        build = service.get("build")
        if build:
            dockerfile = (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve()
            assert dockerfile.is_file(), f"service {name}: Dockerfile {dockerfile} is missing"
    assert "setup" not in (services["setup"].get("depends_on") or {})


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"service {name}: image {image!r} has no tag"
        assert tag != "latest" and re.match(r"^v?\d+\.\d+\.\d+", tag), f"service {name}: {image!r} not pinned"
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    for base in re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE):
        assert re.search(r":\d+\.\d+\.\d+", base), f"Dockerfile base image {base!r} is not pinned"


def test_elastic_images_match_the_local_stack(compose: dict[str, Any]) -> None:
    """Tests run against the local stack's Elasticsearch; production runs the same version."""
    version = StackSettings().elasticsearch_version
    services = _services(compose)
    assert services["elasticsearch"]["image"].endswith(f":{version}")
    assert services["kibana"]["image"].endswith(f":{version}")


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"service {name} has no healthcheck"
        assert set(check) <= HEALTHCHECK_KEYS, f"service {name}: healthcheck keys {set(check)}"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"service {name}: healthcheck {check['test']}"
        for key in ("interval", "timeout", "start_period"):
            assert DURATION.match(str(check[key])), f"service {name}: healthcheck {key} {check[key]!r}"
    for name in APP_SERVICES - {"setup"}:
        depends = _services(compose)[name]["depends_on"]
        assert depends["setup"]["condition"] == "service_completed_successfully", name


def _resolve(argv: list[str]) -> tuple[Any, list[str]]:
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


def _check_options(command: Any, words: list[str], where: str) -> None:
    options = {opt for param in command.params for opt in param.opts}
    for word in words:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in options, f"{where}: option {word} unknown to `{command.name}`"


def _app_commands(compose: dict[str, Any]) -> list[tuple[str, list[str]]]:
    found = []
    for name, service in _services(compose).items():
        if service["image"].split(":")[0] != APP_IMAGE:
            continue
        found.append((f"{name} command", service["command"]))
        test = service["healthcheck"]["test"]
        if test[0] == "CMD" and test[1] == "cryptoflow":
            found.append((f"{name} healthcheck", test[1:]))
    return found


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_app_service_commands_exist_in_the_cli(compose: dict[str, Any], service: str) -> None:
    commands = [(where, argv) for where, argv in _app_commands(compose) if where.startswith(f"{service} ")]
    assert commands, f"service {service} runs no cryptoflow command"
    for where, argv in commands:
        assert isinstance(argv, list), f"{where}: use the exec (list) form, not a shell string"
        command, words = _resolve(argv)
        assert not hasattr(command, "list_commands"), (
            f"{where}: `{' '.join(argv)}` names a group, not a command"
        )
        _check_options(command, words, where)


def _setting_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths |= _setting_paths(annotation, f"{prefix}{name}__")
        else:
            paths.add(f"{prefix}{name}".upper())
    return paths


def _environment_names(compose: dict[str, Any]) -> set[str]:
    names = set()
    for service in _services(compose).values():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        names |= set(environment)
    for line in (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    for line in (DOCKER / "Dockerfile").read_text(encoding="utf-8").splitlines():
        names |= set(re.findall(r"\b(CRYPTOFLOW_[A-Z0-9_]+)=", line))
    return names


def test_environment_variables_are_settings_the_app_knows(compose: dict[str, Any]) -> None:
    known = {f"CRYPTOFLOW_{path}" for path in _setting_paths(Settings)} | {"CRYPTOFLOW_CONFIG"}
    passed = {name for name in _environment_names(compose) if name.startswith("CRYPTOFLOW_")}
    assert passed, "the compose file passes no settings at all"
    unknown = sorted(passed - known)
    assert not unknown, f"not settings of cryptoflow (see `cryptoflow config show`): {unknown}"


def test_literal_setting_values_are_valid(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Values the compose file fixes (or defaults with ``${VAR:-default}``) pass the settings' validation."""
    environment = dict(_services(compose)["sink"]["environment"])
    for name, value in environment.items():
        value = str(value)
        match = re.fullmatch(r"\$\{[A-Z_]+:-([^}]*)\}", value)
        if match:
            value = match.group(1)
        elif "${" in value:
            value = "placeholder"  # required (`:?`) secrets: any value
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.elasticsearch.host_list == ["http://elasticsearch:9200"]


def test_env_example_keeps_secrets_empty_or_placeholders() -> None:
    for line in (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z0-9_]*(KEY|SECRET|PASSWORD)[A-Z0-9_]*)=(.*)$", line)
        if match and match.group(3):
            assert "change-me" in match.group(3), f"{match.group(1)} in .env.example looks like a real secret"
