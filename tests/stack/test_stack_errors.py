"""What a user sees when the local stack cannot be fetched or run: a plain message and how to fix it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cryptoflow.config import load_settings
from cryptoflow.errors import StackError
from cryptoflow.stack import _java
from cryptoflow.stack._download import ensure_elasticsearch, ensure_kafka
from cryptoflow.testing.services import clean_env

pytestmark = pytest.mark.slow  # one console-script process per case


def _unreachable_repository_settings(tmp_path: Path):
    # Port 9 on loopback: nothing listens there, the connection is refused at once.
    return load_settings(
        stack={"home": tmp_path / "home", "maven_repository": "http://127.0.0.1:9/maven2"}
    ).stack


def test_failed_elasticsearch_download_says_what_and_how_to_fix(tmp_path: Path) -> None:
    settings = _unreachable_repository_settings(tmp_path)
    with pytest.raises(StackError) as error:
        ensure_elasticsearch(settings, tmp_path / "root")
    message = str(error.value)
    assert message.startswith(
        "could not download http://127.0.0.1:9/maven2/org/elasticsearch/distribution/integ-test-zip/"
        "elasticsearch/8.19.21/elasticsearch-8.19.21.zip: "
    )
    assert "set CRYPTOFLOW_STACK__MAVEN_REPOSITORY to a reachable Maven repository mirror" in message
    assert not list((tmp_path / "home" / "downloads").glob("*.part"))  # no half file left to be trusted


def test_failed_kafka_fetch_names_the_version_and_the_setting(tmp_path: Path) -> None:
    settings = load_settings(
        stack={
            "home": tmp_path / "home",
            "maven_repository": "http://127.0.0.1:9/maven2",
            "kafka_version": "0.0.0-x",
        }
    ).stack
    with pytest.raises(StackError) as error:
        ensure_kafka(settings)  # a version that exists nowhere: Maven must fail
    assert "could not fetch Kafka 0.0.0-x with Maven from http://127.0.0.1:9/maven2" in str(error.value)
    assert "CRYPTOFLOW_STACK__MAVEN_REPOSITORY / CRYPTOFLOW_STACK__KAFKA_VERSION" in str(error.value)


def test_missing_java_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java anywhere
    _java.java_home.cache_clear()
    try:
        with pytest.raises(StackError) as error:
            _java.java_home()
    finally:
        _java.java_home.cache_clear()
    assert str(error.value) == (
        "Java 17+ is needed for the local Kafka and Elasticsearch and none was found: install one with "
        "`apt-get install openjdk-17-jre-headless`, or point JAVA_HOME at a JDK 17+"
    )


def test_stack_up_on_a_taken_port_is_a_clear_cli_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        env = clean_env(
            CRYPTOFLOW_STACK__HOME=str(tmp_path),
            CRYPTOFLOW_STACK__KAFKA_PORT=str(port),
            CRYPTOFLOW_STACK__ELASTICSEARCH_PORT=str(port),
        )
        result = subprocess.run(
            [sys.executable, "-m", "cryptoflow", "stack", "up"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 1
    assert (
        f"port {port} is taken by a process that is not a working kafka; stop it or choose another port "
        "(CRYPTOFLOW_STACK__KAFKA_PORT)"
    ) in result.stderr
    assert "Traceback" not in result.stderr
