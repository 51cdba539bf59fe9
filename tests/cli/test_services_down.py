"""Kafka or Elasticsearch down, as a new user meets it through the real `cryptoflow` console script: one
clear line per backoff step and never a traceback, a bounded wait where the command is meant to end, an
honest exit code (1), and SIGTERM (0) or Ctrl-C (130) stopping within seconds. A service that is down is
a closed port; the shared stack is never touched. Credentials never appear in any output."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cryptoflow.config import Settings
from cryptoflow.elastic import index_alias, make_client
from cryptoflow.testing.services import clean_env, free_port, wait_until

pytestmark = pytest.mark.slow  # waits out backoff steps and bounded waits

CRYPTOFLOW = str(Path(sys.executable).with_name("cryptoflow"))  # the console script pip installed
SECRET = "hunter2xyz"
STOP_S = 20  # a hang guard: before, these waited 30 s in librdkafka or never ended


def environment(**settings: str) -> dict[str, str]:
    named = {f"CRYPTOFLOW_{name.upper()}": value for name, value in settings.items()}
    return clean_env(COLUMNS="250", **named)


def run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CRYPTOFLOW, *args], capture_output=True, text=True, env=env, timeout=timeout)


class Started:
    """A `cryptoflow` process writing to files (no pipe to fill up), to be signalled."""

    def __init__(self, folder: Path, args: tuple[str, ...], env: dict[str, str]) -> None:
        self.out, self.err = folder / "stdout.txt", folder / "stderr.txt"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen([CRYPTOFLOW, *args], stdout=out, stderr=err, env=env, cwd=folder)

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=STOP_S)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Started]]:
    processes: list[Started] = []
    yield processes
    for process in processes:
        process.kill()


def no_traceback(*outputs: str) -> None:
    for output in outputs:
        assert "Traceback" not in output, output
        assert "%3|" not in output, output  # librdkafka's own stderr lines


def refused(port: int) -> str:
    return (
        f"HTTPConnection(host='127.0.0.1', port={port}): Failed to establish a new connection: "
        "[Errno 111] Connection refused"
    )


# -- health and setup: one line, bounded, exit 1 ---------------------------------------------------------


def test_health_with_elasticsearch_down_is_one_line() -> None:
    port = free_port()
    result = run(
        "health", "--elasticsearch", env=environment(elasticsearch__hosts=f"http://127.0.0.1:{port}")
    )
    assert result.returncode == 1
    assert result.stderr == f"unhealthy elasticsearch at http://127.0.0.1:{port}: {refused(port)}\n"
    assert result.stdout == ""


def test_health_with_kafka_down_is_one_line() -> None:
    port = free_port()
    env = environment(kafka__bootstrap_servers=f"127.0.0.1:{port}")
    result = run("health", "--kafka", "--timeout", "3", env=env)
    assert result.returncode == 1
    assert result.stderr == (
        f"unhealthy kafka: Kafka at 127.0.0.1:{port} did not answer within 3 s (127.0.0.1:{port}/bootstrap: "
        f"Connect to ipv4#127.0.0.1:{port} failed: Connection refused): start it, or point "
        "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS at where it runs\n"
    )


def test_setup_with_elasticsearch_down_is_one_error(pipeline: Settings) -> None:
    port = free_port()
    env = environment(
        kafka__topic_prefix=pipeline.kafka.topic_prefix,
        elasticsearch__index_prefix=pipeline.elasticsearch.index_prefix,
        elasticsearch__hosts=f"http://127.0.0.1:{port}",
    )
    result = run("setup", env=env)
    assert result.returncode == 1
    no_traceback(result.stdout, result.stderr)
    assert result.stderr.splitlines()[-1] == (
        f"error: Elasticsearch is unreachable while checking index "
        f"{pipeline.elasticsearch.index_prefix}-candles ({refused(port)}): start it, or point "
        "CRYPTOFLOW_ELASTICSEARCH__HOSTS at where it runs"
    )


def test_setup_with_kafka_down_ends_with_one_error() -> None:
    port = free_port()
    env = environment(kafka__bootstrap_servers=f"127.0.0.1:{port}", kafka__connect_timeout_s="3")
    result = run("setup", env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: Kafka at 127.0.0.1:{port} did not answer within 3 s (127.0.0.1:{port}/bootstrap: Connect "
        f"to ipv4#127.0.0.1:{port} failed: Connection refused): start it, or point "
        "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS at where it runs\n"
    )


def test_unhandled_client_error_is_one_line_too() -> None:
    port = free_port()
    env = environment(elasticsearch__hosts=f"http://127.0.0.1:{port}")
    result = run("setup", "--kibana-system-password", "kibana-pw", env=env)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: could not set the kibana_system password ({refused(port)}): check that Elasticsearch is up "
        "and that CRYPTOFLOW_ELASTICSEARCH__* name a user allowed to manage users\n"
    )


# -- the sink -------------------------------------------------------------------------------------------


def test_sink_once_gives_up_after_a_bounded_wait(tmp_path: Path) -> None:
    port = free_port()
    env = environment(elasticsearch__hosts=f"http://127.0.0.1:{port}", kafka__topic_prefix="test-unused")
    result = run("sink", "--once", "--give-up-after", "3", env=env)
    assert result.returncode == 1
    no_traceback(result.stdout, result.stderr)
    *waits, last = result.stderr.splitlines()
    reason = f"Elasticsearch is unreachable while checking index cryptoflow-candles ({refused(port)})"
    hint = "start it, or point CRYPTOFLOW_ELASTICSEARCH__HOSTS at where it runs"
    assert last == f"error: gave up after 3 s of waiting (--give-up-after): {reason}: {hint}"
    assert waits, "one line per backoff step"
    step = re.compile(
        r"^\S+ \S+ WARNING cryptoflow\.sink: sink: cannot start yet \((.*)\); retrying in [\d.]+ s$"
    )
    for line in waits:  # nothing else: no traceback, no line of the client library's own retries
        match = step.match(line)
        assert match and match.group(1) == f"{reason}: {hint}", line


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_sink_waiting_for_elasticsearch_stops_on_a_signal(
    tmp_path: Path, started: list[Started], signum: int, code: int
) -> None:
    env = environment(
        elasticsearch__hosts=f"http://127.0.0.1:{free_port()}", kafka__topic_prefix="test-unused"
    )
    sink = Started(tmp_path, ("sink",), env)
    started.append(sink)
    wait_until(lambda: "cannot start yet" in sink.stderr(), 60, "the sink to wait for Elasticsearch")
    assert sink.stop(signum) == code
    no_traceback(sink.stdout(), sink.stderr())
    assert "sink: stopped before it started" in sink.stderr()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_sink_waiting_for_kafka_stops_on_a_signal(
    pipeline: Settings, tmp_path: Path, started: list[Started], signum: int, code: int
) -> None:
    env = environment(
        kafka__bootstrap_servers=f"127.0.0.1:{free_port()}",
        kafka__topic_prefix=pipeline.kafka.topic_prefix,
        elasticsearch__index_prefix=pipeline.elasticsearch.index_prefix,
    )
    sink = Started(tmp_path, ("sink",), env)
    started.append(sink)
    # the index templates come first: once the last template exists the sink is waiting for Kafka
    client = make_client(pipeline.elasticsearch)
    last = index_alias(pipeline.elasticsearch, "trades")
    wait_until(
        lambda: bool(client.indices.exists_index_template(name=last)), 60, "the sink to install its templates"
    )
    assert sink.stop(signum) == code  # before: the handler ran only after librdkafka's 30 s wait
    no_traceback(sink.stdout(), sink.stderr())


# -- trade and indicators: Kafka is checked before anything starts ---------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
@pytest.mark.parametrize("command", ["trade", "indicators"])
def test_live_command_waiting_for_kafka_stops_on_a_signal(
    tmp_path: Path, started: list[Started], command: str, signum: int, code: int
) -> None:
    port = free_port()
    process = Started(tmp_path, (command,), environment(kafka__bootstrap_servers=f"127.0.0.1:{port}"))
    started.append(process)
    wait_until(lambda: "events go to Kafka at" in process.stdout(), 60, f"{command} to wait for Kafka")
    assert process.stop(signum) == code
    no_traceback(process.stdout(), process.stderr())
    assert process.stdout().splitlines()[-1] == "stopped"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
@pytest.mark.parametrize("command", ["trade", "indicators"])
def test_live_command_waiting_for_the_exchange_logs_one_line_per_attempt_and_stops_on_a_signal(
    tmp_path: Path, started: list[Started], command: str, signum: int, code: int
) -> None:
    port = free_port()
    env = environment(
        binance__base_url=f"http://127.0.0.1:{port}", binance__stream_url=f"ws://127.0.0.1:{port}/"
    )
    process = Started(tmp_path, (command, "--no-kafka"), env)
    started.append(process)
    wait_until(lambda: process.stderr().count("retrying in") >= 2, 60, f"{command} to retry the exchange")
    assert process.stop(signum) == code
    no_traceback(process.stdout(), process.stderr())
    step = re.compile(
        r"^\S+ \S+ WARNING cryptoflow\.binance\._http: exchange REST unreachable "
        rf"\(ClientConnectorError: Cannot connect to host 127\.0\.0\.1:{port} .*\); retrying in [\d.]+ s$"
    )
    for line in process.stderr().splitlines():
        assert step.match(line) or line == "interrupted", line


def test_trade_with_kafka_down_ends_with_one_error(tmp_path: Path) -> None:
    port = free_port()
    env = environment(kafka__bootstrap_servers=f"127.0.0.1:{port}", kafka__connect_timeout_s="3")
    result = subprocess.run(
        [CRYPTOFLOW, "trade", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1  # before: it traded on, every event queued for a Kafka that never came
    assert result.stdout.splitlines()[-1] == f"events go to Kafka at 127.0.0.1:{port}"
    assert result.stderr == (
        f"error: Kafka at 127.0.0.1:{port} did not answer within 3 s (127.0.0.1:{port}/bootstrap: Connect "
        f"to ipv4#127.0.0.1:{port} failed: Connection refused): start it, or point "
        "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS at where it runs\n"
    )


# -- secrets: never in any output --------------------------------------------------------------------------


@pytest.mark.parametrize("verbose", [(), ("--verbose",)])
@pytest.mark.parametrize(
    "command",
    [
        ("health", "--elasticsearch", "--timeout", "2"),
        ("health", "--kafka", "--timeout", "2"),
        ("sink", "--once", "--give-up-after", "2"),
        ("setup",),
        ("config", "show"),
    ],
)
def test_credentials_never_appear_in_the_output(verbose: tuple[str, ...], command: tuple[str, ...]) -> None:
    env = environment(
        elasticsearch__hosts=f"http://elastic:{SECRET}@127.0.0.1:{free_port()}",
        kafka__bootstrap_servers=f"127.0.0.1:{free_port()}",
        kafka__security_protocol="SASL_PLAINTEXT",
        kafka__sasl_mechanism="SCRAM-SHA-512",
        kafka__sasl_username="alice",
        kafka__sasl_password=f"sasl-{SECRET}",
        kafka__topic_prefix="test-unused",
        kafka__connect_timeout_s="3",
    )
    result = run(*verbose, *command, env=env)
    output = result.stdout + result.stderr
    assert SECRET not in output
    if command[0] != "config":
        assert result.returncode == 1
        no_traceback(result.stdout, result.stderr)
    else:
        assert "http://elastic:***@127.0.0.1:" in output


def test_an_elasticsearch_password_in_the_url_is_masked_in_every_log_line(pipeline: Settings) -> None:
    # the shared node runs without security: it accepts the credentials, and every request is logged
    env = environment(
        elasticsearch__hosts=f"http://elastic:{SECRET}@127.0.0.1:{pipeline.stack.elasticsearch_port}",
        kafka__topic_prefix=pipeline.kafka.topic_prefix,
        elasticsearch__index_prefix=pipeline.elasticsearch.index_prefix,
    )
    result = run("--verbose", "sink", "--once", env=env)
    assert result.returncode == 0, result.stderr
    assert "PUT http://127.0.0.1:" in result.stderr  # elastic_transport's request lines are there
    assert SECRET not in result.stdout + result.stderr
