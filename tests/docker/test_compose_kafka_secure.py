"""docker/compose.kafka-secure.yml (Kafka with SASL_SSL and SCRAM-SHA-512 on top of docker-compose.yml),
checked without a Docker engine: the specification's keys, settings the app knows and accepts, a broker
whose only listeners outside its own container speak SASL_SSL, certificate files that `cryptoflow stack
certs` really writes, and every app service pointed at the secure listener."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cryptoflow.config import KafkaSettings, Settings
from cryptoflow.stack._tls import kafka_image_secrets
from tests.docker.test_compose import (
    APP_SERVICES,
    COMPOSE,
    DOCKER,
    SERVICE_KEYS,
    TOP_LEVEL,
    _check_options,
    _resolve,
    _setting_paths,
)

SECURE = DOCKER / "compose.kafka-secure.yml"


@pytest.fixture(scope="module")
def override() -> dict[str, Any]:
    document = yaml.safe_load(SECURE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "compose.kafka-secure.yml must be a mapping"
    return document


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _kafka_env(override: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in override["services"]["kafka"]["environment"].items()}


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` -> ``{NAME: (host, port)}``."""
    found = {}
    for item in value.split(","):
        name, address = item.split("://")
        host, _, port = address.rpartition(":")
        found[name] = (host, int(port))
    return found


def test_structure_follows_the_compose_specification(override: dict[str, Any], base: dict[str, Any]) -> None:
    assert {key for key in override if not key.startswith("x-")} <= TOP_LEVEL
    for name, service in override["services"].items():
        assert set(service) <= SERVICE_KEYS, f"{name}: keys not in the compose specification"
        if name not in base["services"]:  # a service of its own: complete by itself
            assert "image" in service and service.get("restart") == "no", name
            assert {"cpus", "memory"} <= set(service["deploy"]["resources"]["limits"]), name
        for dependency in service.get("depends_on") or {}:
            assert dependency in override["services"] or dependency in base["services"], dependency
    for mount in [m for s in override["services"].values() for m in s.get("volumes") or []]:
        assert mount.split(":", 1)[0] in (override.get("volumes") or {}), mount


def test_environment_variables_are_settings_the_app_knows(override: dict[str, Any]) -> None:
    known = {f"CRYPTOFLOW_{path}" for path in _setting_paths(Settings)}
    passed = {
        name
        for service in override["services"].values()
        for name in (service.get("environment") or {})
        if name.startswith("CRYPTOFLOW_")
    }
    assert "CRYPTOFLOW_KAFKA__SASL_PASSWORD" in passed
    assert not sorted(passed - known), f"not settings of cryptoflow: {sorted(passed - known)}"


