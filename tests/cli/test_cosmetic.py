"""What a new user sees first: a quiet install, help without noise, full setting names, each warning once,
and messages in the terms the user typed (the option and the value as given, not internal names)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from cryptoflow.candles import sample_path
from cryptoflow.cli import app
from cryptoflow.testing.services import REPO, clean_env

pytestmark = pytest.mark.slow  # one console-script process per case

ETH_1H = sample_path("1h")


def run(*args: str, columns: int = 80) -> subprocess.CompletedProcess:
    env = clean_env(COLUMNS=str(columns))
    return subprocess.run(
        [sys.executable, "-m", "cryptoflow", *args], capture_output=True, text=True, timeout=120, env=env
    )


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in getattr(group, "commands", {}).items():
        found += _commands(command, (*path, name))
    return found


def test_installing_prints_no_setuptools_warnings() -> None:
    # the same build of the metadata as scripts/setup's editable install, in pip's isolated environment
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "-q", "-e", str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "deprecated" not in result.stderr, result.stderr


@pytest.mark.parametrize("path", [(), ("data", "check"), ("backtest",), ("trade",)])
def test_help_shows_no_type_after_flags(path: tuple[str, ...]) -> None:
    result = run(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "--help" in result.stdout and "<bool>" not in result.stdout, result.stdout


@pytest.mark.parametrize("path", _commands(typer.main.get_command(app)))
def test_no_command_help_shows_bool(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    from cryptoflow.cli import main

    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--help" in out and "<bool>" not in out, out


def test_config_show_prints_every_setting_name_whole_at_80_columns() -> None:
    settings = json.loads(run("config", "show", "--json").stdout)
    names = [
        f"CRYPTOFLOW_{section.upper()}__{key.upper()}"
        if isinstance(values, dict)
        else f"CRYPTOFLOW_{section.upper()}"
        for section, values in settings.items()
        for key in (values if isinstance(values, dict) else [None])
    ]
    assert "CRYPTOFLOW_STACK__ELASTICSEARCH_TRANSPORT_PORT" in names
    table = run("config", "show", columns=80).stdout
    assert max(len(line) for line in table.splitlines()) <= 80
    for name in names:
        assert f"│ {name} " in table, table
    assert "…" not in table


def test_data_check_shows_each_warning_once() -> None:
    result = run("data", "check", str(ETH_1H))
    assert result.returncode == 0, result.stderr
    both = result.stdout + result.stderr
    assert both.count("1 gap(s) in the 1h grid") == 1, both
    assert "note: 1 gap(s) in the 1h grid" in result.stdout


FEE = "expected a percentage from 0 to below 10 (0.04 = Binance's taker fee)"


@pytest.mark.parametrize(
    ("command", "option", "value", "expected"),
    [
        ("backtest", "--fee-pct", "-1", FEE),
        ("backtest", "--slippage-pct", "12.5", "expected a percentage from 0 to below 10"),
        ("backtest", "--cash", "0", "expected a positive amount of quote currency"),
        ("backtest", "--fraction", "1.5", "expected a share of the equity above 0 and at most 1"),
        ("backtest", "--leverage", "200", "expected from 1 to 125"),
        (
            "backtest",
            "--start",
            "yesterday-ish",
            "not a date/time; e.g. 2022-01-01 or 2022-01-01T12:00 (UTC)",
        ),
        ("optimize", "--train", "1.5", "expected a share of the candles from 0.1 to 0.95"),
        ("optimize", "--fee-pct", "-1", FEE),
        ("replay", "--fee-pct", "-1", FEE),
    ],
)
def test_messages_name_the_option_and_the_value_as_typed(
    command: str, option: str, value: str, expected: str
) -> None:
    result = run(command, "-d", str(ETH_1H), option, value)
    assert result.returncode == 2, result.stderr
    shown = repr(value) if option == "--start" else value
    assert result.stderr.strip() == f"error: {option} {shown}: {expected}"
    for internal in ("fee_rate", "slippage_rate", "train_fraction", "backtest setting"):
        assert internal not in result.stderr


@pytest.mark.parametrize(
    ("args", "option", "value", "allowed"),
    [
        (["data", "check", str(ETH_1H)], "--on-gap", "skip", "'warn', 'fail', 'fill'"),
        (["data", "check", str(ETH_1H)], "--on-invalid", "keep", "'fail', 'drop'"),
        (["backtest", "-d", str(ETH_1H)], "--on-gap", "skip", "'warn', 'fail', 'fill'"),
    ],
)
def test_choices_are_usage_errors_naming_the_option(
    args: list[str], option: str, value: str, allowed: str
) -> None:
    result = run(*args, option, value)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"Error: Invalid value for '{option}': '{value}' is not one of {allowed}."
    assert "on_gap" not in result.stderr and "on_invalid" not in result.stderr


def test_counts_have_a_floor() -> None:
    result = run("optimize", "-d", str(ETH_1H), "--trials", "0")
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == "Error: Invalid value for '--trials': 0 is not in the range x>=1."
    )


def test_a_wrong_interval_names_its_option(tmp_path: Path) -> None:
    out = tmp_path / "never" / "written.csv"
    result = run("data", "resample", str(ETH_1H), "--to", "7x", "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith("error: --to: unknown candle interval '7x': expected a number and a unit")
    assert not out.parent.exists()


def test_a_strategy_parameter_is_shown_as_typed() -> None:
    result = run("backtest", "-d", str(ETH_1H), "-p", "stop_loss_pct=200")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: custom: stop_loss_pct must be in (0, 100) or None, got 200"


def test_a_command_description_flows_to_the_terminal_width() -> None:
    # the docstring breaks after "skip and"; at 80 columns it broke there again, a ragged paragraph
    wide = run("execute", "--help", columns=200).stdout
    assert "Every order, fill, lock, skip and position change is logged at INFO" in wide, wide
    narrow = run("execute", "--help", columns=80).stdout
    lines = [line.strip() for line in narrow.splitlines()]
    assert "One member of the consumer group <prefix>.execute.<bot name>. Every order," in lines, narrow
    assert max(len(line) for line in narrow.splitlines()) <= 80
