"""Kafka with SASL_SSL (SCRAM-SHA-512), for real: a broker of the tests' own with a CA and certificate made
at its start, every component run through the ``cryptoflow`` console script from settings alone, the
errors a user meets with a wrong password or certificate, and no credential in any output."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from cryptoflow.config import Settings, load_settings
from cryptoflow.elastic import INDEX_KINDS, index_alias, make_client
from cryptoflow.events import decode
from cryptoflow.kafka import TOPIC_KINDS, EventProducer, cluster_metadata, new_client, topic_name
from cryptoflow.stack import KafkaService, Supervisor, ensure_broker_tls
from cryptoflow.testing.events import candle_events
from cryptoflow.testing.fake_binance import replay_exchange
from cryptoflow.testing.services import (
    clean_env,
    cleanup,
    es_count,
    es_docs,
    free_port,
    group_ready,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.integration


def secure_env(broker: KafkaService, prefix: str, **extra: str) -> dict[str, str]:
    """The environment of a ``cryptoflow`` process that reaches ``broker`` from settings alone (its
    SASL_SSL listener), with the test's topic and index prefixes."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOFLOW_KAFKA__")}
    return {
        **inherited,
        **broker.client_environment(),
        "CRYPTOFLOW_KAFKA__TOPIC_PREFIX": prefix,
        "CRYPTOFLOW_ELASTICSEARCH__INDEX_PREFIX": prefix,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


CRYPTOFLOW = Path(sys.executable).with_name("cryptoflow")
SETTING = "CRYPTOFLOW_KAFKA__"
LIVE = 12  # candles the fake exchange replays


def cli(env: dict[str, str], cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``cryptoflow`` as users do (the console script), with ``env`` only."""
    return subprocess.run(
        [str(CRYPTOFLOW), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def secure_settings(broker: KafkaService, prefix: str) -> Settings:
    """In-process settings for ``broker``'s SASL_SSL listener, with the test's prefixes."""
    kafka = {name.removeprefix(SETTING).lower(): value for name, value in broker.client_environment().items()}
    return load_settings(kafka={**kafka, "topic_prefix": prefix}, elasticsearch={"index_prefix": prefix})


@pytest.fixture
def prefix(secure_kafka: KafkaService, unique_name: str) -> Iterator[str]:
    """The test's topic and index prefix; its topics, indices and templates are deleted afterwards."""
    yield unique_name
    cleanup(secure_settings(secure_kafka, unique_name))


def test_the_event_producer_delivers_over_sasl_ssl(secure_kafka: KafkaService, prefix: str) -> None:
    settings = secure_settings(secure_kafka, prefix)
    assert settings.kafka.security_protocol == "SASL_SSL"
    events = candle_events(25, run_id="secure")
    with EventProducer(settings.kafka) as producer:
        producer.send_many(events)
    assert producer.delivered == 25
    received = [decode(m.value()) for m in read_topic(settings, "candles", expected=25)]
    assert sorted(e.event_id for e in received) == sorted(e.event_id for e in events)
    # the SASL_SSL listener is the only way in with these settings: nothing reached the shared broker
    plain = load_settings(kafka={"topic_prefix": prefix})
    admin = new_client(AdminClient, plain.kafka)
    assert topic_name(plain.kafka, "candles") not in cluster_metadata(admin, plain.kafka, 10).topics


def _by_run(run_id: str) -> dict:
    return {"bool": {"filter": [{"term": {"run_id": run_id}}]}}


def test_every_component_runs_over_sasl_ssl_from_settings_alone(
    secure_kafka: KafkaService, prefix: str, shared_data: Path, tmp_path: Path
) -> None:
    """setup, health, the indicators stream and a trade worker (both producers, the worker a consumer
    group member), and the sink into the real Elasticsearch: all --verbose, all through SASL_SSL, and
    the password in none of their outputs."""
    settings = secure_settings(secure_kafka, prefix)
    password = settings.kafka.sasl_password.get_secret_value()
    exchange = replay_exchange(shared_data, symbols=("ETHUSDT",), history=60, limit=LIVE, speed=4)
    env = secure_env(secure_kafka, prefix, **exchange.client_environment())
    outputs: dict[str, str] = {}
    procs = Supervisor(tmp_path, env=env, cwd=tmp_path)
    ready = partial(wait_until, watching=procs)
    try:
        setup = cli(env, tmp_path, "--verbose", "setup")
        outputs["setup"] = setup.stdout + setup.stderr
        assert setup.returncode == 0, outputs["setup"]
        admin = new_client(AdminClient, settings.kafka)
        topics = set(cluster_metadata(admin, settings.kafka, 10).topics)
        assert {topic_name(settings.kafka, kind) for kind in TOPIC_KINDS} <= topics
        templates = make_client(settings.elasticsearch).indices.get_index_template(name=f"{prefix}-*")
        assert {t["name"] for t in templates["index_templates"]} == {
            index_alias(settings.elasticsearch, kind) for kind in INDEX_KINDS
        }

        health = cli(env, tmp_path, "--verbose", "health", "--kafka")
        outputs["health"] = health.stdout + health.stderr
        assert health.returncode == 0 and health.stdout.strip() == "healthy", outputs["health"]

        group = f"{prefix}.auto-trade.secure-trade"
        procs.start_command("trade", [
            str(CRYPTOFLOW), "--verbose", "trade", "--from-kafka", "--symbols", "ETHUSDT", "--interval", "5m",
            "--run-id", "secure-trade", "--candles-run-id", "secure-market", "--state-dir",
            str(tmp_path / "state"), "--max-candle-age", "0",
        ])  # fmt: skip

        ready(lambda: group_ready(settings, group, 1), 90, "the worker to join its group")
        procs.start_command("indicators", [
            str(CRYPTOFLOW), "--verbose", "indicators", "--symbols", "ETHUSDT", "--interval", "5m",
            "--run-id", "secure-market",
        ])  # fmt: skip
        ready(lambda: bool(exchange.subscribers), 60, "the indicators stream to subscribe")
        exchange.start_replay()
        ready(lambda: exchange.market.finished, 90, "the replay to end")

        def traded() -> int:
            messages = read_topic(settings, "candles", timeout_s=10)
            return sum(1 for m in messages if decode(m.value()).run_id == "secure-trade")

        ready(lambda: traded() == LIVE, 90, "the worker to publish every candle it decided")
        for name in ("indicators", "trade"):
            assert procs.stop(name, timeout_s=60) == {name: 0}, procs.logs()
            outputs[name] = procs.log(name)

        sink = cli(env, tmp_path, "--verbose", "sink", "--once")
        outputs["sink"] = sink.stdout + sink.stderr
        assert sink.returncode == 0, outputs["sink"]
    finally:
        procs.kill()
        exchange.stop_thread()

    grid = [int(t) for t in exchange.market.grid[60 : 60 + LIVE]]
    for run_id in ("secure-market", "secure-trade"):
        docs = es_docs(settings, "candles", _by_run(run_id)).values()
        assert sorted(d["time_ms"] for d in docs) == grid, run_id
    assert es_docs(settings, "indicators", _by_run("secure-market"))
    assert "assigned partitions" in outputs["trade"]
    indexed = sum(es_count(settings, kind) for kind in INDEX_KINDS)
    assert f"indexed {indexed:,} document(s), dead-lettered 0" in outputs["sink"]
    for name, output in outputs.items():
        assert password not in output, f"the SASL password appears in the output of {name}"


ETH = "ETHUSDT_5m_2025-08.csv"
# every kind of client: admin (health, setup), producer (replay), consumer group members (sink, trade)
COMMANDS = {
    "health": ["health", "--kafka"],
    "setup": ["setup"],
    "replay": ["replay", "--data", "{data}/" + ETH, "--start", "2025-09-01", "--end", "2025-09-02"],
    "sink": ["sink", "--once"],
    "trade": ["trade", "--from-kafka", "--symbols", "ETHUSDT", "--interval", "5m", "--state-dir", "{tmp}"],
}
FAILURES = ("wrong_password", "unknown_ca", "system_ca", "not_a_certificate", "missing_file")


def _failing(
    failure: str, broker: KafkaService, prefix: str, folder: Path
) -> tuple[dict[str, str], list[str]]:
    """The environment with one thing wrong, and the exact lines of the error ``cryptoflow`` prints."""
    env = secure_env(broker, prefix)
    at = f"Kafka at {broker.secure_bootstrap}"
    advice = f"set {SETTING}SSL_CA_LOCATION to the CA certificate (PEM) that signed the broker's certificate"
    if failure == "wrong_password":
        env[f"{SETTING}SASL_PASSWORD"] = f"wrong-{uuid.uuid4().hex}"
        return env, [
            f"error: {at} refused the login of user 'cryptoflow' (SCRAM-SHA-512): check "
            f"{SETTING}SASL_PASSWORD (and {SETTING}SASL_USERNAME, {SETTING}SASL_MECHANISM)"
        ]
    if failure == "unknown_ca":  # a CA that did not sign the broker's certificate
        other = ensure_broker_tls(folder / "other-ca", ["127.0.0.1"]).ca_file
        env[f"{SETTING}SSL_CA_LOCATION"] = str(other)
        return env, [
            f"error: {at}: the broker's TLS certificate is not trusted by the CA in '{other}'; {advice}"
        ]
    if failure == "system_ca":  # no CA file: the system's CAs do not know the broker's
        del env[f"{SETTING}SSL_CA_LOCATION"]
        return env, [
            f"error: {at}: the broker's TLS certificate is not trusted by the system's CA certificates "
            f"(no CA file is set); {advice}"
        ]
    if failure == "not_a_certificate":
        path = folder / "ca.pem"
        path.write_text("this is not a certificate\n")
        env[f"{SETTING}SSL_CA_LOCATION"] = str(path)
        return env, [
            f"error: {SETTING}SSL_CA_LOCATION: '{path}' holds no CA certificate (PEM); set it to the CA "
            "certificate file (PEM) that signed the broker's certificate"
        ]
    assert failure == "missing_file"
    path = folder / "missing-ca.pem"
    env[f"{SETTING}SSL_CA_LOCATION"] = str(path)
    return env, [
        "error: invalid settings:",
        f"  {SETTING}SSL_CA_LOCATION: CA file '{path}' does not exist (got '{path}')",
    ]


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_wrong_password_or_certificate_is_one_clear_configuration_error(
    secure_kafka: KafkaService, prefix: str, shared_data: Path, tmp_path: Path, command: str, failure: str
) -> None:
    env, expected = _failing(failure, secure_kafka, prefix, tmp_path)
    args = [a.format(data=shared_data, tmp=tmp_path / "state") for a in COMMANDS[command]]
    result = cli(env, tmp_path, *args, timeout=90)  # no endless retry: it stops by itself, at once
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    start = result.stderr.splitlines().index(errors[0])
    assert result.stderr.splitlines()[start : start + len(expected)] == expected, output
    assert "Traceback" not in output
    # reported once, as the error: none of librdkafka's own lines about it on the terminal
    for noise in ("SASL authentication error", "certificate verify failed", "FAIL [rdkafka"):
        assert noise not in output, output
    assert env.get(f"{SETTING}SASL_PASSWORD", "") not in output


@pytest.mark.parametrize("failure", ["wrong_password", "unknown_ca"])
def test_verbose_output_shows_librdkafka_lines_but_never_the_password(
    secure_kafka: KafkaService, prefix: str, tmp_path: Path, failure: str
) -> None:
    env, expected = _failing(failure, secure_kafka, prefix, tmp_path)
    result = cli(env, tmp_path, "--verbose", "health", "--kafka", timeout=90)
    output = result.stdout + result.stderr
    assert result.returncode == 2 and expected[0] in result.stderr.splitlines(), output
    assert "DEBUG cryptoflow.kafka.librdkafka: FAIL [rdkafka#producer-1]" in output  # librdkafka's lines
    for secret in (env[f"{SETTING}SASL_PASSWORD"], secure_kafka.password()):
        assert secret not in output


def test_stack_up_secure_prints_what_a_client_needs_without_the_password(
    stack_settings: Settings, tmp_path: Path
) -> None:
    """`cryptoflow stack up --secure` in a stack home of its own (the downloaded jars shared, the shared
    Elasticsearch reused as it answers on its port): a broker with a SASL_SSL listener, a CA and
    certificate made at start, a SCRAM user, and the settings a client needs printed, password masked."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dist").symlink_to(stack_settings.stack.home / "dist")
    ports = {name: str(free_port()) for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_SECURE_PORT")}
    stack = {"HOME": str(home), **ports}
    env = clean_env(**{f"CRYPTOFLOW_STACK__{name}": value for name, value in stack.items()})
    broker = KafkaService(stack_settings.stack.model_copy(update={"home": home}), secure=True)
    try:
        result = cli(env, tmp_path, "stack", "up", "--secure", timeout=240)
        assert result.returncode == 0, result.stdout + result.stderr
        secure = broker.secure_dir
        password = (secure / "sasl.password").read_text().strip()
        lines = result.stdout.splitlines()
        secure_at = f"127.0.0.1:{ports['KAFKA_SECURE_PORT']}"
        start = lines.index(
            f"Kafka also listens with SASL_SSL (SCRAM-SHA-512) at {secure_at}. A client needs:"
        )
        assert lines[start + 1 : start + 8] == [
            f"  {SETTING}BOOTSTRAP_SERVERS={secure_at}",
            f"  {SETTING}SECURITY_PROTOCOL=SASL_SSL",
            f"  {SETTING}SASL_MECHANISM=SCRAM-SHA-512",
            f"  {SETTING}SASL_USERNAME=cryptoflow",
            f"  {SETTING}SASL_PASSWORD=***  (in {secure / 'sasl.password'})",
            f"  {SETTING}SSL_CA_LOCATION={secure / 'ca.pem'}",
            f"All of them, password included, are in {secure / 'client.env'} (mode 600): "
            f"`set -a; . {secure / 'client.env'}; set +a`, or copy its lines into .env",
        ]
        assert password not in result.stdout + result.stderr
        for private in ("sasl.password", "client.env", "ca.key", "broker.p12", "broker.p12.password"):
            assert (secure / private).stat().st_mode & 0o077 == 0, private
        assert (home / "run" / "kafka" / "server.properties").stat().st_mode & 0o077 == 0
        # the file holds everything a client needs: health through SASL_SSL from it alone
        client = dict(line.split("=", 1) for line in (secure / "client.env").read_text().splitlines())
        assert client[f"{SETTING}SASL_PASSWORD"] == password
        health = cli({**env, **client}, tmp_path, "health", "--kafka")
        assert health.returncode == 0 and health.stdout.strip() == "healthy", health.stderr
        # a second `up --secure` finds it running and keeps CA and password
        ca = (secure / "ca.pem").read_bytes()
        again = cli(env, tmp_path, "stack", "up", "--secure", timeout=120)
        assert again.returncode == 0, again.stderr
        assert "kafka already answers" in again.stderr
        assert (secure / "ca.pem").read_bytes() == ca
        assert (secure / "sasl.password").read_text().strip() == password
    finally:
        broker.stop(timeout_s=20)


_CLIENTS_LEFT = """
import gc, sys
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from cryptoflow.cli import main
code = main(sys.argv[1:])
gc.collect()
left = [type(o).__name__ for o in gc.get_objects() if isinstance(o, (AdminClient, Consumer, Producer))]
print("kafka clients left:", left, file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("command", ["health", "trade"])
def test_a_refused_login_leaves_no_kafka_client_alive_when_the_command_returns(
    secure_kafka: KafkaService, prefix: str, tmp_path: Path, command: str
) -> None:
    """A client still alive at interpreter shutdown keeps its librdkafka threads running while Python
    tears down (the process died of SIGSEGV now and then, instead of exiting with 2). confluent-kafka
    holds the exception our error callback raises, and with it every frame it passed."""
    env, expected = _failing("wrong_password", secure_kafka, prefix, tmp_path)
    args = [a.format(tmp=tmp_path / "state") for a in COMMANDS[command]]
    result = subprocess.run(
        [sys.executable, "-c", _CLIENTS_LEFT, "--verbose", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 2 and expected[0] in result.stderr.splitlines(), result.stderr
    assert "kafka clients left: []" in result.stderr.splitlines(), result.stderr
