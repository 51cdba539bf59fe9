"""Settings: sources, nesting, validation messages a user sees, and secrets never shown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cryptoflow.config import load_settings, masked
from cryptoflow.errors import ConfigurationError
from cryptoflow.testing.services import clean_env

pytestmark = pytest.mark.usefixtures("no_settings")


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cryptoflow", *args],
        capture_output=True,
        text=True,
        env=clean_env(**(env or {})),
        cwd=cwd,
    )


def test_defaults_point_at_the_local_stack() -> None:
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.elasticsearch.host_list == ["http://127.0.0.1:9200"]
    assert settings.kafka.topic_prefix == settings.elasticsearch.index_prefix == "cryptoflow"


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS", "k1:9092, k2:19092")
    monkeypatch.setenv("CRYPTOFLOW_ELASTICSEARCH__HOSTS", "https://es1:9200,https://es2:9200")
    monkeypatch.setenv("CRYPTOFLOW_KAFKA__PARTITIONS", "6")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:19092"
    assert settings.elasticsearch.host_list == ["https://es1:9200", "https://es2:9200"]
    assert settings.kafka.partitions == 6


def test_precedence_environment_over_dotenv_over_toml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "cryptoflow.toml").write_text(
        '[kafka]\ntopic_prefix = "fromtoml"\npartitions = 7\n[elasticsearch]\nindex_prefix = "fromtoml"\n'
    )
    (tmp_path / ".env").write_text("CRYPTOFLOW_KAFKA__TOPIC_PREFIX=fromdotenv\n")
    assert load_settings().kafka.topic_prefix == "fromdotenv"
    monkeypatch.setenv("CRYPTOFLOW_KAFKA__TOPIC_PREFIX", "fromenv")
    settings = load_settings()
    assert settings.kafka.topic_prefix == "fromenv"
    assert settings.kafka.partitions == 7
    assert settings.elasticsearch.index_prefix == "fromtoml"


def test_unknown_setting_in_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "my.toml"
    config.write_text("[kafka]\nbootstrap_server = 'x:1'\n")
    with pytest.raises(ConfigurationError) as error:
        load_settings(config)
    assert str(error.value) == (
        f"config file {str(config)!r} (given with --config):\n"
        "  [kafka] bootstrap_server: unknown setting; did you mean bootstrap_servers?"
    )


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match=r"config file '.*nope\.toml' \(given with --config\) does not exist"
    ):
        load_settings(tmp_path / "nope.toml")


def test_sasl_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOFLOW_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CRYPTOFLOW_KAFKA__SASL_MECHANISM", "PLAIN")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert "CRYPTOFLOW_KAFKA__SASL_USERNAME" in str(error.value)
    assert "CRYPTOFLOW_KAFKA__SASL_PASSWORD" in str(error.value)


def test_masked_settings_hide_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOFLOW_ELASTICSEARCH__API_KEY", "es-key-123")
    monkeypatch.setenv("CRYPTOFLOW_BINANCE__API_SECRET", "binance-secret-456")
    data = masked(load_settings())
    assert data["elasticsearch"]["api_key"] == "***"
    assert data["binance"]["api_secret"] == "***"
    assert data["binance"]["api_key"] is None
    assert "es-key-123" not in json.dumps(data) and "binance-secret-456" not in json.dumps(data)


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = run_cli(
        "config",
        "show",
        "--json",
        cwd=tmp_path,
        env={
            "CRYPTOFLOW_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "CRYPTOFLOW_KAFKA__SASL_MECHANISM": "PLAIN",
            "CRYPTOFLOW_KAFKA__SASL_USERNAME": "alice",
            "CRYPTOFLOW_KAFKA__SASL_PASSWORD": "s3cr3t-pw",
        },
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["kafka"]["sasl_username"] == "alice"
    assert shown["kafka"]["sasl_password"] == "***"
    assert "s3cr3t-pw" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS",
            "",
            "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS: must not be empty: give a value, or unset it to use "
            "the default 127.0.0.1:9092 (got '')",
        ),
        (
            "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS",
            "localhost",
            "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS: expected host:port with a port 1-65535 "
            "(e.g. 127.0.0.1:9092); 'localhost' is not (got 'localhost')",
        ),
        (
            "CRYPTOFLOW_ELASTICSEARCH__HOSTS",
            "htp:/oops",
            "CRYPTOFLOW_ELASTICSEARCH__HOSTS: expected an http(s) URL such as http://127.0.0.1:9200; "
            "'htp:/oops' is not",
        ),
        (
            "CRYPTOFLOW_KAFKA__PARTITIONS",
            "zero",
            "CRYPTOFLOW_KAFKA__PARTITIONS: Input should be a valid integer",
        ),
        (
            "CRYPTOFLOW_STACK__KAFKA_PORT",
            "70000",
            "CRYPTOFLOW_STACK__KAFKA_PORT: Input should be less than or equal to 65535 (got '70000')",
        ),
    ],
)
def test_bad_setting_exits_non_zero_naming_it(
    variable: str, value: str, expected: str, tmp_path: Path
) -> None:
    result = run_cli("config", "show", env={variable: value}, cwd=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_secret_value_is_masked_in_the_error(tmp_path: Path) -> None:
    result = run_cli(
        "config", "show", cwd=tmp_path, env={"CRYPTOFLOW_ELASTICSEARCH__PASSWORD": "pw-only-no-user"}
    )
    assert result.returncode == 2
    assert (
        "basic auth needs both CRYPTOFLOW_ELASTICSEARCH__USERNAME and CRYPTOFLOW_ELASTICSEARCH__PASSWORD"
        in (result.stderr)
    )
    assert "pw-only-no-user" not in result.stderr


def test_retention_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    retention = load_settings().retention
    assert [tuple(retention.policy(k)) for k in ("candles", "indicators", "signals", "trades")] == [
        ("monthly", None),
        ("daily", 14),
        ("monthly", None),
        ("monthly", None),
    ]
    (tmp_path / "cryptoflow.toml").write_text(
        '[retention]\ntrades_partition = "daily"\ntrades_keep_days = 400\nindicators_keep_days = "forever"\n'
    )
    monkeypatch.setenv("CRYPTOFLOW_RETENTION__CANDLES_KEEP_DAYS", "90")
    retention = load_settings().retention
    assert tuple(retention.policy("trades")) == ("daily", 400)
    assert tuple(retention.policy("indicators")) == ("daily", None)
    assert tuple(retention.policy("candles")) == ("monthly", 90)


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "two weeks"])
def test_a_bad_retention_period_is_named_with_what_to_write(value: str) -> None:
    result = run_cli("config", "show", env={"CRYPTOFLOW_RETENTION__INDICATORS_KEEP_DAYS": value})
    assert result.returncode == 2
    assert (
        f"CRYPTOFLOW_RETENTION__INDICATORS_KEEP_DAYS: expected a whole number of days from 1 to 36500, or "
        f"'forever' (never delete) (got '{value}')" in result.stderr
    )
    assert "Traceback" not in result.stderr
