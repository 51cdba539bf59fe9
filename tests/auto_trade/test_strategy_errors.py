"""A live ``cryptoflow trade`` process whose strategy rule returns something that is not a boolean for one
symbol: the error names the strategy, the rule and what it returned, and the process keeps trading the
other symbol (an exception inside a strategy never crashes a live process)."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import pytest

from cryptoflow.stack import Supervisor
from cryptoflow.testing.fake_binance import replay_exchange
from cryptoflow.testing.services import clean_env, wait_until
from tests._trading import HISTORY, STRATEGIES

pytestmark = pytest.mark.slow  # runs a trading process against a real-time replay

# BTCUSDT trades near 110,000 and ETHUSDT near 4,000 in the shared files: the rule answers "no" (a string,
# true for bool()) for BTCUSDT only, and the basic strategy's booleans for ETHUSDT.
PICKY = """
from cryptoflow.strategies import BasicStrategy


class Picky(BasicStrategy):
    name = "picky"

    def entry_long(self, ind):
        if ind["close"] > 50_000:
            return "no"
        return super().entry_long(ind)
"""


def test_a_rule_returning_a_string_is_reported_and_the_other_symbol_keeps_trading(
    shared_data: Path, tmp_path: Path
) -> None:
    strategy_file = tmp_path / "picky.py"
    strategy_file.write_text(PICKY)
    exchange = replay_exchange(
        shared_data, symbols=("ETHUSDT", "BTCUSDT"), history=HISTORY, limit=400, speed=4.0
    )
    params = [arg for name, value in STRATEGIES["stops"].items() for arg in ("-p", f"{name}={value}")]
    env = clean_env(**exchange.client_environment(credentials=True))
    log_path = tmp_path / "trade.log"
    command = [
        sys.executable, "-m", "cryptoflow", "trade", "--broker", "testnet", "--symbols", "ETHUSDT,BTCUSDT",
        "--interval", "5m", "--strategy", f"{strategy_file}:Picky", *params, "--run-id", "picky",
        "--state-dir", str(tmp_path / "state"), "--no-kafka",
    ]  # fmt: skip
    reported = (
        f"BTCUSDT: strategy 'picky' (Picky, {strategy_file}): rule entry_long returned str 'no'; "
        "a rule must return booleans"
    )
    account = exchange.account
    children = Supervisor(tmp_path, env=env, cwd=tmp_path)
    children.start_command("trade", command)
    wait = partial(wait_until, every_s=0.05, watching=children)

    def text() -> str:
        return log_path.read_text(errors="replace")

    try:
        wait(lambda: len(exchange.subscribers) > 0, 90, "websocket subscription")
        exchange.start_replay()
        wait(lambda: reported in text(), 60, "report of the faulty rule")
        before = len(account.requests)  # ETHUSDT goes on trading after the BTCUSDT error
        wait(lambda: any(r["symbol"] == "ETHUSDT" for r in account.requests[before:]), 120, "ETHUSDT order")
        wait(lambda: text().count(reported) >= 2, 60, "report on the next BTCUSDT candle")
        assert children.stop("trade", timeout_s=30) == {"trade": 0}, text()[-3000:]
    finally:
        children.kill()
        exchange.stop_thread()
    logged = text()
    assert "Traceback" not in logged, logged[-3000:]
    assert {r["symbol"] for r in account.requests} == {"ETHUSDT"}, account.requests
