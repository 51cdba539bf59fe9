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

CRYPTOFLOW = str(Path(sys.executable).with_name("cryptoflow"))
SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "ETHUSDT_5m_2025-08.csv"


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


@pytest.mark.parametrize(
    ("args", "settings", "code", "text"),
    [
        pytest.param(
            ["config", "show"],
            {"KAFKA__PARTITIONS": "0"},
            2,
            "CRYPTOFLOW_KAFKA__PARTITIONS: Input should be greater than or equal to 1",
            id="config show: a wrong setting",
        ),
        pytest.param(
            ["stack", "logs", "kafkaa"],
            {},
            2,
            "unknown service 'kafkaa': choose kafka, elasticsearch or all",
            id="stack logs: unknown",
        ),
        pytest.param(
            ["data", "check", "missing.csv"],
            {},
            1,
            "missing.csv: no such file",
            id="data check: no such file",
        ),
        pytest.param(
            ["exchange", "serve", "--data", "missing.csv"],
            {},
            2,
            "--data missing.csv: no such file",
            id="exchange serve: no such file",
        ),
        pytest.param(
            ["trade", "--broker", "live"],
            {},
            2,
            "--broker live trades real money: add --live",
            id="trade: live without --live",
        ),
        pytest.param(
            ["trade", "--broker", "testnet"],
            {},
            2,
            "the testnet broker needs CRYPTOFLOW_BINANCE__API_KEY and CRYPTOFLOW_BINANCE__API_SECRET",
            id="trade: testnet without keys",
        ),
        pytest.param(
            ["indicators", "--symbols", ","],
            {},
            2,
            "--symbols expects e.g. ETHUSDT",
            id="indicators: no symbols",
        ),
        pytest.param(
            ["backtest", "--data", str(SAMPLE), "--strategy", "nosuch"],
            {},
            2,
            "unknown strategy 'nosuch'",
            id="backtest: unknown strategy",
        ),
        pytest.param(
            ["optimize", "--data", str(SAMPLE), "--nosuch"],
            {},
            2,
            "No such option: --nosuch",
            id="optimize: unknown option",
        ),
        pytest.param(
            ["replay", "--data", str(SAMPLE), "--run-id", "two words"],
            {},
            2,
            "run ids are one word",
            id="replay: bad run id",
        ),
        pytest.param(
            ["demo", "--duration", "-1"],
            {},
            2,
            "Invalid value for '--duration'",
            id="demo: negative duration",
        ),
        pytest.param(
            ["dashboards", "import"],
            {},
            2,
            "Missing option '--kibana-url'",
            id="dashboards import: no Kibana",
        ),
        pytest.param(
            ["health"],
            {},
            2,
            "nothing to check: give --kafka, --elasticsearch and/or --url",
            id="health: nothing to check",
        ),
        pytest.param(["no-such-command"], {}, 2, "No such command 'no-such-command'", id="unknown command"),
    ],
)
def test_usage_configuration_and_input_errors(
    tmp_path: Path, args: list[str], settings: dict[str, str], code: int, text: str
) -> None:
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
