"""The docker-compose stacks, checked without a Docker engine: each stack file as Docker Compose loads it
(compose-go: schema, interpolation, ``extends``), then structure, pinned images, one build of the app image,
app commands and options that exist in our CLI, healthchecks, and CRYPTOFLOW_* variables that are settings
the app knows and that validate, service by service."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cryptoflow.config import StackSettings, load_settings
from tests.docker._compose import (
    DOCKER,
    OVERRIDES,
    SHARED_FILE,
    STACKS,
    Stack,
    app_services,
    passed_environment,
    resolve_command,
    setting_types,
    use_service_environment,
)

TOP_LEVEL = {"version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models"}
RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
APP_SERVICES = {"setup", "sink", "realtime-indicator", "signals", "executor", "dashboard", "kibana-import"}
ONE_SHOTS = {"setup", "kibana-import"}


def test_every_compose_file_is_checked() -> None:
    """A new compose file must be registered (as a stack or an override) to get these checks."""
    known = {name for stack in STACKS for name in stack.files} | {SHARED_FILE, *OVERRIDES}
    present = {path.name for path in DOCKER.glob("*.y*ml")}
    assert present == known, f"register these in tests/docker/_compose.py: {sorted(present - known)}"


def test_raw_files_follow_the_compose_specification() -> None:
    for path in DOCKER.glob("*.y*ml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        unknown = {key for key in document if not key.startswith("x-")} - TOP_LEVEL
        assert not unknown, f"{path.name}: unknown top-level keys: {unknown}"
        assert "version" not in document, f"{path.name}: `version` is obsolete in the compose specification"
        for name, service in document.get("services", {}).items():
            assert "env_file" not in service, f"{path.name} {name}: env_file hands the whole .env to it"


def test_structure(stack: Stack, project: dict[str, Any]) -> None:
    services = project["services"]
    assert stack.one_shots <= set(services), f"{stack}: the override's one-shots are missing"
    assert set(app_services(project)) - stack.one_shots == APP_SERVICES
    volumes = set(project.get("volumes") or {})
    for name, service in services.items():
        assert re.match(r"^[a-zA-Z0-9._-]+$", name)
        assert RESTART.match(str(service.get("restart"))), (
            f"{name}: restart policy {service.get('restart')!r}"
        )
        assert not service.get("env_file"), f"{name}: env_file hands the whole .env to the container"
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on {dependency}, which is not in the stack"
            assert spec["condition"] in CONDITIONS, f"{name} -> {dependency}: condition {spec}"
        for mount in service.get("volumes") or []:
            if mount["type"] == "volume":
                assert mount["source"] in volumes, f"{name} mounts undeclared volume {mount['source']!r}"
        for port in service.get("ports") or []:
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} on every interface"
        limits = (service.get("deploy") or {}).get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= set(limits), f"{name} needs cpu and memory limits"


def test_images_are_pinned(project: dict[str, Any]) -> None:
    for name, service in project["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and re.match(r"^v?\d+\.\d+\.\d+$", tag), f"{name}: {image!r} is not pinned"
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    for base in re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE):
        assert re.search(r":\d+\.\d+\.\d+", base), f"Dockerfile base image {base!r} is not pinned"


def test_kafka_ui_is_the_maintained_fork(project: dict[str, Any]) -> None:
    """provectuslabs/kafka-ui is unmaintained since v0.7.2; kafbat/kafka-ui carries it on."""
    image = project["services"]["kafka-ui"]["image"]
    assert image.startswith("ghcr.io/kafbat/kafka-ui:v1."), image


def test_versions_match_the_local_stack(project: dict[str, Any]) -> None:
    """Tests run against the local stack's Kafka and Elasticsearch; production runs the same versions
    (every service running the Kafka image too, e.g. a one-shot using its tools)."""
    versions = StackSettings()
    services = project["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{versions.kafka_version}"
    for name, service in services.items():
        if service["image"].split(":")[0] == "apache/kafka":
            assert service["image"] == f"apache/kafka:{versions.kafka_version}", name
    for name in ("elasticsearch", "kibana"):
        if name in services:
            assert services[name]["image"].endswith(f":{versions.elasticsearch_version}"), name


def test_one_service_builds_the_app_image(project: dict[str, Any]) -> None:
    """Several services building one tag in parallel (Compose's Bake build) can fail with "image already
    exists": one builds, the others use the image and never try to pull it from a registry."""
    builders = {name: s for name, s in project["services"].items() if s.get("build")}
    assert list(builders) == ["setup"], f"services with build: {sorted(builders)}"
    build = builders["setup"]["build"]
    assert (Path(build["context"]) / build["dockerfile"]).is_file()
    for name, service in app_services(project).items():
        if name != "setup":
            assert service.get("pull_policy") == "never", (
                f"{name} would try to pull cryptoflow from a registry"
            )


def test_long_running_services_have_healthchecks(stack: Stack, project: dict[str, Any]) -> None:
    for name, service in project["services"].items():
        if name in ONE_SHOTS | stack.one_shots:
            assert not str(service["restart"]).startswith(("always", "unless-stopped")), name
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"service {name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"service {name}: healthcheck {check['test']}"
        for key in ("interval", "timeout", "start_period"):
            assert DURATION.match(str(check[key])), f"service {name}: healthcheck {key} {check[key]!r}"


def test_dockerfile_installs_nothing_the_healthchecks_do_not_use() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert "apt-get install" not in dockerfile and "curl" not in dockerfile
    assert "HEALTHCHECK" not in dockerfile  # each compose service has its own (a one-shot none)


def _commands(project: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    found = []
    for name, service in app_services(project).items():
        found.append((name, f"{name} command", service["command"]))
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[:2] == ["CMD", "cryptoflow"]:
            found.append((name, f"{name} healthcheck", test[1:]))
    return found


def test_app_commands_exist_in_the_cli(project: dict[str, Any]) -> None:
    for _, where, argv in _commands(project):
        assert isinstance(argv, list), f"{where}: use the exec (list) form, not a shell string"
        command, words = resolve_command(argv)
        assert not hasattr(command, "list_commands"), f"{where}: `{' '.join(argv)}` names a group"
        options = {opt for param in command.params for opt in param.opts}
        for word in words:
            if word.startswith("--"):
                assert word.split("=", 1)[0] in options, f"{where}: option {word} unknown to `{command.name}`"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_each_service_gets_valid_settings(
    project: dict[str, Any], stack: Stack, name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every CRYPTOFLOW_* a service gets is a setting, they validate together (a file they name is on a
    volume the container mounts), and they point at the stack's own Kafka and Elasticsearch."""
    service = project["services"][name]
    known = set(setting_types()) | {"CRYPTOFLOW_CONFIG"}
    passed = {n for n in passed_environment(service) if n.startswith("CRYPTOFLOW_")}
    assert not sorted(passed - known), f"{name}: not settings of cryptoflow: {sorted(passed - known)}"
    use_service_environment(service, monkeypatch, tmp_path)  # a file setting must be on a mounted volume
    settings = load_settings()
    if any(n.startswith("CRYPTOFLOW_KAFKA__") for n in passed):
        hosts = {server.rsplit(":", 1)[0] for server in settings.kafka.bootstrap_servers.split(",")}
        assert hosts == {"kafka"}, f"{name} reaches Kafka at {settings.kafka.bootstrap_servers}"
    elastic = settings.elasticsearch
    if name in ("setup", "sink", "dashboard"):  # the services that read or write Elasticsearch
        if stack.elastic == "bundled":
            assert elastic.host_list == ["http://elasticsearch:9200"] and elastic.username == "elastic"
            assert elastic.password is not None and elastic.api_key is None and elastic.cloud_id is None
        else:
            assert elastic.cloud_id is not None and elastic.api_key is not None
            assert elastic.username is None and elastic.password is None


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_the_cli_accepts_each_service_command_with_its_environment(
    project: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The command parses with the service's environment (options read from variables included), and the
    Kibana credentials it ends up with are a combination the import accepts (the old setup passed a
    user/password and, for Elastic Cloud, an API key: exit 2 and no app service started)."""
    from cryptoflow.kibana import KibanaAuth

    service = project["services"][name]
    use_service_environment(service, monkeypatch, tmp_path)
    command, words = resolve_command(service["command"])
    params = command.make_context(command.name, list(words)).params  # click's own parse: a wrong option fails
    if "api_key" in params:
        auth = KibanaAuth(api_key=params["api_key"], user=params.get("user"), password=params.get("password"))
        if name == "kibana-import":
            assert auth.header() is not None, "the Kibana import gets no credentials"
            assert params.get("kibana_url"), "the Kibana import gets no Kibana URL"


def test_env_example_keeps_secrets_empty_or_placeholders() -> None:
    for line in (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z0-9_]*(KEY|SECRET|PASSWORD|CLOUD_ID)[A-Z0-9_]*)=(.*)$", line)
        if match and match.group(3) and match.group(1) != "ELASTIC_CLOUD_ID":
            assert "change-me" in match.group(3), f"{match.group(1)} in .env.example looks like a real secret"
