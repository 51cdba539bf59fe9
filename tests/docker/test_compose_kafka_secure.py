"""docker/compose.kafka-secure.yml (Kafka with SASL_SSL and SCRAM-SHA-512) on top of each stack, checked on
the project Docker Compose would run (compose-go: ``-f STACK -f compose.kafka-secure.yml``) without a Docker
engine: a broker whose only listeners outside its own container speak SASL_SSL, the certificate files
``cryptoflow stack certs`` really writes where the broker reads them, a SCRAM user created before anything
logs in, and every service using Kafka pointed at the secure listener with settings that validate.

The rules every stack follows (no env_file, each secret only where it is used, pinned images, memory
limits, healthchecks, ...) run on these combinations too: the override is registered in ``_compose.py``."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from cryptoflow.config import load_settings
from cryptoflow.stack import LocalStack
from cryptoflow.testing.services import free_port
from tests.docker._compose import (
    ALL_STACKS,
    DOCKER,
    KAFKA_USERS,
    OVERRIDES,
    REPO,
    STACKS,
    Stack,
    dependencies,
    example_env,
    load,
    mounted_volume,
    passed_environment,
    resolve_command,
    use_service_environment,
)

OVERRIDE = "compose.kafka-secure.yml"
SECURE_STACKS = [stack for stack in ALL_STACKS if stack.override and stack.override.file == OVERRIDE]
CRYPTOFLOW = Path(sys.executable).with_name("cryptoflow")
SETTING = "CRYPTOFLOW_KAFKA__"
PASSWORD = "Zq8xY2mK4vR7tW1nB5cD9fG3"  # a valid KAFKA_PASSWORD: 24 letters and digits


@pytest.fixture(scope="module", params=SECURE_STACKS, ids=str)
def stack(request: pytest.FixtureRequest) -> Stack:
    """Only the stacks with the secure override (``project``: the stack's files and the override)."""
    return request.param


@pytest.fixture(scope="module")
def base(stack: Stack, workdir: Path) -> dict[str, Any]:
    """The same stack without the override."""
    return load(stack.files[:-1], example_env(), workdir)


@pytest.fixture(scope="module")
def certs(project: dict[str, Any], workdir: Path) -> Path:
    """The kafka-secrets volume as the kafka-certs service leaves it: its own command, run for real (into
    a folder here, its files handed to this user instead of the image's uid 1000)."""
    command = project["services"]["kafka-certs"]["command"]
    assert command[:3] == ["cryptoflow", "stack", "certs"], command
    folder = workdir / "kafka-secrets"
    args = [str(folder) if word == _certs_folder(project) else word for word in command[1:]]
    args[args.index("--owner") + 1] = f"{os.getuid()}:{os.getgid()}"
    result = subprocess.run([str(CRYPTOFLOW), *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return folder


def _certs_folder(project: dict[str, Any]) -> str:
    command = project["services"]["kafka-certs"]["command"]
    return command[command.index("certs") + 1]


def _kafka_env(project: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in project["services"]["kafka"]["environment"].items()}


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` -> ``{NAME: (host, port)}`` (host "" for every interface)."""
    found = {}
    for item in value.split(","):
        name, address = item.split("://")
        host, _, port = address.rpartition(":")
        found[name] = (host, int(port))
    return found


def _protocols(env: dict[str, str]) -> dict[str, str]:
    return dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))


def _secure_address(project: dict[str, Any]) -> str:
    """Where other containers reach the broker: the advertised SASL_SSL listener on the kafka host."""
    env = _kafka_env(project)
    protocols = _protocols(env)
    found = [
        f"{host}:{port}"
        for name, (host, port) in _listeners(env["KAFKA_ADVERTISED_LISTENERS"]).items()
        if protocols[name] == "SASL_SSL" and host == "kafka"
    ]
    assert len(found) == 1, env["KAFKA_ADVERTISED_LISTENERS"]
    return found[0]


def _kafka_clients(base: dict[str, Any]) -> set[str]:
    """The app services of the stack that talk to Kafka (their stack file gives them a bootstrap)."""
    return {
        name
        for name, service in base["services"].items()
        if f"{SETTING}BOOTSTRAP_SERVERS" in passed_environment(service)
    }


def _broker_certificate(folder: Path, password_file: str) -> tuple[x509.Certificate, list[x509.Certificate]]:
    password = (folder / password_file).read_text().strip().encode()  # the image's `$(cat FILE)`
    key, cert, chain = pkcs12.load_key_and_certificates((folder / "broker.p12").read_bytes(), password)
    assert key is not None and cert is not None
    return cert, chain


# ---- the broker --------------------------------------------------------------------------------------


def test_only_sasl_ssl_leaves_the_broker_container(project: dict[str, Any]) -> None:
    env = _kafka_env(project)
    protocols = _protocols(env)
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    assert set(listeners) <= set(protocols)
    for name, (host, _) in listeners.items():
        if protocols[name] != "SASL_SSL":
            assert host in ("localhost", "127.0.0.1"), f"{name} ({protocols[name]}) is reachable from outside"
    for name, (_, port) in advertised.items():
        assert listeners[name][1] == port, f"{name} is advertised on another port than it listens on"
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_SSL_CLIENT_AUTH"] == "none"  # clients prove themselves with SCRAM, not certificates
    node, controller = env["KAFKA_NODE_ID"], listeners[env["KAFKA_CONTROLLER_LISTENER_NAMES"]]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node}@localhost:{controller[1]}"
    assert protocols[env["KAFKA_INTER_BROKER_LISTENER_NAME"]] == "PLAINTEXT"


def test_the_healthcheck_and_the_host_port_still_work(project: dict[str, Any]) -> None:
    """The stack's Kafka probe finds the loopback PLAINTEXT listener; the port published on the host is a
    SASL_SSL listener advertised at the address the host reaches it by."""
    kafka = project["services"]["kafka"]
    env = _kafka_env(project)
    protocols = _protocols(env)
    listeners, advertised = _listeners(env["KAFKA_LISTENERS"]), _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    plaintext = [port for name, (host, port) in listeners.items() if name == "PLAINTEXT"]
    assert f"--bootstrap-server localhost:{plaintext[0]} " in kafka["healthcheck"]["test"][-1]
    assert kafka["ports"], "the broker publishes no port on the host"
    for published in kafka["ports"]:
        [name] = [n for n, (_, port) in listeners.items() if port == published["target"]]
        assert protocols[name] == "SASL_SSL", f"the host reaches {name} ({protocols[name]})"
        assert advertised[name] == (published["host_ip"], int(published["published"])), name


def test_the_broker_reads_files_that_stack_certs_writes(project: dict[str, Any], certs: Path) -> None:
    """kafka-certs writes into the volume the broker mounts (read-only) where the apache/kafka image reads
    its files (/etc/kafka/secrets); every file the broker's settings name is there and fits."""
    services = project["services"]
    env = _kafka_env(project)
    secrets_dir = "/etc/kafka/secrets"  # fixed by the image's configure script
    assert _certs_folder(project) == secrets_dir
    written = [m for m in services["kafka-certs"]["volumes"] if m["target"] == secrets_dir]
    read = [m for m in services["kafka"]["volumes"] if m["target"] == secrets_dir]
    assert written and not written[0].get("read_only")
    assert read and read[0]["read_only"] and read[0]["source"] == written[0]["source"]
    for key in ("KAFKA_SSL_KEYSTORE_FILENAME", "KAFKA_SSL_KEYSTORE_CREDENTIALS", "KAFKA_SSL_KEY_CREDENTIALS"):
        assert (certs / env[key]).is_file(), f"{key}={env[key]} is not written by kafka-certs"
    assert env["KAFKA_SSL_KEYSTORE_TYPE"] == "PKCS12"
    cert, chain = _broker_certificate(certs, env["KAFKA_SSL_KEYSTORE_CREDENTIALS"])  # the password opens it
    jaas = env["KAFKA_OPTS"].split("-Djava.security.auth.login.config=", 1)[1].split()[0]
    assert Path(jaas).parent == Path(secrets_dir) and (certs / Path(jaas).name).is_file()
    module = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    assert re.search(r"KafkaServer \{\s*" + re.escape(module), (certs / Path(jaas).name).read_text())
    # what the clients trust, in the same volume, signed the broker's certificate
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert chain == [ca]


def test_the_certificate_names_every_advertised_host(project: dict[str, Any], certs: Path) -> None:
    env = _kafka_env(project)
    cert, _ = _broker_certificate(certs, env["KAFKA_SSL_KEYSTORE_CREDENTIALS"])
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    covered = set(names.get_values_for_type(x509.DNSName)) | {
        str(address) for address in names.get_values_for_type(x509.IPAddress)
    }
    for name, (host, _) in _listeners(env["KAFKA_ADVERTISED_LISTENERS"]).items():
        assert host in covered, f"the certificate does not name {host} (listener {name}): {sorted(covered)}"


def test_kafka_certs_command_exists_in_the_cli(project: dict[str, Any]) -> None:
    command, words = resolve_command(project["services"]["kafka-certs"]["command"])
    params = command.make_context(command.name, list(words)).params  # click's own parse
    assert params["owner"] == "1000:1000"  # the apache/kafka image runs as uid 1000


# ---- the SCRAM user ----------------------------------------------------------------------------------


def _run_scram(
    project: dict[str, Any], tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """kafka-scram's own entrypoint and command, run by bash here, with a stand-in for kafka-configs.sh
    that records its arguments."""
    service = project["services"]["kafka-scram"]
    tool = "/opt/kafka/bin/kafka-configs.sh"
    argv = [*service["entrypoint"], *service["command"]]
    assert argv[:2] == ["/bin/bash", "-c"] and tool in argv[2], argv
    record = tmp_path / "args"
    stub = tmp_path / "kafka-configs.sh"
    stub.write_text(f'#!/bin/bash\nprintf "%s\\0" "$@" > {record}\n')
    stub.chmod(0o755)
    result = subprocess.run(
        [argv[0], argv[1], argv[2].replace(tool, str(stub))],
        env={"PATH": "/usr/bin:/bin", **passed_environment(service), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result, record.read_text().split("\0")[:-1] if record.exists() else []


def test_kafka_scram_creates_the_user_the_clients_log_in_with(
    project: dict[str, Any], tmp_path: Path
) -> None:
    env = _kafka_env(project)
    service = project["services"]["kafka-scram"]
    assert service["image"] == project["services"]["kafka"]["image"], "kafka-scram runs the broker's tools"
    assert service["network_mode"] == "service:kafka"  # the broker's loopback
    assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
    result, args = _run_scram(project, tmp_path, KAFKA_PASSWORD=PASSWORD)
    assert result.returncode == 0, result.stderr
    plaintext = _listeners(env["KAFKA_LISTENERS"])["PLAINTEXT"]
    user = service["environment"]["KAFKA_USER"]
    assert args == [
        "--bootstrap-server", f"localhost:{plaintext[1]}", "--alter", "--entity-type", "users",
        "--entity-name", user, "--add-config", f"SCRAM-SHA-512=[iterations=8192,password={PASSWORD}]",
    ]  # fmt: skip
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    # the same user and password as every client's
    password = example_env()["KAFKA_PASSWORD"]
    assert service["environment"]["KAFKA_PASSWORD"] == password
    for client in project["services"].values():
        settings = passed_environment(client)
        if f"{SETTING}SASL_USERNAME" in settings:
            assert (
                settings[f"{SETTING}SASL_USERNAME"] == user
                and settings[f"{SETTING}SASL_PASSWORD"] == password
            )
    jaas = project["services"]["kafka-ui"]["environment"]["KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG"]
    assert jaas == (
        f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" '
        f'password="{password}";'
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KAFKA_PASSWORD", "change-me-kafka-password"),  # docker/.env.example's placeholder
        ("KAFKA_PASSWORD", "Short1"),
        ("KAFKA_PASSWORD", PASSWORD[:20] + ",]ab"),  # would end kafka-configs' --add-config list
        ("KAFKA_PASSWORD", PASSWORD[:20] + '"abc'),  # would end Kafka UI's JAAS value
        ("KAFKA_USER", "bad user"),
    ],
)
def test_kafka_scram_refuses_a_password_or_user_that_would_break_quoting(
    project: dict[str, Any], tmp_path: Path, variable: str, value: str
) -> None:
    """Stopped with one line naming the variable before kafka-configs runs; setup and Kafka UI, which wait
    for kafka-scram to succeed, never start."""
    result, args = _run_scram(project, tmp_path, **{"KAFKA_PASSWORD": PASSWORD, variable: value})
    assert result.returncode == 2 and args == []
    assert result.stderr.startswith(f"{variable} in docker/.env: use "), result.stderr
    assert value not in result.stderr


def test_the_scram_user_exists_before_anything_logs_in(project: dict[str, Any]) -> None:
    """Everything that logs in with SCRAM starts after kafka-scram succeeded: it, or a service it waits
    for, waits for kafka-scram to complete."""
    services = project["services"]
    logs_in = {
        name
        for name, service in services.items()
        if f"{SETTING}SASL_USERNAME" in passed_environment(service)
        or "KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG" in (service.get("environment") or {})
    }
    assert logs_in == KAFKA_USERS - {"kafka-scram"}
    for name in logs_in:
        waiting = {name} | dependencies(project, name)
        assert any(
            (services[w].get("depends_on") or {}).get("kafka-scram", {}).get("condition")
            == "service_completed_successfully"
            for w in waiting
        ), f"{name} may log in before kafka-scram created the user"


# ---- the clients -------------------------------------------------------------------------------------


def test_every_kafka_client_uses_the_secure_listener(project: dict[str, Any], base: dict[str, Any]) -> None:
    """The services that use Kafka in the stack and Kafka UI reach it at kafka:9094 with SASL_SSL; the
    others get no Kafka setting and no CA."""
    clients = _kafka_clients(base)
    assert clients == KAFKA_USERS - {"kafka-scram", "kafka-ui"}
    address = _secure_address(project)
    for name, service in project["services"].items():
        settings = {k: v for k, v in passed_environment(service).items() if k.startswith(SETTING)}
        if name not in clients:
            assert not settings, f"{name} does not use Kafka and gets {sorted(settings)}"
            continue
        assert settings[f"{SETTING}BOOTSTRAP_SERVERS"] == address, name
        assert settings[f"{SETTING}SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert settings[f"{SETTING}SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert mounted_volume(service, settings[f"{SETTING}SSL_CA_LOCATION"]) == ("kafka-secrets", "ca.pem")
    for name, service in project["services"].items():  # the CA volume only where it is used
        mounts = {m["source"] for m in service.get("volumes") or []}
        if "kafka-secrets" in mounts and name not in {"kafka-certs", "kafka"}:
            assert name in clients | {"kafka-ui"}, f"{name} mounts the Kafka secrets volume"
            assert all(m["read_only"] for m in service["volumes"] if m["source"] == "kafka-secrets"), name
    ui = project["services"]["kafka-ui"]["environment"]
    assert ui["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == address
    assert ui["KAFKA_CLUSTERS_0_PROPERTIES_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert ui["KAFKA_CLUSTERS_0_PROPERTIES_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert ui["KAFKA_CLUSTERS_0_PROPERTIES_SSL_TRUSTSTORE_TYPE"] == "PEM"
    location = ui["KAFKA_CLUSTERS_0_PROPERTIES_SSL_TRUSTSTORE_LOCATION"]
    assert mounted_volume(project["services"]["kafka-ui"], location) == ("kafka-secrets", "ca.pem")


@pytest.mark.parametrize("name", sorted(KAFKA_USERS - {"kafka-scram", "kafka-ui"}))
def test_the_clients_settings_validate_with_the_ca_stack_certs_writes(
    project: dict[str, Any], certs: Path, name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The service's settings load as its container loads them, the CA read from the kafka-secrets volume
    kafka-certs filled: the CA that signed the broker's certificate."""
    use_service_environment(project["services"][name], monkeypatch, tmp_path, {"kafka-secrets": certs})
    kafka = load_settings().kafka
    assert (kafka.security_protocol, kafka.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert kafka.bootstrap_servers == _secure_address(project)
    assert kafka.sasl_password is not None
    assert kafka.sasl_password.get_secret_value() == example_env()["KAFKA_PASSWORD"]
    assert kafka.ssl_ca_location == certs / "ca.pem"
    ca = x509.load_pem_x509_certificate(kafka.ssl_ca_location.read_bytes())
    env = _kafka_env(project)
    cert, _ = _broker_certificate(certs, env["KAFKA_SSL_KEYSTORE_CREDENTIALS"])
    cert.verify_directly_issued_by(ca)


# ---- the broker, run -----------------------------------------------------------------------------------

# KAFKA_* variables the apache/kafka image's scripts do not turn into server.properties (its
# kafka-propertiesSpec.json; KAFKA_HEAP_OPT* by prefix)
NOT_PROPERTIES = {
    "KAFKA_VERSION", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS", "KAFKA_TOOLS_LOG4J_LOGLEVEL",
}  # fmt: skip
LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


def _image_properties(env: dict[str, str], secrets: Path) -> str:
    """server.properties as the apache/kafka image's ``configure`` writes it from the container's KAFKA_*
    variables: the keystore and its passwords from the files named in /etc/kafka/secrets (here
    ``secrets``), then every variable as a property (``_`` -> ``.``, ``__`` -> ``_``, ``___`` -> ``-``)."""
    env = dict(env)
    if "SSL://" in env.get("KAFKA_ADVERTISED_LISTENERS", ""):
        env["KAFKA_SSL_KEYSTORE_LOCATION"] = str(secrets / env["KAFKA_SSL_KEYSTORE_FILENAME"])
        env["KAFKA_SSL_KEY_PASSWORD"] = (secrets / env["KAFKA_SSL_KEY_CREDENTIALS"]).read_text().rstrip("\n")
        env["KAFKA_SSL_KEYSTORE_PASSWORD"] = (
            (secrets / env["KAFKA_SSL_KEYSTORE_CREDENTIALS"]).read_text().rstrip("\n")
        )
    lines = []
    for name, value in env.items():
        if name.startswith("KAFKA_") and name not in NOT_PROPERTIES and not name.startswith("KAFKA_HEAP_OPT"):
            key = re.sub(r"_{1,3}", lambda m: {1: ".", 2: "_", 3: "-"}[len(m.group())], name[6:].lower())
            lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def _on_this_machine(env: dict[str, str], ports: dict[int, int], data: Path) -> dict[str, str]:
    """The broker's variables with the compose ports moved to free ones, every listener on the loopback
    (the shared broker holds 9092; nothing here listens beyond 127.0.0.1) and its data in ``data``."""
    moved = dict(env)
    for key in ("KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_QUORUM_VOTERS"):
        value = re.sub(r":(\d+)(?=,|$)", lambda m: f":{ports[int(m.group(1))]}", env[key])
        moved[key] = value.replace("://:", "://127.0.0.1:")
    moved["KAFKA_LOG_DIRS"] = str(data)
    return moved


def test_the_broker_and_its_one_shots_are_the_same_on_every_stack(tmp_path: Path) -> None:
    """So the run below, on one stack, holds for each."""
    kafka_side = ("kafka", "kafka-certs", "kafka-scram")
    projects = [load(stack.files, example_env(), tmp_path)["services"] for stack in SECURE_STACKS]
    assert len(projects) == 2
    for name in kafka_side:
        assert projects[0][name] == projects[1][name], name


@pytest.mark.integration
def test_the_override_broker_lets_in_the_user_kafka_scram_creates(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    """The kafka service's own settings on a real broker of this test (Kafka's version, the image's rules
    for turning them into server.properties, the files kafka-certs writes): kafka-scram's command creates
    the user over the loopback PLAINTEXT listener, and `cryptoflow health --kafka` with setup's settings
    logs in through the host's SASL_SSL port; a wrong password is refused."""
    stack = SECURE_STACKS[0]
    project = load(stack.files, example_env(), tmp_path)
    env = _kafka_env(project)
    secrets_dir = _certs_folder(project)
    certs = tmp_path / "kafka-secrets"
    command = project["services"]["kafka-certs"]["command"]
    args = [str(certs) if word == secrets_dir else word for word in command[1:]]
    args[args.index("--owner") + 1] = f"{os.getuid()}:{os.getgid()}"
    assert subprocess.run([str(CRYPTOFLOW), *args], capture_output=True, timeout=120).returncode == 0
    used = {int(port) for port in re.findall(r":(\d+)(?=,|$)", env["KAFKA_LISTENERS"])}
    ports = {port: free_port() for port in used}
    broker_env = _on_this_machine(env, ports, tmp_path / "data")
    config = tmp_path / "server.properties"
    config.write_text(_image_properties(broker_env, certs))
    (tmp_path / "log4j.properties").write_text(LOG4J)
    shared = local_stack.status()["kafka"]["managed_pid"]
    jvm = Path(f"/proc/{shared}/cmdline").read_bytes().decode().split("\0")
    java, classpath = jvm[0], jvm[jvm.index("-cp") + 1]
    log4j = f"-Dlog4j.configuration=file:{tmp_path / 'log4j.properties'}"
    formatted = subprocess.run(
        [java, "-Xmx256m", log4j, "-cp", classpath, "kafka.tools.StorageTool", "format",
         f"--cluster-id={base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip('=')}",
         "-c", str(config)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    options = env.get("KAFKA_OPTS", "").replace(secrets_dir, str(certs)).split()
    log = tmp_path / "kafka.log"
    with log.open("wb") as out:
        heap = env["KAFKA_HEAP_OPTS"].split()
        broker = subprocess.Popen(
            [java, *heap, *options, log4j, "-cp", classpath, "kafka.Kafka", str(config)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        plaintext = f"localhost:{ports[_listeners(env['KAFKA_LISTENERS'])['PLAINTEXT'][1]]}"
        admin = AdminClient({"bootstrap.servers": plaintext})
        deadline = time.monotonic() + 180
        while True:  # the broker's metadata answers on its loopback listener, as the healthcheck asks
            assert broker.poll() is None, f"the broker stopped:\n{log.read_text()[-3000:]}"
            try:
                admin.list_topics(timeout=5)
                break
            except KafkaException:  # not up yet
                assert time.monotonic() < deadline, f"the broker did not answer:\n{log.read_text()[-3000:]}"
        _, scram = _run_scram(project, tmp_path, KAFKA_PASSWORD=PASSWORD)
        scram[scram.index("--bootstrap-server") + 1] = plaintext
        scram_heap = project["services"]["kafka-scram"]["environment"]["KAFKA_HEAP_OPTS"].split()
        created = subprocess.run(
            [java, *scram_heap, "-cp", classpath, "kafka.admin.ConfigCommand", *scram],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert created.returncode == 0, created.stdout + created.stderr
        host_port = project["services"]["kafka"]["ports"][0]["target"]
        setup = passed_environment(project["services"]["setup"])
        client = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            **setup,
            "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{ports[host_port]}",
            "CRYPTOFLOW_KAFKA__SASL_PASSWORD": PASSWORD,
            "CRYPTOFLOW_KAFKA__SSL_CA_LOCATION": str(certs / "ca.pem"),
        }
        health = subprocess.run(
            [str(CRYPTOFLOW), "health", "--kafka"], env=client, cwd=tmp_path,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert health.returncode == 0, health.stdout + health.stderr
        client["CRYPTOFLOW_KAFKA__SASL_PASSWORD"] = PASSWORD[::-1]
        refused = subprocess.run(
            [str(CRYPTOFLOW), "health", "--kafka"], env=client, cwd=tmp_path,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "refused the login of user 'cryptoflow' (SCRAM-SHA-512)" in refused.stderr
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()


# ---- what the user is told ---------------------------------------------------------------------------


def test_compose_refuses_the_override_without_a_kafka_password(stack: Stack, workdir: Path) -> None:
    """KAFKA_PASSWORD is required by the override, named in the error; the stack alone does not need it."""
    env = {k: v for k, v in example_env().items() if k != "KAFKA_PASSWORD"}
    with pytest.raises(AssertionError, match="set KAFKA_PASSWORD in docker/.env"):
        load(stack.files, env, workdir)
    load(stack.files[:-1], env, workdir)


def _readme_subsection() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^### Kafka with SASL_SSL \(SCRAM-SHA-512\)\n(.*?)(?=^##|\Z)", text, re.S | re.M)
    assert match, "README: the Kafka with SASL_SSL subsection is missing"
    return match.group(1)


def test_readme_gives_the_command_line_of_each_stack() -> None:
    """One `docker compose -f STACK -f docker/compose.kafka-secure.yml` line per stack the override is
    registered for, and the measured memory of its one-shots."""
    readme = _readme_subsection()
    assert set(OVERRIDES[OVERRIDE].stacks) == {stack.name for stack in STACKS}
    for stack in STACKS:
        files = " ".join(f"-f docker/{name}" for name in (*stack.files, OVERRIDE))
        assert f"docker compose {files} --env-file docker/.env up -d --build" in readme, stack.name
    measured = json.loads((DOCKER / "measured-memory.json").read_text())["services"]
    for name in OVERRIDES[OVERRIDE].one_shots:
        assert f"{measured[name]['peak_rss_mib']:.0f} MiB" in readme, f"README: the measured {name} figure"
