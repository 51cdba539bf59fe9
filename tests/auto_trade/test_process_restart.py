"""A real ``cryptoflow trade`` process killed (SIGKILL) with an open position and started again: the
position comes back from the exchange, no order is sent twice, and the restarted process closes it."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cryptoflow.brokers import client_order_id
from cryptoflow.stack import Supervisor
from cryptoflow.testing.fake_binance import FakeExchange, replay_exchange
from cryptoflow.testing.services import clean_env, wait_until
from tests._trading import HISTORY, LIVE, STRATEGIES

pytestmark = pytest.mark.slow  # kills and restarts a trading process

SYMBOL = "ETHUSDT"
RUN_ID = "kill-restart"
SPEED = 2.0  # candles per second: a position opens within seconds and lasts a few hundred ms at least


class TradeProcess:
    """``python -m cryptoflow trade --broker testnet`` against the fake exchange, logging to a file."""

    def __init__(self, exchange: FakeExchange, state_dir: Path, log_path: Path) -> None:
        params = [arg for name, value in STRATEGIES["stops"].items() for arg in ("-p", f"{name}={value}")]
        command = [
            sys.executable,
            "-m",
            "cryptoflow",
            "trade",
            "--broker",
            "testnet",
            "--symbols",
            SYMBOL,
            "--interval",
            "5m",
            "--strategy",
            "basic",
            *params,
            "--run-id",
            RUN_ID,
            "--state-dir",
            str(state_dir),
            "--no-kafka",
        ]
        env = clean_env(**exchange.client_environment(credentials=True))
        self.log_path, self.name = log_path, log_path.stem
        # no ./cryptoflow.toml or ./.env from the repository in the working directory
        self.children = Supervisor(log_path.parent, env=env, cwd=state_dir.parent)
        self.process = self.children.start_command(self.name, command)

    def log(self) -> str:
        return self.children.log(self.name)

    def tail(self, lines: int = 40) -> str:
        return f"\n--- tail of {self.log_path.name} ---\n" + "\n".join(self.log().splitlines()[-lines:])

    def wait_for(self, condition: Callable[[], object], what: str, timeout: float) -> None:
        """Poll ``condition`` until it holds; fail (with the log) on timeout or if the process died."""
        wait_until(condition, timeout, what, every_s=0.01, watching=self.children)

    def kill(self) -> int:
        """SIGKILL: no chance to save anything; returns the exit code."""
        return self.children.kill(self.name)[self.name]

    def stop(self, timeout: float) -> int:
        """SIGTERM, SIGKILL after ``timeout`` seconds; returns the exit code."""
        return self.children.stop(self.name, timeout_s=timeout)[self.name]

    def end(self) -> None:
        self.children.kill()


def _saved_position(state_file: Path) -> dict | None:
    try:  # replaced atomically: either the old or the new document
        return json.loads(state_file.read_text()).get("positions", {}).get(SYMBOL)
    except FileNotFoundError:
        return None


def test_killed_process_resumes_its_open_position_without_a_duplicate_order(
    shared_data: Path, tmp_path: Path
) -> None:
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=LIVE, speed=SPEED)
    account = exchange.account
    state_dir = tmp_path / "state"
    state_file = state_dir / f"{RUN_ID}.testnet.json"
    processes: list[TradeProcess] = []
    try:
        # first process: trades until a position is open on the exchange and in its state file
        first = TradeProcess(exchange, state_dir, tmp_path / "first.log")
        processes.append(first)
        first.wait_for(lambda: exchange.subscribers, "websocket subscription", 90)
        exchange.start_replay()

        def opened() -> bool:
            saved = _saved_position(state_file)
            return (
                account.positions[SYMBOL].amount != 0
                and saved is not None
                and saved["entry_order_id"] == account.requests[-1]["newClientOrderId"]
            )

        first.wait_for(opened, "open position", 60)
        assert first.kill() == -signal.SIGKILL, first.tail()

        amount = account.positions[SYMBOL].amount  # the process is gone: nothing changes it any more
        before = list(account.requests)
        saved = _saved_position(state_file)
        assert amount != 0, "the position closed before the kill landed" + first.tail()
        assert saved is not None and saved["side"] == (1 if amount > 0 else -1), saved
        open_id = client_order_id(RUN_ID, SYMBOL, saved["entry_time"], "open")
        assert saved["entry_order_id"] == open_id == before[-1]["newClientOrderId"]
        assert "reduceOnly" not in before[-1] and float(before[-1]["quantity"]) == abs(amount)

        # second process, same run id and state dir: resumes the position, then closes it
        down = exchange.market.cursor  # candles before grid[down] closed while no process ran
        second = TradeProcess(exchange, state_dir, tmp_path / "second.log")
        processes.append(second)
        side = "long" if amount > 0 else "short"
        resumed = f"{SYMBOL}: resuming a {side} position of {abs(amount):g} at"
        second.wait_for(lambda: resumed in second.log(), f"{resumed!r} log line", 90)
        second.wait_for(lambda: len(account.requests) > len(before), "order after the restart", 120)
        close = account.requests[len(before)]
        close_order = next(
            o for o in list(account.orders.values()) if o.client_order_id == close["newClientOrderId"]
        )
        second.wait_for(lambda: close_order.status != "NEW", "fill of the close order", 10)

        logged = second.log()
        assert "adopting" not in logged and "no longer has" not in logged, second.tail()
        assert "was already placed" not in logged, second.tail()  # no order sent again (Binance's -4116)
        # the first order of the restarted process closes the recovered position, decided on a candle that
        # was still forming when it started (the ones that closed while no process ran are not traded)
        assert close.get("reduceOnly") == "true", f"{close} is not a close" + second.tail()
        assert close["side"] == ("SELL" if amount > 0 else "BUY") and float(close["quantity"]) == abs(amount)
        assert close_order.status == "FILLED" and close_order.executed_qty == abs(amount)
        live = [int(t) for t in exchange.market.grid[down:]]
        assert close["newClientOrderId"] in {client_order_id(RUN_ID, SYMBOL, t, "close") for t in live}

        assert second.stop(30) == 0, second.tail()
    finally:
        for process in processes:
            process.end()
        exchange.stop_thread()

    ids = [r["newClientOrderId"] for r in account.requests]
    assert len(ids) == len(set(ids)), ids
    assert ids.count(open_id) == 1 and all(i.startswith("cf-") for i in ids)