def test_every_app_service_uses_the_secure_listener(override: dict[str, Any], tmp_path: Path) -> None:
    services = override["services"]
    client = override["x-kafka-client"]
    for name in APP_SERVICES:
        assert services[name]["environment"] == client, name
        ca = client["CRYPTOFLOW_KAFKA__SSL_CA_LOCATION"]
        assert any(m.endswith(f":{str(Path(ca).parent)}:ro") for m in services[name]["volumes"]), name
    # the values pass the settings' validation (the CA file exists in the container; here a stand-in)
    values = {k.removeprefix("CRYPTOFLOW_KAFKA__").lower(): v for k, v in client.items()}
    values["sasl_username"] = "cryptoflow"  # ${KAFKA_USER:-cryptoflow}
    values["sasl_password"] = "placeholder"  # ${KAFKA_PASSWORD:?...}: required
    (tmp_path / "ca.pem").write_text("stand-in")
    kafka = KafkaSettings(**{**values, "ssl_ca_location": str(tmp_path / "ca.pem")})
    assert (kafka.security_protocol, kafka.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    host, port = kafka.bootstrap_servers.split(":")
    assert _listeners(_kafka_env(override)["KAFKA_ADVERTISED_LISTENERS"])["SASL_SSL"] == (host, int(port))


def test_only_sasl_ssl_leaves_the_broker_container(override: dict[str, Any], base: dict[str, Any]) -> None:
    env = _kafka_env(override)
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = _listeners(env["KAFKA_LISTENERS"])
    assert set(listeners) <= set(protocols)
    for name, (host, _) in listeners.items():
        if protocols[name] != "SASL_SSL":
            assert host == "localhost", f"{name} ({protocols[name]}) is reachable from other containers"
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"1@localhost:{listeners['CONTROLLER'][1]}"
    assert protocols[env["KAFKA_INTER_BROKER_LISTENER_NAME"]] == "PLAINTEXT"
    # the base file's healthcheck and the published host port still find a listener
    health = " ".join(base["services"]["kafka"]["healthcheck"]["test"])
    assert f"--bootstrap-server localhost:{listeners['PLAINTEXT'][1]}" in health
    for published in base["services"]["kafka"]["ports"]:
        container_port = int(str(published).rsplit(":", 1)[1])
        assert any(
            port == container_port and protocols[n] == "SASL_SSL" for n, (_, port) in listeners.items()
        )


def test_the_broker_reads_files_that_stack_certs_writes(override: dict[str, Any], tmp_path: Path) -> None:
    services = override["services"]
    command = services["kafka-certs"]["command"]
    click_command, words = _resolve(command)
    _check_options(click_command, words, "kafka-certs command")
    hosts = [words[i + 1] for i, word in enumerate(words) if word == "--host"]
    env = _kafka_env(override)
    advertised = {host for host, _ in _listeners(env["KAFKA_ADVERTISED_LISTENERS"]).values()}
    assert advertised <= set(hosts), "the broker certificate must name every advertised host"
    # the files the apache/kafka image is told to read exist after `cryptoflow stack certs`
    folder = command[command.index("certs") + 1]
    assert any(m == f"kafka-secrets:{folder}" for m in services["kafka-certs"]["volumes"])
    assert f"kafka-secrets:{folder}:ro" in services["kafka"]["volumes"]
    kafka_image_secrets(tmp_path, hosts)
    for key in ("KAFKA_SSL_KEYSTORE_FILENAME", "KAFKA_SSL_KEYSTORE_CREDENTIALS", "KAFKA_SSL_KEY_CREDENTIALS"):
        assert (tmp_path / env[key]).is_file(), key
    jaas = env["KAFKA_OPTS"].split("java.security.auth.login.config=", 1)[1]
    assert jaas.startswith(folder + "/") and (tmp_path / Path(jaas).name).is_file()
    assert "ScramLoginModule required" in (tmp_path / Path(jaas).name).read_text()
    assert env["KAFKA_SSL_KEYSTORE_TYPE"] == "PKCS12"
    ca = override["x-kafka-client"]["CRYPTOFLOW_KAFKA__SSL_CA_LOCATION"]
    assert (tmp_path / Path(ca).name).is_file()


def test_the_scram_user_is_created_before_anything_logs_in(
    override: dict[str, Any], base: dict[str, Any]
) -> None:
    services = override["services"]
    scram = services["kafka-scram"]
    assert scram["image"] == base["services"]["kafka"]["image"], "kafka-scram runs the broker's image"
    assert scram["network_mode"] == "service:kafka"
    assert scram["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = " ".join(scram["command"])
    assert "--bootstrap-server localhost:9092" in script and "SCRAM-SHA-512=[" in script
    for name in ("setup", "kafka-ui"):
        assert services[name]["depends_on"]["kafka-scram"]["condition"] == "service_completed_successfully"
    for name in APP_SERVICES - {"setup"}:  # they wait for setup, which waits for the user
        assert base["services"][name]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    ui = services["kafka-ui"]["environment"]
    assert (
        ui["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"]
        == override["x-kafka-client"]["CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS"]
    )
    assert "ScramLoginModule required" in ui["KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG"]
    assert (
        ui["KAFKA_CLUSTERS_0_PROPERTIES_SSL_TRUSTSTORE_LOCATION"]
        == (override["x-kafka-client"]["CRYPTOFLOW_KAFKA__SSL_CA_LOCATION"])
    )
