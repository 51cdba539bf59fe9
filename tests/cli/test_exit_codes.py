"""Every subcommand's documented failure, through the real console script: the exit code (0 success,
1 failure, 2 usage or configuration, 130 interrupted, 0 after SIGTERM) and the one line the user reads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cryptoflow.candles import shared_data_dir

pytestmark = pytest.mark.slow  # one console-script process per case, some waiting for services that are down

CRYPTOFLOW = str(Path(sys.executable).with_name("cryptoflow"))
SAMPLE = shared_data_dir() / "ETHUSDT_5m_2025-08.csv"


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (a service that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something that is not Kafka or Elasticsearch listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The user's environment without any CRYPTOFLOW_* of ours, a stack home of the test's own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CRYPTOFLOW_", "KIBANA_"))}
    env["CRYPTOFLOW_STACK__HOME"] = str(tmp_path / "home")
    env.update({f"CRYPTOFLOW_{name}": value for name, value in settings.items()})
    return env


def cryptoflow(
    tmp_path: Path, *args: str, timeout: float = 120, **settings: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CRYPTOFLOW, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,  # no cryptoflow.toml or .env of the developer's is read
        env=_env(tmp_path, **settings),
    )


def assert_exit(result: subprocess.CompletedProcess, code: int, text: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert text in " ".join(output.split()), output  # rich wraps long lines at the terminal width
    assert "Traceback" not in output


def test_success_is_0(tmp_path: Path) -> None:
    assert_exit(cryptoflow(tmp_path, "config", "show"), 0, "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS")
    assert_exit(cryptoflow(tmp_path, "data", "check", str(SAMPLE)), 0, "ETHUSDT")
    assert_exit(cryptoflow(tmp_path, "stack", "down"), 0, "nothing of the stack was running")


# what the user runs -> (settings, exit code, what the error says)
# fmt: off
USAGE_AND_INPUT_ERRORS: dict[str, tuple[list[str], dict[str, str], int, str]] = {
    "config show: a wrong setting": (
        ["config", "show"], {"KAFKA__PARTITIONS": "0"}, 2,
        "CRYPTOFLOW_KAFKA__PARTITIONS: Input should be greater than or equal to 1"),
    "stack logs: unknown service": (
        ["stack", "logs", "kafkaa"], {}, 2, "unknown service 'kafkaa': choose kafka, elasticsearch or all"),
    "data check: no such file": (["data", "check", "missing.csv"], {}, 2, "missing.csv: no such file"),
    "data check: not candles": (["data", "check", "{binary}"], {}, 1, "binary.csv"),
    "data resample: bad interval": (
        ["data", "resample", str(SAMPLE), "--to", "7x", "--out", "x.csv"], {}, 2,
        "--to: unknown candle interval '7x'"),
    "exchange serve: no such file": (
        ["exchange", "serve", "--data", "missing.csv"], {}, 2, "--data missing.csv: no such file"),
    "trade: live without --live": (
        ["trade", "--broker", "live"], {}, 2, "--broker live trades real money: add --live"),
    "trade: --live with paper": (
        ["trade", "--broker", "paper", "--live"], {}, 2,
        "--live confirms real-money trading with --broker live"),
    "trade: testnet without keys": (
        ["trade", "--broker", "testnet"], {}, 2,
        "the testnet broker needs CRYPTOFLOW_BINANCE__API_KEY and CRYPTOFLOW_BINANCE__API_SECRET"),
    "trade: an interval Binance does not stream": (
        ["trade", "--interval", "7m"], {}, 2, "--interval '7m' is not a kline interval Binance streams"),
    "trade: no cash": (
        ["trade", "--cash", "0"], {}, 2, "--cash 0: expected a positive amount of quote currency"),
    "trade: a fraction above 1": (
        ["trade", "--fraction", "3"], {}, 2,
        "--fraction 3: expected a share of the equity above 0 and at most 1"),
    "trade: no leverage": (["trade", "--leverage", "0"], {}, 2, "--leverage 0: expected from 1 to 125"),
    "trade: an unknown margin type": (
        ["trade", "--margin-type", "foo"], {}, 2, "--margin-type 'FOO': expected ISOLATED or CROSSED"),
    "indicators: no symbols": (["indicators", "--symbols", ","], {}, 2, "--symbols expects e.g. ETHUSDT"),
    "backtest: no such file": (
        ["backtest", "--data", "missing.csv"], {}, 2, "--data missing.csv: no such file"),
    "backtest: unknown strategy": (
        ["backtest", "--data", str(SAMPLE), "--strategy", "nosuch"], {}, 2, "unknown strategy 'nosuch'"),
    "optimize: unknown option": (
        ["optimize", "--data", str(SAMPLE), "--nosuch"], {}, 2, "No such option: --nosuch"),
    "replay: bad run id": (
        ["replay", "--data", str(SAMPLE), "--run-id", "two words"], {}, 2, "run ids are one word"),
    "retention: unknown kind": (["retention", "--kind", "nosuch"], {}, 2, "Invalid value for --kind: nosuch"),
    "demo: negative duration": (["demo", "--duration", "-1"], {}, 2, "Invalid value for '--duration'"),
    "dashboards import: no Kibana": (["dashboards", "import"], {}, 2, "Missing option '--kibana-url'"),
    "health: nothing to check": (
        ["health"], {}, 2, "nothing to check: give --kafka, --elasticsearch and/or --url"),
    "notify: no target": (
        ["notify"], {}, 2,
        "no notify target: set CRYPTOFLOW_NOTIFY__TARGETS (a JSON list) or [[notify.targets]]"),
    "notify: unknown target": (
        ["notify", "--target", "nosuch"], {"NOTIFY__TARGETS": '[{"name": "ops", "webhook_url": "http://h/x"}]'},
        2, "unknown notify target 'nosuch': the configured ones are ops"),
    "notify: telegram without chat id": (
        ["notify"], {"NOTIFY__TARGETS": '[{"name": "tg", "format": "telegram", "bot_token": "1:secret"}]'},
        2, "CRYPTOFLOW_NOTIFY__TARGETS: target 'tg': telegram needs chat_id"),
    "sink: an option out of range": (
        ["sink", "--batch-size", "0"], {}, 2,
        "invalid sink option: batch_size: Input should be greater than or equal to 1"),
    "notify: an option out of range": (
        ["notify", "--max-backoff", "-1"], {}, 2,
        "invalid notify option: backoff_max_s: Input should be greater than 0"),
    "an unknown command": (["no-such-command"], {}, 2, "No such command 'no-such-command'"),
}
# fmt: on


@pytest.mark.parametrize("case", USAGE_AND_INPUT_ERRORS)
def test_usage_configuration_and_input_errors(tmp_path: Path, case: str) -> None:
    args, settings, code, text = USAGE_AND_INPUT_ERRORS[case]
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 64)
    args = [arg.replace("{binary}", str(tmp_path / "binary.csv")) for arg in args]
    assert_exit(cryptoflow(tmp_path, *args, **settings), code, text)


def test_services_that_are_down_are_failures(tmp_path: Path, closed_port: int, taken_port: int) -> None:
    down = {"STACK__KAFKA_PORT": str(closed_port), "STACK__ELASTICSEARCH_PORT": str(closed_port)}
    assert_exit(cryptoflow(tmp_path, "stack", "status", **down), 1, '"up": false')
    assert_exit(
        cryptoflow(tmp_path, "stack", "up", STACK__KAFKA_PORT=str(taken_port)),
        1,
        f"port {taken_port} is taken by a process that is not a working kafka",
    )
    url = f"http://127.0.0.1:{closed_port}/healthz"
    es_down = f"http://127.0.0.1:{closed_port}"
    assert_exit(cryptoflow(tmp_path, "health", "--url", url, "--timeout", "2"), 1, f"unhealthy {url}")
    assert_exit(
        cryptoflow(
            tmp_path,
            "health",
            "--kafka",
            "--timeout",
            "2",
            KAFKA__BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port}",
        ),
        1,
        "unhealthy kafka",
    )
    assert_exit(
        cryptoflow(tmp_path, "health", "--elasticsearch", "--timeout", "2", ELASTICSEARCH__HOSTS=es_down),
        1,
        f"unhealthy elasticsearch at {es_down}",
    )
    assert_exit(
        cryptoflow(tmp_path, "retention", ELASTICSEARCH__HOSTS=es_down), 1, "Elasticsearch is unreachable"
    )
    assert_exit(
        cryptoflow(tmp_path, "sink", "--once", "--give-up-after", "2", ELASTICSEARCH__HOSTS=es_down),
        1,
        "gave up after 2 s of waiting (--give-up-after)",
    )
    assert_exit(
        cryptoflow(
            tmp_path,
            "notify",
            "--once",
            KAFKA__BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port}",
            KAFKA__CONNECT_TIMEOUT_S="2",
            NOTIFY__TARGETS='[{"name": "ops", "webhook_url": "http://127.0.0.1:9/x"}]',
        ),
        1,
        f"Kafka at 127.0.0.1:{closed_port} did not answer within 2 s",
    )
    assert_exit(
        cryptoflow(tmp_path, "dashboards", "import", "--kibana-url", f"http://127.0.0.1:{closed_port}"),
        1,
        f"cannot reach Kibana at http://127.0.0.1:{closed_port}",
    )
    assert_exit(
        cryptoflow(tmp_path, "dashboard", "serve", "--port", str(taken_port)),
        1,
        f"the dashboard page cannot listen on 127.0.0.1:{taken_port}: Address already in use",
    )
    assert_exit(
        cryptoflow(tmp_path, "exchange", "serve", "--data", str(SAMPLE), "--port", str(taken_port)),
        1,
        f"the fake exchange cannot listen on 127.0.0.1:{taken_port}",
    )


@pytest.mark.integration
def test_healthy_services_are_0(tmp_path: Path, local_stack) -> None:
    assert_exit(cryptoflow(tmp_path, "health", "--kafka", "--elasticsearch"), 0, "healthy")
    assert_exit(
        cryptoflow(tmp_path, "stack", "status", STACK__HOME=str(local_stack.settings.home)), 0, '"up": true'
    )


def _start_and_signal(
    tmp_path: Path, args: list[str], ready: str, signum: int
) -> subprocess.CompletedProcess:
    """Start a long-running command, wait for its ``ready`` line, send ``signum``, collect it."""
    process = subprocess.Popen(
        [CRYPTOFLOW, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path, LOG_LEVEL="INFO") | {"COLUMNS": "200"},
    )
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if ready in line or not line:
            break
    assert any(ready in line for line in seen), "".join(seen) + process.stderr.read()
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, "".join(seen) + out, err)


@pytest.mark.parametrize(
    ("args", "ready"),
    [
        (["exchange", "serve", "--data", str(SAMPLE), "--port", "0", "--speed", "1"], "fake exchange on"),
        (["dashboard", "serve", "--port", "0"], "dashboard at"),
    ],
    ids=["exchange serve", "dashboard serve"],
)
def test_ctrl_c_is_130_and_sigterm_is_0(tmp_path: Path, args: list[str], ready: str) -> None:
    interrupted = _start_and_signal(tmp_path, args, ready, signal.SIGINT)
    assert_exit(interrupted, 130, "interrupted")
    terminated = _start_and_signal(tmp_path, args, ready, signal.SIGTERM)
    assert terminated.returncode == 0, terminated.stdout + terminated.stderr
    assert "Traceback" not in terminated.stderr
