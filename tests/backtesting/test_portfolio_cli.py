"""``cryptoflow backtest --bot``: a bot's run on real candles writes its trades, skips, locks and report;
a bad bot file or a wrong option stops it with exit code 2 and a message naming the file and field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cryptoflow.cli import main
from tests.backtesting._bots import BOT, SYMBOLS


def data_options(shared_data: Path, symbols: tuple[str, ...] = SYMBOLS) -> list[str]:
    options = []
    for symbol in symbols:
        options += ["--data", str(shared_data / f"{symbol}_5m_2025-08.csv")]
    return options


@pytest.mark.slow  # a whole run on the real candles, with the report
def test_a_bots_backtest_writes_trades_skips_locks_and_report(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = tmp_path / "bot.toml"
    bot.write_text(BOT)
    out_json, out_csv, report = tmp_path / "t.json", tmp_path / "t.csv", tmp_path / "r.html"
    code = main(
        ["backtest", "--bot", str(bot), *data_options(shared_data), "--report", str(report),
         "--trades-json", str(out_json), "--trades-csv", str(out_csv)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "bot three" in out and "held_by_other" in out and "locked by max_open_positions" in out
    doc = json.loads(out_json.read_text())
    assert set(doc) == {"bot", "exchange_protection", "trades", "open_positions", "skips", "locks", "stats"}
    assert doc["exchange_protection"] is False
    assert len(doc["trades"]) == doc["stats"]["n_trades"] > 50
    assert {t["strategy"] for t in doc["trades"]} == {"basic", "custom", "ensemble"}
    assert {lock["protection"] for lock in doc["locks"]} == {"max_open_positions"}
    assert doc["skips"]["locked"] >= len(doc["locks"])
    assert sum(lock["entries_blocked"] for lock in doc["locks"]) >= doc["skips"]["locked"]
    lines = out_csv.read_text().splitlines()
    assert lines[0].startswith("strategy,run_id,symbol,side,") and len(lines) == len(doc["trades"]) + 1
    page = report.read_text()
    assert "Portfolio backtest report" in page and "PnL by strategy" in page
    for symbol in SYMBOLS:
        assert f"{symbol}: the bot" in page


def unknown_strategy(text: str) -> str:
    return text.replace('strategy = "custom"', 'strategy = "no_such_strategy"')


def over_allocated(text: str) -> str:
    for run in ("sig-basic", "sig-custom", "sig-ensemble"):  # 3 × 60 % of the capital
        text = text.replace(f'run_id = "{run}"', f'run_id = "{run}"\nfraction = 0.6')
    return text


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (unknown_strategy, "strategies[2].strategy", "no_such_strategy"),
        (over_allocated, "strategies[*].fraction", "add up to 180%"),
    ],
    ids=["unknown strategy", "allocation above 100 %"],
)
def test_a_bad_bot_file_exits_2_naming_file_and_field(
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[str], str],
    field: str,
    words: str,
) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(edit(BOT))
    code = main(["backtest", "--bot", str(path), *data_options(shared_data, ("ETHUSDT",))])
    err = capsys.readouterr().err
    assert code == 2
    assert str(path) in err and field in err and words in err
    assert "Traceback" not in err


def test_options_the_bot_file_sets_are_refused(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = tmp_path / "bot.toml"
    bot.write_text(BOT)
    code = main(
        ["backtest", "--bot", str(bot), "--strategy", "basic", *data_options(shared_data, ("ETHUSDT",))]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--strategy" in err and str(bot) in err


def test_a_symbol_without_candles_and_candles_of_another_symbol_exit_2(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = tmp_path / "bot.toml"
    bot.write_text(BOT.replace('"BNBUSDT", "XRPUSDT"', '"BNBUSDT"'))
    code = main(["backtest", "--bot", str(bot), *data_options(shared_data, ("ETHUSDT", "XRPUSDT"))])
    err = capsys.readouterr().err
    assert code == 2 and "--data: XRPUSDT is not among the symbols" in err
    code = main(["backtest", "--bot", str(bot), *data_options(shared_data, ("ETHUSDT",))])
    err = capsys.readouterr().err
    assert code == 2 and str(bot) in err and "symbols: no candles for BTCUSDT, SOLUSDT, BNBUSDT" in err
