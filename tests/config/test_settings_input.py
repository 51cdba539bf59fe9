"""Bad settings as a new user writes them, through the real `cryptoflow` console script: a malformed or
misspelt config file, misspelt variables, empty values, URLs that are not URLs, and secrets inside URLs.
Each is one message naming the file or setting and the fix, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cryptoflow.testing.services import clean_env

pytestmark = pytest.mark.slow  # one console-script process per case

CRYPTOFLOW = str(Path(sys.executable).with_name("cryptoflow"))  # the console script pip installed
SECRET = "hunter2xyz"


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CRYPTOFLOW, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(COLUMNS="250", **(env or {})),
        timeout=120,
    )


def error_of(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result.stderr


# -- settings files -----------------------------------------------------------------------------------


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "my.toml").write_text('[kafka]\ntopic_prefix = "abc\n')
    result = cli("--config", "my.toml", "config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert error_of(result) == (
        "error: config file 'my.toml' (given with --config) is not valid TOML: Illegal character '\\n' "
        "(at line 2, column 20); fix the file\n"
    )


def test_malformed_cryptoflow_toml_in_the_working_directory_names_it(tmp_path: Path) -> None:
    (tmp_path / "cryptoflow.toml").write_text("[kafka\n")
    result = cli("config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert "config file 'cryptoflow.toml' (found in the working directory) is not valid TOML" in error_of(
        result
    )


def test_unknown_section_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "my.toml").write_text('[kafkaa]\ntopic_prefix = "abc"\n')
    result = cli("--config", "my.toml", "config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert error_of(result) == (
        "error: config file 'my.toml' (given with --config):\n"
        "  [kafkaa]: unknown section; did you mean [kafka]?\n"
    )


def test_unknown_section_without_a_close_name_lists_the_sections(tmp_path: Path) -> None:
    (tmp_path / "my.toml").write_text("[database]\nurl = 'x'\n")
    result = cli("--config", "my.toml", "config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert "[database]: unknown section (known: kafka, elasticsearch, binance, stack" in error_of(result)


def test_unknown_settings_in_a_section_and_at_the_top_are_all_named(tmp_path: Path) -> None:
    (tmp_path / "my.toml").write_text(
        'log_levl = "DEBUG"\n[kafka]\ntopic_prefx = "abc"\npartitions = 6\n[stack]\nhome_dir = "/x"\n'
    )
    result = cli("--config", "my.toml", "config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert error_of(result) == (
        "error: config file 'my.toml' (given with --config):\n"
        "  log_levl: unknown setting; did you mean log_level?\n"
        "  [kafka] topic_prefx: unknown setting; did you mean topic_prefix?\n"
        "  [stack] home_dir: unknown setting; did you mean home?\n"
    )


def test_config_option_given_a_directory_says_so(tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path), "config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert error_of(result) == (
        f"error: config file '{tmp_path}' (given with --config) is a directory; "
        "give the path of a TOML file\n"
    )


def test_config_variable_naming_a_missing_file_says_where_it_came_from(tmp_path: Path) -> None:
    result = cli("config", "show", cwd=tmp_path, env={"CRYPTOFLOW_CONFIG": "nope.toml"})
    assert result.returncode == 2
    assert error_of(result) == "error: config file 'nope.toml' (from CRYPTOFLOW_CONFIG) does not exist\n"


def test_a_valid_file_is_still_read(tmp_path: Path) -> None:
    (tmp_path / "my.toml").write_text('[kafka]\ntopic_prefix = "fromfile"\n[stack]\nkafka_port = 19092\n')
    result = cli("--config", "my.toml", "config", "show", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["kafka"]["topic_prefix"] == "fromfile" and shown["stack"]["kafka_port"] == 19092


# -- misspelt environment variables ---------------------------------------------------------------------


def test_misspelt_setting_in_a_known_section_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    result = cli("config", "show", cwd=tmp_path, env={"CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVER": "k:9092"})
    assert result.returncode == 2
    assert error_of(result) == (
        "error: invalid settings:\n  CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVER: unknown setting; "
        "did you mean CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS?\n"
    )


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [
        ("CRYPTOFLOW_KAFKA_BOOTSTRAP_SERVERS", "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS"),  # one underscore
        ("CRYPTOFLOW_KAFKAA__TOPIC_PREFIX", "CRYPTOFLOW_KAFKA__TOPIC_PREFIX"),  # misspelt section
        ("CRYPTOFLOW_LOGLEVEL", "CRYPTOFLOW_LOG_LEVEL"),
    ],
)
def test_variable_naming_no_setting_is_warned_about(tmp_path: Path, variable: str, suggestion: str) -> None:
    result = cli("config", "show", "--json", cwd=tmp_path, env={variable: "x"})
    assert result.returncode == 0  # the setting it was meant to be keeps its value: a warning, not an error
    assert (
        f"WARNING cryptoflow.config: {variable} (environment) is not a cryptoflow setting and is ignored; "
        f"did you mean {suggestion}?"
    ) in error_of(result)
    assert json.loads(result.stdout)["kafka"]["topic_prefix"] == "cryptoflow"


def test_misspelt_variable_in_dotenv_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CRYPTOFLOW_ELASTICSEARCH__HOST=http://es:9200\nOTHER_TOOL=1\n")
    result = cli("config", "show", cwd=tmp_path)
    assert result.returncode == 2  # a known section: an error (pydantic-settings reads .env entries too)
    assert (
        "CRYPTOFLOW_ELASTICSEARCH__HOST: unknown setting; did you mean CRYPTOFLOW_ELASTICSEARCH__HOSTS?"
        in (error_of(result))
    )
    (tmp_path / ".env").write_text("CRYPTOFLOW_ELASTICSEARCH_HOSTS=http://es:9200\n")
    result = cli("config", "show", cwd=tmp_path)
    assert result.returncode == 0
    assert (
        "CRYPTOFLOW_ELASTICSEARCH_HOSTS (.env) is not a cryptoflow setting and is ignored; "
        "did you mean CRYPTOFLOW_ELASTICSEARCH__HOSTS?"
    ) in error_of(result)


def test_variables_that_are_not_settings_but_are_used_are_not_warned_about(tmp_path: Path) -> None:
    env = {
        "CRYPTOFLOW_FAKE_API_KEY": "k",
        "CRYPTOFLOW_SHARED_DATA": "/x",
        "CRYPTOFLOW_KAFKA__PARTITIONS": "4",
    }
    result = cli("config", "show", cwd=tmp_path, env=env)
    assert result.returncode == 0
    assert "WARNING" not in result.stderr


# -- values never checked -------------------------------------------------------------------------------


def test_empty_stack_home_is_refused(tmp_path: Path) -> None:
    result = cli("stack", "status", cwd=tmp_path, env={"CRYPTOFLOW_STACK__HOME": ""})
    assert result.returncode == 2
    assert error_of(result) == (
        "error: invalid settings:\n  CRYPTOFLOW_STACK__HOME: must not be empty: give a value, or unset it to "
        f"use the default {Path.home() / '.cache' / 'cryptoflow'} (got '')\n"
    )


def test_empty_home_in_the_config_file_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "cryptoflow.toml").write_text('[stack]\nhome = "  "\n')
    result = cli("config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert "CRYPTOFLOW_STACK__HOME: must not be empty" in error_of(result)


def test_empty_secrets_and_optional_settings_are_unset(tmp_path: Path) -> None:
    env = {  # what docker compose passes for `${BINANCE_API_KEY:-}` and friends
        "CRYPTOFLOW_BINANCE__API_KEY": "",
        "CRYPTOFLOW_BINANCE__API_SECRET": " ",
        "CRYPTOFLOW_BINANCE__BASE_URL": "",
        "CRYPTOFLOW_ELASTICSEARCH__USERNAME": "",
        "CRYPTOFLOW_ELASTICSEARCH__PASSWORD": "",
    }
    result = cli("config", "show", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["binance"]["api_key"] is None and shown["binance"]["api_secret"] is None
    assert shown["binance"]["base_url"] is None
    assert shown["elasticsearch"]["username"] is None and shown["elasticsearch"]["password"] is None
    table = cli("config", "show", cwd=tmp_path, env=env).stdout
    assert "***" not in table  # nothing looks set


def test_a_set_api_key_is_still_masked(tmp_path: Path) -> None:
    result = cli("config", "show", "--json", cwd=tmp_path, env={"CRYPTOFLOW_BINANCE__API_KEY": "k-123456"})
    assert json.loads(result.stdout)["binance"]["api_key"] == "***"
    assert "k-123456" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "CRYPTOFLOW_BINANCE__BASE_URL",
            "notaurl",
            "CRYPTOFLOW_BINANCE__BASE_URL: expected a http/https URL such as http://127.0.0.1:9010 or "
            "https://testnet.binancefuture.com; 'notaurl' is not (got 'notaurl')",
        ),
        (
            "CRYPTOFLOW_BINANCE__BASE_URL",
            "ws://127.0.0.1:9010",
            "CRYPTOFLOW_BINANCE__BASE_URL: expected a http/https URL",
        ),
        (
            "CRYPTOFLOW_BINANCE__STREAM_URL",
            "http://127.0.0.1:9010/",
            "CRYPTOFLOW_BINANCE__STREAM_URL: expected a ws/wss URL such as ws://127.0.0.1:9010/ or "
            "wss://fstream.binancefuture.com/; 'http://127.0.0.1:9010/' is not",
        ),
        (
            "CRYPTOFLOW_BINANCE__STREAM_URL",
            "ws://host:99999/",
            "CRYPTOFLOW_BINANCE__STREAM_URL: expected a ws/wss",
        ),
    ],
)
@pytest.mark.parametrize("command", [("trade",), ("indicators",), ("config", "show")])
def test_exchange_urls_are_checked_before_anything_runs(
    tmp_path: Path, command: tuple[str, ...], variable: str, value: str, expected: str
) -> None:
    result = cli(*command, cwd=tmp_path, env={variable: value})  # before: trade retried forever
    assert result.returncode == 2
    assert expected in error_of(result)


# -- secrets inside URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [("config", "show"), ("config", "show", "--json"), ("--verbose", "config", "show")]
)
def test_credentials_inside_urls_are_masked_in_config_show(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = {
        "CRYPTOFLOW_ELASTICSEARCH__HOSTS": f"http://elastic:{SECRET}@host:9200,https://token{SECRET}@h2:9243"
    }
    result = cli(*args, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "http://elastic:***@host:9200" in result.stdout and "https://***@h2:9243" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CRYPTOFLOW_ELASTICSEARCH__HOSTS", f"htp://elastic:{SECRET}@host:9200"),
        ("CRYPTOFLOW_ELASTICSEARCH__HOSTS", f"http://elastic:{SECRET}@host:port"),
        ("CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS", f"SASL_SSL://alice:{SECRET}@broker:9093"),
        ("CRYPTOFLOW_BINANCE__BASE_URL", f"htps://key:{SECRET}@host"),
    ],
)
def test_credentials_inside_urls_are_masked_in_validation_errors(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = cli("--verbose", "config", "show", cwd=tmp_path, env={variable: value})
    assert result.returncode == 2
    assert f"{variable}:" in error_of(result)
    assert SECRET not in result.stdout + result.stderr
    assert ":***@" in result.stderr


def test_mask_credentials() -> None:
    from cryptoflow.config import mask_credentials

    assert mask_credentials("GET http://elastic:pw-1@es:9200/_bulk") == "GET http://elastic:***@es:9200/_bulk"
    assert mask_credentials("'https://tok@h:1','http://u:p@h2'") == "'https://***@h:1','http://u:***@h2'"
    assert mask_credentials("http://u:p@a,http://v:q@b") == "http://u:***@a,http://v:***@b"
    assert mask_credentials("SASL_SSL://alice:s3@b:9093") == "SASL_SSL://alice:***@b:9093"
    assert mask_credentials("no url here, user@example.com") == "no url here, user@example.com"
    assert (
        mask_credentials("http://127.0.0.1:9200/_cluster/health") == "http://127.0.0.1:9200/_cluster/health"
    )


@pytest.mark.usefixtures("no_settings")
def test_secret_settings_are_masked_in_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from cryptoflow.config import RedactingFilter, load_settings

    monkeypatch.setenv("CRYPTOFLOW_BINANCE__API_SECRET", f"binance-{SECRET}")
    load_settings()  # registers the secret values for masking
    record = logging.LogRecord(
        "lib", logging.WARNING, __file__, 1, "signed %s failed", (f"binance-{SECRET}",), None
    )
    assert RedactingFilter().filter(record) and record.getMessage() == "signed *** failed"
