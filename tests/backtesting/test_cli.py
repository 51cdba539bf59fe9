"""``cryptoflow backtest`` / ``python -m backtesting`` / ``cryptoflow optimize`` end to end on real data."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from cryptoflow.cli import main
from tests.backtesting._reference import DATA, ETH_1H, original_loop, read_plain_csv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason="shared data not mounted"),
]  # slow: one console-script process per case, on real data

TRADE_KEYS = ["side", "entry_time", "entry_price", "exit_time", "exit_price", "exit_reason", "pnl", "fees"]


def test_backtest_seed_close_writes_json_csv_and_report(tmp_path, capsys):
    out_json, out_csv, report = tmp_path / "t.json", tmp_path / "t.csv", tmp_path / "r.html"
    code = main(
        [
            "backtest", "--data", str(ETH_1H), "--symbol", "ETHUSDT", "--interval", "1h",
            "--strategy", "custom", "--preset", "seed", "--fill", "close",
            "--start", "2022-01-01", "--end", "2022-06-30", "--cash", "10000",
            "--report", str(report), "--trades-json", str(out_json), "--trades-csv", str(out_csv),
        ]
    )  # fmt: skip
    assert code == 0
    assert "Total return" in capsys.readouterr().out
    doc = json.loads(out_json.read_text())
    assert set(doc) == {"trades", "open_position", "stats"}
    assert doc["open_position"] is None
    assert all(list(t) == TRADE_KEYS for t in doc["trades"])
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t["entry_time"]) for t in doc["trades"])
    candles = read_plain_csv(ETH_1H, "date").loc["2022-01-01":"2022-06-30"]
    reference = original_loop(candles, "custom")
    fmt = "%Y-%m-%d %H:%M:%S"
    assert [
        (t["side"], t["entry_time"], t["entry_price"], t["exit_time"], t["exit_price"]) for t in doc["trades"]
    ] == [(s, a.strftime(fmt), p, b.strftime(fmt), q) for s, a, p, b, q in reference]
    assert doc["stats"]["n_trades"] == 43
    assert len(out_csv.read_text().splitlines()) == 44
    page = report.read_text()
    # plotly.js is inlined (about 3.5 MB), nothing is fetched: the page opens offline
    assert "<script src=" not in page and len(page) > 3_000_000
    assert "Plotly.newPlot" in page and "Max drawdown" in page and "macd_hist" in page


def test_python_m_backtesting_and_open_position(tmp_path):
    out_json = tmp_path / "t.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "backtesting", "--data", str(DATA / "SOLUSDT_5m_2025-08.csv"),
            "--strategy", "basic", "--end", "2025-08-25", "--trades-json", str(out_json),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out_json.read_text())
    assert doc["trades"] and doc["stats"]["n_trades"] == len(doc["trades"])


def test_user_errors_print_a_message_not_a_traceback(tmp_path, capsys):
    assert main(["backtest", "--data", str(ETH_1H), "--strategy", "nope"]) == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err
    assert main(["backtest", "--data", str(ETH_1H), "--param", "rsi_oversld=20"]) == 2
    assert "unknown parameter(s) 'rsi_oversld'" in capsys.readouterr().err
    broken = tmp_path / "broken.py"
    broken.write_text(
        "from cryptoflow.strategies import Strategy\n"
        "class Broken(Strategy):\n"
        "    name = 'broken'\n"
        "    def entry_long(self, ind):\n"
        "        return ind['nonexistent'] > 1\n"
    )
    assert main(["backtest", "--data", str(ETH_1H), "--strategy", f"{broken}:Broken"]) == 1
    err = capsys.readouterr().err
    assert f"strategy 'broken' (Broken, {broken}) failed in entry_long: KeyError" in err
    assert "Traceback" not in err
    assert main(["backtest", "--data", str(tmp_path / "missing.csv")]) != 0


def test_optimize_grid_with_train_test_split(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default storage, a SQLite file in the working folder
    out = tmp_path / "opt.json"
    code = main(
        [
            "optimize", "--data", str(ETH_1H), "--strategy", "ensemble", "--start", "2022-01-01",
            "--end", "2022-12-31", "--space", "threshold=1,2,3", "--space", "weight_engulfing=0,1",
            "--metric", "total_return_pct", "--json", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out.read_text())
    assert len(doc["results"]) == 6
    train = [r["train_total_return_pct"] for r in doc["results"]]
    assert train == sorted(train, reverse=True)
    assert doc["train"][1] < doc["test"][0]
    assert "best:" in capsys.readouterr().out
    assert (tmp_path / "cryptoflow-studies.db").is_file()


@pytest.mark.parametrize(
    ("returns", "shown"),
    [('"no"', "str 'no'"), ("None", "None"), ("1", "int 1"), ("ind['rsi'] * 0", "a float64 array")],
)
def test_a_rule_must_return_booleans(tmp_path, returns, shown):
    # bool("no") is True: this strategy used to make a trade on every candle; None silently never traded
    path = tmp_path / "answers.py"
    path.write_text(
        "from cryptoflow.strategies import Strategy\n"
        "class Answers(Strategy):\n"
        "    name = 'answers'\n"
        "    def exit_short(self, ind):\n"
        f"        return {returns}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "cryptoflow", "backtest", "-d", str(ETH_1H), "--strategy", f"{path}:Answers"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "statistic" not in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: strategy 'answers' (Answers, {path}): rule exit_short returned {shown}; a rule must return "
        "booleans: True/False, or a numpy bool array such as (ind['rsi'] < 30) & (ind['macd_hist'] > 0)"
    )
