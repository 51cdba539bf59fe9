"""The notify settings: targets from the TOML file or the environment, checked at start, secrets masked."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from cryptoflow.config import RedactingFilter, load_settings, masked
from cryptoflow.errors import ConfigurationError
from cryptoflow.testing.services import clean_env

TOKEN = "5550001:AAH-telegram-token-never-shown"
SLACK = "https://hooks.slack.com/services/T000/B000/slack-secret-path"


pytestmark = pytest.mark.usefixtures("no_settings")


def test_targets_from_the_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "cryptoflow.toml"
    config.write_text(
        f'[[notify.targets]]\nname = "ops"\nformat = "slack"\nwebhook_url = "{SLACK}"\n'
        f'kinds = ["exit", "error"]\nsources = ["live"]\n\n'
        f'[[notify.targets]]\nname = "phone"\nformat = "telegram"\nbot_token = "{TOKEN}"\nchat_id = "42"\n'
    )
    ops, phone = load_settings().notify.targets
    assert (ops.name, ops.format, ops.kinds, ops.sources, ops.interval_s) == (
        "ops", "slack", ("exit", "error"), ("live",), 1.0
    )  # fmt: skip
    assert phone.bot_token is not None and phone.bot_token.get_secret_value() == TOKEN
    assert phone.kinds == ("entry", "exit", "lock", "error") and phone.interval_s == 3.0


def test_targets_from_the_environment_and_every_secret_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    targets = [
        {"name": "ops", "format": "slack", "webhook_url": SLACK},
        {"name": "phone", "format": "telegram", "bot_token": TOKEN, "chat_id": "42", "min_interval_s": 5},
    ]
    monkeypatch.setenv("CRYPTOFLOW_NOTIFY__TARGETS", json.dumps(targets))
    settings = load_settings()
    assert [t.name for t in settings.notify.targets] == ["ops", "phone"]
    assert settings.notify.targets[1].interval_s == 5.0
    shown = json.dumps(masked(settings))
    assert TOKEN not in shown and SLACK not in shown and shown.count('"***"') == 2

    # registered with the masking of every log line, even where no URL gives it away
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "POST %s failed (bot%s)", (SLACK, TOKEN), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "POST *** failed (bot***)"


@pytest.mark.parametrize(
    ("targets", "says"),
    [
        ([{"name": "t", "format": "telegram", "bot_token": TOKEN}], "target 't': telegram needs chat_id"),
        ([{"name": "s", "format": "slack"}], "target 's': slack needs webhook_url"),
        ([{"name": "s", "webhook_url": f"ftp://x/{TOKEN}"}], "expected an http(s) URL"),
        ([{"name": "a", "webhook_url": SLACK}, {"name": "a", "webhook_url": SLACK}], "a given twice"),
        (
            [{"name": "a", "webhook_url": SLACK, "kinds": ["exits"]}],
            "'entry', 'exit', 'signal', 'lock' or 'error'",
        ),
        ([{"name": "a", "webhook_url": SLACK, "sources": ["prod"]}], "'live', 'paper', 'testnet'"),
    ],
    ids=[
        "telegram without chat id",
        "slack without url",
        "not http",
        "a name twice",
        "bad kind",
        "bad source",
    ],
)
def test_a_wrong_target_is_named_and_shows_no_secret(
    monkeypatch: pytest.MonkeyPatch, targets: list[dict[str, object]], says: str
) -> None:
    monkeypatch.setenv("CRYPTOFLOW_NOTIFY__TARGETS", json.dumps(targets))
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "CRYPTOFLOW_NOTIFY__TARGETS" in message and says in message
    assert TOKEN not in message and SLACK not in message


def test_config_show_masks_the_targets_secrets(tmp_path: Path) -> None:
    targets = [{"name": "phone", "format": "telegram", "bot_token": TOKEN, "chat_id": "42"}]
    result = subprocess.run(
        [sys.executable, "-m", "cryptoflow", "config", "show"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(CRYPTOFLOW_NOTIFY__TARGETS=json.dumps(targets), COLUMNS="400"),
    )
    assert result.returncode == 0, result.stderr
    assert "CRYPTOFLOW_NOTIFY__TARGETS" in result.stdout and "'bot_token': '***'" in result.stdout
    assert TOKEN not in result.stdout + result.stderr
